//! The behaviour every [`Store`] implementation must show, as one suite each implementation
//! runs (the model is atuin's shared database tests): sessions, ingest and its
//! de-duplication, context tokens and the send quota, renames and logouts, history filters
//! and search (Chinese inside sentences included), message lookups, outbound records, the
//! durable inbox, and retention.
//!
//! An implementation provides a [`Fixture`] (a fresh database per test, that can be opened
//! more than once) and expands [`contract_suite!`] in its tests:
//!
//! ```ignore
//! crate::store::contract::contract_suite!(SqliteFixture::new());
//! ```
//!
//! Tests of what only one implementation has (SQLite's migrations, file modes, query plans)
//! stay with that implementation.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::json;

use super::{
    BackendKind, Direction, HistoryPage, HistoryQuery, LoginRecord, MessageStatus, NewMessage,
    Retention, Secret, SessionStatus, Store, StoreError, StoredMessage, DEFAULT_CONSUMER,
    SEND_QUOTA_PER_TOKEN,
};

/// A fresh, empty database for one test.
#[async_trait]
pub(crate) trait Fixture: Send + Sync {
    /// A new handle on this fixture's database: every call opens the same database, as a
    /// second process (or a restarted one) would.
    async fn open(&self) -> Arc<dyn Store>;

    /// Checks the implementation's own consistency (indexes, foreign keys) after a test's
    /// writes; panics when something is off.
    async fn check_integrity(&self, _store: &dyn Store) {}
}

/// Expands to one `#[tokio::test]` per behaviour of the suite, each with a fresh fixture made
/// by `$fixture` (an expression).
macro_rules! contract_suite {
    ($fixture:expr) => {
        $crate::store::contract::contract_suite!(@tests $fixture;
            last_session_with_a_peer_is_the_newest_messages,
            session_names_are_checked,
            save_login_creates_replaces_and_resets_on_bot_change,
            sessions_are_listed_default_first_with_user_counts,
            the_first_session_is_the_default_until_another_is_chosen,
            ingest_dedupes_and_always_moves_the_cursor,
            ingest_for_unknown_session_writes_nothing,
            context_tokens_follow_the_upsert_rules,
            reserve_and_refund_respect_the_quota_and_the_token,
            rename_moves_everything,
            logout_keeps_history_and_drops_credentials,
            history_filters_one_by_one,
            history_text_search,
            history_filters_combine,
            time_filters_span_days_and_late_arrivals,
            history_pages,
            message_lookup_by_upstream_or_own_id,
            record_outbound_is_idempotent_and_checks_the_session,
            consumers_each_see_every_inbound_message_and_survive_reopen,
            two_readers_of_one_consumer_never_get_the_same_message,
            a_released_claim_is_handed_out_again,
            prune_keeps_ids_monotonic,
        );
    };
    (@tests $fixture:expr; $($name:ident),* $(,)?) => {
        $(
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $name() {
                let fixture = $fixture;
                $crate::store::contract::$name(&fixture).await;
            }
        )*
    };
}
pub(crate) use contract_suite;

// ---------------------------------------------------------------------------------------------
// Helpers, also used by the implementations' own tests
// ---------------------------------------------------------------------------------------------

/// A login of an iLink bot.
pub(crate) fn login(bot: &str, token: &str) -> LoginRecord {
    LoginRecord {
        backend: BackendKind::Ilink,
        bot_id: bot.into(),
        user_id: Some("owner@im.wechat".into()),
        token: tok(token),
        base_url: Some("https://ilinkai.weixin.qq.com".into()),
    }
}

/// A token.
pub(crate) fn tok(token: &str) -> Secret<String> {
    Secret::new(token.to_owned())
}

/// An inbound text message; `key` is also the upstream id.
pub(crate) fn inbound(session: &str, key: &str, peer: &str, text: &str, at: i64) -> NewMessage {
    NewMessage {
        session: session.into(),
        direction: Direction::In,
        upstream_id: Some(key.into()),
        dedupe_key: key.into(),
        peer: peer.into(),
        bot_id: Some("bot@im.bot".into()),
        kind: "text".into(),
        text: Some(text.into()),
        items: json!([{ "type": "text", "text": text }]),
        raw: Some(json!({ "message_id": key, "from_user_id": peer })),
        context_token: None,
        created_at_ms: at,
        client_id: None,
        status: MessageStatus::Received,
        error: None,
        speaker: None,
    }
}

/// `m` carrying a context token.
pub(crate) fn with_token(mut m: NewMessage, token: &str) -> NewMessage {
    m.context_token = Some(tok(token));
    m
}

