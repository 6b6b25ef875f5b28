//! The durable store: sessions and their credentials, upstream cursors, context tokens, every
//! inbound and outbound message, and consumer cursors — behind the async [`Store`] trait, with
//! the embedded SQLite implementation in [`sqlite`] and the behaviour every implementation
//! must show in `contract` (a test suite each implementation runs).
//!
//! Invariants every implementation keeps (and the contract suite checks):
//! - **Nothing lost, nothing twice.** [`Store::ingest`] commits a batch of inbound messages,
//!   the new upstream cursor and the context tokens they carry in one transaction; rows are
//!   unique on `(session, direction, dedupe_key)`, so a replayed batch is absorbed.
//! - **Monotonic ids.** Message ids only grow (never reused, even after retention deletes rows),
//!   so a consumer cursor is just "the last id I have seen".
//! - **Durable inbox.** [`Store::claim_inbox`] hands out the inbound messages after a consumer's
//!   cursor and moves the cursor past them in one transaction: two readers of one consumer
//!   never get the same message, two consumers never steal from each other, and unread
//!   messages survive restarts.
//! - **Off the runtime.** Every method is async; an implementation over a blocking driver runs
//!   it on blocking threads, never on the async runtime's.
//!
//! Errors are driver-neutral ([`StoreError`]): no implementation's error type leaks out.

#[cfg(test)]
pub(crate) mod contract;
mod copy;
mod imported;
pub mod open;
pub mod postgres;
pub mod sqlite;

use std::fmt;

use async_trait::async_trait;
use serde_json::Value;

pub use crate::model::{
    BackendKind, Direction, InvalidSessionName, Items, MessageStatus, Secret, SessionStatus,
};
pub use copy::{ConsumerRecord, CursorRecord, Notice, RestoreOutcome, StoreState};
pub use imported::{ImportOutcome, ImportedContext, ImportedCredentials, ImportedSession};
pub use open::{KeySource, StoreLocation};
pub use postgres::{CredentialKey, PgStore};
pub use sqlite::SqliteStore;

/// Name of the consumer used when a caller names none.
pub const DEFAULT_CONSUMER: &str = "default";

/// Errors of the store, whatever the database behind it.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, a lock held too long, a lost connection).
    #[error("database error: {0}")]
    Database(Box<dyn std::error::Error + Send + Sync>),
    /// No session of that name.
    #[error("no session named {0:?}")]
    UnknownSession(String),
    /// An ingest expected the session's cursor to be where its batch was fetched from, and it
    /// was not: the batch before it was not stored, or another listener moved the cursor.
    #[error("the cursor of session {0:?} moved since the batch was fetched; nothing stored")]
    CursorMoved(String),
    /// A session of that name already exists.
    #[error("a session named {0:?} already exists")]
    SessionExists(String),
    /// A name that cannot be used for a session.
    #[error(transparent)]
    InvalidName(#[from] InvalidSessionName),
    /// Stored data that does not parse (should never happen).
    #[error("corrupt stored data in {0}: {1}")]
    Corrupt(&'static str, String),
    /// The database was written by a newer wxlink.
    #[error("the database has schema version {found}, newer than this wxlink understands ({supported}); upgrade wxlink")]
    TooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// The database's credentials were encrypted with another key than the one given
    /// (PostgreSQL: the credential key, `crypt.rs` in `store::postgres`): nothing is read or
    /// written with this one. Start with the key the database was set up with.
    #[error("the credential key does not match the one this database's credentials were encrypted with; start with that key")]
    WrongKey,
    /// The key that encrypts a shared store's credentials is missing or unusable.
    #[error("{0}")]
    NoKey(String),
    /// Setting up the database's files failed.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

impl StoreError {
    /// A database failure from any driver.
    pub fn database(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        StoreError::Database(Box::new(e))
    }
}

/// Result alias for the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// One account (a WeChat bot identity) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// Unique, user-chosen name.
    pub name: String,
    /// The backend it is logged in through.
    pub backend: BackendKind,
    /// Bot account id.
    pub bot_id: Option<String>,
    /// The WeChat user who bound it.
    pub user_id: Option<String>,
    /// Bearer token (absent after logout).
    pub token: Option<Secret<String>>,
    /// API base URL for this account (iLink: from the login; Wechaty: the puppet service's
    /// endpoint), if any.
    pub base_url: Option<String>,
    /// Where it stands.
    pub status: SessionStatus,
    /// The default session.
    pub is_default: bool,
    /// First login, ms since the epoch.
    pub created_at_ms: i64,
    /// Last change, ms.
    pub updated_at_ms: i64,
    /// Newest stored message of this session, ms.
    pub last_message_at_ms: Option<i64>,
    /// Users with a context token in this session.
    pub users: u64,
    /// Why receiving fails, while it keeps failing (the listener is degraded); `None` when
    /// it works. Cleared by a new login, a logout or a status change.
    pub problem: Option<String>,
}

impl SessionRecord {
    /// Whether the session has live credentials.
    pub fn is_connected(&self) -> bool {
        self.status == SessionStatus::Connected
    }
}

/// What a successful login hands to [`Store::save_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// The backend.
    pub backend: BackendKind,
    /// Bot account id.
    pub bot_id: String,
    /// The WeChat user who bound it.
    pub user_id: Option<String>,
    /// Bearer token.
    pub token: Secret<String>,
    /// API base URL (Wechaty: the endpoint).
    pub base_url: Option<String>,
}

