//! Receiving, for agents and people: the unread inbound messages of a consumer, waiting up to
//! a timeout for the first one. Messages come from the store, so this works the same whether
//! this process polls or another one does: in-process listeners wake readers at once; what other
//! processes store wakes them through the store's notices when it pushes them (PostgreSQL), and
//! otherwise the store's version is compared every 100 ms (one cheap read; the claim, a write,
//! runs only when another process wrote).
//!
//! Each call claims what it returns ([`Store::claim_inbox`](crate::store::Store::claim_inbox):
//! read and cursor move in one transaction), so two readers of one consumer never get the same
//! message. A claim whose caller went away before taking the messages (a cancelled request) is
//! given back, so nothing is lost either.
//!
//! When the owner turned the access gate on for `recv` (`wxlink access gate-recv on`), what
//! the gate holds back is consumed without being returned ([`Service::gate_for_recv`]).

use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::error::{AppError, AppResult};
use crate::service::changes::Notices;
use crate::service::Service;
use crate::store::{StoreError, StoredMessage, DEFAULT_CONSUMER};

/// How often the store is checked for messages stored by other processes, when it pushes no
/// notices.
const STORE_CHECK: Duration = Duration::from_millis(100);

/// Most messages returned by one call.
pub const RECV_LIMIT: u32 = 100;

impl Service {
    /// Unread inbound messages of `consumer` (blank: the shared default one), oldest first,
    /// waiting up to `timeout` for the first one; the next call starts after them.
    ///
    /// With no session at all this fails at once. With no session connected nothing new can
    /// arrive: what is unread is returned at once, and when nothing is, the error says which
    /// session to log in again.
    pub async fn recv(&self, consumer: &str, timeout: Duration) -> AppResult<Vec<StoredMessage>> {
        self.recv_after(consumer, timeout, None).await
    }

    /// [`Service::recv`] for a reader that keeps its own position: `after` is the id of the
    /// last message it processed. The consumer moves there first, so an answer that never
    /// reached the reader (the process died, the connection dropped) comes again, and nothing
    /// it already has does. With one reader per consumer this is exactly once.
    pub async fn recv_after(
        &self,
        consumer: &str,
        timeout: Duration,
        after: Option<i64>,
    ) -> AppResult<Vec<StoredMessage>> {
        self.recv_gated(consumer, timeout, after, false).await
    }

    /// [`Service::recv_after`] for a reader held to the access gate whatever the owner set
    /// for `recv` (`always_gate`: an agent on a channel, which strangers must not reach through
    /// `recv` either).
    pub async fn recv_gated(
        &self,
        consumer: &str,
        timeout: Duration,
        after: Option<i64>,
        always_gate: bool,
    ) -> AppResult<Vec<StoredMessage>> {
        let consumer = if consumer.trim().is_empty() {
            DEFAULT_CONSUMER
        } else {
            consumer.trim()
        };
        if let Some(after) = after {
            if after < 0 {
                return Err(AppError::Invalid(format!(
                    "`after` must be a message id (0 or more), not {after}"
                )));
            }
            self.store().seek_consumer(consumer, after).await?;
        }
        // Asked of the store, not read from every session: with a thousand accounts that read
        // cost each call milliseconds.
        let presence = self.store().session_presence().await?;
        if !presence.any {
            return Err(AppError::NoSessions);
        }
        let live = presence.connected;
        let timeout = if live { timeout } else { Duration::ZERO };
        let deadline = Instant::now() + timeout;
        let mut events = self.subscribe();
        let mut notices = Notices::of(self.store());
        'claims: loop {
            // Read before the claim: a write by another process after it moves the version.
            let version = self.store().version().await.ok().flatten();
            let messages = self.claim(consumer, RECV_LIMIT).await?;
            if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
                let (first, last) = (first.id, last.id);
                let messages = match self.gate_for_recv(messages, always_gate).await {
                    Ok(m) => m,
                    Err(e) => {
                        // The gate cannot decide: the messages stay unread.
                        self.store().release_claim(consumer, first, last).await?;
                        return Err(e);
                    }
                };
                if !messages.is_empty() {
                    return Ok(messages);
                }
                continue;
            }
            // Wait for a wake-up; on the timer, claim again only when another process wrote.
            loop {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break 'claims;
                }
                let check = notices.check_every(STORE_CHECK, left);
                tokio::select! {
                    _ = events.recv() => continue 'claims,
                    _ = notices.next() => continue 'claims,
                    _ = tokio::time::sleep(check) => {}
                }
                let now = self.store().version().await.ok().flatten();
                if now.is_none() || now != version {
                    continue 'claims;
                }
            }
        }
        if !live {
            let s = self.resolve_session(None).await?;
            return Err(AppError::NotConnected {
                name: s.name,
                status: s.status,
            });
        }
        Ok(Vec::new())
    }

    /// Claims up to `limit` messages in a task of its own: if this future is dropped while the
    /// claim runs, the task gives the claim back instead of losing the messages.
    pub(crate) async fn claim(&self, consumer: &str, limit: u32) -> AppResult<Vec<StoredMessage>> {
        let store = self.store.clone();
        let consumer = consumer.to_string();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let claimed = store.claim_inbox(&consumer, limit).await;
            if let Err(Ok(messages)) = tx.send(claimed) {
                if let (Some(first), Some(last)) = (messages.first(), messages.last()) {
                    tracing::debug!(
                        consumer,
                        count = messages.len(),
                        "recv went away; giving its messages back"
                    );
                    if let Err(e) = store.release_claim(&consumer, first.id, last.id).await {
                        tracing::warn!(consumer, error = %e, "cannot give back a claim");
                    }
                }
            }
        });
        match rx.await {
            Ok(result) => {
                let messages = result?;
                if !messages.is_empty() {
                    // For bench/channel.py, which splits inbound latency into stages.
                    tracing::trace!(target: "wxlink::timing", count = messages.len(), "claimed");
                }
                Ok(messages)
            }
            Err(e) => Err(StoreError::database(e).into()),
        }
    }
}
