//! `wxlink-conformance`: wxlink's MCP server over Streamable HTTP with the fixtures of the
//! official MCP conformance suite (`@modelcontextprotocol/conformance`) around it, for
//! `tests/conformance/run.sh`.
//!
//! Why a crate of its own: the suite calls tools, reads resources and gets prompts by fixed
//! names (those of its reference "everything server") and checks their exact contents. Those
//! fixtures are test code; they live here, unpublished, so they are never compiled into the
//! `wxlink` binary and `crates/wxlink` has no hooks for them. The suite still exercises wxlink's
//! own handler and transports: [`handler::ConformanceMcp`] wraps the real
//! [`wxlink::mcp::WxlinkMcp`] and delegates everything that is not a fixture to it, and the
//! server is wxlink's own [`wxlink::http::Server`], started as `wxlink mcp -t http` starts it.
//!
//! - [`handler`]: the wrapper handler and its factory;
//! - [`fixtures`]: state shared by every connection (request-state key, list changes, tasks)
//!   and the capabilities the fixtures declare;
//! - [`tools`], [`input`], [`tasks`]: the fixture tools (content and interaction, multi
//!   round-trip requests, the Tasks extension);
//! - [`resources`]: fixture resources, prompts and completions;
//! - [`content`]: helpers they share (media, input requests, answers);
//! - this file: the command line and the server.
//!
//! ```text
//! wxlink-conformance -d DATA_DIR [--ilink-base URL] [--cdn-base URL] [--host H] [-p PORT]
//! ```

mod content;
mod fixtures;
mod handler;
mod input;
mod resources;
mod tasks;
mod tools;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use url::Url;
use wxlink::error::AppResult;
use wxlink::http::{HttpOptions, Server};
use wxlink::mcp::{ToolMode, WxlinkFactory};
use wxlink::service::pollers::Pollers;
use wxlink::service::{Service, ServiceOptions};
use wxlink::upstream::UpstreamOptions;

use crate::handler::ConformanceFactory;

/// wxlink's MCP server (Streamable HTTP on /mcp, HTTP+SSE on /sse) with the official MCP
/// conformance suite's fixtures. For tests/conformance/run.sh only.
#[derive(Debug, Parser)]
#[command(name = "wxlink-conformance", version, about, long_about = None)]
struct Args {
    /// Data directory (a throwaway one: database, downloads, locks).
    #[arg(short = 'd', long, value_name = "DIR")]
    data_dir: PathBuf,
    /// iLink API and QR login base URL (the suite logs nothing in, so it is never contacted).
    #[arg(long, value_name = "URL")]
    ilink_base: Option<Url>,
    /// Media CDN base URL.
    #[arg(long, value_name = "URL")]
    cdn_base: Option<Url>,
    /// Address to listen on (loopback: no token needed).
    #[arg(long, default_value = "127.0.0.1")]
    host: String,
    /// Port to listen on (0 picks a free port, shown in the banner).
    #[arg(short = 'p', long, default_value_t = 0)]
    port: u16,
    /// Log level for stderr: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long, env = "WXLINK_LOG", default_value = "warn")]
    log_level: String,
}

fn main() -> ExitCode {
    let args = Args::parse();
    let filter = tracing_subscriber::EnvFilter::try_new(&args.log_level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wxlink-conformance: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(run(args));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wxlink-conformance: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Opens the service and serves it as `wxlink mcp -t http` does, with the fixtures' handler.
async fn run(args: Args) -> AppResult<()> {
    // Installed before the banner, so a signal right after start-up still shuts down cleanly.
    let shutdown = wxlink::cli::signal::shutdown_signal();
    let service = Service::open(ServiceOptions {
        data_dir: Some(args.data_dir),
        upstream: UpstreamOptions {
            ilink_base: args.ilink_base,
            cdn_base: args.cdn_base,
            ..UpstreamOptions::default()
        },
        ..ServiceOptions::default()
    })?;
    let factory =
        ConformanceFactory::new(WxlinkFactory::new(service.clone(), ToolMode::Auto, false));
    let server = Server::bind(&HttpOptions {
        host: args.host,
        port: args.port,
        token: None,
        allow_no_auth: false,
        session_timeout: wxlink::http::DEFAULT_SESSION_TIMEOUT,
        admin: false,
    })
    .await?;
    banner(&server, &service);
    let app = server.app(service.clone(), factory);
    let pollers = Pollers::start(service);
    let result = server.serve(app, shutdown).await;
    pollers.shutdown().await;
    result
}

/// The start-up notice on stderr, worded as `wxlink mcp`'s (run.sh reads the /mcp URL).
fn banner(server: &Server, service: &Service) {
    let base = server.base_url();
    let auth = if server.needs_token() {
        "bearer token required"
    } else {
        "no authentication"
    };
    eprintln!(
        "wxlink-conformance {}: MCP server with conformance fixtures listening on {base} \
         ({auth}; data directory {})",
        env!("CARGO_PKG_VERSION"),
        service.data().root().display()
    );
    eprintln!(
        "  Streamable HTTP: {base}/mcp\n  HTTP+SSE:        {base}/sse\n  health:          {base}/health"
    );
}
