//! `wxlink mcp [-t stdio|http|sse|streamable-http] [--host H] [-p PORT] [--token T]
//! [--tools auto|all|weilink|wechaty] [--admin] [--admin-port P] [--dangerously-allow-no-auth]
//! [--no-banner]`: run the MCP server. stdio is the default (and what MCP clients launch); the
//! HTTP transports all serve `/mcp`, `/sse`, `/messages`, the REST API `/api/v1` and `/health`
//! on one port, and the admin panel `/admin` with `--admin` ([`crate::http`]).
//!
//! `wxlink serve` is `wxlink mcp -t http --admin`: everything on one port.

use std::sync::Arc;

use clap::{Args, ValueEnum};

use super::signal::{parent_gone, shutdown_signal};
use crate::error::{AppError, AppResult};
use crate::http::{HttpOptions, Server};
use crate::mcp::channel::ChannelOptions;
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
    /// Which tools to list: auto (WeiLink's tools, typing and contacts; the Wechaty tools once
    /// a Wechaty session exists), all, weilink (never the Wechaty ones), or wechaty
    /// (Wechaty-MCP-SSE's tools with sessions and login).
    #[arg(long, default_value = "auto", value_parser = ToolMode::VALUES)]
    pub tools: String,
    /// Also serve the admin web panel at /admin (HTTP transports).
    #[arg(long)]
    pub admin: bool,
    /// Serve the admin panel and the REST API on this port too (WeiLink's option; the main
    /// port serves them as well). Implies --admin.
    #[arg(long, value_name = "PORT")]
    pub admin_port: Option<u16>,
    /// Be a Claude Code channel (stdio): push new messages that pass the access gate
    /// (`wxlink access`) into the session as they arrive.
    #[arg(long)]
    pub channel: bool,
    /// With --channel: relay Claude Code's tool-approval prompts to the allowed WeChat users,
    /// who answer `yes abcde` or `no abcde`.
    #[arg(long, requires = "channel")]
    pub permission_relay: bool,
    /// With --channel: the durable consumer it reads (one per channel that should see every
    /// message).
    #[arg(long, value_name = "NAME", requires = "channel", default_value = crate::mcp::channel::DEFAULT_CONSUMER)]
    pub channel_consumer: String,
    #[command(flatten)]
    pub http: HttpArgs,
}

/// Options of `wxlink serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Which tools MCP clients see (as for `wxlink mcp`).
    #[arg(long, default_value = "auto", value_parser = ToolMode::VALUES)]
    pub tools: String,
    #[command(flatten)]
    pub http: HttpArgs,
}

impl ServeArgs {
    /// The same server as `wxlink mcp -t http --admin`.
    pub fn into_mcp(self) -> McpArgs {
        McpArgs {
            transport: Transport::Http,
            tools: self.tools,
            admin: true,
            admin_port: None,
            channel: false,
            permission_relay: false,
            channel_consumer: crate::mcp::channel::DEFAULT_CONSUMER.into(),
            http: self.http,
        }
    }
}

/// Where and how the HTTP server listens.
#[derive(Debug, Args)]
pub struct HttpArgs {
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

impl HttpArgs {
    fn options(&self, port: u16, admin: bool) -> HttpOptions {
        HttpOptions {
            host: self.host.clone(),
            port,
            token: self.token.clone(),
            allow_no_auth: self.dangerously_allow_no_auth,
            session_timeout: std::time::Duration::from_secs(self.session_timeout),
            admin,
        }
    }
}

/// Runs the command.
pub async fn run(service: Arc<Service>, args: McpArgs) -> AppResult<()> {
    let tools: ToolMode = args.tools.parse().map_err(AppError::Invalid)?;
    // SIGTERM / Ctrl-C are taken over before anything is announced: a signal that came between
    // the banner and the first poll of the shutdown future would kill the process without the
    // clean shutdown.
    let shutdown = shutdown_signal();
    let mut factory = WxlinkFactory::new(service.clone(), tools, args.transport == Transport::Sse);
    if args.channel {
        if args.transport != Transport::Stdio {
            return Err(AppError::Invalid(
                "--channel is for Claude Code, which runs channels over stdio: drop -t".into(),
            ));
        }
        factory = factory.with_channel(ChannelOptions {
            consumer: args.channel_consumer.clone(),
            permission_relay: args.permission_relay,
        });
    }
    if args.transport == Transport::Stdio {
        // Launched by a client: when it dies without closing our stdin (we are reparented),
        // stop too, so the account's poller is not held by an orphan.
        let shutdown = async move {
            tokio::select! {
                () = shutdown => {}
                () = parent_gone() => tracing::info!("the client process is gone; stopping"),
            }
        };
        if args.admin || args.admin_port.is_some() {
            return Err(AppError::Invalid(
                "the admin panel needs an HTTP transport: use `wxlink serve` or \
                 `wxlink mcp -t http --admin`"
                    .into(),
            ));
        }
        let handler = factory.handler(Endpoint::Stdio);
        let options = StdioOptions {
            banner: !args.http.no_banner,
        };
        return stdio::serve(service, handler, options, shutdown).await;
    }
    let admin = args.admin || args.admin_port.is_some();
    let server = Server::bind(&args.http.options(args.http.port, admin)).await?;
    let second = match args.admin_port.filter(|&p| p != server.port()) {
        Some(port) => Some(Server::bind(&args.http.options(port, true)).await?),
        None => None,
    };
    if !args.http.no_banner {
        banner(&server, second.as_ref(), &service, args.transport);
    }
    let app = server.app(service.clone(), factory.clone());
    let pollers = Pollers::start(service.clone());
    let result = match second {
        None => server.serve(app, shutdown).await,
        Some(second) => {
            let second_app = second.app(service, factory);
            let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
            let mut rx2 = stop_rx.clone();
            let mut rx1 = stop_rx;
            let main = server.serve(app, async move {
                let _ = rx1.wait_for(|stop| *stop).await;
            });
            let extra = second.serve(second_app, async move {
                let _ = rx2.wait_for(|stop| *stop).await;
            });
            let stopper = async move {
                shutdown.await;
                let _ = stop_tx.send(true);
            };
            let (r1, r2, ()) = tokio::join!(main, extra, stopper);
            r1.and(r2)
        }
    };
    pollers.shutdown().await;
    result
}

/// The start-up notice on stderr: where each transport is.
fn banner(server: &Server, second: Option<&Server>, service: &Service, transport: Transport) {
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
    let (first, other) = if transport == Transport::Sse {
        (sse, streamable)
    } else {
        (streamable, sse)
    };
    eprintln!("{first}\n{other}\n  REST API:        {base}/api/v1 (docs: {base}/api/v1/docs)");
    if server.serves_admin() {
        eprintln!("  admin panel:     {base}/admin/");
    }
    if let Some(second) = second {
        eprintln!("  admin panel:     {}/admin/", second.base_url());
    }
    eprintln!("  health:          {base}/health");
}
