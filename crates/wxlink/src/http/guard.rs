//! The one guard in front of every HTTP route but `/health` (MCP transport security guidance):
//!
//! 1. `Host` must be `localhost`, `127.0.0.1`, `[::1]` or the bound host (any port), else
//!    **421** (DNS rebinding). Skipped when bound to a wildcard address (0.0.0.0 / ::), where
//!    any name may reach the server; the token is the protection there.
//! 2. `Origin`, when present, must be `http(s)://` one of those hosts (any port), else **403**.
//! 3. OAuth discovery (`/.well-known/…`) and dynamic client registration (`/register`) are
//!    **404** with or without a token: wxlink uses a static bearer token, not OAuth, and says so
//!    in the body, so clients that try OAuth stop with that message.
//! 4. The admin panel's pages (`GET /admin/…`) and its sign-in (`/admin/session`) need no
//!    token: they hold no data, and the sign-in checks the token itself.
//! 5. With a token: `Authorization: Bearer <token>` compared in constant time — or, on
//!    `/api/v1` only, the panel's sign-in cookie ([`super::signin`]), with the CSRF header on
//!    every request that changes something (else **403** `csrf`) — else **401** with
//!    `WWW-Authenticate: Bearer realm="wxlink"` (and `error="invalid_token"` when a wrong token
//!    was sent) and a body that says a bearer token is needed: a JSON-RPC error for MCP, a
//!    problem for `/api/v1`. Tokens are never accepted in the query string nor logged.

use std::net::IpAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use subtle::ConstantTimeEq;

use super::signin::{self, SignIn};
use crate::model::Secret;
use crate::rest::problem::Problem;
use crate::timefmt::now_ms;

/// What the guard checks.
#[derive(Debug)]
pub struct Guard {
    /// Lower-case host names (IPv6 in brackets) accepted in `Host` and `Origin`.
    hosts: Vec<String>,
    /// Whether `Host` is checked (not for wildcard binds).
    check_host: bool,
    token: Option<Secret<String>>,
    signin: SignIn,
}

/// What a client is told when it has no (or a wrong) token.
pub const NEEDS_TOKEN: &str = "This wxlink server needs a bearer token: send the header \
    `Authorization: Bearer <token>` with the token the server was started with (--token or \
    WXLINK_TOKEN). It does not use OAuth.";

impl Guard {
    /// The guard of a server bound to `bound` (asked for as `host`), with `token` if any.
    pub fn new(host: &str, bound: IpAddr, token: Option<Secret<String>>) -> Self {
        Guard {
            hosts: allowed_hosts(host, bound),
            check_host: !bound.is_unspecified(),
            signin: SignIn::new(token.as_ref()),
            token,
        }
    }

    /// The browser sign-in of this server.
    pub fn signin(&self) -> &SignIn {
        &self.signin
    }

    /// Whether `given` is the server's token (constant time); true when there is none.
    pub fn token_matches(&self, given: &str) -> bool {
        self.token
            .as_ref()
            .is_none_or(|t| bool::from(given.as_bytes().ct_eq(t.expose_str().as_bytes())))
    }

    /// Whether the request carries the right bearer token or a valid sign-in cookie (or no
    /// token is needed); the cookie's value when that is what signs it in.
    pub fn signed_in<'h>(&self, headers: &'h HeaderMap) -> (bool, Option<&'h str>) {
        let Some(token) = &self.token else {
            return (true, None);
        };
        if matches!(presented(headers, token), Presented::Right) {
            return (true, None);
        }
        match signin::cookie(headers) {
            Some(c) if self.signin.verify(c, now_ms()) => (true, Some(c)),
            _ => (false, None),
        }
    }

    /// Whether a token is required.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Whether `Host` is checked.
    pub fn checks_host(&self) -> bool {
        self.check_host
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

/// What a request's `Authorization` header carries.
enum Presented {
    /// No bearer token at all.
    Nothing,
    /// The right one.
    Right,
    /// Another one.
    Wrong,
}

/// What the request presents (constant-time comparison).
fn presented(headers: &HeaderMap, token: &Secret<String>) -> Presented {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Presented::Nothing;
    };
    let value = value.as_bytes();
    if value.len() < 7 || !value[..7].eq_ignore_ascii_case(b"bearer ") {
        return Presented::Nothing;
    }
    let given = value[7..].trim_ascii();
    if bool::from(given.ct_eq(token.expose_str().as_bytes())) {
        Presented::Right
    } else {
        Presented::Wrong
    }
}