/// A sent text message.
pub(crate) fn outbound(
    session: &str,
    client_id: &str,
    peer: &str,
    text: &str,
    at: i64,
) -> NewMessage {
    NewMessage {
        direction: Direction::Out,
        upstream_id: None,
        dedupe_key: client_id.into(),
        client_id: Some(client_id.into()),
        status: MessageStatus::Sent,
        raw: None,
        ..inbound(session, client_id, peer, text, at)
    }
}

/// A store with these sessions logged in (bots `bot0`, `bot1`, …; token `tok`).
pub(crate) async fn store_with(db: &dyn Fixture, sessions: &[&str]) -> Arc<dyn Store> {
    let store = db.open().await;
    for (i, name) in sessions.iter().enumerate() {
        store
            .save_login(name, &login(&format!("bot{i}"), "tok"))
            .await
            .unwrap();
    }
    store
}

/// The first page of everything.
pub(crate) fn query() -> HistoryQuery {
    HistoryQuery {
        limit: 50,
        ..HistoryQuery::default()
    }
}

/// The texts of a page, in order.
pub(crate) fn texts(page: &HistoryPage) -> Vec<String> {
    page.messages
        .iter()
        .map(|m| m.message.text.clone().unwrap_or_default())
        .collect()
}

/// The ids of messages, in order.
pub(crate) fn ids(messages: &[StoredMessage]) -> Vec<i64> {
    messages.iter().map(|m| m.id).collect()
}

// ---------------------------------------------------------------------------------------------
// The behaviours
// ---------------------------------------------------------------------------------------------

/// A small corpus for the history tests.
pub(crate) async fn history_fixture(db: &dyn Fixture) -> Arc<dyn Store> {
    let store = store_with(db, &["work", "home"]).await;
    let mut image = inbound("work", "5", "alice", "photo.jpg", 5_000);
    image.kind = "image".into();
    store
        .ingest(
            "work",
            vec![
                inbound("work", "1", "alice", "我们明天下午开会讨论预算", 1_000),
                inbound("work", "2", "bob", "Budget Meeting moved to Friday", 2_000),
                inbound("work", "3", "alice", "好的，预算表我来准备", 3_000),
                inbound(
                    "work",
                    "4",
                    "bob",
                    "say \"hello\" to the BUDGET team",
                    4_000,
                ),
                image,
            ],
            "c",
        )
        .await
        .unwrap();
    store
        .ingest(
            "home",
            vec![inbound(
                "home",
                "6",
                "alice",
                "晚饭吃什么？budget 不多",
                6_000,
            )],
            "c",
        )
        .await
        .unwrap();
    store
        .record_outbound(outbound("work", "c7", "alice", "下午开会见", 7_000))
        .await
        .unwrap();
    store
}

pub(crate) async fn last_session_with_a_peer_is_the_newest_messages(db: &dyn Fixture) {
    let store = db.open().await;
    for name in ["a", "b"] {
        store
            .save_login(
                name,
                &LoginRecord {
                    backend: BackendKind::Ilink,
                    bot_id: format!("{name}@im.bot"),
                    user_id: None,
                    token: "t".into(),
                    base_url: None,
                },
            )
            .await
            .unwrap();
    }
    assert_eq!(store.last_session_with("u@im.wechat").await.unwrap(), None);
    store
        .ingest("a", vec![inbound("a", "k1", "u@im.wechat", "one", 1)], "")
        .await
        .unwrap();
    store
        .ingest("b", vec![inbound("b", "k2", "u@im.wechat", "two", 2)], "")
        .await
        .unwrap();
    store
        .ingest("a", vec![inbound("a", "k3", "v@im.wechat", "three", 3)], "")
        .await
        .unwrap();
    assert_eq!(
        store
            .last_session_with("u@im.wechat")
            .await
            .unwrap()
            .as_deref(),
        Some("b")
    );
    assert_eq!(
        store
            .last_session_with("v@im.wechat")
            .await
            .unwrap()
            .as_deref(),
        Some("a")
    );
}

pub(crate) async fn session_names_are_checked(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    for ok in ["main", "a", "work-2.bot_x", "工作号", &"x".repeat(64)] {
        store.save_login(ok, &login("b", "t")).await.unwrap();
    }
    for bad in [
        "",
        "has space",
        "a/b",
        "..",
        ".",
        "emoji😀",
        &"x".repeat(65),
    ] {
        assert!(
            matches!(
                store.save_login(bad, &login("b", "t")).await,
                Err(StoreError::InvalidName(_))
            ),
            "{bad:?} should be refused"
        );
    }
}

