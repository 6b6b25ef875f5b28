//! The HTTP server: one axum app on one port for every HTTP frontend.
//!
//! | route | what |
//! |---|---|
//! | `/mcp` | MCP Streamable HTTP ([`mcp`]): sessions for 2025-03-26 … 2025-11-25 clients, stateless 2026-07-28 requests |
//! | `GET /sse`, `POST /messages?sessionId=…` | legacy MCP HTTP+SSE (2024-11-05), as Wechaty-MCP-SSE served it ([`sse`]) |
//! | `GET /health` | liveness and login state, no token needed ([`health`]) |
//! | `/api/v1/…` | the REST API, its OpenAPI document and docs page ([`crate::rest`]) |
//! | `/admin/…` | the admin panel and its sign-in, when enabled ([`crate::admin`], [`signin`]) |
//! | `/.well-known/…`, `/register` | 404: no OAuth here ([`guard`]) |
//!
//! Security lives in [`guard`] (token, Host, Origin) and in
//! [`Server::bind`] (loopback by default; a non-loopback bind needs a token unless
//! `--dangerously-allow-no-auth`). Shutdown comes in as a future: when it resolves, open
//! streams are told and closed, and connections get a few seconds to finish.
//!
//! Accepted sockets get `TCP_NODELAY`: SSE responses are written in small chunks, and Nagle plus
//! delayed ACKs would otherwise add ~40 ms per request.

pub mod files;
pub mod guard;
pub mod health;
pub mod mcp;
pub mod signin;
pub mod sse;

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::middleware;
use axum::serve::ListenerExt;
use axum::Router;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, AppResult};
use crate::mcp::HandlerFactory;
use crate::model::Secret;
use crate::service::Service;

pub use guard::Guard;

/// How long open connections get to finish after shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Where and how to listen.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address or host name to bind.
    pub host: String,
    /// Port (0: any free port).
    pub port: u16,
    /// Bearer token clients must send.
    pub token: Option<Secret<String>>,
    /// Allow a non-loopback bind without a token.
    pub allow_no_auth: bool,
    /// How long an idle Streamable HTTP session lives.
    pub session_timeout: Duration,
    /// Serve the admin panel at `/admin`.
    pub admin: bool,
}

/// How long an idle Streamable HTTP session lives unless configured (`--session-timeout`).
pub const DEFAULT_SESSION_TIMEOUT: Duration = Duration::from_secs(1800);

/// Shortest bearer token accepted on an address other people can reach.
pub const MIN_PUBLIC_TOKEN_CHARS: usize = 16;

/// A bound listener, ready to serve.
#[derive(Debug)]
pub struct Server {
    listener: TcpListener,
    local: SocketAddr,
    host: String,
    loopback: bool,
    guard: Arc<Guard>,
    cancel: CancellationToken,
    session_timeout: Duration,
    admin: bool,
}

