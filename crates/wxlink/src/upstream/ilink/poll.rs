//! The iLink listener: long-polls `getupdates` for one session and hands each batch, with its
//! new cursor, to the [`Sink`] (which commits both in one transaction).
//!
//! - Fetch and storage overlap: a batch is committed by a task of its own while the next one
//!   is fetched. Commits happen in order; a failed commit drops the batch fetched meanwhile
//!   and polling resumes from the last committed cursor, so nothing is skipped. A crash
//!   replays from the last committed cursor and duplicates are absorbed by the store.
//! - Network errors, 5xx and malformed bodies back off (2 s, then 30 s after three in a row);
//!   `-14` marks the session expired and ends the listener until the next login.
//! - [`DEGRADED_AFTER`] failures in a row (fetches or commits) mark the session degraded, with
//!   the last error, until a poll succeeds again: a listener never fails silently. One message
//!   the model cannot read is no failure (the `ilink` crate keeps it raw and moves on).
//! - `msg/notifystart` is sent when polling starts, `msg/notifystop` on a clean shutdown.

use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use super::normalize;
use crate::store::{NewMessage, StoreError, StoreResult};
use crate::timefmt::now_ms;
use crate::upstream::{pause, Shutdown, Sink};

/// Failures in a row after which the session shows as degraded.
pub const DEGRADED_AFTER: u32 = 3;

/// Polls `bot` for session `name` until shutdown, expiry, or the session is no longer wanted.
/// `degraded`: the session is marked degraded now (the first success clears it).
pub async fn run(
    name: &str,
    bot: &::ilink::Bot,
    sink: Arc<dyn Sink>,
    mut shutdown: Shutdown,
    mut degraded: bool,
) {
    let backoff = bot.client().config().backoff.clone();
    if let Err(e) = bot.notify_start().await {
        if e.is_session_expired() {
            sink.expired().await;
            return;
        }
        tracing::debug!(session = %name, error = %e, "notifystart failed; polling anyway");
    }
    // `cursor` is what the next fetch asks from; while a batch is being committed it runs one
    // batch ahead of `committed`, the cursor the store holds.
    let mut cursor = match sink.cursor().await {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(session = %name, error = %e, "cannot read the cursor");
            return;
        }
    };
    let mut committed = cursor.clone();
    let mut in_flight: Option<Commit> = None;
    tracing::info!(session = %name, "polling");
    let mut wait = None;
    let mut failures = 0u32; // fetches in a row that failed
    let mut store_failures = 0u32; // commits in a row that failed
    let clean_stop = loop {
        let result = tokio::select! {
            biased;
            _ = shutdown.changed() => break true,
            r = bot.get_updates(&cursor, wait) => r,
        };
        // Batches are committed in order: the one before must be stored before this one is
        // handled. If it could not be, this one is dropped and both are fetched again.
        if let Some(commit) = in_flight.take() {
            match commit.finish().await {
                Ok(stored_cursor) => {
                    committed = stored_cursor;
                    store_failures = 0;
                }
                Err(StoreError::UnknownSession(_)) => break false,
                Err(e) => {
                    store_failures += 1;
                    tracing::warn!(session = %name, error = %e, "cannot store messages; will fetch them again");
                    if store_failures >= DEGRADED_AFTER && !degraded {
                        degraded = true;
                        let why =
                            format!("{store_failures} batches in a row could not be stored: {e}");
                        sink.problem(Some(why)).await;
                    }
                    cursor = committed.clone();
                    if pause(backoff.pause(store_failures), &mut shutdown).await {
                        break true;
                    }
                    continue;
                }
            }
        }
        match result {
            Ok(updates) => {
                if !updates.messages.is_empty() {
                    // For bench/channel.py's stages: the answer is read and parsed.
                    tracing::trace!(target: "wxlink::timing", session = %name, count = updates.messages.len(), "answered");
                }
                failures = 0;
                if degraded && store_failures == 0 {
                    degraded = false;
                    sink.problem(None).await;
                }
                if updates.skipped > 0 {
                    tracing::warn!(session = %name, skipped = updates.skipped, "entries of getupdates that are not messages were skipped");
                }
                wait = updates.next_timeout;
                let now = now_ms();
                let batch: Vec<_> = updates
                    .messages
                    .into_iter()
                    .filter_map(|r| normalize::inbound(name, r, now))
                    .collect();
                if !(batch.is_empty() && updates.cursor == cursor) {
                    // Stored while the next batch is fetched.
                    in_flight = Some(Commit::start(&sink, batch, &updates.cursor));
                    cursor = updates.cursor;
                    // The commit's task hands the batch to the store first: otherwise it
                    // waits until this task has built and written the next request.
                    tokio::task::yield_now().await;
                }
                if !sink.still_wanted().await {
                    break false;
                }
            }
            Err(e) if e.is_session_expired() => {
                if let Some(commit) = in_flight.take() {
                    let _ = commit.finish().await;
                }
                sink.expired().await;
                return;
            }
            Err(e) => {
                failures += 1;
                let d = backoff.pause(failures);
                tracing::warn!(session = %name, error = %e, retry_in_s = d.as_secs_f64(), "poll failed");
                if failures >= DEGRADED_AFTER && !degraded {
                    degraded = true;
                    sink.problem(Some(format!("{failures} polls in a row failed: {e}")))
                        .await;
                }
                if pause(d, &mut shutdown).await {
                    break true;
                }
                if !sink.still_wanted().await {
                    break false;
                }
            }
        }
    };
    // What was fetched is stored before the listener ends.
    if let Some(commit) = in_flight.take() {
        if let Err(e) = commit.finish().await {
            tracing::warn!(session = %name, error = %e, "cannot store the last batch; it will be fetched again");
        }
    }
    if clean_stop {
        match tokio::time::timeout(Duration::from_secs(3), bot.notify_stop()).await {
            Ok(Err(e)) => tracing::debug!(error = %e, "notifystop failed"),
            Err(_) => tracing::debug!("notifystop timed out"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!(session = %name, "stopped polling");
}

/// One batch being committed (messages and cursor in one transaction) by a task of its own
/// while the poll loop fetches the next. The sink announces what it stored, so readers wake as
/// soon as the transaction ends, not when the next fetch returns.
struct Commit {
    task: JoinHandle<StoreResult<()>>,
    cursor: String,
}

impl Commit {
    fn start(sink: &Arc<dyn Sink>, batch: Vec<NewMessage>, cursor: &str) -> Self {
        let (sink, next) = (sink.clone(), cursor.to_string());
        let task = tokio::spawn(async move { sink.store(batch, next).await.map(|_| ()) });
        Commit {
            task,
            cursor: cursor.to_string(),
        }
    }

    /// Waits for the transaction; the cursor it stored on success.
    async fn finish(self) -> StoreResult<String> {
        match self.task.await {
            Ok(Ok(())) => Ok(self.cursor),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(StoreError::database(join)),
        }
    }
}
