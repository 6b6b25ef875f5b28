//! `/mcp`: MCP Streamable HTTP, rmcp's [`StreamableHttpService`] with a handler per session
//! from the [`HandlerFactory`]. Host and Origin are checked by the guard for every route (with
//! the bound host allowed), so rmcp's own checks are off. A session closed by `DELETE /mcp`
//! answers **204 No Content** (rmcp answers 202, which the Python SDK logs as a failure).

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::Router;
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
        .layer(middleware::from_fn(deleted_is_no_content));
    (router, sessions)
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
