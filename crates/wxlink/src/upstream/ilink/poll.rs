//! The iLink listener: long-polls `getupdates` for one session and hands each batch, with its
//! new cursor, to the [`Sink`] (which commits both in one transaction).
//!
//! - Fetch and storage overlap: each batch is handed to the store at once and committed while
//!   the next ones are fetched — up to [`QUEUED_BATCHES`] waiting at a store that applies
//!   them in order ([`Sink::stores_in_order`]: SQLite's one thread), else one.
//! - Nothing is skipped. Commits happen in order, and each batch carries the cursor it was
//!   fetched with, which the store compares with its own in the same transaction: when a
//!   commit fails, every batch behind it fails too (its cursor never arrived), the batches
//!   fetched meanwhile are dropped and polling resumes from the cursor the store holds. A
//!   crash replays from the last committed cursor and duplicates are absorbed by the store.
//! - Network errors, 5xx and malformed bodies back off (2 s, then 30 s after three in a row);
//!   `-14` marks the session expired and ends the listener until the next login.
//! - [`DEGRADED_AFTER`] failures in a row (fetches or commits) mark the session degraded, with
//!   the last error, until a poll succeeds again: a listener never fails silently. One message
//!   the model cannot read is no failure (the `ilink` crate keeps it raw and moves on).
//! - `msg/notifystart` is sent when polling starts, `msg/notifystop` on a clean shutdown.

use std::collections::VecDeque;
use std::future::Future;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::normalize;
use crate::store::{NewMessage, StoreError, StoreResult};
use crate::timefmt::now_ms;
use crate::upstream::{pause, Shutdown, Sink};

/// Failures in a row after which the session shows as degraded.
pub const DEGRADED_AFTER: u32 = 3;

