//! The in-process event bus: what happened, for whoever waits — `recv` calls (woken at once
//! instead of at their next store check), the change feed ([`super::changes`], which MCP
//! notifications follow), the listeners' supervisor, the CLI's `poll`. Other processes see the
//! same facts through the store.

use tokio::sync::broadcast;

/// Something that happened that waiting readers may care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// New inbound messages were stored.
    Inbound {
        /// Session.
        session: String,
        /// The ids of the rows stored by that commit.
        ids: Vec<i64>,
    },
    /// A session's credentials died upstream.
    SessionExpired {
        /// Session.
        session: String,
    },
    /// Sessions were added, renamed, logged in or out, or the default changed.
    SessionsChanged,
    /// A send was recorded (`pending`) before it left.
    Outbound {
        /// Session.
        session: String,
        /// Its row id.
        id: i64,
    },
    /// A recorded send left (`sent`) or failed (`failed`).
    MessageStatus {
        /// Its row id.
        id: i64,
        /// The status now.
        status: crate::store::MessageStatus,
        /// Why it failed.
        error: Option<String>,
    },
    /// A session's listener started failing again and again (`problem` says why), or works
    /// again (`problem` is `None`).
    SessionHealth {
        /// Session.
        session: String,
        /// Why receiving fails; `None` once it works again.
        problem: Option<String>,
    },
}

/// A broadcast channel of [`Event`]s (a slow subscriber misses events and is told so; every
/// subscriber re-checks the store, so nothing is lost).
#[derive(Debug, Clone)]
pub struct Events {
    tx: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        Self::new()
    }
}

impl Events {
    /// A new bus.
    pub fn new() -> Self {
        Events {
            tx: broadcast::channel(1024).0,
        }
    }

    /// Subscribes to events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.tx.subscribe()
    }

    /// Publishes an event (nobody listening is fine).
    pub fn emit(&self, event: Event) {
        let _ = self.tx.send(event);
    }
}
