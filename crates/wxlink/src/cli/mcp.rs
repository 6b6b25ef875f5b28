//! `wxlink mcp [-t stdio|http|sse|streamable-http] [--host H] [-p PORT] [--token T]
//! [--tools auto|all|weilink|wechaty] [--dangerously-allow-no-auth] [--no-banner]`: run the MCP
//! server. stdio is the default (and what MCP clients launch); the HTTP transports all serve
//! `/mcp`, `/sse`, `/messages` and `/health` on one port ([`crate::http`]).

use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::signal::shutdown_signal;
use crate::error::AppResult;
use crate::http::{HttpOptions, Server};
use crate::mcp::stdio::{self, StdioOptions};
use crate::mcp::{Endpoint, HandlerFactory, ToolMode, WxlinkFactory};
use crate::model::Secret;
use crate::service::pollers::Pollers;
use crate::service::Service;

/// The MCP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Transport {
    /// JSON-RPC over stdin/stdout (what MCP clients launch).
    Stdio,
    /// Streamable HTTP on /mcp.
    Http,
    /// Streamable HTTP on /mcp (same as http).
    #[value(name = "streamable-http")]
    StreamableHttp,
    /// Legacy HTTP+SSE (2024-11-05) on /sse, as Wechaty-MCP-SSE served it (every tool listed).
    Sse,
}

/// Options of `wxlink mcp`.
#[derive(Debug, Args)]
pub struct McpArgs {
    /// Transport to serve.
    #[arg(short = 't', long, value_enum, default_value_t = Transport::Stdio)]
    pub transport: Transport,
    /// Address to listen on (HTTP transports).
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
    /// Port to listen on (HTTP transports; 0 picks a free port, shown in the banner).
    #[arg(short = 'p', long, default_value_t = 8000)]
    pub port: u16,
    /// Bearer token clients must send (HTTP transports). Required to listen on a
    /// non-loopback address.
    #[arg(long, env = "WXLINK_TOKEN", hide_env_values = true)]
    pub token: Option<Secret<String>>,
    /// Which tools to list: auto (WeiLink's tools, typing and contacts; the Wechaty tools once
    /// a Wechaty session exists), all, weilink (never the Wechaty ones), or wechaty
    /// (Wechaty-MCP-SSE's tools with sessions and login).
    #[arg(long, default_value = "auto", value_parser = ToolMode::VALUES)]
    pub tools: String,
    /// Listen on a non-loopback address without a token (anyone who can reach the port can
    /// read and send your WeChat messages).
    #[arg(long)]
    pub dangerously_allow_no_auth: bool,
    /// Do not print the start-up notice (it goes to stderr, never stdout).
    #[arg(long)]
    pub no_banner: bool,
    /// End a Streamable HTTP session after this many idle seconds (its client then gets 404
    /// and starts a new one).
    #[arg(long, value_name = "SECS", default_value_t = crate::http::DEFAULT_SESSION_TIMEOUT.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..=604_800))]
    pub session_timeout: u64,
}

/// Runs the command.
pub async fn run(service: Arc<Service>, args: McpArgs) -> AppResult<()> {
    let tools: ToolMode = args
        .tools
        .parse()
        .map_err(crate::error::AppError::Invalid)?;
    // SIGTERM / Ctrl-C are taken over before anything is announced: a signal that came between
    // the banner and the first poll of the shutdown future would kill the process without the
    // clean shutdown.
    let shutdown = shutdown_signal();
    let factory = WxlinkFactory::new(service.clone(), tools, args.transport == Transport::Sse);
    if args.transport == Transport::Stdio {
        let handler = factory.handler(Endpoint::Stdio);
        let options = StdioOptions {
            banner: !args.no_banner,
        };
        return stdio::serve(service, handler, options, shutdown).await;
    }
    let server = Server::bind(&HttpOptions {
        host: args.host,
        port: args.port,
        token: args.token,
        allow_no_auth: args.dangerously_allow_no_auth,
        session_timeout: std::time::Duration::from_secs(args.session_timeout),
    })
    .await?;
    if !args.no_banner {
        banner(&server, &service, args.transport);
    }
    let app = server.app(service.clone(), factory);
    let pollers = Pollers::start(service);
    let result = server.serve(app, shutdown).await;
    pollers.shutdown().await;
    result
}

/// The start-up notice on stderr: where each transport is.
fn banner(server: &Server, service: &Service, transport: Transport) {
    let base = server.base_url();
    let auth = if server.needs_token() {
        "bearer token required"
    } else {
        "no authentication"
    };
    eprintln!(
        "wxlink {}: MCP server listening on {base} ({auth}; data directory {})",
        env!("CARGO_PKG_VERSION"),
        service.data().root().display()
    );
    let streamable = format!("  Streamable HTTP: {base}/mcp");
    let sse = format!("  HTTP+SSE:        {base}/sse");
    let (first, second) = if transport == Transport::Sse {
        (sse, streamable)
    } else {
        (streamable, sse)
    };
    eprintln!("{first}\n{second}\n  health:          {base}/health");
}
