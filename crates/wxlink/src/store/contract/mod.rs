//! The behaviour every [`Store`] implementation must show, as one suite each implementation
//! runs (the model is atuin's shared database tests): sessions, ingest and its
//! de-duplication, context tokens and the send quota, renames and logouts, history filters
//! and search (Chinese inside sentences included), message lookups, outbound records, sends
//! recorded before they leave, the durable inbox, retention, imports from other tools, and
//! whole-store copies.
//!
//! An implementation provides a [`Fixture`] (a fresh database per test, that can be opened
//! more than once) and expands [`contract_suite!`] in its tests:
//!
//! ```ignore
//! crate::store::contract::contract_suite!(SqliteFixture::new());
//! ```
//!
//! Tests of what only one implementation has (SQLite's migrations, file modes, query plans)
//! stay with that implementation. The behaviours are grouped by concern: [`sessions`],
//! [`ingest`] (with context tokens and the quota), [`history`], [`messages`] (lookups,
//! outbound records, the inbox, retention).

mod copy;
mod history;
mod import;
mod ingest;
mod messages;
mod sends;
mod sessions;

pub(crate) use copy::*;
pub(crate) use history::*;
pub(crate) use import::*;
pub(crate) use ingest::*;
pub(crate) use messages::*;
pub(crate) use sends::*;
pub(crate) use sessions::*;

use std::sync::Arc;

use async_trait::async_trait;
use serde_json::json;

use super::{
    BackendKind, Direction, HistoryPage, HistoryQuery, LoginRecord, MessageStatus, NewMessage,
    Retention, RouteCandidates, Secret, SessionPresence, SessionRecord, SessionStatus, Store,
    StoreError, StoredMessage, DEFAULT_CONSUMER,
};

/// The reply quota the tests reserve sends under (the caller's: iLink's is 10).
pub(crate) const QUOTA: u32 = 10;

/// A fresh, empty database for one test.
#[async_trait]
pub(crate) trait Fixture: Send + Sync {
    /// A new handle on this fixture's database: every call opens the same database, as a
    /// second process (or a restarted one) would.
    async fn open(&self) -> Arc<dyn Store>;

    /// A second, empty database of the same kind (a copy's destination).
    async fn open_other(&self) -> Arc<dyn Store>;

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
            sessions_are_found_by_their_bot,
            the_first_session_is_the_default_until_another_is_chosen,
            session_presence_follows_the_sessions,
            ingest_dedupes_and_always_moves_the_cursor,
            ingest_for_unknown_session_writes_nothing,
            ingest_from_stores_only_while_the_cursor_is_unmoved,
            context_tokens_follow_the_upsert_rules,
            reserve_and_refund_respect_the_quota_and_the_token,
            rename_moves_everything,
            logout_keeps_history_and_drops_credentials,
            history_filters_one_by_one,
            history_text_search,
            history_filters_combine,
            time_filters_span_days_and_late_arrivals,
            time_ranges_agree_with_each_rows_time,
            history_pages,
            history_totals_count_up_to_a_cap,
            history_cursors_narrow_every_plan,
            conversations_are_the_latest_message_of_each_peer,
            message_lookup_by_upstream_or_own_id,
            lists_leave_the_upstream_json_out,
            record_outbound_is_idempotent_and_checks_the_session,
            a_send_is_pending_with_its_quota_until_finished,
            begin_send_stores_nothing_beyond_the_quota,
            interrupted_sends_settle_as_unknown_and_keep_their_quota,
            a_send_and_the_listeners_copy_of_it_are_one_row,
            consumers_each_see_every_inbound_message_and_survive_reopen,
            two_readers_of_one_consumer_never_get_the_same_message,
            a_released_claim_is_handed_out_again,
            inbound_after_an_id_is_counted_up_to_a_cap,
            a_reader_that_keeps_its_position_gets_again_what_it_missed,
            prune_keeps_ids_monotonic,
            an_import_creates_a_logged_in_session_once,
            an_import_never_overwrites_a_login_made_here,
            imported_context_tokens_merge_by_age,
            imported_history_is_not_news_and_dry_runs_write_nothing,
            history_streamed_in_chunks_is_deduplicated_and_not_news,
            a_copy_carries_everything_and_is_idempotent,
            an_empty_store_copies_as_empty,
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
        items: json!([{ "type": "text", "text": text }]).into(),
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
    log_in_all(store.as_ref(), sessions).await;
    store
}

/// Logs these sessions in (bots `bot0`, `bot1`, …; token `tok`).
pub(crate) async fn log_in_all(store: &dyn Store, sessions: &[&str]) {
    for (i, name) in sessions.iter().enumerate() {
        store
            .save_login(name, &login(&format!("bot{i}"), "tok"))
            .await
            .unwrap();
    }
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

/// Every stored message (up to 1,000), newest first.
pub(crate) async fn everything(store: &dyn Store) -> Vec<StoredMessage> {
    let q = HistoryQuery {
        limit: 1_000,
        ..query()
    };
    store.history(&q).await.unwrap().messages
}

/// The ids of `all` that `q`'s filters and text select (its page aside), in `all`'s order,
/// worked out row by row: the answer every plan of the store must agree with.
pub(crate) fn wanted(all: &[StoredMessage], q: &HistoryQuery) -> Vec<i64> {
    all.iter()
        .filter(|m| {
            let m = &m.message;
            q.since_ms.is_none_or(|t| m.created_at_ms >= t)
                && q.until_ms.is_none_or(|t| m.created_at_ms <= t)
                && q.session.as_ref().is_none_or(|s| &m.session == s)
                && q.kind.as_ref().is_none_or(|k| &m.kind == k)
                && q.direction.is_none_or(|d| m.direction == d)
                && q.user.as_ref().is_none_or(|u| &m.peer == u)
                && q.text.as_ref().is_none_or(|t| {
                    let text = m.text.as_deref().unwrap_or("").to_lowercase();
                    text.contains(&t.to_lowercase())
                })
        })
        .map(|m| m.id)
        .collect()
}
