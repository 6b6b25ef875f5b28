//! The durable store: sessions and their credentials, upstream cursors, context tokens, every
//! inbound and outbound message, and consumer cursors — behind the [`Store`] trait, with the
//! embedded SQLite implementation in [`sqlite`].
//!
//! Invariants every implementation keeps:
//! - **Nothing lost, nothing twice.** [`Store::ingest`] commits a batch of inbound messages,
//!   the new upstream cursor and the context tokens they carry in one transaction; inbound rows
//!   are unique on `(session, dedupe_key)`, so a replayed batch is absorbed.
//! - **Monotonic ids.** Message ids only grow (never reused, even after retention deletes rows),
//!   so a consumer cursor is just "the last id I have seen".
//! - **Durable inbox.** Consumers read inbound messages after their stored cursor; two
//!   consumers never steal from each other and unread messages survive restarts.

pub mod sqlite;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use sqlite::SqliteStore;

/// Sends allowed per context token before the server refuses (spec §8).
pub const SEND_QUOTA_PER_TOKEN: u32 = 10;

/// Name of the consumer used when a caller names none.
pub const DEFAULT_CONSUMER: &str = "default";

/// Errors of the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database failed (I/O, corruption, locked too long).
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    /// No session of that name.
    #[error("no session named {0:?}")]
    UnknownSession(String),
    /// A session of that name already exists.
    #[error("a session named {0:?} already exists")]
    SessionExists(String),
    /// A name that cannot be used for a session.
    #[error("invalid session name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
    InvalidName(String),
    /// Stored JSON that does not parse (should never happen).
    #[error("corrupt stored JSON in {0}: {1}")]
    Corrupt(&'static str, String),
    /// The database was written by a newer wxlink.
    #[error("the database has schema version {found}, newer than this wxlink understands ({supported}); upgrade wxlink")]
    TooNew {
        /// Version found.
        found: i64,
        /// Newest version this build knows.
        supported: i64,
    },
    /// Setting up the data directory failed.
    #[error("cannot prepare {path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The error.
        #[source]
        source: std::io::Error,
    },
}

/// Result alias for the store.
pub type StoreResult<T> = Result<T, StoreError>;

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Has live credentials.
    Connected,
    /// Upstream said the token is dead (`-14`); a new login is needed.
    Expired,
    /// Credentials removed by `logout`.
    LoggedOut,
}

impl SessionStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Connected => "connected",
            SessionStatus::Expired => "expired",
            SessionStatus::LoggedOut => "logged_out",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "connected" => SessionStatus::Connected,
            "expired" => SessionStatus::Expired,
            "logged_out" => SessionStatus::LoggedOut,
            _ => return None,
        })
    }
}

/// One account (a WeChat bot identity) as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct SessionRecord {
    /// Unique, user-chosen name.
    pub name: String,
    /// `ilink` (later also `wechaty`).
    pub backend: String,
    /// Bot account id.
    pub bot_id: Option<String>,
    /// The WeChat user who bound it.
    pub user_id: Option<String>,
    /// Bearer token (absent after logout).
    pub token: Option<String>,
    /// API base URL for this account (from the login), if any.
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
}

/// What a successful login hands to [`Store::save_login`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoginRecord {
    /// `ilink` or `wechaty`.
    pub backend: String,
    /// Bot account id.
    pub bot_id: String,
    /// The WeChat user who bound it.
    pub user_id: Option<String>,
    /// Bearer token.
    pub token: String,
    /// API base URL.
    pub base_url: Option<String>,
}

/// Direction of a message, seen from the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From a user to the bot.
    In,
    /// From the bot to a user.
    Out,
}

impl Direction {
    /// Stored integer: 1 in, 2 out (WeiLink's numbering).
    pub fn code(self) -> i64 {
        match self {
            Direction::In => 1,
            Direction::Out => 2,
        }
    }

    /// From the stored integer.
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            1 => Some(Direction::In),
            2 => Some(Direction::Out),
            _ => None,
        }
    }
}

/// A message to store (inbound from the poller, outbound from a send).
#[derive(Debug, Clone, PartialEq)]
pub struct NewMessage {
    /// The session it belongs to.
    pub session: String,
    /// In or out.
    pub direction: Direction,
    /// Upstream message id (decimal u64 as text), when known.
    pub upstream_id: Option<String>,
    /// Key that identifies the message upstream, for de-duplication: the upstream id, or a
    /// fallback (client id, seq, content hash) when there is none. Unique per session.
    pub dedupe_key: String,
    /// The other side: the user of a one-to-one chat, or the room of a group chat.
    pub peer: String,
    /// The bot account id.
    pub bot_id: Option<String>,
    /// Primary kind: `text`, `image`, `voice`, `file`, `video`, `mixed` (several kinds) or
    /// `unknown` (a message the wire model could not read; see `raw`).
    pub kind: String,
    /// Searchable text: text items, voice transcripts, file names, quoted text.
    pub text: Option<String>,
    /// Normalized items (JSON array), including media references needed to download.
    pub items: Value,
    /// The upstream JSON exactly as received (inbound) or as sent (outbound).
    pub raw: Option<Value>,
    /// The context token the message carried (inbound) or used (outbound).
    pub context_token: Option<String>,
    /// Upstream creation time (inbound) or send time (outbound), ms.
    pub created_at_ms: i64,
    /// Our `client_id` (outbound).
    pub client_id: Option<String>,
    /// `received`, `sent` or `failed`.
    pub status: String,
    /// Why a send failed.
    pub error: Option<String>,
    /// In a group chat (`peer` is the room): who wrote it. `None` in one-to-one chats.
    pub speaker: Option<String>,
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
    pub token: String,
    /// When the message carrying it arrived (upstream time), ms.
    pub received_at_ms: i64,
    /// Sends made with this token so far.
    pub send_count: u32,
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
    /// Substring of the searchable text (FTS5 trigram for 3+ characters, a scan below that).
    pub text: Option<String>,
    /// Page size (the caller clamps it to 1..=200).
    pub limit: u32,
    /// Rows to skip.
    pub offset: u32,
}

