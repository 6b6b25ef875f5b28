//! `/mcp`: MCP Streamable HTTP, rmcp's [`StreamableHttpService`] with a handler per session
//! from the [`HandlerFactory`]. Host and Origin are checked by the guard for every route (with
//! the bound host allowed), so rmcp's own checks are off. Two corrections around it:
//!
//! - a session closed by `DELETE /mcp` answers **204 No Content** (rmcp answers 202, which the
//!   Python SDK logs as a failure);
//! - `resources/subscribe` and `resources/unsubscribe` do not exist at 2026-07-28: a request
//!   that speaks that version gets "method not found" (-32601, HTTP 404), as on stdio, instead
//!   of rmcp's complaint about a missing `Mcp-Name` header (-32020);
//! - a body that is no JSON-RPC message gets **400** with the JSON-RPC error (-32700 when it is
//!   not JSON, -32600 or -32602 otherwise, see [`crate::mcp::jsonrpc`]) instead of rmcp's 415
//!   "fail to deserialize".
//!
//! A session idle past `session_timeout` ends; rmcp then drops it from its table, so its next
//! request is answered 404 and the client starts a new session (the transport spec's rule).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
use rmcp::model::ProtocolVersion;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tokio_util::sync::CancellationToken;

use super::sse::KEEP_ALIVE;
use crate::mcp::{Endpoint, HandlerFactory};

/// The `/mcp` route and its session table (for `/health`'s connection count).
pub fn router<F: HandlerFactory>(
    factory: F,
    cancel: CancellationToken,
    session_timeout: Duration,
) -> (Router, Arc<LocalSessionManager>) {
    let mut table = LocalSessionManager::default();
    table.session_config.keep_alive = Some(session_timeout);
    let sessions = Arc::new(table);
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_sse_keep_alive(Some(KEEP_ALIVE))
        .with_cancellation_token(cancel)
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let service = StreamableHttpService::new(
        move || Ok(factory.handler(Endpoint::Streamable)),
        sessions.clone(),
        config,
    );
    let router = Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(removed_methods_not_found))
        .layer(middleware::from_fn(deleted_is_no_content))
        .layer(middleware::from_fn(unreadable_is_a_json_rpc_error));
    (router, sessions)
}

/// Largest body looked at for a removed method (rmcp's own limit applies to the rest).
const MAX_PEEK: usize = 4 * 1024 * 1024;

/// Methods 2026-07-28 removed that rmcp would otherwise answer with a header complaint.
const REMOVED_IN_2026: &[&str] = &["resources/subscribe", "resources/unsubscribe"];

/// The part of a JSON-RPC request this layer reads.
#[derive(serde::Deserialize)]
struct Peek {
    #[serde(default)]
    id: Option<serde_json::Value>,
    #[serde(default)]
    method: Option<String>,
}

/// A 2026-07-28 request for a method that version removed: "method not found".
async fn removed_methods_not_found(request: Request<Body>, next: Next) -> Response {
    let modern = request
        .headers()
        .get("mcp-protocol-version")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim() >= ProtocolVersion::V_2026_07_28.as_str());
    let method = request
        .headers()
        .get("mcp-method")
        .and_then(|v| v.to_str().ok())
        .map(str::trim);
    if !modern
        || request.method() != Method::POST
        || !method.is_some_and(|m| REMOVED_IN_2026.contains(&m))
    {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PEEK).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    match serde_json::from_slice::<Peek>(&bytes) {
        Ok(Peek {
            id: Some(id),
            method: Some(m),
        }) if REMOVED_IN_2026.contains(&m.as_str()) => {
            let body = serde_json::json!({
                "jsonrpc": "2.0",
                "id": id,
                // The same answer as on stdio, where rmcp says "method not found" itself.
                "error": {"code": -32601, "message": m},
            });
            (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
        }
        _ => {
            next.run(Request::from_parts(parts, Body::from(bytes)))
                .await
        }
    }
}

/// How rmcp's 415 for a body it cannot read as a message starts.
const UNREADABLE: &[u8] = b"fail to deserialize";

/// A POST whose body rmcp could not read as a message: 400 with the JSON-RPC error.
async fn unreadable_is_a_json_rpc_error(request: Request<Body>, next: Next) -> Response {
    if request.method() != Method::POST {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, MAX_PEEK).await {
        Ok(b) => b,
        Err(_) => return StatusCode::PAYLOAD_TOO_LARGE.into_response(),
    };
    let response = next
        .run(Request::from_parts(parts, Body::from(bytes.clone())))
        .await;
    if response.status() != StatusCode::UNSUPPORTED_MEDIA_TYPE {
        return response;
    }
    let (head, answer) = response.into_parts();
    let answer = axum::body::to_bytes(answer, MAX_PEEK)
        .await
        .unwrap_or_default();
    if !answer.starts_with(UNREADABLE) {
        return Response::from_parts(head, Body::from(answer));
    }
    let error = crate::mcp::jsonrpc::reject(&bytes);
    (StatusCode::BAD_REQUEST, axum::Json(error)).into_response()
}

/// `DELETE /mcp` that ended a session: 204 instead of 202.
async fn deleted_is_no_content(request: Request<Body>, next: Next) -> Response {
    let delete = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        return StatusCode::NO_CONTENT.into_response();
    }
    response
}
