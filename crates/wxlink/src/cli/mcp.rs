//! `wxlink mcp [-t stdio|http|sse|streamable-http] [--host H] [-p PORT] [--token T]
//! [--dangerously-allow-no-auth] [--no-banner]`: run the MCP server. stdio is the default (and
//! what MCP clients launch); the HTTP transports ([`crate::mcp::http`]) all serve `/mcp`, `/sse`,
//! `/messages` and `/health` on one port.

use std::sync::Arc;

use clap::{Args, ValueEnum};

use crate::app::App;
use crate::error::AppResult;
use crate::mcp::http::{self, HttpMode, HttpOptions};
use crate::mcp::stdio::{self, StdioOptions};

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
    /// Legacy HTTP+SSE (2024-11-05) on /sse.
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
    pub token: Option<String>,
    /// Listen on a non-loopback address without a token (anyone who can reach the port can
    /// read and send your WeChat messages).
    #[arg(long)]
    pub dangerously_allow_no_auth: bool,
    /// Do not print the start-up notice (it goes to stderr, never stdout).
    #[arg(long)]
    pub no_banner: bool,
    /// Also serve the official MCP conformance suite's fixture tools, resources and prompts
    /// (test builds only: `--features conformance-fixtures`).
    #[cfg(feature = "conformance-fixtures")]
    #[arg(long, hide = true)]
    pub conformance_fixtures: bool,
}

/// Runs the command.
pub async fn run(app: Arc<App>, args: McpArgs) -> AppResult<()> {
    #[cfg(feature = "conformance-fixtures")]
    if args.conformance_fixtures {
        crate::mcp::conformance::enable();
    }
    match args.transport {
        Transport::Stdio => {
            stdio::serve(
                app,
                StdioOptions {
                    banner: !args.no_banner,
                },
            )
            .await
        }
        other => {
            http::serve(
                app,
                HttpOptions {
                    host: args.host,
                    port: args.port,
                    token: args.token,
                    allow_no_auth: args.dangerously_allow_no_auth,
                    banner: !args.no_banner,
                    mode: if other == Transport::Sse {
                        HttpMode::Sse
                    } else {
                        HttpMode::Streamable
                    },
                },
            )
            .await
        }
    }
}
