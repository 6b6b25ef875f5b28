//! The background WAL checkpointer (one thread per open file store).

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::schema::BUSY_TIMEOUT_MS;
use crate::store::{StoreError, StoreResult};

/// Writes the WAL back into the database from a thread of its own, once a second, so that the
/// fsyncs of a checkpoint never stall a send or a `recv` (SQLite's automatic checkpoint runs
/// inside whichever commit crosses the threshold). Passive: it never blocks writers or readers.
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    /// Checkpoints done so far.
    pub(super) done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Every how often the WAL is checkpointed.
    const EVERY: Duration = Duration::from_secs(1);

    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let db = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("wxlink-checkpoint".into())
            .spawn(move || {
                // Opened at the first tick, so a short command (`status`) never pays for it.
                let mut conn: Option<Connection> = None;
                loop {
                    // A message or a dropped sender: the store is gone; checkpoint once more
                    // (if this thread ever did) and end — closing the last connection
                    // checkpoints anyway.
                    let last = !matches!(
                        stopped.recv_timeout(Self::EVERY),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if last && conn.is_none() {
                        return;
                    }
                    if conn.is_none() {
                        match Connection::open(&db).and_then(|c| {
                            c.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
                            Ok(c)
                        }) {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                tracing::debug!(error = %e, "cannot open the checkpoint connection");
                                continue;
                            }
                        }
                    }
                    if let Some(c) = &conn {
                        match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                            Ok(()) => {
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "WAL checkpoint failed; retrying later")
                            }
                        }
                    }
                    if last {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: e,
            });
        }
        Ok(Checkpointer { stop, done })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}