/// A message to store (inbound from a poller, outbound from a send).
#[derive(Clone, PartialEq)]
pub struct NewMessage {
    /// The session it belongs to.
    pub session: String,
    /// In or out.
    pub direction: Direction,
    /// Upstream message id (decimal u64 as text for iLink), when known.
    pub upstream_id: Option<String>,
    /// Key that identifies the message upstream, for de-duplication: the upstream id, or a
    /// fallback (client id, seq, content hash) when there is none. Unique per session and
    /// direction.
    pub dedupe_key: String,
    /// The other side: the user of a one-to-one chat, or the room of a group chat.
    pub peer: String,
    /// The bot account id.
    pub bot_id: Option<String>,
    /// Primary kind: `text`, `image`, `voice`, `file`, `video`, `mixed` (several kinds),
    /// `unknown` (a message the wire model could not read; see `raw`), or a backend's own
    /// name for what the others lack (Wechaty: `emoticon`, `url`, …).
    pub kind: String,
    /// Searchable text: text items, voice transcripts, file names, quoted text.
    pub text: Option<String>,
    /// Normalized items (JSON array), including media references needed to download.
    pub items: Items,
    /// The upstream JSON exactly as received (inbound) or as sent (outbound). It can hold keys
    /// and tokens, so `Debug` never prints it. Lists of messages leave it out (`None`): see
    /// [`Store::history`].
    pub raw: Option<Value>,
    /// The context token the message carried (inbound) or used (outbound).
    pub context_token: Option<Secret<String>>,
    /// Upstream creation time (inbound) or send time (outbound), ms.
    pub created_at_ms: i64,
    /// Our `client_id` (outbound).
    pub client_id: Option<String>,
    /// Received, sent, failed, pending (on its way) or unknown (cut off by a crash).
    pub status: MessageStatus,
    /// Why a send failed, or why an upstream message could not be read.
    pub error: Option<String>,
    /// In a group chat (`peer` is the room): who wrote it. `None` in one-to-one chats.
    pub speaker: Option<String>,
}

impl fmt::Debug for NewMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewMessage")
            .field("session", &self.session)
            .field("direction", &self.direction)
            .field("upstream_id", &self.upstream_id)
            .field("dedupe_key", &self.dedupe_key)
            .field("peer", &self.peer)
            .field("kind", &self.kind)
            .field("status", &self.status)
            .field("created_at_ms", &self.created_at_ms)
            .field("raw", &self.raw.as_ref().map(|_| "***"))
            .finish_non_exhaustive()
    }
}

