//! Listener leases across hosts: [`PgLeases`], a session-level advisory lock per account on
//! one connection of its own (not from the pool; opened on first use, with TCP keepalives and
//! the store's TLS).
//!
//! - `try_acquire(name)` runs `pg_try_advisory_lock(key)`, where `key` is the first 8 bytes of
//!   SHA-256(`"wxlink-listener:" + name`) read as a big-endian `i64`. Acquisitions of one
//!   store run one at a time, and a name held here is refused without asking the server (an
//!   advisory lock is re-entrant within its session).
//! - Dropping a [`Lease`] unlocks it (`pg_advisory_unlock`) through the connection's worker
//!   task: a message on a channel, never a wait.
//! - The worker sends a heartbeat (`SELECT 1`) every second, allowed 3 s. When it fails, or
//!   the connection ends, every lease of that connection is **lost** (their tokens are
//!   cancelled), the connection is closed (the server then releases its locks: another
//!   replica can take them within about [`RETRY`] plus the heartbeat), and the next
//!   `try_acquire` opens a new one.
//! - `held_here` answers from memory (held and not lost); `is_held` asks `pg_locks`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::error::describe;
use super::tls::Tls;
use crate::coord::{Lease, Leases};

/// How often a listener without its lease tries again.
pub const RETRY: Duration = Duration::from_secs(1);

/// How often the lease connection is checked.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// How long a heartbeat, an unlock or an acquisition may take before the connection is
/// given up.
const DEADLINE: Duration = Duration::from_secs(3);

/// The advisory lock key of a lease name.
pub(super) fn lease_key(name: &str) -> i64 {
    let digest = Sha256::digest(format!("wxlink-listener:{name}").as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// The leases of one PostgreSQL store (see the module docs).
#[derive(Clone)]
pub struct PgLeases {
    inner: Arc<Inner>,
}

impl fmt::Debug for PgLeases {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgLeases")
            .field("held", &self.inner.held().len())
            .finish_non_exhaustive()
    }
}

struct Inner {
    /// How to open the lease connection (keepalives set).
    config: tokio_postgres::Config,
    /// The store's TLS connector.
    tls: Tls,
    /// For `is_held` (any connection will do).
    pool: deadpool_postgres::Pool,
    /// The current connection; the lock also serializes acquisitions.
    conn: tokio::sync::Mutex<Option<Arc<Conn>>>,
    /// Leases held here: name → (lease number, its lost token).
    held: Mutex<HashMap<String, (u64, CancellationToken)>>,
    /// Numbers the leases.
    next: AtomicU64,
}

impl Inner {
    fn held(&self) -> MutexGuard<'_, HashMap<String, (u64, CancellationToken)>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// One lease connection: its client (for acquisitions), the worker's channel, and the token
/// cancelled when it is lost.
struct Conn {
    client: tokio_postgres::Client,
    unlocks: mpsc::UnboundedSender<i64>,
    lost: CancellationToken,
}

/// What a [`Lease`] keeps: dropping it forgets the lease and unlocks it.
struct Hold {
    name: String,
    number: u64,
    key: i64,
    unlocks: mpsc::UnboundedSender<i64>,
    inner: Arc<Inner>,
}

impl Drop for Hold {
    fn drop(&mut self) {
        {
            let mut held = self.inner.held();
            if held.get(&self.name).is_some_and(|(n, _)| *n == self.number) {
                held.remove(&self.name);
            }
        }
        // A lost connection's worker is gone: its locks went with the connection.
        let _ = self.unlocks.send(self.key);
    }
}

impl PgLeases {
    /// Leases over connections made with `config` (the store's, keepalives set) and `tls`,
    /// asking `pool` for `is_held`.
    pub(super) fn new(
        mut config: tokio_postgres::Config,
        tls: Tls,
        pool: deadpool_postgres::Pool,
    ) -> Self {
        config
            .application_name("wxlink-lease")
            .connect_timeout(DEADLINE);
        PgLeases {
            inner: Arc::new(Inner {
                config,
                tls,
                pool,
                conn: tokio::sync::Mutex::new(None),
                held: Mutex::new(HashMap::new()),
                next: AtomicU64::new(1),
            }),
        }
    }

    /// The live connection, opened if there is none (or the last one was lost).
    async fn connection(slot: &mut Option<Arc<Conn>>, inner: &Inner) -> std::io::Result<Arc<Conn>> {
        if let Some(conn) = slot.as_ref().filter(|c| !c.lost.is_cancelled()) {
            return Ok(conn.clone());
        }
        *slot = None;
        let (client, connection) = inner
            .config
            .connect(inner.tls.clone())
            .await
            .map_err(|e| std::io::Error::other(describe(&e)))?;
        let ended = CancellationToken::new();
        let driver = {
            let ended = ended.clone();
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %describe(&e), "PostgreSQL lease connection failed");
                }
                ended.cancel();
            })
        };
        let (unlocks, queue) = mpsc::unbounded_channel();
        let lost = CancellationToken::new();
        let conn = Arc::new(Conn {
            client,
            unlocks,
            lost: lost.clone(),
        });
        tokio::spawn(work(conn.clone(), queue, ended, driver));
        *slot = Some(conn.clone());
        Ok(conn)
    }
}

