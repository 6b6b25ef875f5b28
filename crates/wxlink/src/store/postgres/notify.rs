//! Wake-ups across replicas (LISTEN/NOTIFY on channel `wxlink`):
//!
//! - Writes send them inside their own transaction, so they are delivered on commit and never
//!   for a rolled-back write: [`messages_stored`] (`m:<newest id>`) by every write that stores
//!   or changes messages, [`sessions_changed`] (`s`) by every change to a session.
//! - [`Listener`]: a task on a connection of its own (not from the pool, with the store's TLS)
//!   that runs `LISTEN wxlink` and publishes each notification as a [`Notice`] on a broadcast
//!   channel. It reconnects with backoff (100 ms doubling to 5 s) and then publishes
//!   [`Notice::Resync`] (what was sent while it was away is lost). TCP keepalives make a
//!   silently dead server show up as a failure within seconds. The task stops when the
//!   `Listener` is dropped (with the last handle on the store).

use std::time::Duration;

use deadpool_postgres::Transaction;
use futures_util::StreamExt;
use tokio::sync::{broadcast, oneshot};
use tokio_postgres::AsyncMessage;
use tokio_util::sync::CancellationToken;

use super::error::{describe, PgError};
use super::tls::Tls;
use crate::store::{Notice, StoreError, StoreResult};

/// The notification channel.
const CHANNEL: &str = "wxlink";

/// How many notices a receiver may fall behind before it gets `Lagged` (read as a resync).
pub(super) const CAPACITY: usize = 1024;

/// First wait before reconnecting.
const BACKOFF_MIN: Duration = Duration::from_millis(100);

/// Longest wait between reconnections.
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// How long `connect` waits for the first `LISTEN`.
const FIRST_LISTEN: Duration = Duration::from_secs(30);

/// Sends `m:<newest>` on commit of `tx`.
pub(super) async fn messages_stored(tx: &Transaction<'_>, newest: i64) -> StoreResult<()> {
    let payload = format!("m:{newest}");
    let stmt = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    tx.execute(&stmt, &[&CHANNEL, &payload]).await?;
    Ok(())
}

/// Sends `s` on commit of `tx`.
pub(super) async fn sessions_changed(tx: &Transaction<'_>) -> StoreResult<()> {
    let stmt = tx.prepare_cached("SELECT pg_notify($1, $2)").await?;
    tx.execute(&stmt, &[&CHANNEL, &"s"]).await?;
    Ok(())
}

/// What a notification's payload says.
fn parse(payload: &str) -> Notice {
    match payload.strip_prefix("m:").map(str::parse::<i64>) {
        Some(Ok(latest_id)) => Notice::Messages { latest_id },
        _ if payload == "s" => Notice::Sessions,
        // Something this build does not know: look at everything.
        _ => Notice::Resync,
    }
}

/// The listening task; dropping this stops it (and closes its connection).
#[derive(Debug)]
pub(super) struct Listener {
    stop: CancellationToken,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.cancel();
    }
}

impl Listener {
    /// Starts listening with `config` and `tls` (its own connection) and publishing on
    /// `notices`;
    /// returns once the first `LISTEN` is in place (so nothing committed after `start`
    /// returns is missed), or fails when it could not be.
    pub(super) async fn start(
        config: tokio_postgres::Config,
        tls: Tls,
        notices: broadcast::Sender<Notice>,
    ) -> StoreResult<Listener> {
        let stop = CancellationToken::new();
        let (ready, listening) = oneshot::channel();
        tokio::spawn(run(config, tls, notices, stop.clone(), ready));
        let listener = Listener { stop };
        match tokio::time::timeout(FIRST_LISTEN, listening).await {
            Ok(Ok(Ok(()))) => Ok(listener),
            Ok(Ok(Err(e))) => Err(e),
            Ok(Err(_)) | Err(_) => Err(StoreError::database(PgError::new(
                "the notification listener did not start",
            ))),
        }
    }
}

/// Listens until `stop`, reconnecting with backoff. The first outcome goes to `ready`: a
/// failure of the first connection ends the task (the store's `connect` fails with it).
async fn run(
    config: tokio_postgres::Config,
    tls: Tls,
    notices: broadcast::Sender<Notice>,
    stop: CancellationToken,
    ready: oneshot::Sender<StoreResult<()>>,
) {
    let mut ready = Some(ready);
    let mut backoff = BACKOFF_MIN;
    loop {
        let ended = tokio::select! {
            biased;
            () = stop.cancelled() => return,
            ended = listen(&config, &tls, &notices, &mut ready, &mut backoff) => ended,
        };
        if let Some(first) = ready.take() {
            // Never listened: the caller learns why, and nothing keeps running.
            let _ = first.send(Err(ended));
            return;
        }
        tracing::warn!(error = %ended, retry_in = ?backoff, "PostgreSQL notification listener lost its connection");
        tokio::select! {
            () = stop.cancelled() => return,
            () = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection: `LISTEN`, then notifications until the connection fails (the error).
async fn listen(
    config: &tokio_postgres::Config,
    tls: &Tls,
    notices: &broadcast::Sender<Notice>,
    ready: &mut Option<oneshot::Sender<StoreResult<()>>>,
    backoff: &mut Duration,
) -> StoreError {
    let (client, mut connection) = match config.connect(tls.clone()).await {
        Ok(pair) => pair,
        Err(e) => return StoreError::from(e),
    };
    let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
    let statement = format!("LISTEN {CHANNEL}");
    let subscribe = client.batch_execute(&statement);
    tokio::pin!(subscribe);
    // The connection is driven by polling its messages: both until LISTEN is in place.
    loop {
        tokio::select! {
            done = &mut subscribe => match done {
                Ok(()) => break,
                Err(e) => return StoreError::from(e),
            },
            message = messages.next() => match message {
                Some(Ok(_)) => {}
                Some(Err(e)) => return StoreError::from(e),
                None => return closed(),
            },
        }
    }
    *backoff = BACKOFF_MIN;
    match ready.take() {
        Some(first) => {
            let _ = first.send(Ok(()));
        }
        None => {
            tracing::info!("PostgreSQL notification listener reconnected");
            let _ = notices.send(Notice::Resync);
        }
    }
    loop {
        match messages.next().await {
            Some(Ok(AsyncMessage::Notification(n))) if n.channel() == CHANNEL => {
                // No receiver is fine: nobody waits right now.
                let _ = notices.send(parse(n.payload()));
            }
            Some(Ok(_)) => {}
            Some(Err(e)) => return StoreError::database(PgError::new(describe(&e))),
            None => return closed(),
        }
    }
}

fn closed() -> StoreError {
    StoreError::database(PgError::new("the connection was closed"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_parse() {
        assert_eq!(parse("m:42"), Notice::Messages { latest_id: 42 });
        assert_eq!(parse("s"), Notice::Sessions);
        assert_eq!(parse("m:x"), Notice::Resync);
        assert_eq!(parse("future"), Notice::Resync);
    }
}
