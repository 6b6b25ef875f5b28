//! The background WAL checkpointer (one thread per open file store).
//!
//! It also starts the WAL over once a checkpoint has caught up with it. SQLite starts the WAL
//! over in the first write after such a checkpoint, and syncs the new WAL header to disk in
//! that write's commit (<https://sqlite.org/src/info/ff5be73dee>): with a checkpoint every
//! second, every message received and every `send` after a second's pause paid an fsync
//! (0.5 ms on the benchmark machine's disk, milliseconds on many) — the one fsync left in a
//! request's path. The checkpointer now makes that first write itself, right after its
//! checkpoint, once the writes have paused: page 1's `application_id`, rewritten unchanged
//! (see [`pass`] for when).

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rusqlite::Connection;

use super::rows::in_write_transaction;
use super::schema::WAL_LIMIT_BYTES;
use crate::store::{StoreError, StoreResult};

/// Writes the WAL back into the database from a thread of its own, once a second, so that the
/// fsyncs of a checkpoint never stall a send or a `recv` (SQLite's automatic checkpoint runs
/// inside whichever commit crosses the threshold). Passive, so it never blocks writers or
/// readers, until the WAL passes its limit (see [`checkpoint`]). Nothing is done while no one
/// writes (`PRAGMA data_version` says so).
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
                // The `data_version` at the end of the last complete pass.
                let mut seen: Option<i64> = None;
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
                        match open(&db) {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                tracing::debug!(error = %e, "cannot open the checkpoint connection");
                                continue;
                            }
                        }
                    }
                    if let Some(c) = &conn {
                        match pass(c, &mut seen, &wanted, !last) {
                            Ok(Pass::Idle) => {}
                            Ok(Pass::Checkpointed) => {
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

/// The checkpointer's connection: it writes too (see [`start_over`]), with the store's
/// `synchronous` and WAL size limit (the write that starts the WAL over is the one that cuts
/// the file back to the limit). It never waits for a lock: a passive checkpoint does not
/// anyway, and when another connection holds the write lock, that write starts the WAL over
/// itself — waiting for writes that never pause would only stall the checkpoints.
fn open(db: &Path) -> rusqlite::Result<Connection> {
    let c = Connection::open(db)?;
    c.busy_timeout(Duration::ZERO)?;
    c.pragma_update(None, "synchronous", "NORMAL")?;
    c.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
    Ok(c)
}

/// What one tick did.
#[derive(Debug, PartialEq, Eq)]
enum Pass {
    /// Nothing was written since the last complete pass: nothing to do.
    Idle,
    /// A checkpoint ran.
    Checkpointed,
}

/// One tick: unless nothing was written since the last complete pass (`seen`), a checkpoint,
/// and then, if it caught up with the WAL and `restart` allows, [`start_over`]. A pass that
/// could not copy everything (a reader held an older snapshot) leaves `seen` alone, so the
/// next tick tries again.
fn pass(
    c: &Connection,
    seen: &mut Option<i64>,
    cut: &AtomicBool,
    restart: bool,
) -> rusqlite::Result<Pass> {
    let version = data_version(c)?;
    if *seen == Some(version) {
        return Ok(Pass::Idle);
    }
    let (busy, frames, copied) = checkpoint(c, cut)?;
    let caught_up = busy == 0 && copied == frames;
    // Only once the writes have paused (no commit since the checkpoint began): writers that
    // never pause start the WAL over themselves, an fsync spread over many commits, and a
    // write here would hold the write lock from them while its fsync flushes what they wrote.
    // And not on a WAL of one frame, which is what starting over leaves (page 1): that would
    // make two processes' checkpointers answer each other for ever.
    if caught_up && restart && frames > 1 && data_version(c)? == version {
        if let Err(e) = start_over(c) {
            // The next write starts the WAL over itself, as SQLite does without this.
            tracing::debug!(error = %e, "cannot start the WAL over");
        }
    }
    if caught_up {
        // The version from before the checkpoint: a commit since (ours never counts) makes the
        // next tick look again.
        *seen = Some(version);
    }
    Ok(Pass::Checkpointed)
}

/// `PRAGMA data_version`: moves when another connection commits.
fn data_version(c: &Connection) -> rusqlite::Result<i64> {
    c.query_row("PRAGMA data_version", [], |r| r.get(0))
}

/// One passive checkpoint: it copies what it can without waiting for anyone; answers SQLite's
/// (busy, frames in the WAL, frames copied). The WAL only starts over when a write begins after
/// a checkpoint that caught up with it, which writes that never pause (a bulk load, a thousand
/// accounts answering at once) never allow: past [`WAL_LIMIT_BYTES`] it asks the store's
/// thread, the writer, to cut the WAL back itself between two of its transactions (`cut`; see
/// `serve`). From here a stronger checkpoint would wait for the writer, which re-takes its lock
/// at once, and starve.
fn checkpoint(c: &Connection, cut: &AtomicBool) -> rusqlite::Result<(i64, i64, i64)> {
    let (busy, frames, copied) = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    let page_size: i64 = c.query_row("PRAGMA page_size", [], |r| r.get(0))?;
    if i64::saturating_mul(frames, page_size) > WAL_LIMIT_BYTES {
        cut.store(true, Ordering::Relaxed);
    }
    Ok((busy, frames, copied))
}

/// Starts the WAL over now, on this thread, so that the next write does not (it would sync the
/// new WAL header in its commit): a write transaction that rewrites page 1's `application_id`
/// (which wxlink does not use) with the value it has. If another write came first, it has
/// started the WAL over already and this one is appended: one page, harmless. Other
/// connections see a commit (their `data_version` moves once).
fn start_over(c: &Connection) -> StoreResult<()> {
    in_write_transaction(c, |tx| {
        let id: i64 = tx.query_row("PRAGMA application_id", [], |r| r.get(0))?;
        tx.execute_batch(&format!("PRAGMA application_id = {id}"))?;
        Ok(())
    })
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}
