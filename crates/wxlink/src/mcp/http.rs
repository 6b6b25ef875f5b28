//! `wxlink mcp -t http|streamable-http|sse`: MCP over HTTP, every transport on one port.
//!
//! | route | what |
//! |---|---|
//! | `/mcp` | Streamable HTTP (rmcp's [`StreamableHttpService`]): sessions (`Mcp-Session-Id`) for 2025-03-26 … 2025-11-25 clients, stateless 2026-07-28 requests |
//! | `GET /sse`, `POST /messages?sessionId=…` | legacy HTTP+SSE (2024-11-05), see [`super::sse`] |
//! | `GET /health` | Wechaty-MCP-SSE's `{status, version, uptime, timestamp, connections}` plus the login state: `logged_in` and `sessions` (`{name, backend, status, connected}`); no token needed |
//!
//! Every MCP connection gets its own [`WxlinkMcp`] but they all share one [`Shared`] (so a QR
//! login started by one client can be finished by another) and the same store. The pollers run
//! in the background for the life of the server and shut down cleanly (`notifystop`) on Ctrl-C or
//! SIGTERM.
//!
//! Security (MCP transport guidance): the default bind is 127.0.0.1; a non-loopback address needs
//! a bearer token (`--token` / `WXLINK_TOKEN`) unless `--dangerously-allow-no-auth` is given. One
//! middleware guards `/mcp`, `/sse` and `/messages`:
//! 1. `Host` must be `localhost`, `127.0.0.1`, `[::1]` or the bound host (any port), else **421**
//!    (DNS rebinding). Skipped when bound to a wildcard address (0.0.0.0 / ::), where any name
//!    may reach the server; the token is the protection there.
//! 2. `Origin`, when present, must be `http(s)://` one of those hosts (any port), else **403**.
//! 3. With a token: `Authorization: Bearer <token>` compared in constant time, else **401** with
//!    `WWW-Authenticate: Bearer`. Tokens are never accepted in the query string nor logged.
//!
//! Accepted sockets get `TCP_NODELAY`: SSE responses are written in small chunks, and Nagle plus
//! delayed ACKs would otherwise add ~40 ms per request.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::serve::ListenerExt;
use axum::{Json, Router};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use serde_json::{json, Value};
use subtle::ConstantTimeEq;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use super::server::{Shared, WxlinkMcp};
use super::sse::{self, SseSessions};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::poller::Pollers;
use crate::store::SessionStatus;
use crate::timefmt::{iso, now_ms};

/// How long open connections get to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Which HTTP transport was asked for (all routes are served either way; this only changes the
/// banner's emphasis).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HttpMode {
    /// Streamable HTTP (`-t http`, `-t streamable-http`).
    Streamable,
    /// Legacy HTTP+SSE (`-t sse`).
    Sse,
}

/// How to run the HTTP server.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    /// Address or host name to bind.
    pub host: String,
    /// Port (0: any free port, reported in the banner).
    pub port: u16,
    /// Bearer token clients must send.
    pub token: Option<String>,
    /// Allow a non-loopback bind without a token.
    pub allow_no_auth: bool,
    /// Print the start-up notice on stderr.
    pub banner: bool,
    /// The transport asked for.
    pub mode: HttpMode,
}

/// What the guard middleware checks.
#[derive(Debug)]
struct Guard {
    /// Lower-case host names (IPv6 in brackets) accepted in `Host` and `Origin`.
    hosts: Vec<String>,
    /// Whether `Host` is checked (not for wildcard binds).
    check_host: bool,
    token: Option<Vec<u8>>,
}

/// What `/health` reports.
struct Health {
    app: Arc<App>,
    started: Instant,
    sse: Arc<SseSessions>,
    mcp: Arc<LocalSessionManager>,
}