/// A reservation of the reply quota, made with [`Store::begin_send`].
#[derive(Debug, Clone)]
pub struct Reservation {
    /// The context token the send uses (the reservation fails when it is no longer current).
    pub token: Secret<String>,
    /// Sends allowed per token.
    pub quota: u32,
}

/// A stored message.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredMessage {
    /// Our id: monotonic, never reused.
    pub id: i64,
    /// When it was stored, ms.
    pub stored_at_ms: i64,
    /// Everything else.
    pub message: NewMessage,
}

/// The latest context token of one user in one session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContextRecord {
    /// Session.
    pub session: String,
    /// User.
    pub user_id: String,
    /// The token.
    pub token: Secret<String>,
    /// When the message carrying it arrived (upstream time), ms.
    pub received_at_ms: i64,
    /// Sends made with this token so far.
    pub send_count: u32,
}

impl ContextRecord {
    /// Sends left of `quota` (the backend's, see `Capabilities::reply_quota`).
    pub fn sends_left(&self, quota: u32) -> u32 {
        quota.saturating_sub(self.send_count)
    }
}

/// Whether sessions exist ([`Store::session_presence`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct SessionPresence {
    /// Some session exists.
    pub any: bool,
    /// Some session is connected.
    pub connected: bool,
}

/// What routing a message to one user reads ([`Store::route_candidates`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RouteCandidates {
    /// The user's context tokens, freshest first (as [`Store::contexts_for_user`]).
    pub contexts: Vec<ContextRecord>,
    /// The sessions holding one of those tokens and every session of an open backend, in
    /// [`Store::sessions`] order (default first, then by name).
    pub sessions: Vec<SessionRecord>,
}

/// Filters of a history query. Empty filters match everything.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct HistoryQuery {
    /// The other party.
    pub user: Option<String>,
    /// The session.
    pub session: Option<String>,
    /// Primary kind (`text`, `image`, …).
    pub kind: Option<String>,
    /// In or out.
    pub direction: Option<Direction>,
    /// Created at or after, ms.
    pub since_ms: Option<i64>,
    /// Created at or before, ms.
    pub until_ms: Option<i64>,
    /// Substring of the searchable text (Chinese inside sentences included).
    pub text: Option<String>,
    /// Only messages with a smaller id (a cursor: the last id of the page before).
    pub before_id: Option<i64>,
    /// Only messages with a larger id (what came after one already seen).
    pub after_id: Option<i64>,
    /// Page size (the caller clamps it to 1..=200).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
    /// Count the matches only up to this many (`None`: all of them). Counting is the one part
    /// of a page whose cost grows with the store (a common word in 10 M messages matches
    /// hundreds of thousands); the page itself is read newest first and stops when full.
    pub count_up_to: Option<u64>,
}

impl HistoryQuery {
    /// How many matches a store counts: one past [`count_up_to`](Self::count_up_to), to know
    /// whether there are more; `None`: all of them.
    pub fn count_limit(&self) -> Option<i64> {
        self.count_up_to
            .map(|n| i64::try_from(n.saturating_add(1)).unwrap_or(i64::MAX))
    }

    /// `(total, total_exact)` of a page, from the matches counted under
    /// [`count_limit`](Self::count_limit).
    pub fn totals(&self, counted: i64) -> (u64, bool) {
        let counted = u64::try_from(counted).unwrap_or(0);
        match self.count_up_to {
            Some(up_to) if counted > up_to => (up_to, false),
            _ => (counted, true),
        }
    }

    /// Whether a page with these totals can hold rows: past the count's cap there may be rows
    /// however far the offset goes.
    pub fn page_can_hold_rows(&self, total: u64, total_exact: bool) -> bool {
        self.limit > 0 && (!total_exact || total > u64::from(self.offset))
    }
}

