//! The REST API's own description: the OpenAPI document (`/api/v1/openapi.json`, serialised once
//! when the server starts) and its interactive page (`/api/v1/docs/`, Swagger UI). The page's
//! files are in the binary: `index.html` and `docs.js` from `docs/`, Swagger UI's bundle, style
//! sheet, icons and licence taken out of the `utoipa-swagger-ui-vendored` crate's archive by
//! `build.rs`. The page loads nothing from anywhere else, under the same Content-Security-Policy
//! as the admin panel ([`crate::http::files`]).

use std::borrow::Cow;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use utoipa::openapi::OpenApi as Document;

use super::problem::{ApiError, Problem};
use super::BASE;
use crate::error::AppError;
use crate::http::files;

/// Swagger UI's file `$name`, as `build.rs` left it.
macro_rules! swagger_ui {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/swagger-ui/", $name))
    };
}

/// Every file of the page, by name under `/api/v1/docs/`.
const FILES: [(&str, &[u8]); 7] = [
    ("index.html", include_bytes!("docs/index.html")),
    ("docs.js", include_bytes!("docs/docs.js")),
    ("swagger-ui-bundle.js", swagger_ui!("swagger-ui-bundle.js")),
    ("swagger-ui.css", swagger_ui!("swagger-ui.css")),
    ("favicon-32x32.png", swagger_ui!("favicon-32x32.png")),
    ("favicon-16x16.png", swagger_ui!("favicon-16x16.png")),
    ("LICENSE", swagger_ui!("LICENSE")),
];

/// The files change only with a release (of wxlink or of the Swagger UI it carries).
const ETAG: &str = concat!(
    "\"",
    env!("CARGO_PKG_VERSION"),
    "-swagger-ui-",
    env!("WXLINK_SWAGGER_UI_VERSION"),
    "\""
);

/// The document's and the page's routes.
pub fn router<S: Clone + Send + Sync + 'static>(doc: &Document) -> Router<S> {
    // Written once. It cannot fail (a tree of strings and maps); if it ever did, the route
    // answers the error rather than the server refusing to start.
    let json = doc
        .to_json()
        .map(Bytes::from)
        .map_err(|e| format!("cannot write the OpenAPI document: {e}"));
    Router::new()
        .route(
            &format!("{BASE}/openapi.json"),
            get(move || async move {
                match json {
                    Ok(json) => {
                        ([(header::CONTENT_TYPE, "application/json")], json).into_response()
                    }
                    Err(e) => ApiError::App(AppError::System(e)).into_response(),
                }
            }),
        )
        .route(
            &format!("{BASE}/docs"),
            get(|| async { Redirect::permanent(&format!("{BASE}/docs/")) }),
        )
        .route(&format!("{BASE}/docs/"), get(file))
        .route(&format!("{BASE}/docs/{{name}}"), get(file))
}

/// One file of the page (`/api/v1/docs/` is `index.html`).
async fn file(uri: Uri, headers: HeaderMap) -> Response {
    let name = uri.path().trim_start_matches(&format!("{BASE}/docs/")[..]);
    let name = if name.is_empty() { "index.html" } else { name };
    match FILES.iter().find(|(n, _)| *n == name) {
        Some((name, data)) => files::respond(name, Cow::Borrowed(data), ETAG, &headers),
        None => Problem::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("no file {name:?} in the API's docs page: see {BASE}/docs/"),
        )
        .into_response(),
    }
}
