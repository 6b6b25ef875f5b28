//! The legacy HTTP+SSE transport (MCP 2024-11-05), by hand on axum: rmcp only ships Streamable
//! HTTP.
//!
//! - `GET /sse` opens one MCP session per connection: the first event is `endpoint` with
//!   `/messages?sessionId=<id>` (128 random bits); every server→client JSON-RPC message follows
//!   as a `message` event; a keep-alive comment goes out every 15 s.
//! - `POST /messages?sessionId=<id>` hands one client→server message to that session and answers
//!   **202 Accepted** (the response arrives on the SSE stream); 400 without a session id or with a
//!   body that is not JSON-RPC, 404 for an unknown (or closed) session.
//! - When the client goes away (axum drops the SSE body) or the server shuts down, the session is
//!   removed and its handler cancelled, which also ends any tool call still waiting. On shutdown
//!   (SIGTERM, Ctrl-C) every open stream first gets Wechaty-MCP-SSE's last event,
//!   `event: server_shutdown` with `data: {"reason":"Server is shutting down"}`, then ends.
//!
//! This is what Wechaty-MCP-SSE (the TypeScript SDK's `SSEServerTransport`) serves, so clients
//! configured for its `http://host:port/sse` work unchanged: the `endpoint` event's data is a
//! relative `/messages?sessionId=…`, a POST is answered `202 Accepted` with the body `Accepted`,
//! and an unknown session gets its JSON error (`{"error": "处理消息失败", "message":
//! "没有活跃的SSE连接"}`, here with status 404 rather than its 500). Unlike it, each SSE
//! connection is its own MCP session (it shared one server, so only the newest client was
//! served reliably), and keep-alive comments go out.
//!
//! The request's HTTP parts reach the handler as an extension, as with `/mcp`. Authentication,
//! Host and Origin checks are the guard's ([`super::guard`]).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{Request, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use futures_util::stream::{self, Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::ServiceExt;
use serde::Deserialize;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::{CancellationToken, PollSender};

use crate::mcp::{Endpoint, HandlerFactory};

/// Interval of the SSE keep-alive comments.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);
/// Largest accepted `POST /messages` body.
const MAX_BODY: usize = 4 * 1024 * 1024;
/// Messages buffered per direction and session.
const CHANNEL: usize = 64;
/// The last event of every open stream when the server shuts down (Wechaty-MCP-SSE's).
pub const SHUTDOWN_EVENT: &str = "server_shutdown";
/// Its data.
pub const SHUTDOWN_REASON: &str = "Server is shutting down";

/// The open legacy SSE sessions of one server.
pub struct SseSessions<F> {
    factory: F,
    cancel: CancellationToken,
    senders: StdMutex<HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>>,
}

impl<F: HandlerFactory> SseSessions<F> {
    /// Sessions with handlers from `factory`; cancelling `cancel` ends every stream.
    pub fn new(factory: F, cancel: CancellationToken) -> Arc<SseSessions<F>> {
        Arc::new(SseSessions {
            factory,
            cancel,
            senders: StdMutex::default(),
        })
    }

    /// How many SSE connections are open.
    pub fn len(&self) -> usize {
        self.senders().len()
    }