/// One page of history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// The messages.
    pub messages: Vec<StoredMessage>,
    /// How many match in total; at most the query's `count_up_to`.
    pub total: u64,
    /// Whether `total` is every match (false: there are more than `count_up_to`).
    pub total_exact: bool,
}

impl HistoryPage {
    /// No messages, none matching.
    pub fn empty() -> Self {
        HistoryPage {
            messages: Vec::new(),
            total: 0,
            total_exact: true,
        }
    }
}

/// Retention limits; both `None` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete messages stored longer ago than this, ms.
    pub max_age_ms: Option<i64>,
    /// Keep only the newest this many messages.
    pub max_rows: Option<u64>,
}

impl Retention {
    /// Whether any limit is set.
    pub fn is_set(&self) -> bool {
        self.max_age_ms.is_some() || self.max_rows.is_some()
    }
}

/// The persistence wxlink needs. Implementations must be safe to share between tasks and
/// between processes using one database, and must not block the async runtime.
#[async_trait]
pub trait Store: Send + Sync + fmt::Debug {
    /// All sessions, default first then by name.
    async fn sessions(&self) -> StoreResult<Vec<SessionRecord>>;
    /// The sessions whose bot is `bot_id`, default first then by name (what a history filter
    /// by bot id reads: only those rows, not every session's).
    async fn sessions_with_bot(&self, bot_id: &str) -> StoreResult<Vec<SessionRecord>>;
    /// One session.
    async fn session(&self, name: &str) -> StoreResult<Option<SessionRecord>>;
    /// Creates the session or replaces its credentials (status `connected`). When the bot id
    /// changes, the cursor restarts and old context tokens are dropped (they belong to the old
    /// bot); history is kept. The first session ever saved becomes the default. The name is
    /// checked ([`crate::model::check_session_name`]).
    async fn save_login(&self, name: &str, login: &LoginRecord) -> StoreResult<SessionRecord>;
    /// Sets a session's status (and clears its problem).
    async fn set_status(&self, name: &str, status: SessionStatus) -> StoreResult<()>;
    /// Records why the session's listener keeps failing, or (`None`) that it works again.
    async fn set_problem(&self, name: &str, problem: Option<&str>) -> StoreResult<()>;
    /// Removes a session's credentials, cursor and context tokens (status `logged_out`); its
    /// history stays. Errors on an unknown session.
    async fn logout(&self, name: &str) -> StoreResult<()>;
    /// Renames a session everywhere (messages, cursor, contexts).
    async fn rename_session(&self, old: &str, new: &str) -> StoreResult<()>;
    /// Makes a session the default.
    async fn set_default(&self, name: &str) -> StoreResult<()>;
    /// The default session: the one marked default, else the oldest connected one, else the
    /// oldest one.
    async fn default_session(&self) -> StoreResult<Option<String>>;

    /// Whether any session exists and whether any is connected (what `recv` asks before it
    /// waits), without reading the sessions.
    async fn session_presence(&self) -> StoreResult<SessionPresence>;

