//! Receiving for agents and people: wait up to a timeout for the first unread inbound message of
//! a consumer, return everything unread, and move that consumer's cursor. The messages come from
//! the store, so this works the same whether this process polls or another one does: in-process
//! pollers wake readers at once, and the store is re-checked every 100 ms for other processes.

use std::time::{Duration, Instant};

use crate::app::App;
use crate::error::AppResult;
use crate::store::StoredMessage;

/// How often the store is checked for messages stored by other processes.
const STORE_CHECK: Duration = Duration::from_millis(100);

/// Most messages returned by one call.
pub const RECV_LIMIT: u32 = 100;

/// Unread inbound messages of `consumer`, waiting up to `timeout` for the first one. The
/// returned messages are acknowledged: the next call starts after them.
pub async fn recv(app: &App, consumer: &str, timeout: Duration) -> AppResult<Vec<StoredMessage>> {
    let deadline = Instant::now() + timeout;
    let mut events = app.subscribe();
    loop {
        let messages = app.store().read_inbox(consumer, RECV_LIMIT)?;
        if let Some(last) = messages.last() {
            app.store().ack(consumer, last.id)?;
            return Ok(messages);
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(Vec::new());
        }
        tokio::select! {
            _ = events.recv() => {}
            _ = tokio::time::sleep(left.min(STORE_CHECK)) => {}
        }
    }
}