pub(crate) async fn save_login_creates_replaces_and_resets_on_bot_change(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    let first = store
        .save_login("main", &login("bot-a", "t1"))
        .await
        .unwrap();
    assert!(first.is_default, "the first session becomes the default");
    assert_eq!(first.status, SessionStatus::Connected);
    assert_eq!(first.token.as_ref().map(Secret::expose_str), Some("t1"));
    assert!(
        !store
            .save_login("other", &login("bot-b", "t"))
            .await
            .unwrap()
            .is_default
    );

    let m = with_token(inbound("main", "1", "u1", "hi", 1_000), "ctx");
    store.ingest("main", vec![m], "cur-1").await.unwrap();

    // Same bot: credentials replaced, cursor and contexts kept.
    let again = store
        .save_login("main", &login("bot-a", "t2"))
        .await
        .unwrap();
    assert_eq!(again.token.as_ref().map(Secret::expose_str), Some("t2"));
    assert_eq!(again.created_at_ms, first.created_at_ms);
    assert_eq!(again.users, 1);
    assert_eq!(store.cursor("main").await.unwrap(), "cur-1");

    // Another bot: cursor and contexts dropped, history kept.
    let moved = store
        .save_login("main", &login("bot-c", "t3"))
        .await
        .unwrap();
    assert_eq!(moved.bot_id.as_deref(), Some("bot-c"));
    assert_eq!(moved.users, 0);
    assert_eq!(store.cursor("main").await.unwrap(), "");
    assert!(store.contexts(Some("main")).await.unwrap().is_empty());
    assert_eq!(store.history(&query()).await.unwrap().total, 1);
    assert!(moved.is_default);
}

pub(crate) async fn sessions_are_listed_default_first_with_user_counts(db: &dyn Fixture) {
    let store = store_with(db, &["b", "a", "c"]).await;
    store.set_default("c").await.unwrap();
    let batch = [
        with_token(inbound("a", "1", "u1", "x", 1), "t1"),
        with_token(inbound("a", "2", "u2", "y", 2), "t2"),
        inbound("a", "3", "u3", "no token", 3),
    ];
    store.ingest("a", batch.to_vec(), "c").await.unwrap();
    let list = store.sessions().await.unwrap();
    let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["c", "a", "b"]);
    assert_eq!(list[1].users, 2);
    assert_eq!(list[1].last_message_at_ms, Some(3));
    assert_eq!(list[0].last_message_at_ms, None);
    assert_eq!(
        list.iter().filter(|s| s.is_default).count(),
        1,
        "exactly one default"
    );
    assert!(store.session("nope").await.unwrap().is_none());
    assert!(matches!(
        store.set_default("nope").await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn the_first_session_is_the_default_until_another_is_chosen(db: &dyn Fixture) {
    let store = store_with(db, &[]).await;
    assert_eq!(store.default_session().await.unwrap(), None);
    store.save_login("zeta", &login("b1", "t")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    store.save_login("alpha", &login("b2", "t")).await.unwrap();
    store.save_login("mid", &login("b3", "t")).await.unwrap();
    // The first one saved is marked.
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("zeta")
    );
    store.set_default("mid").await.unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("mid")
    );
    // The mark stays through expiry and logout.
    store
        .set_status("mid", SessionStatus::Expired)
        .await
        .unwrap();
    store.logout("mid").await.unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("mid")
    );
    let listed: Vec<_> = store
        .sessions()
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.name)
        .collect();
    assert_eq!(
        listed,
        ["mid", "alpha", "zeta"],
        "default first, then by name"
    );
    assert!(matches!(
        store.set_status("nope", SessionStatus::Expired).await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn ingest_dedupes_and_always_moves_the_cursor(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = [
        inbound("main", "100", "u1", "one", 1_000),
        inbound("main", "101", "u1", "two", 2_000),
    ];
    let first = store.ingest("main", batch.to_vec(), "c1").await.unwrap();
    assert_eq!(first.len(), 2);
    assert!(first[0] < first[1]);
    assert_eq!(store.cursor("main").await.unwrap(), "c1");

    let replay = store.ingest("main", batch.to_vec(), "c2").await.unwrap();
    assert!(replay.is_empty(), "a replayed batch inserts nothing");
    assert_eq!(store.cursor("main").await.unwrap(), "c2");

    let mixed = [
        inbound("main", "101", "u1", "two", 2_000),
        inbound("main", "102", "u1", "three", 3_000),
    ];
    let third = store.ingest("main", mixed.to_vec(), "c3").await.unwrap();
    assert_eq!(third.len(), 1);
    assert!(third[0] > first[1]);
    assert_eq!(store.history(&query()).await.unwrap().total, 3);
    assert_eq!(store.latest_id().await.unwrap(), third[0]);
    // The same key in another session is another message.
    store.save_login("second", &login("b2", "t")).await.unwrap();
    assert_eq!(
        store
            .ingest("second", batch.to_vec(), "x")
            .await
            .unwrap()
            .len(),
        2
    );
    // Empty batch: only the cursor moves.
    assert!(store.ingest("main", vec![], "c4").await.unwrap().is_empty());
    assert_eq!(store.cursor("main").await.unwrap(), "c4");
    assert_eq!(store.cursor("unknown").await.unwrap(), "");
}

pub(crate) async fn ingest_for_unknown_session_writes_nothing(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = [with_token(inbound("ghost", "1", "u1", "boo", 1), "t")];
    assert!(matches!(
        store.ingest("ghost", batch.to_vec(), "c").await,
        Err(StoreError::UnknownSession(name)) if name == "ghost"
    ));
    assert_eq!(store.latest_id().await.unwrap(), 0);
    assert_eq!(store.cursor("ghost").await.unwrap(), "");
    assert!(store.contexts(None).await.unwrap().is_empty());
}

pub(crate) async fn context_tokens_follow_the_upsert_rules(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    async fn ctx(store: &dyn Store) -> super::ContextRecord {
        store.contexts_for_user("u1").await.unwrap().remove(0)
    }

    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "a", 1_000), "T1")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        Some(1)
    );
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        Some(2)
    );

    // Same token again, later: count kept, time moves forward.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "2", "u1", "b", 2_000), "T1")],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!(
        (c.token.expose_str(), c.send_count, c.received_at_ms),
        ("T1", 2, 2_000)
    );

    // New token: replaced, count reset.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "3", "u1", "c", 3_000), "T2")],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!(
        (c.token.expose_str(), c.send_count, c.received_at_ms),
        ("T2", 0, 3_000)
    );

    // An older token (a late replay) never replaces a newer one.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "0", "u1", "old", 500), "T0")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(ctx(store.as_ref()).await.token.expose_str(), "T2");

    // Within one batch the last (newest) token wins; empty tokens and outbound are ignored.
    let mut out = outbound("main", "cid", "u1", "reply", 9_000);
    out.context_token = Some(tok("OUT"));
    store
        .ingest(
            "main",
            vec![
                with_token(inbound("main", "4", "u1", "d", 4_000), "T3"),
                with_token(inbound("main", "5", "u1", "e", 5_000), "T4"),
                with_token(inbound("main", "6", "u1", "f", 6_000), ""),
                out,
            ],
            "c",
        )
        .await
        .unwrap();
    let c = ctx(store.as_ref()).await;
    assert_eq!((c.token.expose_str(), c.received_at_ms), ("T4", 5_000));

    // Per session and freshest first across sessions.
    store.save_login("second", &login("b2", "t")).await.unwrap();
    store
        .ingest(
            "second",
            vec![with_token(inbound("second", "1", "u1", "x", 8_000), "S1")],
            "c",
        )
        .await
        .unwrap();
    let all = store.contexts_for_user("u1").await.unwrap();
    assert_eq!(
        all.iter().map(|c| c.session.as_str()).collect::<Vec<_>>(),
        ["second", "main"]
    );
    assert_eq!(store.contexts(Some("main")).await.unwrap().len(), 1);
    assert_eq!(store.contexts(None).await.unwrap().len(), 2);
}

