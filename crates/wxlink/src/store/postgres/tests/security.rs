//! Credentials at rest, the key check, migrations (once, by replicas starting together; a
//! newer schema refused) and what PostgreSQL's `text` cannot hold.

use super::*;
use crate::store::contract::{inbound, login, query};
use crate::store::{Secret, StoreError};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bearer_tokens_are_not_readable_in_the_table() {
    let db = PgFixture::new();
    let store = db.pg().await;
    store
        .save_login("main", &login("bot@im.bot", "s3cret-bearer-token"))
        .await
        .unwrap();
    let stored = db.psql("SELECT token FROM sessions WHERE name = 'main'");
    assert!(stored.starts_with("v1:"), "{stored}");
    let everything = db.psql(
        "SELECT string_agg(t::text, ' ') FROM (SELECT * FROM sessions) t \
         UNION ALL SELECT string_agg(m::text, ' ') FROM meta m",
    );
    assert!(!everything.contains("s3cret"), "{everything}");
    // Read back through the store, the token is plain.
    let session = store.session("main").await.unwrap().unwrap();
    assert_eq!(
        session.token.as_ref().map(Secret::expose_str),
        Some("s3cret-bearer-token")
    );
    // Another handle with the same key reads it too; no Debug shows it.
    let again = db.pg().await;
    let listed = again.sessions().await.unwrap();
    assert_eq!(
        listed[0].token.as_ref().map(Secret::expose_str),
        Some("s3cret-bearer-token")
    );
    assert!(!format!("{listed:?} {again:?}").contains("s3cret"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_key_is_refused_at_connect() {
    let db = PgFixture::new();
    db.pg()
        .await
        .save_login("main", &login("b", "t"))
        .await
        .unwrap();
    let wrong = PgStore::connect(&url(&db.db), CredentialKey::generate()).await;
    let err = wrong.unwrap_err();
    assert!(matches!(err, StoreError::WrongKey), "{err:?}");
    assert!(err.to_string().contains("credential key"), "{err}");
    // The right key still works.
    assert_eq!(db.pg().await.sessions().await.unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_starting_together_migrate_once() {
    let db = new_database();
    let key = CredentialKey::generate();
    let starts: Vec<_> = (0..6)
        .map(|_| {
            let (url, key) = (url(&db), key.clone());
            tokio::spawn(async move { PgStore::connect(&url, key).await })
        })
        .collect();
    let mut stores = Vec::new();
    for start in starts {
        stores.push(start.await.unwrap().unwrap());
    }
    assert_eq!(
        stores[0].schema_version().await.unwrap(),
        PgStore::SCHEMA_VERSION
    );
    assert_eq!(psql(&db, "SELECT count(*) FROM schema_version"), "1");
    assert_eq!(psql(&db, "SELECT count(*) FROM meta"), "1");
    // Each works on the one schema.
    stores[1].save_login("a", &login("b", "t")).await.unwrap();
    assert_eq!(stores[5].sessions().await.unwrap().len(), 1);
    // Reconnecting changes nothing.
    drop(stores);
    let again = PgStore::connect(&url(&db), key).await.unwrap();
    assert_eq!(again.sessions().await.unwrap()[0].name, "a");
}

/// A database an earlier wxlink made (version 1) gets the later scripts at the next connect,
/// its data kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_older_schema_is_brought_up_to_date() {
    let db = PgFixture::new();
    db.pg()
        .await
        .save_login("a", &login("b", "t"))
        .await
        .unwrap();
    let indexes = "SELECT string_agg(indexname, ',' ORDER BY indexname) FROM pg_indexes \
                   WHERE tablename = 'sessions' AND indexname IN ('sessions_backend', 'sessions_bot')";
    assert_eq!(db.psql(indexes), "sessions_backend,sessions_bot");
    db.psql("DROP INDEX sessions_backend; DROP INDEX sessions_bot; UPDATE schema_version SET version = 1");
    let store = PgStore::connect(&url(&db.db), db.key.clone())
        .await
        .unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        PgStore::SCHEMA_VERSION
    );
    assert_eq!(db.psql(indexes), "sessions_backend,sessions_bot");
    assert_eq!(store.sessions_with_bot("b").await.unwrap()[0].name, "a");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_newer_schema_is_refused() {
    let db = PgFixture::new();
    drop(db.pg().await);
    db.psql("UPDATE schema_version SET version = 999");
    let err = PgStore::connect(&url(&db.db), db.key.clone())
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::TooNew { found: 999, supported } if supported == PgStore::SCHEMA_VERSION),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_url_or_an_absent_server_is_an_error() {
    let err = PgStore::connect("not a url at all", CredentialKey::generate())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("invalid database URL"), "{err}");
    // A port nobody listens on (the server's, plus one, is free in practice).
    let closed = format!("postgres://wxlink@127.0.0.1:{}/x", shared().port + 1);
    let err = PgStore::connect(&closed, CredentialKey::generate())
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nul_characters_are_dropped_from_text_and_kept_in_json() {
    let db = PgFixture::new();
    let store = db.pg().await;
    store.save_login("main", &login("b", "t")).await.unwrap();
    let mut m = inbound("main", "k\0ey", "u\0ser", "hel\0lo wor\0ld", 1);
    m.items = serde_json::json!([{ "type": "text", "text": "hel\u{0}lo" }]).into();
    let ids = store
        .ingest("main", vec![m.clone()], "c\0ur")
        .await
        .unwrap();
    assert_eq!(ids.len(), 1);
    let stored = store.message(&ids[0].to_string()).await.unwrap().unwrap();
    assert_eq!(stored.message.text.as_deref(), Some("hello world"));
    assert_eq!(stored.message.peer, "user");
    assert_eq!(stored.message.items, m.items, "JSON keeps the NUL escaped");
    // Search ignores NULs, as SQLite's does.
    let found = store
        .history(&crate::store::HistoryQuery {
            text: Some("lo wo".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1);
    // A replay is still a duplicate.
    assert!(store.ingest("main", vec![m], "c").await.unwrap().is_empty());
}
