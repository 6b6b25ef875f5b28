//! Imports from other tools: a session merged in one transaction, idempotent, never over an
//! account logged in here, context tokens by age, history that is not news, dry runs.

use super::*;
use crate::store::{
    ContextRecord, ImportOutcome, ImportedContext, ImportedCredentials, ImportedSession,
};

/// An imported session of bot `bot` with one context token and two messages (one each way).
fn imported(name: &str, bot: &str, token: &str) -> ImportedSession {
    ImportedSession {
        name: name.into(),
        login: Some(login(bot, token)),
        cursor: "weilink-cursor".into(),
        created_at_ms: Some(1_000),
        contexts: vec![ImportedContext {
            user_id: "u1".into(),
            token: tok("ctx-1"),
            received_at_ms: 5_000,
            send_count: 3,
        }],
        messages: vec![
            inbound(name, "9001", "u1", "你好 from WeiLink", 4_000),
            outbound(name, "weilink-row:2", "u1", "reply", 4_500),
        ],
        make_default: false,
    }
}

pub(crate) async fn an_import_creates_a_logged_in_session_once(db: &dyn Fixture) {
    let store = db.open().await;
    let first = store
        .import_session(imported("work", "b@im.bot", "t1"), false)
        .await
        .unwrap();
    assert_eq!(
        first,
        ImportOutcome {
            created: true,
            credentials: ImportedCredentials::Imported,
            contexts_new: 1,
            messages_new: 2,
            messages_existing: 0,
            is_default: true,
        }
    );
    let s = store.session("work").await.unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::Connected);
    assert_eq!(s.bot_id.as_deref(), Some("b@im.bot"));
    assert_eq!(s.token.as_ref().map(Secret::expose_str), Some("t1"));
    assert_eq!(
        (s.created_at_ms, s.last_message_at_ms),
        (1_000, Some(4_500))
    );
    assert_eq!(store.cursor("work").await.unwrap(), "weilink-cursor");
    let ctx = store.contexts(Some("work")).await.unwrap();
    assert_eq!(ctx.len(), 1);
    assert_eq!(
        (
            ctx[0].token.expose_str(),
            ctx[0].received_at_ms,
            ctx[0].send_count
        ),
        ("ctx-1", 5_000, 3)
    );
    assert_eq!(ctx[0].sends_left(QUOTA), 7);
    let page = store.history(&query()).await.unwrap();
    assert_eq!(texts(&page), ["reply", "你好 from WeiLink"]);
    assert!(page.messages.iter().all(|m| m.message.session == "work"));
    // Found by the text search too (the rows are indexed).
    let found = store
        .history(&HistoryQuery {
            text: Some("WeiLink".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1);

    // Again: nothing new, nothing changed.
    let again = store
        .import_session(imported("work", "b@im.bot", "t1"), false)
        .await
        .unwrap();
    assert_eq!(
        (again.created, again.credentials, again.contexts_new),
        (false, ImportedCredentials::KeptExisting, 0)
    );
    assert_eq!((again.messages_new, again.messages_existing), (0, 2));
    assert_eq!(store.history(&query()).await.unwrap().total, 2);
    db.check_integrity(store.as_ref()).await;
}

pub(crate) async fn an_import_never_overwrites_a_login_made_here(db: &dyn Fixture) {
    let store = db.open().await;
    store
        .save_login("work", &login("b@im.bot", "newer"))
        .await
        .unwrap();
    store
        .ingest(
            "work",
            vec![inbound("work", "1", "u1", "mine", 10_000)],
            "ours",
        )
        .await
        .unwrap();
    let out = store
        .import_session(imported("work", "b@im.bot", "older"), false)
        .await
        .unwrap();
    assert_eq!(out.credentials, ImportedCredentials::KeptExisting);
    assert_eq!(out.messages_new, 2, "history is merged all the same");
    let s = store.session("work").await.unwrap().unwrap();
    assert_eq!(s.token.as_ref().map(Secret::expose_str), Some("newer"));
    assert_eq!(store.cursor("work").await.unwrap(), "ours");

    // Logged out here: the imported credentials and cursor log it in again.
    store.logout("work").await.unwrap();
    let out = store
        .import_session(imported("work", "b@im.bot", "older"), false)
        .await
        .unwrap();
    assert_eq!(out.credentials, ImportedCredentials::Imported);
    let s = store.session("work").await.unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::Connected);
    assert_eq!(s.token.as_ref().map(Secret::expose_str), Some("older"));
    assert_eq!(store.cursor("work").await.unwrap(), "weilink-cursor");

    // Another account under that name: refused, nothing written.
    let before = store.history(&query()).await.unwrap().total;
    let err = store
        .import_session(imported("work", "other@im.bot", "x"), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::SessionExists(ref n) if n == "work"),
        "{err:?}"
    );
    assert_eq!(store.history(&query()).await.unwrap().total, before);
    let bad = store
        .import_session(imported("no/slash", "c@im.bot", "x"), false)
        .await
        .unwrap_err();
    assert!(matches!(bad, StoreError::InvalidName(_)), "{bad:?}");
    db.check_integrity(store.as_ref()).await;
}