pub(crate) async fn reserve_and_refund_respect_the_quota_and_the_token(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "a", 1), "T1")],
            "c",
        )
        .await
        .unwrap();
    for expected in 1..=SEND_QUOTA_PER_TOKEN {
        assert_eq!(
            store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
            Some(expected)
        );
    }
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        None
    );
    store.refund_send("main", "u1", &tok("T1")).await.unwrap();
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        Some(10)
    );
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        None
    );

    // Wrong token, user or session: nothing reserved, refund is a no-op.
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T0")).await.unwrap(),
        None
    );
    assert_eq!(
        store.reserve_send("main", "u2", &tok("T1")).await.unwrap(),
        None
    );
    assert_eq!(
        store.reserve_send("other", "u1", &tok("T1")).await.unwrap(),
        None
    );
    store.refund_send("main", "u1", &tok("T0")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        10
    );

    // A new token resets the quota; a refund for the old token no longer applies.
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "2", "u1", "b", 2), "T2")],
            "c",
        )
        .await
        .unwrap();
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T1")).await.unwrap(),
        None
    );
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T2")).await.unwrap(),
        Some(1)
    );
    store.refund_send("main", "u1", &tok("T1")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        1
    );
    // Never below zero.
    store.refund_send("main", "u1", &tok("T2")).await.unwrap();
    store.refund_send("main", "u1", &tok("T2")).await.unwrap();
    assert_eq!(
        store.contexts_for_user("u1").await.unwrap()[0].send_count,
        0
    );
}

