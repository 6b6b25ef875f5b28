//! `wxlink mcp` over stdio: JSON-RPC on stdin/stdout and nothing else on stdout (logs go to
//! stderr). Start-up touches only the local store: no network I/O happens before the client's
//! first request, after which the service's listeners start in the background. On stdin EOF
//! (or when `shutdown` resolves) the server stops and the listeners shut down cleanly.

use std::future::Future;
use std::sync::Arc;

use rmcp::service::ServerInitializeError;
use rmcp::{ServerHandler, ServiceExt};

use crate::error::{AppError, AppResult};
use crate::service::pollers::Pollers;
use crate::service::Service;

/// How to run the stdio server.
#[derive(Debug, Clone, Default)]
pub struct StdioOptions {
    /// Print a one-line notice on stderr at start.
    pub banner: bool,
}

/// Serves MCP with `handler` on stdin/stdout until the client closes stdin or `shutdown`
/// resolves.
pub async fn serve<H: ServerHandler>(
    service: Arc<Service>,
    handler: H,
    options: StdioOptions,
    shutdown: impl Future<Output = ()>,
) -> AppResult<()> {
    if options.banner {
        eprintln!(
            "wxlink {}: MCP server on stdio (data directory {}); logs on stderr",
            env!("CARGO_PKG_VERSION"),
            service.data().root().display()
        );
    }
    tokio::pin!(shutdown);
    // `serve` returns once the client's first real request (initialize, or a 2026-07-28
    // request) has arrived.
    let running = tokio::select! {
        r = handler.serve(rmcp::transport::stdio_pipes()) => match r {
            Ok(running) => running,
            Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(AppError::Invalid(format!("MCP session did not start: {e}"))),
        },
        _ = &mut shutdown => return Ok(()),
    };
    let pollers = Pollers::start(service);
    let cancel = running.cancellation_token();
    let mut waiting = std::pin::pin!(running.waiting());
    let ended = tokio::select! {
        r = &mut waiting => r,
        _ = &mut shutdown => {
            cancel.cancel();
            waiting.await
        }
    };
    match ended {
        Ok(reason) => tracing::debug!(?reason, "MCP session ended"),
        Err(e) => tracing::warn!(error = %e, "MCP session task failed"),
    }
    pollers.shutdown().await;
    Ok(())
}