    /// Whether no SSE connection is open.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn senders(&self) -> MutexGuard<'_, HashMap<String, mpsc::Sender<ClientJsonRpcMessage>>> {
        self.senders
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// `GET /sse` and `POST /messages`.
pub fn router<F: HandlerFactory>(sessions: Arc<SseSessions<F>>) -> Router {
    Router::new()
        .route("/sse", get(open::<F>))
        .route("/messages", post(message::<F>))
        .with_state(sessions)
}

/// Removes the session and stops its handler when the SSE body is dropped.
struct Cleanup<F: HandlerFactory> {
    sessions: Arc<SseSessions<F>>,
    id: String,
    cancel: CancellationToken,
}

impl<F: HandlerFactory> Drop for Cleanup<F> {
    fn drop(&mut self) {
        self.sessions.senders().remove(&self.id);
        self.cancel.cancel();
        tracing::debug!(session = %self.id, "SSE session closed");
    }
}

fn session_id() -> String {
    ilink::AesKey::random().to_hex()
}

async fn open<F: HandlerFactory>(State(sessions): State<Arc<SseSessions<F>>>) -> Response {
    let id = session_id();
    let (c2s_tx, c2s_rx) = mpsc::channel::<ClientJsonRpcMessage>(CHANNEL);
    let (s2c_tx, s2c_rx) = mpsc::channel::<ServerJsonRpcMessage>(CHANNEL);
    sessions.senders().insert(id.clone(), c2s_tx);
    let cancel = sessions.cancel.child_token();

    let server = sessions.factory.handler(Endpoint::Sse);
    let transport = (PollSender::new(s2c_tx), ReceiverStream::new(c2s_rx));
    let ct = cancel.clone();
    let sid = id.clone();
    tokio::spawn(async move {
        match server.serve_with_ct(transport, ct).await {
            Ok(running) => {
                let reason = running.waiting().await;
                tracing::debug!(session = %sid, ?reason, "SSE MCP session ended");
            }
            Err(e) => tracing::debug!(session = %sid, error = %e, "SSE MCP session did not start"),
        }
    });
    tracing::debug!(session = %id, "SSE session opened");

    let endpoint = Event::default()
        .event("endpoint")
        .data(format!("/messages?sessionId={id}"));
    let guard = Cleanup {
        sessions: sessions.clone(),
        id,
        cancel: cancel.clone(),
    };
    let messages = ReceiverStream::new(s2c_rx).filter_map(|msg| async move {
        let json = crate::mcp::rendered::encode(msg).map(String::from_utf8);
        match json {
            Ok(Ok(json)) => Some(Event::default().event("message").data(json)),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "an MCP message not in UTF-8");
                None
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot serialize an MCP message");
                None
            }
        }
    });
    // After the stream is cut: the shutdown notice, if the whole server is stopping (not when
    // only this session ended).
    let server = sessions.cancel.clone();
    let farewell = stream::once(async move {
        server.is_cancelled().then(|| {
            Event::default()
                .event(SHUTDOWN_EVENT)
                .data(serde_json::json!({ "reason": SHUTDOWN_REASON }).to_string())
        })
    })
    .filter_map(|event| async move { event });
    let events = stream::once(async move { endpoint })
        .chain(messages)
        .take_until(cancel.cancelled_owned())
        .chain(farewell)
        .map(move |event| {
            let _keep = &guard;
            Ok::<_, Infallible>(event)
        });
    sse_response(events)
}

fn sse_response(
    events: impl Stream<Item = Result<Event, Infallible>> + Send + 'static,
) -> Response {
    Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct MessageQuery {
    #[serde(rename = "sessionId")]
    session_id: Option<String>,
}

async fn message<F: HandlerFactory>(
    State(sessions): State<Arc<SseSessions<F>>>,
    Query(query): Query<MessageQuery>,
    request: Request<Body>,
) -> Response {
    let Some(id) = query.session_id.filter(|s| !s.is_empty()) else {
        return (StatusCode::BAD_REQUEST, "missing sessionId").into_response();
    };
    let Some(sender) = sessions.senders().get(&id).cloned() else {
        return no_session();
    };
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(e) => {
            return (
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("cannot read body: {e}"),
            )
                .into_response()
        }
    };
    let mut msg: ClientJsonRpcMessage = match serde_json::from_slice(&bytes) {
        Ok(m) => m,
        Err(e) => {
            return (
                StatusCode::BAD_REQUEST,
                format!("not a JSON-RPC message: {e}"),
            )
                .into_response()
        }
    };
    msg.insert_extension(parts);
    if sender.send(msg).await.is_err() {
        return no_session();
    }
    (StatusCode::ACCEPTED, "Accepted").into_response()
}

/// Wechaty-MCP-SSE's answer to a POST for a session that is not open ("failed to process the
/// message: no active SSE connection"), with an English hint.
fn no_session() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(serde_json::json!({
            "error": "处理消息失败",
            "message": "没有活跃的SSE连接",
            "detail": "unknown or closed session: open GET /sse again and use its endpoint",
        })),
    )
        .into_response()
}
