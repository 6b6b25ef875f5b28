//! `GET /api/v1/events`: what happens, as server-sent events, for the admin panel and scripts.
//!
//! `message` events come from the store (the change feed says when it grew), so they include
//! what other processes stored and survive a reconnect: each carries its id as the SSE `id`,
//! and a client that reconnects with `Last-Event-ID` first gets what it missed (up to a page;
//! `resync` when there was more). `message_status` and `session_health` come from this
//! process's event bus; `sessions` from the change feed.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::Extension;
use futures_util::Stream;
use serde_json::json;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::Problem;
use crate::service::{Event, Service};
use crate::store::HistoryQuery;
use crate::views;

/// Most messages sent at once after a gap; more than this and the client is told to resync.
const CATCH_UP: u32 = 200;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new().routes(routes!(events))
}

/// Ends every open event stream (server shutdown).
#[derive(Debug, Clone)]
pub struct StreamsEnd(pub CancellationToken);

/// The event stream.
///
/// Events: `message` (data: a message; `id`: its id), `message_status` (`{id, status,
/// error?}`), `sessions` (`{}`: reload the sessions), `session_health` (`{session, problem}`),
/// `resync` (`{}`: events were missed; reload). Reconnect with `Last-Event-ID` to get the
/// messages stored meanwhile.
#[utoipa::path(get, path = "/events", operation_id = "followEvents", tag = "events",
    params(("Last-Event-ID" = Option<String>, Header, description = "The last message id seen")),
    responses((status = 200, description = "`text/event-stream`", content_type = "text/event-stream", body = String),
        (status = 401, body = Problem)))]
async fn events(
    State(service): State<Arc<Service>>,
    Extension(end): Extension<StreamsEnd>,
    headers: HeaderMap,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let resume = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<i64>().ok())
        .filter(|&id| id >= 0);
    let (tx, rx) = mpsc::channel(64);
    tokio::spawn(follow(service, resume, tx, end.0));
    Sse::new(ReceiverStream::new(rx)).keep_alive(KeepAlive::default())
}

type Tx = mpsc::Sender<Result<SseEvent, Infallible>>;

fn event(name: &str, data: &serde_json::Value) -> SseEvent {
    SseEvent::default().event(name).data(data.to_string())
}

/// Feeds one client until it goes away or the server stops.
async fn follow(service: Arc<Service>, resume: Option<i64>, tx: Tx, end: CancellationToken) {
    let mut bus = service.subscribe();
    let mut changes = service.changes().await;
    changes.mark_seen();
    let mut last = match resume {
        Some(id) => id,
        None => *changes.messages.borrow(),
    };
    if resume.is_some() && !send_new(&service, &mut last, &tx).await {
        return;
    }
    loop {
        let ok = tokio::select! {
            _ = end.cancelled() => return,
            _ = tx.closed() => return,
            r = changes.messages.changed() => match r {
                Ok(()) => send_new(&service, &mut last, &tx).await,
                Err(_) => return,
            },
            r = changes.sessions.changed() => match r {
                Ok(()) => tx.send(Ok(event("sessions", &json!({})))).await.is_ok(),
                Err(_) => return,
            },
            ev = bus.recv() => match ev {
                Ok(Event::MessageStatus { id, status, error }) => {
                    let mut data = json!({"id": id.to_string(), "status": status.as_str()});
                    if let Some(e) = error {
                        data["error"] = json!(e);
                    }
                    tx.send(Ok(event("message_status", &data))).await.is_ok()
                }
                Ok(Event::SessionHealth { session, problem }) => tx
                    .send(Ok(event("session_health", &json!({"session": session, "problem": problem}))))
                    .await
                    .is_ok(),
                Ok(_) => true,
                Err(RecvError::Lagged(_)) => tx.send(Ok(event("resync", &json!({})))).await.is_ok(),
                Err(RecvError::Closed) => return,
            },
        };
        if !ok {
            return;
        }
    }
}

/// Sends the messages stored after `last` (oldest first) and moves `last`; false when the
/// client is gone.
async fn send_new(service: &Service, last: &mut i64, tx: &Tx) -> bool {
    let page = match service
        .history_page(&HistoryQuery {
            after_id: Some(*last),
            limit: CATCH_UP,
            count_up_to: Some(u64::from(CATCH_UP)),
            ..HistoryQuery::default()
        })
        .await
    {
        Ok(page) => page,
        Err(e) => {
            tracing::warn!(error = %e, "event stream: cannot read new messages");
            return true;
        }
    };
    if !page.total_exact && tx.send(Ok(event("resync", &json!({})))).await.is_err() {
        return false;
    }
    for m in page.messages.iter().rev() {
        let e = event("message", &views::message(m)).id(m.id.to_string());
        if tx.send(Ok(e)).await.is_err() {
            return false;
        }
        *last = (*last).max(m.id);
    }
    true
}