/// The connection's worker: unlocks and heartbeats, one at a time. Ends when the connection
/// fails (every lease lost; the connection aborted, so the server releases the locks) or when
/// nothing can send it unlocks any more.
async fn work(
    conn: Arc<Conn>,
    mut queue: mpsc::UnboundedReceiver<i64>,
    ended: CancellationToken,
    driver: JoinHandle<()>,
) {
    let mut tick = tokio::time::interval(HEARTBEAT);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let weak = Arc::downgrade(&conn);
    // The worker keeps the connection only through the leases and the store's slot.
    drop(conn);
    loop {
        let alive = tokio::select! {
            biased;
            () = ended.cancelled() => false,
            key = queue.recv() => match (key, weak.upgrade()) {
                (Some(key), Some(conn)) => {
                    let unlock = async {
                        conn.client.execute("SELECT pg_advisory_unlock($1)", &[&key]).await
                    };
                    matches!(tokio::time::timeout(DEADLINE, unlock).await, Ok(Ok(_)))
                }
                // Nobody holds the connection any more: close it.
                _ => break,
            },
            _ = tick.tick() => match weak.upgrade() {
                Some(conn) => {
                    let ping = conn.client.simple_query("SELECT 1");
                    matches!(tokio::time::timeout(DEADLINE, ping).await, Ok(Ok(_)))
                }
                None => break,
            },
        };
        if !alive {
            tracing::warn!("PostgreSQL lease connection lost: its leases are lost");
            if let Some(conn) = weak.upgrade() {
                conn.lost.cancel();
            }
            break;
        }
    }
    driver.abort();
}

#[async_trait]
impl Leases for PgLeases {
    async fn try_acquire(&self, name: &str) -> std::io::Result<Option<Lease>> {
        let mut slot = self.inner.conn.lock().await;
        if self.held_here(name) {
            return Ok(None);
        }
        let conn = PgLeases::connection(&mut slot, &self.inner).await?;
        let key = lease_key(name);
        let attempt = async {
            conn.client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&key])
                .await
        };
        let got: bool = match tokio::time::timeout(DEADLINE, attempt).await {
            Ok(Ok(row)) => row
                .try_get(0)
                .map_err(|e| std::io::Error::other(describe(&e)))?,
            Ok(Err(e)) => {
                conn.lost.cancel();
                return Err(std::io::Error::other(describe(&e)));
            }
            Err(_) => {
                conn.lost.cancel();
                return Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "PostgreSQL did not answer a lease request in time",
                ));
            }
        };
        if !got {
            return Ok(None);
        }
        let lost = conn.lost.child_token();
        let number = self.inner.next.fetch_add(1, Ordering::Relaxed);
        self.inner
            .held()
            .insert(name.to_owned(), (number, lost.clone()));
        let hold = Hold {
            name: name.to_owned(),
            number,
            key,
            unlocks: conn.unlocks.clone(),
            inner: self.inner.clone(),
        };
        Ok(Some(Lease::new(hold, lost)))
    }

    fn held_here(&self, name: &str) -> bool {
        self.inner
            .held()
            .get(name)
            .is_some_and(|(_, lost)| !lost.is_cancelled())
    }

    async fn is_held(&self, name: &str) -> Option<bool> {
        let key = lease_key(name) as u64;
        let (class, object) = ((key >> 32) as u32, key as u32);
        let client = self.inner.pool.get().await.ok()?;
        let row = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' \
                 AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) \
                 AND classid = $1 AND objid = $2 AND objsubid = 1 AND granted)",
                &[&class, &object],
            )
            .await
            .ok()?;
        row.try_get(0).ok()
    }

    fn retry(&self) -> Duration {
        RETRY
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_the_first_bytes_of_sha256() {
        // SHA-256("wxlink-listener:main") starts with these 8 bytes.
        let digest = Sha256::digest(b"wxlink-listener:main");
        let want = i64::from_be_bytes(digest[..8].try_into().unwrap());
        assert_eq!(lease_key("main"), want);
        assert_ne!(lease_key("main"), lease_key("other"));
    }
}