impl Server {
    /// Checks the options (an empty token, a non-loopback bind without a token) and binds.
    pub async fn bind(options: &HttpOptions) -> AppResult<Server> {
        let token = match &options.token {
            Some(t) if t.expose_str().trim().is_empty() => {
                return Err(AppError::Invalid(
                    "the bearer token is empty or blank; pass a real --token (or WXLINK_TOKEN)"
                        .into(),
                ))
            }
            Some(t) if t.expose_str().trim() != t.expose_str() => {
                return Err(AppError::Invalid(
                    "the bearer token starts or ends with whitespace, which no client sends \
                     back; remove it from --token (or WXLINK_TOKEN)"
                        .into(),
                ))
            }
            other => other.clone(),
        };
        let addrs = resolve(&options.host, options.port).await?;
        let loopback = addrs.iter().all(|a| a.ip().is_loopback());
        if let Some(t) = token.as_ref().filter(|_| !loopback) {
            let chars = t.expose_str().chars().count();
            if chars < MIN_PUBLIC_TOKEN_CHARS {
                return Err(AppError::Invalid(format!(
                    "the bearer token has {chars} characters; on an address others can reach \
                     ({}) use at least {MIN_PUBLIC_TOKEN_CHARS} (for example `openssl rand -hex 24`)",
                    options.host
                )));
            }
        }
        if !loopback && token.is_none() && !options.allow_no_auth {
            return Err(AppError::Invalid(format!(
                "refusing to listen on {} without authentication: anyone who can reach it could \
                 read and send WeChat messages. Set a bearer token with --token or WXLINK_TOKEN, \
                 bind 127.0.0.1 (the default), or pass --dangerously-allow-no-auth",
                options.host
            )));
        }
        let listener = TcpListener::bind(&addrs[..]).await.map_err(|e| {
            AppError::System(format!(
                "cannot listen on {}:{}: {e}",
                options.host, options.port
            ))
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| AppError::System(format!("cannot read the bound address: {e}")))?;
        let guard = Arc::new(Guard::new(&options.host, local.ip(), token));
        Ok(Server {
            listener,
            local,
            host: options.host.clone(),
            loopback,
            guard,
            cancel: CancellationToken::new(),
            session_timeout: options.session_timeout,
            admin: options.admin,
        })
    }

    /// The port bound.
    pub fn port(&self) -> u16 {
        self.local.port()
    }

    /// `http://host:port` as clients should use it.
    pub fn base_url(&self) -> String {
        format!("http://{}", display_addr(&self.host, self.local))
    }

    /// Whether the admin panel is served.
    pub fn serves_admin(&self) -> bool {
        self.admin
    }

    /// Whether clients must send a bearer token.
    pub fn needs_token(&self) -> bool {
        self.guard.has_token()
    }

    /// The app: every route of this module, behind the guard, with MCP handlers from
    /// `factory`.
    pub fn app<F: HandlerFactory>(&self, service: Arc<Service>, factory: F) -> Router {
        let (mcp_routes, mcp_sessions) = mcp::router(
            factory.clone(),
            self.cancel.child_token(),
            self.session_timeout,
        );
        let sse_sessions = sse::SseSessions::new(factory, self.cancel.child_token());
        let connections = health::Connections::new(mcp_sessions, {
            let sse = sse_sessions.clone();
            move || sse.len()
        });
        let mut app = Router::new()
            .merge(mcp_routes)
            .merge(sse::router(sse_sessions))
            .merge(crate::rest::router(
                service.clone(),
                self.cancel.child_token(),
            ))
            .merge(health::router(service, connections));
        if self.admin {
            app = app.merge(crate::admin::router(self.guard.clone()));
        }
        app.layer(middleware::from_fn_with_state(
            self.guard.clone(),
            guard::check,
        ))
    }

    /// Serves `app` until `shutdown` resolves; then tells open streams, and gives connections
    /// a few seconds to finish.
    pub async fn serve(self, app: Router, shutdown: impl Future<Output = ()>) -> AppResult<()> {
        if !self.guard.checks_host() {
            tracing::warn!(
                "bound to a wildcard address: Host checks (DNS rebinding protection) are off"
            );
        }
        if !self.loopback && !self.guard.has_token() {
            tracing::warn!("listening on a non-loopback address WITHOUT authentication");
        }
        let stop = self.cancel.clone();
        let server = axum::serve(
            self.listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "cannot set TCP_NODELAY");
                }
            }),
            app,
        )
        .with_graceful_shutdown(async move { stop.cancelled().await });
        let mut task = tokio::spawn(async move { server.await });
        tokio::pin!(shutdown);
        let finished = tokio::select! {
            r = &mut task => Some(r),
            _ = &mut shutdown => None,
        };
        self.cancel.cancel();
        let result = match finished {
            Some(r) => r,
            None => match tokio::time::timeout(SHUTDOWN_GRACE, &mut task).await {
                Ok(r) => r,
                Err(_) => {
                    tracing::debug!("connections still open after the grace period; closing");
                    task.abort();
                    Ok(Ok(()))
                }
            },
        };
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(AppError::System(format!("HTTP server failed: {e}"))),
            Err(e) => Err(AppError::System(format!("HTTP server task failed: {e}"))),
        }
    }
}

/// The socket addresses of `host` (an IP address or a name; `localhost` is 127.0.0.1).
async fn resolve(host: &str, port: u16) -> AppResult<Vec<SocketAddr>> {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if bare.eq_ignore_ascii_case("localhost") {
        return Ok(vec![SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), port)]);
    }
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((bare, port))
        .await
        .map_err(|e| AppError::Invalid(format!("cannot resolve --host {host}: {e}")))?
        .collect();
    if addrs.is_empty() {
        return Err(AppError::Invalid(format!(
            "--host {host} resolves to no address"
        )));
    }
    Ok(addrs)
}

/// `host:port` for URLs, IPv6 in brackets.
fn display_addr(host: &str, local: SocketAddr) -> String {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    match bare.parse::<IpAddr>() {
        Ok(_) => local.to_string(),
        Err(_) => format!("{bare}:{}", local.port()),
    }
}