/// Most batches one listener has waiting at the store (committing or queued behind).
///
/// Three keep the store's thread busy while the listener fetches, parses and normalizes the
/// next batch: with one, the store waited for the listener between two commits (`benches/
/// ingest.rs` measured it; ARCHITECTURE.md has the figures).
pub const QUEUED_BATCHES: usize = 3;

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
    let mut queue = match sink.cursor().await {
        Ok(c) => Queue::new(
            c,
            if sink.stores_in_order() {
                QUEUED_BATCHES
            } else {
                1
            },
        ),
        Err(e) => {
            tracing::warn!(session = %name, error = %e, "cannot read the cursor");
            return;
        }
    };
    tracing::info!(session = %name, "polling");
    let mut wait = None;
    let mut failures = 0u32; // fetches in a row that failed
    let mut store_failures = 0u32; // commits in a row that failed
    let clean_stop = loop {
        let result = tokio::select! {
            biased;
            _ = shutdown.changed() => break true,
            r = bot.get_updates(queue.tip(), wait) => r,
        };
        // Room for this batch: the batches ahead that committed are let go, and the oldest
        // waited for while the queue is full. If one could not be stored, neither could any
        // behind it: this one is dropped too, and all are fetched again.
        match queue.make_room().await {
            Ok(()) => store_failures = 0,
            Err(StoreError::UnknownSession(_)) => break false,
            Err(e) => {
                store_failures += 1;
                tracing::warn!(session = %name, error = %e, "cannot store messages; will fetch them again");
                if store_failures >= DEGRADED_AFTER && !degraded {
                    degraded = true;
                    let why = format!("{store_failures} batches in a row could not be stored: {e}");
                    sink.problem(Some(why)).await;
                }
                // Fetched again from the store's own cursor: another listener may have moved
                // it.
                if let Ok(stored) = sink.cursor().await {
                    queue.committed = stored;
                }
                if pause(backoff.pause(store_failures), &mut shutdown).await {
                    break true;
                }
                continue;
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
                if !(batch.is_empty() && updates.cursor == queue.tip()) {
                    // Stored while the next batch is fetched.
                    queue.push(&sink, batch, updates.cursor).await;
                    // The commit's task hands the batch over before this one builds and
                    // writes the next request. With many accounts answering at once, their
                    // batches then reach the store together and share a transaction: handed
                    // over one by one as each listener went on, they made the store's thread
                    // commit more, smaller transactions, and ingest with 1,000 accounts fell
                    // from about 28,000 to 17,000 msg/s (`bench/scale.py`).
                    tokio::task::yield_now().await;
                }
                if !sink.still_wanted().await {
                    break false;
                }
            }
            Err(e) if e.is_session_expired() => {
                let _ = queue.settle(0).await;
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
    if let Err(e) = queue.settle(0).await {
        tracing::warn!(session = %name, error = %e, "cannot store the last batches; they will be fetched again");
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

/// The batches handed to the store and not yet known to be committed, oldest first.
struct Queue {
    commits: VecDeque<Commit>,
    /// Most commits waiting at once.
    limit: usize,
    /// The cursor the store held after the last commit this listener saw succeed.
    committed: String,
}

impl Queue {
    fn new(committed: String, limit: usize) -> Self {
        Queue {
            commits: VecDeque::with_capacity(limit),
            limit,
            committed,
        }
    }

    /// The cursor the next fetch asks from: that of the last batch handed over, else the
    /// committed one.
    fn tip(&self) -> &str {
        self.commits.back().map_or(&self.committed, |c| &c.cursor)
    }

    /// How many commits may stay waiting when the next batch (fetched from [`Queue::tip`]) is
    /// handed over.
    ///
    /// The store stores that batch only while its cursor is still the tip, the cursor of the
    /// last batch ahead. If a batch ahead fails, the store keeps the cursor of the one before
    /// it (or `committed`): were that also the tip — an upstream that answered the same
    /// cursor twice — the batch would pass the check with the failed one missing. So it then
    /// waits until every batch ahead has committed.
    fn room(&self) -> usize {
        let from = self.tip();
        let ahead = self.commits.len().saturating_sub(1);
        let repeated = self.commits.iter().take(ahead).any(|c| c.cursor == from);
        if repeated || (!self.commits.is_empty() && self.committed == from) {
            0
        } else {
            self.limit - 1
        }
    }

    /// [`Queue::settle`] down to [`Queue::room`].
    async fn make_room(&mut self) -> StoreResult<()> {
        self.settle(self.room()).await
    }

    /// Hands a batch fetched from [`Queue::tip`] to the store, behind those already there
    /// (after [`Queue::make_room`]); it stores cursor `to`.
    async fn push(&mut self, sink: &Arc<dyn Sink>, batch: Vec<NewMessage>, to: String) {
        let from = self.tip().to_owned();
        // In fetch order: the batch ahead reaches the store first.
        if let Some(ahead) = self.commits.back_mut() {
            ahead.handed_over().await;
        }
        self.commits.push_back(Commit::start(sink, batch, from, to));
    }

    /// Lets go of the commits that are done, waiting for the oldest while more than `keep`
    /// remain. After a failure, waits for every commit behind it (they fail on their cursor,
    /// or store what they would have anyway) and answers the first error.
    async fn settle(&mut self, keep: usize) -> StoreResult<()> {
        let mut failed = None;
        while self.commits.len() > keep
            || failed.is_some()
            || self.commits.front().is_some_and(Commit::done)
        {
            let Some(commit) = self.commits.pop_front() else {
                break;
            };
            let cursor = commit.cursor.clone();
            match commit.finish().await {
                Ok(()) => self.committed = cursor,
                Err(e) => {
                    failed.get_or_insert(e);
                }
            }
        }
        failed.map_or(Ok(()), Err)
    }
}

/// One batch being committed (messages and cursor in one transaction) by a task of its own
/// while the poll loop fetches the next. The sink announces what it stored, so readers wake as
/// soon as the transaction ends, not when the next fetch returns.
struct Commit {
    task: JoinHandle<StoreResult<()>>,
    /// Answers (or closes) once the task has handed the batch to the store.
    handed_over: Option<oneshot::Receiver<()>>,
    /// The cursor it stores.
    cursor: String,
}

impl Commit {
    /// Starts the task. Its first poll of the store's future hands the batch over (a store
    /// that applies batches in order queues it then), and it says so.
    fn start(sink: &Arc<dyn Sink>, batch: Vec<NewMessage>, from: String, to: String) -> Self {
        let sink = sink.clone();
        let cursor = to.clone();
        let (tell, handed_over) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut store = std::pin::pin!(sink.store(batch, Some(from), to));
            let first = std::future::poll_fn(|cx| Poll::Ready(store.as_mut().poll(cx))).await;
            let _ = tell.send(());
            match first {
                Poll::Ready(done) => done,
                Poll::Pending => store.await,
            }
            .map(|_| ())
        });
        Commit {
            task,
            handed_over: Some(handed_over),
            cursor,
        }
    }

    /// Waits until the batch is at the store (at once, but for a task not yet run).
    async fn handed_over(&mut self) {
        if let Some(handed_over) = self.handed_over.take() {
            let _ = handed_over.await;
        }
    }

    /// Whether the answer is in.
    fn done(&self) -> bool {
        self.task.is_finished()
    }

    /// Waits for the transaction.
    async fn finish(self) -> StoreResult<()> {
        match self.task.await {
            Ok(done) => done,
            Err(join) => Err(StoreError::database(join)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answered(cursor: &str, ok: bool) -> Commit {
        let done = if ok {
            Ok(())
        } else {
            Err(StoreError::Corrupt("test", "disk is full".into()))
        };
        Commit {
            task: tokio::spawn(async move { done }),
            handed_over: None,
            cursor: cursor.into(),
        }
    }

    /// Lets every commit's task run to its end.
    async fn answered_all(q: &Queue) {
        while !q.commits.iter().all(Commit::done) {
            tokio::task::yield_now().await;
        }
    }

    fn queue(committed: &str, cursors: &[&str]) -> Queue {
        let mut q = Queue::new(committed.into(), QUEUED_BATCHES);
        q.commits.extend(cursors.iter().map(|c| answered(c, true)));
        q
    }

    #[tokio::test]
    async fn batches_queue_while_their_cursors_differ() {
        let full = QUEUED_BATCHES - 1;
        assert_eq!(queue("c0", &[]).tip(), "c0");
        assert_eq!(queue("c0", &["c1", "c2"]).tip(), "c2");
        assert_eq!(queue("", &[]).room(), full);
        assert_eq!(queue("c0", &["c1"]).room(), full);
        assert_eq!(queue("c0", &["c1", "c2"]).room(), full);
        // The batch ahead left the cursor where it was: if it failed, the store would still
        // hold this batch's cursor. So this one waits for it.
        assert_eq!(queue("c0", &["c0"]).room(), 0);
        assert_eq!(queue("c0", &["c1", "c1"]).room(), 0);
        // An upstream that went back to an earlier cursor.
        assert_eq!(queue("c0", &["c1", "c0", "c1"]).room(), 0);
        // After a failure the queue is empty: nothing to wait for.
        assert_eq!(queue("c0", &[]).room(), full);
    }

    #[tokio::test]
    async fn a_failure_lets_go_of_everything_behind_it() {
        let mut q = queue("c0", &["c1"]);
        q.commits.push_back(answered("c2", false));
        q.commits.push_back(answered("c3", false));
        answered_all(&q).await;
        let e = q.settle(QUEUED_BATCHES - 1).await.unwrap_err();
        assert!(matches!(e, StoreError::Corrupt("test", _)));
        assert!(q.commits.is_empty());
        assert_eq!(q.committed, "c1");
        // Commits that are done are let go even when there is room for them.
        let mut q = queue("c0", &["c1", "c2"]);
        answered_all(&q).await;
        q.settle(QUEUED_BATCHES - 1).await.unwrap();
        assert!(q.commits.is_empty());
        assert_eq!(q.committed, "c2");
    }
}