/// Serves MCP over HTTP until Ctrl-C / SIGTERM.
pub async fn serve(app: Arc<App>, options: HttpOptions) -> AppResult<()> {
    let token = match options.token.as_deref() {
        Some("") => {
            return Err(AppError::Invalid(
                "the bearer token is empty; pass a non-empty --token (or WXLINK_TOKEN)".into(),
            ))
        }
        other => other.map(str::to_owned),
    };
    let addrs = resolve(&options.host, options.port).await?;
    let loopback = addrs.iter().all(|a| a.ip().is_loopback());
    if !loopback && token.is_none() && !options.allow_no_auth {
        return Err(AppError::Invalid(format!(
            "refusing to listen on {} without authentication: anyone who can reach it could read \
             and send WeChat messages. Set a bearer token with --token or WXLINK_TOKEN, bind \
             127.0.0.1 (the default), or pass --dangerously-allow-no-auth",
            options.host
        )));
    }
    let listener = TcpListener::bind(&addrs[..]).await.map_err(|e| {
        AppError::Invalid(format!(
            "cannot listen on {}:{}: {e}",
            options.host, options.port
        ))
    })?;
    let local = listener
        .local_addr()
        .map_err(|e| AppError::Invalid(format!("cannot read the bound address: {e}")))?;

    let guard = Arc::new(Guard {
        hosts: allowed_hosts(&options.host, local.ip()),
        check_host: !local.ip().is_unspecified(),
        token: token.map(String::into_bytes),
    });

    let cancel = CancellationToken::new();
    let shared = Shared::new();
    let mcp_sessions = Arc::new(LocalSessionManager::default());
    let config = StreamableHttpServerConfig::default()
        .with_legacy_session_mode(true)
        .with_sse_keep_alive(Some(sse::KEEP_ALIVE))
        .with_cancellation_token(cancel.child_token())
        // Host and Origin are checked by `guard` for every route, with the bound host allowed.
        .disable_allowed_hosts()
        .disable_allowed_origins();
    let factory = {
        let app = app.clone();
        let shared = shared.clone();
        move || Ok(WxlinkMcp::new(app.clone(), shared.clone()))
    };
    let mcp = StreamableHttpService::new(factory, mcp_sessions.clone(), config);
    let sse_sessions = SseSessions::new(app.clone(), shared, cancel.child_token());

    let protected = Router::new()
        .nest_service("/mcp", mcp)
        .merge(sse::router(sse_sessions.clone()))
        .layer(middleware::from_fn_with_state(guard.clone(), check));
    let health = Arc::new(Health {
        app: app.clone(),
        started: Instant::now(),
        sse: sse_sessions,
        mcp: mcp_sessions,
    });
    let router = Router::new()
        .route("/health", get(health_route))
        .with_state(health)
        .merge(protected);

    // Take over SIGTERM / Ctrl-C before the banner tells anyone the address: a signal that came
    // between the banner and the first poll of the shutdown future would kill the process
    // without the clean shutdown (a race seen under load).
    let shutdown = crate::cli::shutdown_signal();
    tokio::pin!(shutdown);
    if futures_util::poll!(&mut shutdown).is_ready() {
        return Ok(());
    }

    let base = format!("http://{}", display_addr(&options.host, local));
    if options.banner {
        let auth = if guard.token.is_some() {
            "bearer token required"
        } else {
            "no authentication"
        };
        eprintln!(
            "wxlink {}: MCP server listening on {base} ({auth}; data directory {})",
            env!("CARGO_PKG_VERSION"),
            app.data().root().display()
        );
        let (first, second) = match options.mode {
            HttpMode::Streamable => (
                format!("  Streamable HTTP: {base}/mcp"),
                format!("  HTTP+SSE:        {base}/sse"),
            ),
            HttpMode::Sse => (
                format!("  HTTP+SSE:        {base}/sse"),
                format!("  Streamable HTTP: {base}/mcp"),
            ),
        };
        eprintln!("{first}\n{second}\n  health:          {base}/health");
    }
    if !guard.check_host {
        tracing::warn!(
            "bound to a wildcard address: Host checks (DNS rebinding protection) are off"
        );
    }
    if !loopback && guard.token.is_none() {
        tracing::warn!("listening on a non-loopback address WITHOUT authentication");
    }

    let pollers = Pollers::start(app);
    let stop = cancel.clone();
    let server = axum::serve(
        listener.tap_io(|tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "cannot set TCP_NODELAY");
            }
        }),
        router,
    )
    .with_graceful_shutdown(async move { stop.cancelled().await });
    let mut task = tokio::spawn(async move { server.await });
    let finished = tokio::select! {
        r = &mut task => Some(r),
        _ = &mut shutdown => None,
    };
    cancel.cancel();
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
    pollers.shutdown().await;
    match result {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(AppError::Invalid(format!("HTTP server failed: {e}"))),
        Err(e) => Err(AppError::Invalid(format!("HTTP server task failed: {e}"))),
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

/// Host names accepted in `Host` and `Origin`: loopback names plus the bound host.
fn allowed_hosts(host: &str, bound: IpAddr) -> Vec<String> {
    let mut hosts: Vec<String> = vec!["localhost".into(), "127.0.0.1".into(), "[::1]".into()];
    let bare = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_ascii_lowercase();
    let given = match bare.parse::<IpAddr>() {
        Ok(IpAddr::V6(v6)) => format!("[{v6}]"),
        Ok(ip) => ip.to_string(),
        Err(_) => bare,
    };
    let bound = match bound {
        IpAddr::V6(v6) => format!("[{v6}]"),
        ip => ip.to_string(),
    };
    for h in [given, bound] {
        if !hosts.contains(&h) {
            hosts.push(h);
        }
    }
    hosts
}

/// The host part of an authority (`host`, `host:port`, `[v6]:port`), lower-cased; IPv6 keeps its
/// brackets. `None` when malformed.
fn authority_host(authority: &str) -> Option<String> {
    let authority = authority.trim();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let (host, port) = if let Some(inner) = authority.strip_prefix('[') {
        let end = inner.find(']')?;
        let rest = &inner[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(p) => Some(p),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&authority[..end + 2], port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if let Some(port) = port {
        if port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
    }
    if host.is_empty() {
        return None;
    }
    Some(host.to_ascii_lowercase())
}

/// The host of an `Origin` value when it is `http(s)://authority`.
fn origin_host(origin: &str) -> Option<String> {
    let origin = origin.trim();
    let lower = origin.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("http://")
        .or_else(|| lower.strip_prefix("https://"))?;
    let authority = rest.strip_suffix('/').unwrap_or(rest);
    if authority.contains('/') {
        return None;
    }
    authority_host(authority)
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

/// The Host / Origin / bearer-token middleware of `/mcp`, `/sse` and `/messages`.
async fn check(State(guard): State<Arc<Guard>>, request: Request<Body>, next: Next) -> Response {
    let headers = request.headers();
    if guard.check_host {
        let host = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| request.uri().authority().map(|a| a.to_string()));
        let ok = host
            .as_deref()
            .and_then(authority_host)
            .is_some_and(|h| guard.hosts.contains(&h));
        if !ok {
            return plain(
                StatusCode::MISDIRECTED_REQUEST,
                "Host not allowed (DNS rebinding protection): use localhost or the address the \
                 server is bound to",
            );
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let ok = origin
            .to_str()
            .ok()
            .and_then(origin_host)
            .is_some_and(|h| guard.hosts.contains(&h));
        if !ok {
            return plain(StatusCode::FORBIDDEN, "Origin not allowed");
        }
    }
    if let Some(token) = &guard.token {
        if !bearer_ok(headers, token) {
            let mut response = plain(
                StatusCode::UNAUTHORIZED,
                "Unauthorized: send Authorization: Bearer <token>",
            );
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Whether the request carries `Authorization: Bearer <token>` (constant-time comparison).
fn bearer_ok(headers: &HeaderMap, token: &[u8]) -> bool {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return false;
    };
    let value = value.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return false;
    }
    let given = value[7..].trim_ascii();
    bool::from(given.ct_eq(token))
}

async fn health_route(State(health): State<Arc<Health>>) -> Json<Value> {
    let sessions: Vec<Value> = match health.app.store().sessions() {
        Ok(list) => list
            .iter()
            .map(|s| {
                json!({
                    "name": s.name,
                    "backend": s.backend,
                    "status": s.status.as_str(),
                    "connected": s.status == SessionStatus::Connected,
                })
            })
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "health: cannot list sessions");
            Vec::new()
        }
    };
    let mcp = health.mcp.sessions.read().await.len();
    let logged_in = sessions.iter().any(|s| s["connected"] == json!(true));
    // `uptime` in seconds with a fraction, as Node's process.uptime().
    Json(json!({
        "status": "ok",
        "version": env!("CARGO_PKG_VERSION"),
        "uptime": health.started.elapsed().as_secs_f64(),
        "timestamp": iso(now_ms()),
        "connections": health.sse.len() + mcp,
        "logged_in": logged_in,
        "sessions": sessions,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authority_hosts() {
        assert_eq!(
            authority_host("localhost:8000").as_deref(),
            Some("localhost")
        );
        assert_eq!(authority_host("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(authority_host("[::1]:80").as_deref(), Some("[::1]"));
        assert_eq!(
            authority_host("Example.COM:1").as_deref(),
            Some("example.com")
        );
        assert_eq!(authority_host("a:b"), None);
        assert_eq!(authority_host("user@localhost"), None);
        assert_eq!(authority_host("[::1"), None);
        assert_eq!(authority_host(""), None);
    }

    #[test]
    fn origins() {
        assert_eq!(
            origin_host("http://localhost:3000").as_deref(),
            Some("localhost")
        );
        assert_eq!(origin_host("https://[::1]").as_deref(), Some("[::1]"));
        assert_eq!(origin_host("null"), None);
        assert_eq!(origin_host("ftp://localhost"), None);
        assert_eq!(origin_host("http://localhost/x"), None);
    }

    #[test]
    fn allowed_includes_bound_host() {
        let hosts = allowed_hosts("192.168.1.5", "192.168.1.5".parse().unwrap());
        assert!(hosts.contains(&"192.168.1.5".to_string()));
        assert!(hosts.contains(&"localhost".to_string()));
        let v6 = allowed_hosts("::1", "::1".parse().unwrap());
        assert_eq!(v6.iter().filter(|h| *h == "[::1]").count(), 1);
    }

    #[test]
    fn bearer() {
        let mut h = HeaderMap::new();
        assert!(!bearer_ok(&h, b"s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cret"),
        );
        assert!(bearer_ok(&h, b"s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("bearer s3cret"),
        );
        assert!(bearer_ok(&h, b"s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Bearer s3cre"),
        );
        assert!(!bearer_ok(&h, b"s3cret"));
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(!bearer_ok(&h, b"s3cret"));
    }
}
