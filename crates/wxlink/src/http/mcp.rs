//! `/mcp`: MCP Streamable HTTP, rmcp's [`StreamableHttpService`] with a handler per session
//! from the [`HandlerFactory`]. Host and Origin are checked by the guard for every route (with
//! the bound host allowed), so rmcp's own checks are off. Two corrections around it:
//!
//! - a session closed by `DELETE /mcp` answers **204 No Content** (rmcp answers 202, which the
//!   Python SDK logs as a failure);
//! - `resources/subscribe` and `resources/unsubscribe` do not exist at 2026-07-28: a request
//!   that speaks that version gets "method not found" (-32601, HTTP 404), as on stdio, instead
//!   of rmcp's complaint about a missing `Mcp-Name` header (-32020).

use std::sync::Arc;

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
) -> (Router, Arc<LocalSessionManager>) {
    let sessions = Arc::new(LocalSessionManager::default());
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
        .layer(middleware::from_fn(deleted_is_no_content));
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

/// `DELETE /mcp` that ended a session: 204 instead of 202.
async fn deleted_is_no_content(request: Request<Body>, next: Next) -> Response {
    let delete = request.method() == Method::DELETE;
    let response = next.run(request).await;
    if delete && response.status() == StatusCode::ACCEPTED {
        return StatusCode::NO_CONTENT.into_response();
    }
    response
}
