//! The background WAL checkpointer (one thread per open file store).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::schema::{BUSY_TIMEOUT_MS, WAL_LIMIT_BYTES};
use crate::store::{StoreError, StoreResult};

/// Writes the WAL back into the database from a thread of its own, once a second, so that the
/// fsyncs of a checkpoint never stall a send or a `recv` (SQLite's automatic checkpoint runs
/// inside whichever commit crosses the threshold). Passive, so it never blocks writers or
/// readers, until the WAL passes its limit (see [`checkpoint`]).
#[derive(Debug)]
pub(super) struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    /// Checkpoints done so far.
    pub(super) done: Arc<AtomicU64>,
    /// Set when the WAL has passed its limit: the writer should cut it back.
    pub(super) cut: Arc<AtomicBool>,
}

impl Checkpointer {
    /// Every how often the WAL is checkpointed.
    const EVERY: Duration = Duration::from_secs(1);

    pub(super) fn start(path: &Path) -> StoreResult<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let cut = Arc::new(AtomicBool::new(false));
        let wanted = cut.clone();
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
                        match checkpoint(c, &wanted) {
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
        Ok(Checkpointer { stop, done, cut })
    }
}

/// One passive checkpoint: it copies what it can without waiting for anyone. The WAL only
/// starts over when a write begins after a checkpoint that caught up with it, which writes
/// that never pause (a bulk load, a thousand accounts answering at once) never allow: past
/// [`WAL_LIMIT_BYTES`] it asks the store's thread, the writer, to cut the WAL back itself
/// between two of its transactions (`cut`; see `serve`). From here a stronger checkpoint
/// would wait for the writer, which re-takes its lock at once, and starve.
fn checkpoint(c: &Connection, cut: &AtomicBool) -> rusqlite::Result<()> {
    let wal_pages: i64 = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(1))?;
    let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    if wal_pages.saturating_mul(page_size) > WAL_LIMIT_BYTES {
        cut.store(true, Ordering::Relaxed);
    }
    Ok(())
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}
