//! The event stream: [`EventStream`] and the task behind it, which keeps exactly one `Event`
//! stream open (the service allows one), calls `Start` after each (re)connect, reconnects with
//! exponential backoff when the stream ends, errors or goes idle, feeds the login state and the
//! cache, and yields [`PuppetEvent`]s including `Connected`/`Disconnected`.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::client::Client;
use crate::error::Error;
use crate::event::PuppetEvent;
use crate::proto::wechaty::puppet as pb;

/// The events of one [`Client`]: a [`futures_util::Stream`] of [`PuppetEvent`]s (also
/// [`EventStream::recv`]). It ends after a `Disconnected { reconnect_in: None, .. }`, or when
/// shut down. Dropping it stops the task and releases the service's stream slot.
#[derive(Debug)]
pub struct EventStream {
    rx: mpsc::Receiver<PuppetEvent>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl EventStream {
    /// The next event; `None` once the stream has ended.
    pub async fn recv(&mut self) -> Option<PuppetEvent> {
        self.rx.recv().await
    }

    /// Stops the task, closes the `Event` stream and waits until that is done, so that the
    /// client can open a new one right away.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.rx.close();
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl futures_util::Stream for EventStream {
    type Item = PuppetEvent;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<PuppetEvent>> {
        self.get_mut().rx.poll_recv(cx)
    }
}

impl Drop for EventStream {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

pub(crate) fn spawn(client: Client) -> EventStream {
    let (tx, rx) = mpsc::channel(client.config().event_buffer.max(1));
    let (stop_tx, stop_rx) = oneshot::channel();
    let task = tokio::spawn(run(client, tx, stop_rx));
    EventStream {
        rx,
        stop: Some(stop_tx),
        task: Some(task),
    }
}

/// Why one connected stream ended.
enum End {
    /// Asked to stop, or nobody listens any more.
    Stop,
    /// The stream broke; reconnect.
    Lost(Error),
}

/// Marks the client's event stream slot free however the task ends.
struct Closed(Client);

impl Drop for Closed {
    fn drop(&mut self) {
        self.0.event_stream_closed();
    }
}

async fn run(client: Client, tx: mpsc::Sender<PuppetEvent>, mut stop: oneshot::Receiver<()>) {
    let _closed = Closed(client.clone());
    let policy = client.config().reconnect.clone();
    let mut failures: u32 = 0;
    loop {
        let opened = tokio::select! {
            _ = &mut stop => return,
            r = open(&client) => r,
        };
        let error = match opened {
            Ok(stream) => {
                failures = 0;
                if !emit(&client, &tx, &mut stop, PuppetEvent::Connected).await {
                    return;
                }
                if client.config().start_on_connect {
                    let c = client.clone();
                    tokio::spawn(async move {
                        if let Err(e) = c.start().await {
                            tracing::warn!(error = %e, "Start after connecting the event stream failed");
                        }
                    });
                }
                match pump(&client, stream, &tx, &mut stop).await {
                    End::Stop => return,
                    End::Lost(e) => e,
                }
            }
            Err(e) => e,
        };
        failures = failures.saturating_add(1);
        let give_up = error.is_fatal() || policy.max_attempts.is_some_and(|max| failures > max);
        let delay = policy.delay(failures.saturating_sub(1));
        tracing::warn!(error = %error, failures, ?delay, give_up, "event stream disconnected");
        let ev = PuppetEvent::Disconnected {
            error,
            reconnect_in: (!give_up).then_some(delay),
        };
        if !emit(&client, &tx, &mut stop, ev).await || give_up {
            return;
        }
        tokio::select! {
            _ = &mut stop => return,
            _ = tokio::time::sleep(delay) => {}
        }
    }
}

/// Opens the `Event` stream (within the request timeout).
async fn open(client: &Client) -> Result<tonic::Streaming<pb::EventResponse>, Error> {
    let after = client.config().request_timeout;
    let mut rpc = client.rpc();
    match tokio::time::timeout(after, rpc.event(pb::EventRequest {})).await {
        Err(_) => Err(Error::Timeout {
            what: "opening the event stream".into(),
            after,
        }),
        Ok(Err(status)) => Err(Error::from_status("Event", "", "", &status)),
        Ok(Ok(response)) => Ok(response.into_inner()),
    }
}

/// Sends one event to the consumer after letting the client observe it. `false`: stop.
async fn emit(
    client: &Client,
    tx: &mpsc::Sender<PuppetEvent>,
    stop: &mut oneshot::Receiver<()>,
    ev: PuppetEvent,
) -> bool {
    client.observe(&ev);
    tokio::select! {
        _ = stop => false,
        r = tx.send(ev) => r.is_ok(),
    }
}

/// Forwards events until the stream ends, errors, idles out, or we are stopped.
async fn pump(
    client: &Client,
    mut stream: tonic::Streaming<pb::EventResponse>,
    tx: &mpsc::Sender<PuppetEvent>,
    stop: &mut oneshot::Receiver<()>,
) -> End {
    let idle = client.config().idle_timeout;
    loop {
        let next = tokio::select! {
            _ = &mut *stop => return End::Stop,
            r = next_message(&mut stream, idle) => r,
        };
        match next {
            Err(after) => {
                return End::Lost(Error::Timeout {
                    what: "event stream (no event, not even a heartbeat)".into(),
                    after,
                })
            }
            Ok(Ok(Some(response))) => {
                let ev = PuppetEvent::decode(response.r#type, &response.payload);
                tracing::trace!(?ev, "puppet event");
                if !emit(client, tx, stop, ev).await {
                    return End::Stop;
                }
            }
            Ok(Ok(None)) => {
                return End::Lost(Error::Unavailable {
                    message: "the puppet service ended the event stream".into(),
                })
            }
            Ok(Err(status)) => return End::Lost(Error::from_status("Event", "", "", &status)),
        }
    }
}

async fn next_message(
    stream: &mut tonic::Streaming<pb::EventResponse>,
    idle: Option<Duration>,
) -> Result<Result<Option<pb::EventResponse>, tonic::Status>, Duration> {
    match idle {
        Some(after) => tokio::time::timeout(after, stream.message())
            .await
            .map_err(|_| after),
        None => Ok(stream.message().await),
    }
}
