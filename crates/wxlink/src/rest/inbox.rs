//! `POST /api/v1/inbox/{consumer}`: a consumer's unread inbound messages, claimed exactly once
//! (the `recv` tool over REST). POST, not GET: reading moves the consumer's position.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, ApiResult, Problem, Segment};
use crate::service::Service;
use crate::views::MessageOut;

/// Longest wait.
const MAX_TIMEOUT_SECS: f64 = 60.0;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new().routes(routes!(claim))
}

/// How to read.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimBody {
    /// Wait up to this many seconds for a first message (0–60, default 0).
    pub timeout_secs: Option<f64>,
    /// The `cursor` of the last answer you processed: anything after it comes (again, if
    /// an answer was lost), nothing before it.
    pub after: Option<String>,
}

/// Claimed messages.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClaimOut {
    /// New messages, oldest first.
    pub messages: Vec<MessageOut>,
    /// Pass as `after` next time (null when nothing came).
    pub cursor: Option<String>,
}

/// Claims a consumer's unread inbound messages (each consumer sees every message once).
#[utoipa::path(post, path = "/inbox/{consumer}", operation_id = "claimInbox", tag = "messages",
    params(("consumer" = String, Path, description = "Your reader's name (`default` is shared)")),
    request_body(content = Option<ClaimBody>),
    responses((status = 200, body = ClaimOut), (status = 400, body = Problem),
        (status = 409, body = Problem)))]
async fn claim(
    State(service): State<Arc<Service>>,
    Segment(consumer): Segment<String>,
    body: Bytes,
) -> ApiResult<Json<ClaimOut>> {
    // The body is optional: none means the defaults.
    let body: ClaimBody = if body.iter().all(u8::is_ascii_whitespace) {
        ClaimBody::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::invalid(format!("body: {e}")))?
    };
    let timeout = body.timeout_secs.unwrap_or(0.0);
    if !timeout.is_finite() || !(0.0..=MAX_TIMEOUT_SECS).contains(&timeout) {
        return Err(ApiError::invalid("timeout_secs: give 0 to 60"));
    }
    let after = match body
        .after
        .as_deref()
        .map(str::trim)
        .filter(|a| !a.is_empty())
    {
        None => None,
        Some(a) => Some(
            a.parse::<i64>()
                .map_err(|_| ApiError::invalid(format!("after {a:?}: pass back a cursor")))?,
        ),
    };
    let messages = service
        .recv_after(&consumer, Duration::from_secs_f64(timeout), after)
        .await?;
    Ok(Json(ClaimOut {
        cursor: messages.last().map(|m| m.id.to_string()),
        messages: MessageOut::list(messages),
    }))
}