pub(crate) async fn imported_context_tokens_merge_by_age(db: &dyn Fixture) {
    let store = db.open().await;
    store
        .save_login("work", &login("b@im.bot", "t"))
        .await
        .unwrap();
    let newer_here = with_token(inbound("work", "1", "u1", "x", 9_000), "ctx-here");
    let same_here = with_token(inbound("work", "2", "u2", "y", 1_000), "ctx-u2");
    store
        .ingest("work", vec![newer_here, same_here], "")
        .await
        .unwrap();
    let mut s = imported("work", "b@im.bot", "t");
    s.messages.clear();
    s.contexts = vec![
        // Older than the token stored here: ignored.
        ImportedContext {
            user_id: "u1".into(),
            token: tok("ctx-old"),
            received_at_ms: 5_000,
            send_count: 0,
        },
        // The same token, sent with 4 times elsewhere: the count is kept.
        ImportedContext {
            user_id: "u2".into(),
            token: tok("ctx-u2"),
            received_at_ms: 1_000,
            send_count: 4,
        },
        // A user unknown here.
        ImportedContext {
            user_id: "u3".into(),
            token: tok("ctx-u3"),
            received_at_ms: 2_000,
            send_count: 10,
        },
    ];
    let out = store.import_session(s.clone(), false).await.unwrap();
    assert_eq!(out.contexts_new, 2);
    let by_user = |u: &str, all: &[ContextRecord]| {
        all.iter()
            .find(|c| c.user_id == u)
            .map(|c| (c.token.expose_str().to_owned(), c.send_count))
    };
    let all = store.contexts(Some("work")).await.unwrap();
    assert_eq!(by_user("u1", &all), Some(("ctx-here".into(), 0)));
    assert_eq!(by_user("u2", &all), Some(("ctx-u2".into(), 4)));
    assert_eq!(by_user("u3", &all), Some(("ctx-u3".into(), 10)));
    assert_eq!(
        store.import_session(s, false).await.unwrap().contexts_new,
        0
    );
}

pub(crate) async fn imported_history_is_not_news_and_dry_runs_write_nothing(db: &dyn Fixture) {
    let store = db.open().await;
    let dry = store
        .import_session(imported("work", "b@im.bot", "t"), true)
        .await
        .unwrap();
    assert_eq!(
        (dry.created, dry.messages_new, dry.contexts_new),
        (true, 2, 1)
    );
    assert!(
        store.sessions().await.unwrap().is_empty(),
        "a dry run writes nothing"
    );
    assert_eq!(store.latest_id().await.unwrap(), 0);

    store
        .import_session(imported("work", "b@im.bot", "t"), false)
        .await
        .unwrap();
    // The default consumer (and one that had read everything) start after the imported rows.
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .seek_consumer("hook", store.latest_id().await.unwrap())
        .await
        .unwrap();
    store.seek_consumer("behind", 0).await.unwrap();
    let mut more = imported("work", "b@im.bot", "t");
    more.messages = vec![inbound("work", "9002", "u1", "older news", 3_000)];
    assert_eq!(
        store
            .import_session(more, false)
            .await
            .unwrap()
            .messages_new,
        1
    );
    assert!(store.claim_inbox("hook", 10).await.unwrap().is_empty());
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    // A reader that was behind still gets everything it had not read.
    assert_eq!(store.claim_inbox("behind", 10).await.unwrap().len(), 2);
    // What arrives afterwards is news for everyone.
    store
        .ingest(
            "work",
            vec![inbound("work", "9003", "u1", "new", 6_000)],
            "c2",
        )
        .await
        .unwrap();
    let got = store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap();
    assert_eq!(texts_of(&got), ["new"]);

    // make_default moves the default to the imported session.
    let mut other = imported("home", "h@im.bot", "t");
    other.messages.clear();
    other.make_default = true;
    assert!(store.import_session(other, false).await.unwrap().is_default);
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("home")
    );
    db.check_integrity(store.as_ref()).await;
}

/// The texts of claimed messages, in order.
fn texts_of(messages: &[StoredMessage]) -> Vec<String> {
    messages
        .iter()
        .map(|m| m.message.text.clone().unwrap_or_default())
        .collect()
}

pub(crate) async fn history_streamed_in_chunks_is_deduplicated_and_not_news(db: &dyn Fixture) {
    let store = db.open().await;
    let mut session = imported("work", "b@im.bot", "t1");
    let first_batch = std::mem::take(&mut session.messages);
    store.import_session(session, false).await.unwrap();
    // A reader that had read everything.
    store.seek_consumer("hook", 0).await.unwrap();
    assert_eq!(
        store
            .import_messages("work", first_batch.clone(), false)
            .await
            .unwrap(),
        (2, 0)
    );
    let mut next = first_batch.clone();
    next.push(inbound("work", "9002", "u1", "第二批", 6_000));
    assert_eq!(
        store.import_messages("work", next, false).await.unwrap(),
        (1, 2),
        "what is there already is counted, not stored again"
    );
    // A dry run counts and writes nothing.
    let dry = vec![inbound("work", "9003", "u1", "dry", 7_000)];
    assert_eq!(
        store.import_messages("work", dry, true).await.unwrap(),
        (1, 0)
    );
    let page = store.history(&query()).await.unwrap();
    assert_eq!(page.total, 3);
    // History, not news: the caught-up reader stays caught up.
    assert!(store.claim_inbox("hook", 10).await.unwrap().is_empty());
    assert_eq!(
        store
            .session("work")
            .await
            .unwrap()
            .unwrap()
            .last_message_at_ms,
        Some(6_000)
    );
}