pub(crate) async fn rename_moves_everything(db: &dyn Fixture) {
    let store = store_with(db, &["old", "taken"]).await;
    store
        .ingest(
            "old",
            vec![
                with_token(inbound("old", "1", "u1", "hello world", 1), "T"),
                inbound("old", "2", "u2", "again", 2),
            ],
            "cur",
        )
        .await
        .unwrap();
    store
        .record_outbound(outbound("old", "c1", "u1", "reply", 3))
        .await
        .unwrap();

    assert!(matches!(
        store.rename_session("old", "taken").await,
        Err(StoreError::SessionExists(_))
    ));
    assert!(matches!(
        store.rename_session("old", "bad name").await,
        Err(StoreError::InvalidName(_))
    ));
    assert!(matches!(
        store.rename_session("ghost", "fresh").await,
        Err(StoreError::UnknownSession(_))
    ));
    store.rename_session("old", "old").await.unwrap();

    store.rename_session("old", "new").await.unwrap();
    assert!(store.session("old").await.unwrap().is_none());
    let renamed = store.session("new").await.unwrap().unwrap();
    assert!(renamed.is_default, "the default flag moves with the name");
    assert_eq!(renamed.users, 1);
    assert_eq!(store.cursor("new").await.unwrap(), "cur");
    assert_eq!(store.cursor("old").await.unwrap(), "");
    assert_eq!(store.contexts(Some("new")).await.unwrap().len(), 1);
    assert!(store.contexts(Some("old")).await.unwrap().is_empty());
    assert_eq!(
        store.reserve_send("new", "u1", &tok("T")).await.unwrap(),
        Some(1)
    );
    let by_session = async |s: &str| {
        store
            .history(&HistoryQuery {
                session: Some(s.into()),
                ..query()
            })
            .await
            .unwrap()
            .total
    };
    assert_eq!(by_session("new").await, 3);
    assert_eq!(by_session("old").await, 0);
    // New messages under the new name still dedupe against the moved ones.
    assert!(store
        .ingest(
            "new",
            vec![inbound("new", "1", "u1", "hello world", 1)],
            "c"
        )
        .await
        .unwrap()
        .is_empty());
    db.check_integrity(store.as_ref()).await;
}

pub(crate) async fn logout_keeps_history_and_drops_credentials(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    store
        .ingest(
            "main",
            vec![with_token(inbound("main", "1", "u1", "keep me", 1), "T")],
            "cur",
        )
        .await
        .unwrap();
    store.logout("main").await.unwrap();
    let s = store.session("main").await.unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::LoggedOut);
    assert_eq!(s.token, None);
    assert_eq!(s.users, 0);
    assert!(s.is_default);
    assert_eq!(store.cursor("main").await.unwrap(), "");
    assert!(store.contexts(None).await.unwrap().is_empty());
    assert_eq!(
        store.reserve_send("main", "u1", &tok("T")).await.unwrap(),
        None
    );
    let page = store.history(&query()).await.unwrap();
    assert_eq!(texts(&page), ["keep me"]);
    assert!(matches!(
        store.logout("ghost").await,
        Err(StoreError::UnknownSession(_))
    ));
    // Logging in again reconnects.
    let back = store
        .save_login("main", &login("bot0", "new"))
        .await
        .unwrap();
    assert_eq!(back.status, SessionStatus::Connected);
    assert_eq!(back.token.as_ref().map(Secret::expose_str), Some("new"));
}

