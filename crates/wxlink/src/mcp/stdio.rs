//! `wxlink mcp` over stdio: JSON-RPC on stdin/stdout and nothing else on stdout (logs go to
//! stderr). Start-up touches only the local store: no network I/O happens before the client's
//! first request, after which the pollers start in the background. On stdin EOF (or SIGTERM /
//! Ctrl-C) the server stops and the pollers shut down cleanly, sending `notifystop`.

use std::sync::Arc;

use rmcp::service::ServerInitializeError;
use rmcp::ServiceExt;

use super::server::{Shared, WxlinkMcp};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::poller::Pollers;

/// How to run the stdio server.
#[derive(Debug, Clone, Default)]
pub struct StdioOptions {
    /// Print a one-line notice on stderr at start.
    pub banner: bool,
}

/// Serves MCP on stdin/stdout until the client closes stdin or the process is signalled.
pub async fn serve(app: Arc<App>, options: StdioOptions) -> AppResult<()> {
    if options.banner {
        eprintln!(
            "wxlink {}: MCP server on stdio (data directory {}); logs on stderr",
            env!("CARGO_PKG_VERSION"),
            app.data().root().display()
        );
    }
    let server = WxlinkMcp::new(app.clone(), Shared::new());
    // `serve` returns once the client's first real request (initialize, or a 2026-07-28
    // request) has arrived.
    let running = tokio::select! {
        r = server.serve(rmcp::transport::stdio_pipes()) => match r {
            Ok(running) => running,
            Err(ServerInitializeError::ConnectionClosed(_)) => return Ok(()),
            Err(e) => return Err(AppError::Invalid(format!("MCP session did not start: {e}"))),
        },
        _ = crate::cli::shutdown_signal() => return Ok(()),
    };
    let pollers = Pollers::start(app);
    let cancel = running.cancellation_token();
    let mut waiting = std::pin::pin!(running.waiting());
    let ended = tokio::select! {
        r = &mut waiting => r,
        _ = crate::cli::shutdown_signal() => {
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
