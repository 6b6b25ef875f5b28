//! `/api/v1/status` and `/api/v1/sessions`: the dashboard figures, the sessions, renaming,
//! the default, logging out, and the users of a session.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, ApiResult, Body, Params, Problem, Segment};
use crate::error::AppError;
use crate::service::contacts::KnownUser;
use crate::service::Service;
use crate::timefmt::iso;
use crate::views::SessionOut;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new()
        .routes(routes!(status))
        .routes(routes!(list))
        .routes(routes!(get_one, update))
        .routes(routes!(logout))
        .routes(routes!(users))
}

/// The dashboard's figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatusOut {
    /// wxlink's version.
    pub version: String,
    /// Sessions stored.
    pub sessions: usize,
    /// Sessions connected.
    pub connected: usize,
    /// Users who wrote (with a context token), over all sessions.
    pub users: usize,
    /// Messages stored since `today_since` (default: the last 24 hours).
    pub messages_today: u64,
    /// Sessions some process polls now.
    pub polling: usize,
    /// Sessions whose receiving keeps failing.
    pub degraded: Vec<DegradedOut>,
}

/// A session whose receiving keeps failing.
#[derive(Debug, Serialize, ToSchema)]
pub struct DegradedOut {
    /// The session.
    pub session: String,
    /// Why.
    pub problem: String,
}

/// Where "today" starts.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// Unix ms of the start of today (the caller's local midnight).
    pub today_since: Option<i64>,
}

/// Dashboard figures.
#[utoipa::path(get, path = "/status", operation_id = "getStatus", tag = "sessions", params(StatusQuery),
    responses((status = 200, body = StatusOut), (status = 401, body = Problem)))]
async fn status(
    State(service): State<Arc<Service>>,
    Params(q): Params<StatusQuery>,
) -> ApiResult<Json<StatusOut>> {
    let s = service.status(q.today_since).await?;
    Ok(Json(StatusOut {
        version: env!("CARGO_PKG_VERSION").to_string(),
        sessions: s.sessions,
        connected: s.connected,
        users: s.users,
        messages_today: s.messages_today,
        polling: s.polling,
        degraded: s
            .degraded
            .into_iter()
            .map(|(session, problem)| DegradedOut { session, problem })
            .collect(),
    }))
}

/// The sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsOut {
    /// Every session, the default first.
    pub sessions: Vec<SessionOut>,
}

/// Every session, the default first.
#[utoipa::path(get, path = "/sessions", operation_id = "listSessions", tag = "sessions",
    responses((status = 200, body = SessionsOut), (status = 401, body = Problem)))]
async fn list(State(service): State<Arc<Service>>) -> ApiResult<Json<SessionsOut>> {
    let sessions = service
        .list_sessions()
        .await?
        .iter()
        .map(|s| SessionOut::from_record(&s.record, s.polling))
        .collect::<Result<_, _>>()?;
    Ok(Json(SessionsOut { sessions }))
}

/// The session named `name`, as listed.
async fn one(service: &Service, name: &str) -> Result<SessionOut, ApiError> {
    let sessions = service.list_sessions().await?;
    let found = sessions
        .iter()
        .find(|s| s.record.name == name)
        .ok_or_else(|| AppError::UnknownSession(name.to_string()))?;
    Ok(SessionOut::from_record(&found.record, found.polling)?)
}

/// One session.
#[utoipa::path(get, path = "/sessions/{name}", operation_id = "getSession", tag = "sessions",
    params(("name" = String, Path, description = "The session")),
    responses((status = 200, body = SessionOut), (status = 404, body = Problem)))]
async fn get_one(
    State(service): State<Arc<Service>>,
    Segment(name): Segment<String>,
) -> ApiResult<Json<SessionOut>> {
    Ok(Json(one(&service, &name).await?))
}

/// Changes to a session.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SessionPatch {
    /// A new name.
    pub name: Option<String>,
    /// `true` makes it the default session.
    pub default: Option<bool>,
}

/// Renames a session and/or makes it the default.
#[utoipa::path(patch, path = "/sessions/{name}", operation_id = "updateSession", tag = "sessions",
    params(("name" = String, Path, description = "The session")),
    request_body = SessionPatch,
    responses((status = 200, body = SessionOut), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
async fn update(
    State(service): State<Arc<Service>>,
    Segment(name): Segment<String>,
    Body(patch): Body<SessionPatch>,
) -> ApiResult<Json<SessionOut>> {
    if patch.default == Some(false) {
        return Err(ApiError::invalid(
            "`default: false` cannot be applied: make another session the default instead",
        ));
    }
    service.resolve_session(Some(&name)).await?;
    let mut current = name;
    if let Some(new) = patch.name.as_deref().map(str::trim) {
        if new != current {
            service.rename_session(&current, new).await?;
            current = new.to_string();
        }
    }
    if patch.default == Some(true) {
        service.set_default(&current).await?;
    }
    Ok(Json(one(&service, &current).await?))
}

/// Logs a session out (its history stays).
#[utoipa::path(post, path = "/sessions/{name}/logout", operation_id = "logoutSession", tag = "sessions",
    params(("name" = String, Path, description = "The session")),
    responses((status = 200, body = SessionOut), (status = 404, body = Problem)))]
async fn logout(
    State(service): State<Arc<Service>>,
    Segment(name): Segment<String>,
) -> ApiResult<Json<SessionOut>> {
    let record = service.logout(Some(&name)).await?;
    Ok(Json(one(&service, &record.name).await?))
}

/// A user who wrote to a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOut {
    /// The user id (send to it).
    pub user: String,
    /// The session holding their context token.
    pub session: String,
    /// Whether that session is connected.
    pub connected: bool,
    /// When they last wrote, ISO 8601.
    pub last_received_at: String,
    /// Replies left on their context token.
    pub sends_left: u32,
    /// The token is older than a day and may no longer be accepted.
    pub stale: bool,
}

impl From<KnownUser> for UserOut {
    fn from(u: KnownUser) -> Self {
        UserOut {
            user: u.user,
            session: u.session,
            connected: u.connected,
            last_received_at: iso(u.received_at_ms),
            sends_left: u.sends_left,
            stale: u.stale,
        }
    }
}

/// The users of a session.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersOut {
    /// Most recent first.
    pub users: Vec<UserOut>,
}

/// The users who wrote to a session, with their replies left.
#[utoipa::path(get, path = "/sessions/{name}/users", operation_id = "listSessionUsers", tag = "sessions",
    params(("name" = String, Path, description = "The session")),
    responses((status = 200, body = UsersOut), (status = 404, body = Problem)))]
async fn users(
    State(service): State<Arc<Service>>,
    Segment(name): Segment<String>,
) -> ApiResult<Json<UsersOut>> {
    let users = service
        .session_users(&name)
        .await?
        .into_iter()
        .map(UserOut::from)
        .collect();
    Ok(Json(UsersOut { users }))
}