pub(crate) async fn history_filters_one_by_one(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let run = async |q: HistoryQuery| {
        let page = store.history(&q).await.unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    let all = run(query()).await;
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], "下午开会见", "newest first");

    let user = run(HistoryQuery {
        user: Some("bob".into()),
        ..query()
    })
    .await;
    assert_eq!(
        user,
        [
            "say \"hello\" to the BUDGET team",
            "Budget Meeting moved to Friday"
        ]
    );
    assert_eq!(
        run(HistoryQuery {
            session: Some("home".into()),
            ..query()
        })
        .await,
        ["晚饭吃什么？budget 不多"]
    );
    assert_eq!(
        run(HistoryQuery {
            kind: Some("image".into()),
            ..query()
        })
        .await,
        ["photo.jpg"]
    );
    assert_eq!(
        run(HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await,
        ["下午开会见"]
    );
    assert_eq!(
        run(HistoryQuery {
            since_ms: Some(6_000),
            ..query()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        run(HistoryQuery {
            until_ms: Some(2_000),
            ..query()
        })
        .await
        .len(),
        2
    );
    // Blank filters are no filters.
    assert_eq!(
        run(HistoryQuery {
            user: Some(String::new()),
            text: Some("   ".into()),
            ..query()
        })
        .await
        .len(),
        7
    );
}

pub(crate) async fn history_text_search(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let search = async |text: &str| {
        let page = store
            .history(&HistoryQuery {
                text: Some(text.into()),
                ..query()
            })
            .await
            .unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    // Chinese substring inside a sentence (FTS trigram path).
    assert_eq!(
        search("下午开会").await,
        ["下午开会见", "我们明天下午开会讨论预算"]
    );
    // Two characters: the scan path.
    assert_eq!(
        search("预算").await,
        ["好的，预算表我来准备", "我们明天下午开会讨论预算"]
    );
    assert_eq!(
        search("会").await,
        ["下午开会见", "我们明天下午开会讨论预算"]
    );
    // Latin, case-insensitive, on both paths.
    assert_eq!(search("budget").await.len(), 3);
    assert_eq!(search("BUDGET").await.len(), 3);
    assert_eq!(search("  Budget  ").await.len(), 3);
    assert_eq!(search("bU").await.len(), 3);
    assert_eq!(
        search("meeting moved").await,
        ["Budget Meeting moved to Friday"]
    );
    // FTS syntax is literal text.
    assert_eq!(
        search("\"hello\"").await,
        ["say \"hello\" to the BUDGET team"]
    );
    assert!(search("budget OR friday").await.is_empty());
    assert!(search("NEAR(a b)").await.is_empty());
    assert!(search("*").await.is_empty());
    assert!(search("不存在的词").await.is_empty());
}

pub(crate) async fn history_filters_combine(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let page = store
        .history(&HistoryQuery {
            user: Some("alice".into()),
            session: Some("work".into()),
            direction: Some(Direction::In),
            text: Some("预算".into()),
            since_ms: Some(2_000),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["好的，预算表我来准备"]);
    let page = store
        .history(&HistoryQuery {
            user: Some("alice".into()),
            text: Some("下午开会".into()),
            direction: Some(Direction::In),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["我们明天下午开会讨论预算"]);
    let page = store
        .history(&HistoryQuery {
            session: Some("work".into()),
            text: Some("budget".into()),
            until_ms: Some(3_000),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["Budget Meeting moved to Friday"]);
    let page = store
        .history(&HistoryQuery {
            kind: Some("image".into()),
            user: Some("bob".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}

pub(crate) async fn time_filters_span_days_and_late_arrivals(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let day = 86_400_000;
    let batch: Vec<_> = (0..10)
        .map(|d| {
            inbound(
                "main",
                &d.to_string(),
                "u",
                &format!("day {d} report"),
                d * day + 5,
            )
        })
        .collect();
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    // Arrives last (highest id) but was created on day 2.
    store
        .ingest(
            "main",
            vec![inbound("main", "late", "u", "late report", 2 * day + 7)],
            "c",
        )
        .await
        .unwrap();
    let between = async |since: Option<i64>, until: Option<i64>, text: Option<&str>| {
        let page = store
            .history(&HistoryQuery {
                since_ms: since,
                until_ms: until,
                text: text.map(String::from),
                ..query()
            })
            .await
            .unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    assert_eq!(
        between(Some(2 * day), Some(3 * day), None).await,
        ["late report", "day 2 report"]
    );
    assert_eq!(
        between(Some(2 * day + 6), Some(3 * day + 5), Some("report")).await,
        ["late report", "day 3 report"]
    );
    assert_eq!(
        between(Some(2 * day + 6), Some(3 * day + 5), Some("re"))
            .await
            .len(),
        2
    );
    assert_eq!(between(None, Some(day), Some("report")).await.len(), 1);
    assert_eq!(between(Some(9 * day), None, None).await, ["day 9 report"]);
    assert!(between(Some(20 * day), None, Some("report"))
        .await
        .is_empty());
    assert!(between(Some(5 * day), Some(4 * day), None).await.is_empty());
    assert!(between(Some(-5 * day), Some(-day), None).await.is_empty());
}

pub(crate) async fn history_pages(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch: Vec<_> = (1..=25)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("note number {i}"), i))
        .collect();
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    for text in [None, Some("number"), Some("nu")] {
        let page = async |offset, limit| {
            store
                .history(&HistoryQuery {
                    text: text.map(String::from),
                    limit,
                    offset,
                    ..query()
                })
                .await
                .unwrap()
        };
        let first = page(0, 10).await;
        assert_eq!(first.total, 25);
        assert_eq!(first.messages.len(), 10);
        assert_eq!(
            first.messages[0].message.text.as_deref(),
            Some("note number 25")
        );
        let last = page(20, 10).await;
        assert_eq!(last.total, 25);
        assert_eq!(
            texts(&last),
            (1..=5)
                .rev()
                .map(|i| format!("note number {i}"))
                .collect::<Vec<_>>()
        );
        let beyond = page(30, 10).await;
        assert_eq!((beyond.total, beyond.messages.len()), (25, 0));
        let none = page(0, 0).await;
        assert_eq!((none.total, none.messages.len()), (25, 0));
    }
}

pub(crate) async fn message_lookup_by_upstream_or_own_id(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let big = "18446744073709551615"; // u64::MAX, past i64
    let ids = store
        .ingest(
            "main",
            vec![
                inbound("main", "7001", "u1", "first", 1),
                inbound("main", big, "u1", "huge id", 2),
            ],
            "c",
        )
        .await
        .unwrap();
    let mut echo = outbound("main", "c1", "u1", "echo", 3);
    echo.upstream_id = Some("7001".into());
    let out_id = store.record_outbound(echo).await.unwrap();

    let found = store.message("7001").await.unwrap().unwrap();
    assert_eq!(found.id, ids[0], "inbound preferred over outbound");
    assert_eq!(found.message.text.as_deref(), Some("first"));
    assert_eq!(
        found.message.raw,
        Some(json!({ "message_id": "7001", "from_user_id": "u1" }))
    );
    assert_eq!(store.message(big).await.unwrap().unwrap().id, ids[1]);
    assert_eq!(
        store
            .message(&out_id.to_string())
            .await
            .unwrap()
            .unwrap()
            .message
            .text
            .as_deref(),
        Some("echo")
    );
    assert_eq!(
        store
            .message(&format!(" {} ", ids[1]))
            .await
            .unwrap()
            .unwrap()
            .id,
        ids[1]
    );
    for garbage in [
        "",
        "abc",
        "-1",
        "1e3",
        "99999999999999999999999",
        "0x10",
        "🙂",
        "12 34",
    ] {
        assert!(
            store.message(garbage).await.unwrap().is_none(),
            "{garbage:?}"
        );
    }
    assert!(store.message("424242").await.unwrap().is_none());
}

pub(crate) async fn record_outbound_is_idempotent_and_checks_the_session(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let m = outbound("main", "client-1", "u1", "hi", 5);
    let a = store.record_outbound(m.clone()).await.unwrap();
    let b = store.record_outbound(m.clone()).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(store.history(&query()).await.unwrap().total, 1);
    let stored = store.message(&a.to_string()).await.unwrap().unwrap();
    assert_eq!(stored.message, m);
    assert_eq!(
        store
            .session("main")
            .await
            .unwrap()
            .unwrap()
            .last_message_at_ms,
        Some(5)
    );
    assert!(matches!(
        store
            .record_outbound(outbound("ghost", "c", "u", "x", 1))
            .await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn consumers_each_see_every_inbound_message_and_survive_reopen(db: &dyn Fixture) {
    let first_ids;
    {
        let store = db.open().await;
        store.save_login("main", &login("b", "t")).await.unwrap();
        first_ids = store
            .ingest(
                "main",
                vec![
                    inbound("main", "1", "u", "a", 1),
                    inbound("main", "2", "u", "b", 2),
                ],
                "c",
            )
            .await
            .unwrap();
        store
            .record_outbound(outbound("main", "o", "u", "not inbound", 3))
            .await
            .unwrap();
        // A named consumer seen now starts at the tail.
        assert!(store.claim_inbox("agent", 10).await.unwrap().is_empty());
        // Limit 0 claims nothing (and registers the consumer).
        assert!(store.claim_inbox("late", 0).await.unwrap().is_empty());
        store
            .ingest("main", vec![inbound("main", "3", "u", "c", 4)], "c")
            .await
            .unwrap();
        // The default consumer starts at the beginning, oldest first, limited.
        let read = store.claim_inbox(DEFAULT_CONSUMER, 1).await.unwrap();
        assert_eq!(ids(&read), [first_ids[0]], "oldest first, limited");
    }
    // A new handle (a restart) sees the claimed position.
    let store = db.open().await;
    let default = store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap();
    assert_eq!(
        default.len(),
        2,
        "what was claimed before the restart is gone"
    );
    assert_eq!(default[0].id, first_ids[1]);
    assert!(default.iter().all(|m| m.message.direction == Direction::In));
    let agent = store.claim_inbox("agent", 10).await.unwrap();
    assert_eq!(agent.len(), 1, "the agent only sees what arrived after it");
    assert_eq!(agent[0].id, default[1].id);
    let late = store.claim_inbox("late", 10).await.unwrap();
    assert_eq!(
        ids(&late),
        ids(&agent),
        "limit 0 registered `late` before message 3"
    );
    // Claimed is claimed: nothing twice, and one consumer does not touch another.
    assert!(store.claim_inbox("agent", 10).await.unwrap().is_empty());
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .ingest("main", vec![inbound("main", "4", "u", "d", 5)], "c")
        .await
        .unwrap();
    assert_eq!(
        store.claim_inbox("", 10).await.unwrap().len(),
        1,
        "blank = default"
    );
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.claim_inbox("agent", 10).await.unwrap().len(), 1);
}

pub(crate) async fn two_readers_of_one_consumer_never_get_the_same_message(db: &dyn Fixture) {
    const MESSAGES: usize = 400;
    const READERS: usize = 4;
    let store = store_with(db, &["main"]).await;
    // Readers on separate handles (as separate processes would be) and on the shared one,
    // claiming in small pages while the messages arrive.
    // The consumer is registered before the first message, so it sees them all.
    assert!(store.claim_inbox("shared", 0).await.unwrap().is_empty());
    let mut handles: Vec<Arc<dyn Store>> = vec![store.clone(), store.clone()];
    for _ in 2..READERS {
        handles.push(db.open().await);
    }
    let writer = {
        let store = store.clone();
        tokio::spawn(async move {
            for chunk in 0..(MESSAGES / 20) {
                let batch = (0..20)
                    .map(|i| {
                        let n = chunk * 20 + i;
                        inbound("main", &n.to_string(), "u", &format!("m{n}"), n as i64)
                    })
                    .collect();
                store.ingest("main", batch, "c").await.unwrap();
                tokio::task::yield_now().await;
            }
        })
    };
    let readers: Vec<_> = handles
        .into_iter()
        .map(|store| {
            tokio::spawn(async move {
                let mut got = Vec::new();
                let mut idle = 0;
                while idle < 200 {
                    let page = store.claim_inbox("shared", 7).await.unwrap();
                    if page.is_empty() {
                        idle += 1;
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    } else {
                        idle = 0;
                        got.extend(ids(&page));
                    }
                }
                got
            })
        })
        .collect();
    writer.await.unwrap();
    let mut all = Vec::new();
    for r in readers {
        let got = r.await.unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "each reader in order");
        all.extend(got);
    }
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "a message was handed to two readers");
    assert_eq!(count, MESSAGES, "every message handed out once");
}

pub(crate) async fn a_released_claim_is_handed_out_again(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = (1..=4)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("m{i}"), i))
        .collect();
    let stored = store.ingest("main", batch, "c").await.unwrap();
    let first = store.claim_inbox("agent-x", 0).await.unwrap();
    assert!(first.is_empty());
    let claimed = store.claim_inbox(DEFAULT_CONSUMER, 2).await.unwrap();
    assert_eq!(ids(&claimed), stored[..2]);
    // The caller went away: the claim is given back and handed out again.
    assert!(store
        .release_claim(DEFAULT_CONSUMER, claimed[0].id, claimed[1].id)
        .await
        .unwrap());
    let again = store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap();
    assert_eq!(ids(&again), stored);
    // A release after a later claim changes nothing (that claim was delivered).
    assert!(!store
        .release_claim(DEFAULT_CONSUMER, claimed[0].id, claimed[1].id)
        .await
        .unwrap());
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn prune_keeps_ids_monotonic(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = (1..=10)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("message {i}"), i))
        .collect();
    let first = store.ingest("main", batch, "c").await.unwrap();
    assert_eq!(store.prune(Retention::default()).await.unwrap(), 0);
    let deleted = store
        .prune(Retention {
            max_age_ms: None,
            max_rows: Some(4),
        })
        .await
        .unwrap();
    assert_eq!(deleted, 6);
    let page = store.history(&query()).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        ids(&page.messages),
        first[6..].iter().rev().copied().collect::<Vec<_>>()
    );
    // Search and lookups agree with what is left.
    let found = store
        .history(&HistoryQuery {
            text: Some("message 2".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 0, "pruned messages are gone from search");
    assert!(store
        .message(&first[0].to_string())
        .await
        .unwrap()
        .is_none());
    // New ids continue above every id ever used, even after the newest are pruned.
    store
        .prune(Retention {
            max_age_ms: None,
            max_rows: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(store.history(&query()).await.unwrap().total, 0);
    let next = store
        .ingest("main", vec![inbound("main", "new", "u", "after", 20)], "c")
        .await
        .unwrap();
    assert!(next[0] > first[9], "ids are never reused");
    // Age: everything stored just now is younger than an hour.
    let kept = store
        .prune(Retention {
            max_age_ms: Some(3_600_000),
            max_rows: None,
        })
        .await
        .unwrap();
    assert_eq!(kept, 0);
    db.check_integrity(store.as_ref()).await;
}
