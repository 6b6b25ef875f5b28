//! `wxlink mcp` over stdio: JSON-RPC on stdin/stdout and nothing else on stdout (logs go to
//! stderr). Start-up touches only the local store: no network I/O happens before the client's
//! first request, after which the service's listeners start in the background. On stdin EOF
//! (or when `shutdown` resolves) the server stops and the listeners shut down cleanly.
//!
//! The transport is rmcp's non-blocking stdio pipes with our own framing around them: one
//! message per line, and a line that is no message (not JSON, or JSON of another shape, or
//! longer than [`MAX_LINE`]) is answered with the JSON-RPC error ([`super::jsonrpc::reject`])
//! instead of being dropped unanswered. Messages are written by [`super::rendered::encode`]
//! (each structured answer from its JSON text). One writer task owns stdout.

use std::future::Future;
use std::sync::Arc;

use futures_util::{Sink, SinkExt, Stream, StreamExt};
use rmcp::model::{ClientJsonRpcMessage, ServerJsonRpcMessage};
use rmcp::service::ServerInitializeError;
use rmcp::{ServerHandler, ServiceExt};
use tokio::io::AsyncWriteExt;
use tokio::sync::mpsc;
use tokio_util::codec::{AnyDelimiterCodec, AnyDelimiterCodecError, FramedRead};

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
    let (outgoing, incoming, writer) = pipes();
    let running = tokio::select! {
        r = handler.serve((outgoing, incoming)) => match r {
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
    // Every answer written before exit: the writer ends once rmcp dropped the transport.
    if tokio::time::timeout(std::time::Duration::from_secs(2), writer)
        .await
        .is_err()
    {
        tracing::debug!("stdout writer still busy at exit");
    }
    Ok(())
}

/// Longest line read from stdin (a message); a longer one is answered with an error and
/// skipped, never buffered whole.
pub const MAX_LINE: usize = 16 * 1024 * 1024;

/// Lines of stdout waiting for the writer.
const OUT_QUEUE: usize = 64;

/// stdout is gone: the client went away.
#[derive(Debug, thiserror::Error)]
#[error("stdout is closed")]
pub struct StdoutClosed;

/// The transport: messages for rmcp from stdin, rmcp's messages (and our error answers) to
/// stdout, a line each; and the writer task, which ends when everything queued is written.
fn pipes() -> (
    impl Sink<ServerJsonRpcMessage, Error = StdoutClosed> + Send + Unpin + 'static,
    impl Stream<Item = ClientJsonRpcMessage> + Send + Unpin + 'static,
    tokio::task::JoinHandle<()>,
) {
    let (stdin, mut stdout) = rmcp::transport::stdio_pipes();
    let (out, mut lines) = mpsc::channel::<Vec<u8>>(OUT_QUEUE);
    let writer = tokio::spawn(async move {
        while let Some(mut line) = lines.recv().await {
            line.push(b'\n');
            let written = async {
                stdout.write_all(&line).await?;
                stdout.flush().await
            };
            if let Err(e) = written.await {
                tracing::debug!(error = %e, "stdout closed");
                break;
            }
            tracing::trace!(target: "wxlink::timing", bytes = line.len(), "written");
        }
    });
    let answers = out.clone();
    // Lines as bytes: one that is not UTF-8 is answered like any other unreadable line.
    let lines = AnyDelimiterCodec::new_with_max_length(b"\n".to_vec(), Vec::new(), MAX_LINE);
    let incoming = FramedRead::new(stdin, lines)
        .take_while(|line| {
            let go_on = !matches!(line, Err(AnyDelimiterCodecError::Io(_)));
            std::future::ready(go_on)
        })
        .filter_map(move |line| {
            let answers = answers.clone();
            async move {
                let unreadable = match line {
                    Ok(line) if line.trim_ascii().is_empty() => return None,
                    Ok(line) => match serde_json::from_slice::<ClientJsonRpcMessage>(&line) {
                        Ok(message) => return Some(message),
                        Err(_) => super::jsonrpc::reject(&line),
                    },
                    Err(_) => {
                        let mut e = super::jsonrpc::reject(b"");
                        e["error"]["message"] = format!(
                            "Parse error: a message longer than {MAX_LINE} bytes was skipped"
                        )
                        .into();
                        e
                    }
                };
                tracing::debug!(answer = %unreadable, "stdin: a line that is no message");
                let _ = answers.send(unreadable.to_string().into_bytes()).await;
                None
            }
        });
    let outgoing = tokio_util::sync::PollSender::new(out)
        .sink_map_err(|_| StdoutClosed)
        .with(|message: ServerJsonRpcMessage| {
            std::future::ready(match super::rendered::encode(message) {
                Ok(line) => Ok(line),
                Err(e) => {
                    tracing::error!(error = %e, "cannot encode an MCP message");
                    Err(StdoutClosed)
                }
            })
        });
    (Box::pin(outgoing), Box::pin(incoming), writer)
}
