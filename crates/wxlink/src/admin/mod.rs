//! THE ADMIN PANEL: the web pages (`/admin/…`, plain HTML, CSS and ES modules in `assets/`,
//! embedded in the binary — nothing is fetched from anywhere else) and the browser sign-in
//! (`/admin/session`). The pages call the REST API ([`crate::rest`]) like any client; this
//! module only serves them, with a strict Content-Security-Policy.
//!
//! | route | what |
//! |---|---|
//! | `GET /admin` | redirect to `/admin/` |
//! | `GET /admin/{file}` | an asset (`/admin/` is `index.html`), with an `ETag` |
//! | `GET /admin/session` | `{signed_in, token_required, csrf, version}` |
//! | `POST /admin/session` | `{"token": …}` → 204 + the sign-in cookie; 401 on a wrong token |
//! | `DELETE /admin/session` | signs out (clears the cookie) |

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::{Json, Router};
use rust_embed::Embed;
use serde::Deserialize;
use serde_json::json;

use crate::http::Guard;
use crate::http::{files, signin};
use crate::rest::problem::{Body, Problem};
use crate::timefmt::now_ms;

/// The panel's files.
#[derive(Embed)]
#[folder = "src/admin/assets/"]
struct Assets;

/// The panel's routes.
pub fn router(guard: Arc<Guard>) -> Router {
    Router::new()
        .route("/admin", get(|| async { Redirect::permanent("/admin/") }))
        .route(
            "/admin/session",
            get(session).post(sign_in).delete(sign_out),
        )
        .route("/admin/", get(asset))
        .route("/admin/{*path}", get(asset))
        .with_state(guard)
}

/// Serves one embedded file.
async fn asset(uri: Uri, headers: HeaderMap) -> Response {
    let path = uri.path().trim_start_matches("/admin/");
    let path = if path.is_empty() { "index.html" } else { path };
    let hidden = path.split('/').any(|part| part.starts_with('.'));
    let Some(file) = Assets::get(path).filter(|_| !hidden) else {
        return Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no page {path:?} in the admin panel"),
        )
        .into_response();
    };
    let etag = format!(
        "\"{}\"",
        file.metadata
            .sha256_hash()
            .iter()
            .take(12)
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    files::respond(path, file.data, &etag, &headers)
}

/// Whether this browser is signed in, and the CSRF token its changes carry.
async fn session(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Response {
    let (signed_in, cookie) = guard.signed_in(&headers);
    let csrf = signed_in.then(|| guard.signin().csrf(cookie.unwrap_or_default()));
    let mut response = Json(json!({
        "signed_in": signed_in,
        "token_required": guard.has_token(),
        "csrf": csrf,
        "version": env!("CARGO_PKG_VERSION"),
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// The token, entered once.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignInBody {
    token: crate::model::Secret<String>,
}

/// Signs in: the right token gets the cookie.
async fn sign_in(State(guard): State<Arc<Guard>>, Body(body): Body<SignInBody>) -> Response {
    if !guard.has_token() {
        return StatusCode::NO_CONTENT.into_response();
    }
    if !guard.token_matches(body.token.expose_str().trim()) {
        tracing::info!("admin panel: a sign-in with a wrong token was refused");
        return Problem::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "wrong token: use the one the server was started with (--token or WXLINK_TOKEN)",
        )
        .into_response();
    }
    let value = guard.signin().issue(now_ms());
    with_cookie(StatusCode::NO_CONTENT, &signin::set_cookie(&value))
}

/// Signs out (a change: the CSRF header is needed when a cookie signs the browser in).
async fn sign_out(State(guard): State<Arc<Guard>>, headers: HeaderMap) -> Response {
    if let Some(cookie) = signin::cookie(&headers) {
        if guard.signin().verify(cookie, now_ms()) && !guard.signin().csrf_ok(&headers, cookie) {
            return Problem::new(
                StatusCode::FORBIDDEN,
                "csrf",
                "signing out needs the X-CSRF-Token header",
            )
            .into_response();
        }
    }
    with_cookie(StatusCode::NO_CONTENT, &signin::clear_cookie())
}

fn with_cookie(status: StatusCode, cookie: &str) -> Response {
    let mut response = status.into_response();
    if let Ok(v) = HeaderValue::from_str(cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