    /// The upstream cursor of a session (`""` when none).
    async fn cursor(&self, session: &str) -> StoreResult<String>;
    /// Stores inbound messages, the new cursor, the context tokens they carry (a new token
    /// resets that user's send count) and the session's last-message time — all in one
    /// transaction. Duplicates are skipped. Returns the ids of the rows actually inserted.
    /// [`Store::ingest_from`] without a cursor to compare.
    async fn ingest(
        &self,
        session: &str,
        batch: Vec<NewMessage>,
        cursor: &str,
    ) -> StoreResult<Vec<i64>> {
        self.ingest_from(session, batch, None, cursor).await
    }
    /// [`Store::ingest`], but with `from` only while the session's cursor is still `from`
    /// (compared in the same transaction): the cursor the batch was fetched after. Otherwise
    /// nothing is written and the answer is [`StoreError::CursorMoved`]. A listener that
    /// queues its next batch before the one ahead has committed passes the cursor it fetched
    /// that batch with: when the one ahead fails, this one fails too instead of storing a
    /// cursor past messages that were never stored.
    async fn ingest_from(
        &self,
        session: &str,
        batch: Vec<NewMessage>,
        from: Option<&str>,
        cursor: &str,
    ) -> StoreResult<Vec<i64>>;
    /// Whether batches given to [`Store::ingest_from`] are applied in the order their futures
    /// were first polled. A listener queues batches at the store only then (SQLite: one thread
    /// takes every write from one queue); elsewhere (PostgreSQL: a connection each) two
    /// transactions could pass each other, and the second would fail on the cursor.
    fn ingests_in_order(&self) -> bool {
        false
    }