/// One page of history, newest first.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPage {
    /// The messages.
    pub messages: Vec<StoredMessage>,
    /// How many match in total.
    pub total: u64,
}

/// Retention limits; both `None` keeps everything.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Retention {
    /// Delete messages stored longer ago than this, ms.
    pub max_age_ms: Option<i64>,
    /// Keep only the newest this many messages.
    pub max_rows: Option<u64>,
}

/// The persistence wxlink needs. Implementations must be safe to share between threads and
/// between processes on one data directory.
pub trait Store: Send + Sync {
    /// All sessions, default first then by name.
    fn sessions(&self) -> StoreResult<Vec<SessionRecord>>;
    /// One session.
    fn session(&self, name: &str) -> StoreResult<Option<SessionRecord>>;
    /// Creates the session or replaces its credentials (status `connected`). When the bot id
    /// changes, the cursor restarts and old context tokens are dropped (they belong to the old
    /// bot); history is kept. The first session ever saved becomes the default.
    fn save_login(&self, name: &str, login: &LoginRecord) -> StoreResult<SessionRecord>;
    /// Sets a session's status.
    fn set_status(&self, name: &str, status: SessionStatus) -> StoreResult<()>;
    /// Removes a session's credentials, cursor and context tokens (status `logged_out`); its
    /// history stays. Errors on an unknown session.
    fn logout(&self, name: &str) -> StoreResult<()>;
    /// Renames a session everywhere (messages, cursor, contexts).
    fn rename_session(&self, old: &str, new: &str) -> StoreResult<()>;
    /// Makes a session the default.
    fn set_default(&self, name: &str) -> StoreResult<()>;
    /// The default session: the one marked default, else the oldest connected one, else the
    /// oldest one.
    fn default_session(&self) -> StoreResult<Option<String>>;

    /// The upstream cursor of a session (`""` when none).
    fn cursor(&self, session: &str) -> StoreResult<String>;
    /// Stores inbound messages, the new cursor, the context tokens they carry (a new token
    /// resets that user's send count) and the session's last-message time — all in one
    /// transaction. Duplicates are skipped. Returns the ids of the rows actually inserted.
    fn ingest(&self, session: &str, batch: &[NewMessage], cursor: &str) -> StoreResult<Vec<i64>>;

    /// Context tokens of a user across sessions, freshest first.
    fn contexts_for_user(&self, user_id: &str) -> StoreResult<Vec<ContextRecord>>;
    /// Context tokens of one session (or all), freshest first.
    fn contexts(&self, session: Option<&str>) -> StoreResult<Vec<ContextRecord>>;
    /// Reserves one send on `(session, user)`'s current token if it is still `token` and under
    /// the quota. Returns the new send count, or `None` when the token changed or is used up.
    fn reserve_send(&self, session: &str, user_id: &str, token: &str) -> StoreResult<Option<u32>>;
    /// Gives back a reservation for a send that never reached the server.
    fn refund_send(&self, session: &str, user_id: &str, token: &str) -> StoreResult<()>;

    /// Stores an outbound message; returns its id.
    fn record_outbound(&self, message: &NewMessage) -> StoreResult<i64>;
    /// A message by our id or by its upstream id.
    fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>>;
    /// A page of history.
    fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage>;
    /// The newest message id (0 when empty); cheap, for change detection.
    fn latest_id(&self) -> StoreResult<i64>;
    /// The session of the newest message exchanged with `peer` (a user or a room), if any;
    /// cheap, for routing a send.
    fn last_session_with(&self, peer: &str) -> StoreResult<Option<String>>;

    /// Up to `limit` inbound messages after `consumer`'s cursor, oldest first. A consumer seen
    /// for the first time starts after the newest message at that moment, except
    /// [`DEFAULT_CONSUMER`], which starts at the beginning.
    fn read_inbox(&self, consumer: &str, limit: u32) -> StoreResult<Vec<StoredMessage>>;
    /// Moves `consumer`'s cursor forward to `up_to_id` (never backwards).
    fn ack(&self, consumer: &str, up_to_id: i64) -> StoreResult<()>;

    /// Applies retention; returns the number of messages deleted.
    fn prune(&self, retention: Retention) -> StoreResult<u64>;
}
