//! Whole-store copies (what `wxlink migrate-store` does) from SQLite into PostgreSQL and back:
//! every session (tokens sealed on the way in, plain on the way out), cursor, context token,
//! consumer and message, under the same ids; later ids continue above; a second copy changes
//! nothing; clashes are counted.

use super::*;
use crate::store::contract::Fixture as _;
use crate::store::contract::{inbound, login, outbound, with_token};
use crate::store::{RestoreOutcome, SqliteStore, StoredMessage};

/// Copies everything from `from` to `to` in chunks of 3 messages; the summed outcome.
async fn copy_all(from: &dyn Store, to: &dyn Store) -> RestoreOutcome {
    to.restore_state(&from.export_state().await.unwrap())
        .await
        .unwrap();
    let mut total = RestoreOutcome::default();
    let mut after = 0;
    loop {
        let chunk = from.messages_after(after, 3).await.unwrap();
        let Some(last) = chunk.last() else {
            return total;
        };
        after = last.id;
        let out = to.restore_messages(chunk).await.unwrap();
        total.inserted += out.inserted;
        total.existing += out.existing;
        total.conflicting += out.conflicting;
    }
}

/// Everything a store holds, comparable across stores (`users` is derived; stored times kept).
async fn everything(store: &dyn Store) -> (crate::store::StoreState, Vec<StoredMessage>) {
    (
        store.export_state().await.unwrap(),
        store.messages_after(0, 1_000).await.unwrap(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_store_copies_into_postgres_and_back() {
    let sqlite = SqliteStore::open_in_memory().unwrap();
    sqlite
        .save_login("work", &login("bot-w", "work-token"))
        .await
        .unwrap();
    sqlite
        .save_login("home", &login("bot-h", "home-token"))
        .await
        .unwrap();
    sqlite.set_default("home").await.unwrap();
    sqlite.logout("home").await.unwrap();
    let batch = (1..=7)
        .map(|i| {
            with_token(
                inbound("work", &i.to_string(), "u1", &format!("消息 {i}"), i),
                "ctx",
            )
        })
        .collect();
    let ids = sqlite.ingest("work", batch, "cursor-7").await.unwrap();
    sqlite
        .record_outbound(outbound("work", "o1", "u1", "reply", 9))
        .await
        .unwrap();
    // A gap in the ids (retention), which the copy keeps.
    sqlite
        .prune(crate::store::Retention {
            max_age_ms: None,
            max_rows: Some(6),
        })
        .await
        .unwrap();
    sqlite
        .reserve_send("work", "u1", &crate::store::contract::tok("ctx"), 10)
        .await
        .unwrap();
    sqlite.claim_inbox("agent", 2).await.unwrap();

    let db = PgFixture::new();
    let pg = db.pg().await;
    let out = copy_all(&sqlite, &pg).await;
    assert_eq!((out.inserted, out.existing, out.conflicting), (6, 0, 0));
    assert_eq!(everything(&pg).await, everything(&sqlite).await);
    assert!(!db
        .psql("SELECT string_agg(token, ' ') FROM sessions")
        .contains("work-token"));
    // Again: nothing new.
    let again = copy_all(&sqlite, &pg).await;
    assert_eq!(
        (again.inserted, again.existing, again.conflicting),
        (0, 6, 0)
    );
    // Later ids continue above every copied one.
    let next = pg
        .ingest("work", vec![inbound("work", "new", "u1", "after", 20)], "c")
        .await
        .unwrap();
    assert!(next[0] > *ids.last().unwrap() + 1, "{next:?} after {ids:?}");

    // And back, into an empty SQLite store.
    let back = SqliteStore::open_in_memory().unwrap();
    let out = copy_all(&pg, &back).await;
    assert_eq!(out.inserted, 7);
    assert_eq!(everything(&back).await, everything(&pg).await);

    // From one PostgreSQL database into another (sealed with the same key).
    let other = db.open_other().await;
    assert_eq!(copy_all(&pg, other.as_ref()).await.inserted, 7);
    assert_eq!(everything(other.as_ref()).await, everything(&pg).await);

    // A message whose id is taken by another one here is a clash.
    let mut clash = pg.messages_after(0, 1).await.unwrap();
    clash[0].message.dedupe_key = "different".into();
    let out = pg.restore_messages(clash).await.unwrap();
    assert_eq!((out.inserted, out.existing, out.conflicting), (0, 0, 1));
}