    /// Context tokens of a user across sessions, freshest first.
    async fn contexts_for_user(&self, user_id: &str) -> StoreResult<Vec<ContextRecord>>;
    /// What routing a message to `user_id` reads, in one round trip: see [`RouteCandidates`].
    /// `open` names the backends that write to anyone they know (no context token needed).
    /// Only the sessions routing can pick are read, never every session: with a thousand
    /// accounts, reading them all made each `send` milliseconds slower.
    async fn route_candidates(
        &self,
        user_id: &str,
        open: &[BackendKind],
    ) -> StoreResult<RouteCandidates>;
    /// Context tokens of one session (or all), freshest first.
    async fn contexts(&self, session: Option<&str>) -> StoreResult<Vec<ContextRecord>>;
    /// Reserves one send on `(session, user)`'s current token if it is still `token` and fewer
    /// than `quota` sends were made with it. Returns the new send count, or `None` when the
    /// token changed or is used up.
    async fn reserve_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
        quota: u32,
    ) -> StoreResult<Option<u32>>;
    /// Gives back a reservation for a send that never reached the server.
    async fn refund_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
    ) -> StoreResult<()>;

    /// Records a send before it leaves: reserves one send of `reservation`'s quota on
    /// `(message.session, message.peer)`'s current token (when given) and stores `message` as
    /// `pending`, in one transaction. `None` (nothing stored) when the token changed or its
    /// quota is used up.
    async fn begin_send(
        &self,
        message: NewMessage,
        reservation: Option<Reservation>,
    ) -> StoreResult<Option<i64>>;
    /// Records how the send `id` ended: `outcome` replaces what [`Store::begin_send`] stored
    /// (status, upstream id, items, raw JSON, error). With `refund`, the reservation on
    /// `outcome.context_token` is given back in the same transaction (the send never reached
    /// the server's accounting).
    async fn finish_send(&self, id: i64, outcome: NewMessage, refund: bool) -> StoreResult<()>;
    /// Marks sends still `pending` that began before `before_ms` as `unknown` (their process
    /// died while they were in flight: they may or may not have arrived; they keep their
    /// quota reservation). Returns how many.
    async fn settle_pending(&self, before_ms: i64) -> StoreResult<u64>;
    /// Stores an outbound message; returns its id. Idempotent on
    /// `(session, direction, dedupe_key)`: a second call returns the first row's id.
    async fn record_outbound(&self, message: NewMessage) -> StoreResult<i64>;
    /// A message by its upstream id (inbound preferred) or by our id, `raw` included: the one
    /// read that has it.
    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>>;
    /// A page of history. Like every list of messages (`conversations`, `claim_inbox`) it
    /// leaves `raw` out (`None`): no view shows it, and parsing it was a third of a page's
    /// cost; [`Store::message`] reads it for the one message that needs it (a download).
    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage>;
    /// The newest message id (0 when empty); cheap, for change detection.
    async fn latest_id(&self) -> StoreResult<i64>;
    /// How many inbound messages have an id above `after_id`, counted up to `cap` (a count
    /// that stops there stays cheap however much is stored).
    async fn count_inbound_after(&self, after_id: i64, cap: u32) -> StoreResult<u64>;
    /// The newest message of each conversation (peer), newest first, at most `limit`; only
    /// those of `session` when given. Without `raw`, as [`Store::history`].
    async fn conversations(
        &self,
        session: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>>;
    /// The session of the newest message exchanged with `peer` (a user or a room), if any;
    /// cheap, for routing a send.
    async fn last_session_with(&self, peer: &str) -> StoreResult<Option<String>>;

    /// Up to `limit` inbound messages after `consumer`'s cursor, oldest first, and the cursor
    /// moved past them — in one transaction, so that no two callers ever get the same message
    /// for one consumer. A blank name means [`DEFAULT_CONSUMER`]. A consumer seen for the first
    /// time starts after the newest message at that moment, except [`DEFAULT_CONSUMER`], which
    /// starts at the beginning. Without `raw`, as [`Store::history`].
    async fn claim_inbox(&self, consumer: &str, limit: u32) -> StoreResult<Vec<StoredMessage>>;
    /// Puts `consumer`'s cursor at `last_id` (the next claim starts after it), creating the
    /// consumer if new: how a reader that keeps its own position (`recv`'s `after`) gets again
    /// what a crash or a dropped connection kept from it.
    async fn seek_consumer(&self, consumer: &str, last_id: i64) -> StoreResult<()>;
    /// Gives back a claim that could not be delivered (its caller went away): moves the
    /// consumer's cursor back to just before `first_id`, if it still stands at `last_id` (no
    /// later claim happened meanwhile). Returns whether it moved.
    async fn release_claim(&self, consumer: &str, first_id: i64, last_id: i64)
        -> StoreResult<bool>;

    /// Applies retention; returns the number of messages deleted.
    async fn prune(&self, retention: Retention) -> StoreResult<u64>;

    /// Merges a session from another tool, in one transaction (nothing of it is written when
    /// anything fails; with `dry_run`, nothing at all, but the outcome is what it would be):
    /// - a new name becomes a session (`connected` with credentials, else `logged_out`); the
    ///   first session ever stored becomes the default, as with [`Store::save_login`];
    /// - credentials and the cursor replace an existing session's only when it is not
    ///   `connected` (an account logged in here is never overwritten); an existing session of
    ///   another backend or bot is refused with [`StoreError::SessionExists`];
    /// - a context token is stored when the user has none here, refreshes the same token
    ///   (newest time, highest send count), and replaces another token only when newer;
    /// - messages are de-duplicated like [`Store::ingest`]; consumers that had read everything
    ///   (and [`DEFAULT_CONSUMER`] in a store that had no messages) move past the imported
    ///   ones: history is not news.
    async fn import_session(
        &self,
        session: ImportedSession,
        dry_run: bool,
    ) -> StoreResult<ImportOutcome>;
    /// More history of a session [`Store::import_session`] brought in, in a transaction of its
    /// own, under the same rules (de-duplicated; consumers that had read everything move past
    /// it): how a large history is imported in chunks. Returns (stored, already there).
    async fn import_messages(
        &self,
        session: &str,
        messages: Vec<NewMessage>,
        dry_run: bool,
    ) -> StoreResult<(u64, u64)>;

    /// Everything but the messages — sessions with their credentials, cursors, context tokens
    /// and consumer positions — as `wxlink migrate-store` copies it.
    async fn export_state(&self) -> StoreResult<StoreState>;
    /// Writes `state` in one transaction, the source winning: sessions (credentials, status,
    /// default, times), cursors, context tokens (with their send counts) and consumers are
    /// created or replaced; what the store holds besides is left alone. Idempotent.
    async fn restore_state(&self, state: &StoreState) -> StoreResult<()>;
    /// Up to `limit` messages with an id above `after_id`, oldest first, every field included:
    /// how a copy reads the whole history in chunks.
    async fn messages_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredMessage>>;
    /// Stores copied messages under their own ids (and stored times), in one transaction, and
    /// makes later ids continue above them. A message already here (the same id with the same
    /// session, direction and dedupe key) is skipped; one that clashes (the id or the dedupe key
    /// taken by another message) is left out and counted. Their sessions must exist.
    async fn restore_messages(&self, messages: Vec<StoredMessage>) -> StoreResult<RestoreOutcome>;

    /// A number that changes whenever another process (another connection) has written to the
    /// store since it was last read here; what this process writes it learns from its own
    /// events. A waiter without [`Store::notices`] compares it on its timer and reads the store
    /// only when it moved. `None` when the store cannot tell (read every time).
    async fn version(&self) -> StoreResult<Option<u64>> {
        Ok(None)
    }

    /// Wake-ups for what any process writes, when the database can push them (PostgreSQL's
    /// LISTEN/NOTIFY); `None` when it cannot, and waiters look at the store on a timer.
    fn notices(&self) -> Option<tokio::sync::broadcast::Receiver<Notice>> {
        None
    }
    /// The listener leases of a store shared by several hosts (PostgreSQL); `None` when the
    /// processes sharing it share a data directory, whose file locks coordinate them.
    fn leases(&self) -> Option<std::sync::Arc<dyn crate::coord::Leases>> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn totals_count_one_past_the_cap() {
        let q = |count_up_to, offset| HistoryQuery {
            limit: 20,
            offset,
            count_up_to,
            ..HistoryQuery::default()
        };
        assert_eq!(q(None, 0).count_limit(), None);
        assert_eq!(q(Some(10), 0).count_limit(), Some(11));
        assert_eq!(q(Some(u64::MAX), 0).count_limit(), Some(i64::MAX));
        assert_eq!(q(Some(10), 0).totals(11), (10, false));
        assert_eq!(q(Some(10), 0).totals(10), (10, true));
        assert_eq!(q(None, 0).totals(123_456), (123_456, true));
        // Past the cap a page may hold rows at any offset; below it only before the total.
        assert!(q(Some(10), 50).page_can_hold_rows(10, false));
        assert!(!q(Some(10), 50).page_can_hold_rows(7, true));
        assert!(q(Some(10), 5).page_can_hold_rows(7, true));
    }

    #[test]
    fn no_record_prints_a_token() {
        let token = Secret::new("s3cret-token".to_string());
        let session = SessionRecord {
            name: "s".into(),
            backend: BackendKind::Ilink,
            bot_id: None,
            user_id: None,
            token: Some(token.clone()),
            base_url: None,
            status: SessionStatus::Connected,
            is_default: true,
            created_at_ms: 0,
            updated_at_ms: 0,
            last_message_at_ms: None,
            users: 0,
            problem: None,
        };
        let login = LoginRecord {
            backend: BackendKind::Wechaty,
            bot_id: "b".into(),
            user_id: None,
            token: token.clone(),
            base_url: None,
        };
        let context = ContextRecord {
            session: "s".into(),
            user_id: "u".into(),
            token: token.clone(),
            received_at_ms: 0,
            send_count: 0,
        };
        let message = NewMessage {
            session: "s".into(),
            direction: Direction::In,
            upstream_id: None,
            dedupe_key: "k".into(),
            peer: "u".into(),
            bot_id: None,
            kind: "text".into(),
            text: None,
            items: Items::empty(),
            raw: Some(serde_json::json!({"context_token": "s3cret-token"})),
            context_token: Some(token),
            created_at_ms: 0,
            client_id: None,
            status: MessageStatus::Received,
            error: None,
            speaker: None,
        };
        for shown in [
            format!("{session:?}"),
            format!("{login:?}"),
            format!("{context:?}"),
            format!("{message:?}"),
        ] {
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }
}
