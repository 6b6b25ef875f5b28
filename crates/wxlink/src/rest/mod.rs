//! THE REST FRONTEND: `/api/v1`, resources over the service — sessions, QR logins, messages
//! (history, media, send), contacts and rooms, a consumer's inbox, the event stream — with an
//! OpenAPI 3.1 document generated from these handlers (`utoipa`) at `/api/v1/openapi.json` and
//! its interactive page (Swagger UI, embedded in the binary) at `/api/v1/docs` ([`docs`]).
//!
//! Handlers are thin: read the request, call one [`Service`] method, shape the answer. Errors
//! are problem details with the service's error kinds ([`problem`]). Authentication, Host and
//! Origin checks are the HTTP guard's ([`crate::http::guard`]), the same as for `/mcp`.

pub mod contacts;
pub mod docs;
pub mod events;
pub mod inbox;
pub mod logins;
pub mod messages;
pub mod problem;
pub mod send;
pub mod sessions;

use std::sync::Arc;

use axum::{Extension, Router};
use tokio_util::sync::CancellationToken;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::OpenApi as Document;
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

use crate::service::Service;

/// Where the API lives.
pub const BASE: &str = "/api/v1";

/// The document's fixed parts; the paths and schemas come from the handlers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "wxlink",
        description = "WeChat for agents and scripts: sessions, QR logins, messages, contacts \
                       and an event stream over WeChat's iLink Bot API and Wechaty. Every \
                       route needs the bearer token the server was started with (or the admin \
                       panel's cookie). Ids that can exceed 2^53 are strings; errors are \
                       problem details (`application/problem+json`) with a stable `kind`.",
        license(name = "MIT")
    ),
    servers((url = "/api/v1")),
    modifiers(&Security),
    security(("bearer" = []), ("cookie" = [])),
    tags(
        (name = "sessions", description = "Accounts logged in, and the dashboard"),
        (name = "logins", description = "QR logins"),
        (name = "messages", description = "History, media, sending, the inbox"),
        (name = "contacts", description = "Users, address books and group chats"),
        (name = "events", description = "Server-sent events")
    )
)]
struct ApiDoc;

struct Security;

impl Modify for Security {
    fn modify(&self, doc: &mut Document) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "cookie",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                crate::http::signin::COOKIE,
                "Set by POST /admin/session; changes also need the X-CSRF-Token header",
            ))),
        );
    }
}

fn api() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(sessions::routes())
        .merge(logins::routes())
        .merge(messages::routes())
        .merge(send::routes())
        .merge(contacts::routes())
        .merge(inbox::routes())
        .merge(events::routes())
}

/// 404 as a problem, for paths under [`BASE`] that are no route.
async fn unknown_route(uri: axum::http::Uri) -> problem::Problem {
    problem::Problem::new(
        axum::http::StatusCode::NOT_FOUND,
        "not_found",
        format!(
            "no route {} in the REST API: see {BASE}/docs or {BASE}/openapi.json",
            uri.path()
        ),
    )
}

/// 405 as a problem.
async fn wrong_method(method: axum::http::Method, uri: axum::http::Uri) -> problem::Problem {
    problem::Problem::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "invalid",
        format!("{} does not take {method}: see {BASE}/docs", uri.path()),
    )
}

/// The OpenAPI document (what `/api/v1/openapi.json` serves, and `wxlink openapi` prints).
pub fn openapi() -> Document {
    api().split_for_parts().1
}

/// The routes under [`BASE`], the document and its page; open event streams end when `end`
/// is cancelled.
pub fn router(service: Arc<Service>, end: CancellationToken) -> Router {
    let (routes, doc) = api().split_for_parts();
    let routes = routes
        .fallback(unknown_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(Extension(events::StreamsEnd(end)))
        .with_state(service);
    Router::new().nest(BASE, routes).merge(docs::router(&doc))
}
