//! `GET /health`: Wechaty-MCP-SSE's `{status, version, uptime, timestamp, connections}` plus the
//! login state — `logged_in` and `sessions` (`{name, backend, status, connected}`). No token is
//! needed, so it reveals no ids or tokens.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use serde_json::{json, Value};

use crate::service::Service;
use crate::timefmt::{iso, now_ms};

/// Counts the open MCP connections of both transports.
#[derive(Clone)]
pub struct Connections {
    mcp: Arc<LocalSessionManager>,
    sse: Arc<dyn Fn() -> usize + Send + Sync>,
}

impl Connections {
    /// Streamable HTTP sessions from rmcp's table, SSE streams from `sse`.
    pub fn new(
        mcp: Arc<LocalSessionManager>,
        sse: impl Fn() -> usize + Send + Sync + 'static,
    ) -> Self {
        Connections {
            mcp,
            sse: Arc::new(sse),
        }
    }

    async fn count(&self) -> usize {
        self.mcp.sessions.read().await.len() + (self.sse)()
    }
}

struct Health {
    service: Arc<Service>,
    started: Instant,
    connections: Connections,
}

/// The `/health` route.
pub fn router(service: Arc<Service>, connections: Connections) -> Router {
    let state = Arc::new(Health {
        service,
        started: Instant::now(),
        connections,
    });
    Router::new()
        .route("/health", get(health))
        .with_state(state)
}

async fn health(State(health): State<Arc<Health>>) -> Json<Value> {
    let sessions: Vec<Value> = match health.service.sessions().await {
        Ok(list) => list
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "backend": s.backend.as_str(),
                    "status": s.status.as_str(),
                    "connected": s.is_connected(),
                    "degraded": s.problem.is_some(),
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "health: cannot list sessions");
            Vec::new()
        }
    };
    let logged_in = sessions.iter().any(|s| s["connected"] == json!(true));
    // `uptime` in seconds with a fraction, as Node's process.uptime().
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime": health.started.elapsed().as_secs_f64(),
        "timestamp": iso(now_ms()),
        "connections": health.connections.count().await,
        "logged_in": logged_in,
        "sessions": sessions,
    }))
}
