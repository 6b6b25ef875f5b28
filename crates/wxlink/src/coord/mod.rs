//! Who listens to which account: exactly one listener per account among every process that
//! shares a store. A listener holds a [`Lease`] on its account from [`Leases`]:
//!
//! - [`FileLeases`] (SQLite: processes sharing a data directory on one host) — an OS file lock
//!   per account under `<data>/locks/`, released by the kernel when its holder dies (even by
//!   SIGKILL); never lost while held.
//! - PostgreSQL's leases (replicas on several hosts, `store::postgres`) — a session advisory
//!   lock per account on a connection of their own: released by the database when the holder's
//!   connection ends (its process died, or its host stopped answering), and then *lost* for the
//!   holder, which must stop listening ([`Lease::lost`]).
//!
//! The others retry every [`Leases::retry`] and meanwhile read what the holder stores.

mod files;

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

pub use files::FileLeases;

/// How often a listener without its lease tries again (file locks).
pub const LOCK_RETRY: Duration = Duration::from_secs(2);

/// The leases of one store: one holder per name at a time, across processes (and hosts).
#[async_trait]
pub trait Leases: Send + Sync + fmt::Debug {
    /// Tries once to take the lease `name`, without waiting: `None` when someone else holds it.
    async fn try_acquire(&self, name: &str) -> std::io::Result<Option<Lease>>;
    /// Whether this process holds `name`. Answered from memory.
    fn held_here(&self, name: &str) -> bool;
    /// Whether anyone (this process included) holds `name`; `None` when it cannot be told.
    async fn is_held(&self, name: &str) -> Option<bool>;
    /// How long a listener without its lease waits before trying again.
    fn retry(&self) -> Duration {
        LOCK_RETRY
    }
}

/// A held lease: released when dropped.
pub struct Lease {
    _hold: Box<dyn Send + Sync>,
    lost: CancellationToken,
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Lease")
            .field("lost", &self.lost.is_cancelled())
            .finish_non_exhaustive()
    }
}

impl Lease {
    /// A lease kept by `hold` (released when `hold` is dropped), lost when `lost` is cancelled.
    pub fn new(hold: impl Send + Sync + 'static, lost: CancellationToken) -> Lease {
        Lease {
            _hold: Box::new(hold),
            lost,
        }
    }

    /// Completes when the lease is lost (someone else may hold it now): its holder must stop
    /// what the lease guarded. A file lock is never lost.
    pub fn lost(&self) -> WaitForCancellationFuture<'_> {
        self.lost.cancelled()
    }

    /// Whether the lease is lost already.
    pub fn is_lost(&self) -> bool {
        self.lost.is_cancelled()
    }
}