/// 401 with a body and header that say a bearer token is needed (not OAuth): a problem on
/// `/api/v1`, a JSON-RPC error elsewhere.
fn unauthorized(wrong: bool, rest: bool) -> Response {
    let mut response = if rest {
        Problem::new(StatusCode::UNAUTHORIZED, "unauthorized", NEEDS_TOKEN).into_response()
    } else {
        let body = json!({
            "jsonrpc": "2.0",
            "id": null,
            "error": {"code": -32001, "message": NEEDS_TOKEN},
        });
        (StatusCode::UNAUTHORIZED, axum::Json(body)).into_response()
    };
    let challenge = if wrong {
        "Bearer realm=\"wxlink\", error=\"invalid_token\", error_description=\"wrong bearer token\""
    } else {
        "Bearer realm=\"wxlink\""
    };
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

/// 404 for OAuth discovery and registration: there is no OAuth here.
fn no_oauth(registration: bool) -> Response {
    let body = if registration {
        json!({"error": "invalid_request", "error_description": NEEDS_TOKEN})
    } else {
        json!({"error": "not_found", "message": NEEDS_TOKEN})
    };
    (StatusCode::NOT_FOUND, axum::Json(body)).into_response()
}

/// The admin panel's static pages: `GET`/`HEAD` under `/admin` (but not its sign-in).
fn is_panel_page(method: &axum::http::Method, path: &str) -> bool {
    (method == axum::http::Method::GET || method == axum::http::Method::HEAD)
        && (path == "/admin" || path.starts_with("/admin/"))
}

/// The middleware: `/health` passes; everything else is checked as the module docs say.
pub async fn check(
    State(guard): State<Arc<Guard>>,
    request: Request<Body>,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if path == "/health" {
        return next.run(request).await;
    }
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
    if path.starts_with("/.well-known/") {
        return no_oauth(false);
    }
    if path == "/register" {
        return no_oauth(true);
    }
    if path == "/admin/session" || is_panel_page(request.method(), path) {
        return next.run(request).await;
    }
    let rest = path == crate::rest::BASE || path.starts_with("/api/v1/");
    if let Some(token) = &guard.token {
        match presented(headers, token) {
            Presented::Right => {}
            Presented::Wrong => return unauthorized(true, rest),
            Presented::Nothing => {
                let Some(cookie) = signin::cookie(headers).filter(|_| rest) else {
                    return unauthorized(false, rest);
                };
                if !guard.signin.verify(cookie, now_ms()) {
                    return unauthorized(true, rest);
                }
                if !request.method().is_safe() && !guard.signin.csrf_ok(headers, cookie) {
                    return Problem::new(
                        StatusCode::FORBIDDEN,
                        "csrf",
                        "this change needs the X-CSRF-Token header the admin panel sends \
                         (GET /admin/session gives it)",
                    )
                    .into_response();
                }
            }
        }
    }
    next.run(request).await
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
        let token = Secret::new("s3cret".to_string());
        let mut h = HeaderMap::new();
        assert!(matches!(presented(&h, &token), Presented::Nothing));
        for (value, right) in [
            ("Bearer s3cret", true),
            ("bearer s3cret", true),
            ("Bearer s3cre", false),
        ] {
            h.insert(header::AUTHORIZATION, HeaderValue::from_static(value));
            assert_eq!(
                matches!(presented(&h, &token), Presented::Right),
                right,
                "{value}"
            );
        }
        h.insert(
            header::AUTHORIZATION,
            HeaderValue::from_static("Basic s3cret"),
        );
        assert!(matches!(presented(&h, &token), Presented::Nothing));
    }
}
