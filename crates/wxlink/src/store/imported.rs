//! The records of [`Store::import_session`](super::Store::import_session): a session brought
//! over from another tool (`wxlink import`) and what merging it did.

use super::{LoginRecord, NewMessage, Secret};

/// A session brought over from another tool (WeiLink, OpenClaw) by `wxlink import`, with its
/// context tokens and history: what [`Store::import_session`] merges in one transaction.
#[derive(Debug, Clone)]
pub struct ImportedSession {
    /// The session's name here.
    pub name: String,
    /// Its credentials, when the other tool had live ones.
    pub login: Option<LoginRecord>,
    /// The upstream cursor where the other tool stopped (`""` when none).
    pub cursor: String,
    /// When the other tool first logged it in, ms (the session's `created_at` when new).
    pub created_at_ms: Option<i64>,
    /// The context tokens it held.
    pub contexts: Vec<ImportedContext>,
    /// Its history, in any order; every message's `session` is ignored (the row goes under
    /// [`ImportedSession::name`]).
    pub messages: Vec<NewMessage>,
    /// Make it the default session (the other tool's default, into a store without sessions
    /// before the import).
    pub make_default: bool,
}

/// One context token of an [`ImportedSession`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportedContext {
    /// The user.
    pub user_id: String,
    /// The token.
    pub token: Secret<String>,
    /// When the message carrying it arrived, ms.
    pub received_at_ms: i64,
    /// Sends the other tool made with it.
    pub send_count: u32,
}

/// What happened to an imported session's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportedCredentials {
    /// They (and the cursor) were stored: the session is logged in with them.
    Imported,
    /// The session is logged in here already; its own credentials and cursor were kept.
    KeptExisting,
    /// There were none to import.
    None,
}

/// What [`Store::import_session`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportOutcome {
    /// The session did not exist before.
    pub created: bool,
    /// The credentials.
    pub credentials: ImportedCredentials,
    /// Context tokens stored or refreshed (the others were already there, or older).
    pub contexts_new: u64,
    /// Messages stored.
    pub messages_new: u64,
    /// Messages that were there already (same direction and dedupe key).
    pub messages_existing: u64,
    /// The session is the default now.
    pub is_default: bool,
}
