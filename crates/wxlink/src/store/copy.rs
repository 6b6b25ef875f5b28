//! The records of a whole-store copy (`wxlink migrate-store`: [`Store::export_state`],
//! [`Store::restore_state`], [`Store::messages_after`], [`Store::restore_messages`]) and the
//! wake-ups a store can push ([`Store::notices`]).
//!
//! [`Store::export_state`]: super::Store::export_state
//! [`Store::restore_state`]: super::Store::restore_state
//! [`Store::messages_after`]: super::Store::messages_after
//! [`Store::restore_messages`]: super::Store::restore_messages
//! [`Store::notices`]: super::Store::notices

use super::{ContextRecord, SessionRecord};

/// A session's upstream cursor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CursorRecord {
    /// The session.
    pub session: String,
    /// Its cursor.
    pub cursor: String,
}

/// A consumer's position in the inbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerRecord {
    /// The consumer's name.
    pub name: String,
    /// The last message id it was handed.
    pub last_id: i64,
}

/// Everything a store holds besides messages.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StoreState {
    /// The sessions, with their credentials (`users` is derived and ignored on restore).
    pub sessions: Vec<SessionRecord>,
    /// The upstream cursors.
    pub cursors: Vec<CursorRecord>,
    /// The context tokens, with their send counts.
    pub contexts: Vec<ContextRecord>,
    /// The consumers' positions.
    pub consumers: Vec<ConsumerRecord>,
}

/// What [`Store::restore_messages`](super::Store::restore_messages) did with a chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestoreOutcome {
    /// Stored now.
    pub inserted: u64,
    /// Already here (same id, session, direction and dedupe key).
    pub existing: u64,
    /// Left out: their id or their dedupe key belongs to another message here.
    pub conflicting: u64,
}

/// What a store with pushed wake-ups ([`Store::notices`](super::Store::notices)) says changed,
/// in any process on any host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// Messages were stored; the newest id is at least this.
    Messages {
        /// The newest id stored by the write that sent the notice.
        latest_id: i64,
    },
    /// Sessions changed (a login, logout, rename, status, default or problem).
    Sessions,
    /// Notices may have been missed (the listening connection was re-established): look again
    /// at everything.
    Resync,
}
