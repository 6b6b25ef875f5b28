//! `/api/v1/messages` and `/api/v1/conversations`: history with every filter of the `history`
//! tool and a cursor, one message, the bytes of its media, and the latest message of each
//! conversation. Sending lives in [`super::send`].

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, ApiResult, Params, Problem, Segment};
use crate::error::AppError;
use crate::service::download::sanitize;
use crate::service::history::HistoryFilter;
use crate::service::Service;
use crate::transfer::Unobserved;
use crate::views::MessageOut;

/// Page size unless asked.
const DEFAULT_LIMIT: u32 = 30;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(one))
        .routes(routes!(media))
        .routes(routes!(conversations))
}

/// History filters; all optional.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// The other party (user, contact or room id).
    pub user: Option<String>,
    /// The session.
    pub session: Option<String>,
    /// The bot account id (instead of the session).
    pub bot_id: Option<String>,
    /// text, image, voice, file, video, mixed, unknown (WeiLink's TEXT…VIDEO and 1…5 too).
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// in/received or out/sent.
    pub direction: Option<String>,
    /// Not before: ISO 8601 or unix ms.
    pub since: Option<String>,
    /// Not after: ISO 8601 or unix ms.
    pub until: Option<String>,
    /// Text contained (Chinese inside sentences too).
    pub text: Option<String>,
    /// Page size, 1–200 (default 30).
    pub limit: Option<u32>,
    /// `next_cursor` of the page before: only older messages.
    pub cursor: Option<String>,
}

/// A page of history.
#[derive(Debug, Serialize, ToSchema)]
pub struct HistoryOut {
    /// Newest first.
    pub messages: Vec<MessageOut>,
    /// How many match from the cursor on (this page included), counted up to 10,000.
    pub total: u64,
    /// Whether `total` is every match (false: more than 10,000 match).
    pub total_exact: bool,
    /// Pass as `cursor` for the next (older) page; null on the last page.
    pub next_cursor: Option<String>,
    /// How a filter was understood, when that needs saying.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

fn cursor(s: Option<&str>) -> Result<Option<i64>, ApiError> {
    match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(c) => c
            .parse::<i64>()
            .ok()
            .filter(|&id| id > 0)
            .map(Some)
            .ok_or_else(|| ApiError::invalid(format!("cursor {c:?}: pass back a next_cursor"))),
    }
}

/// History, newest first, a page at a time.
#[utoipa::path(get, path = "/messages", operation_id = "listMessages", tag = "messages", params(HistoryQuery),
    responses((status = 200, body = HistoryOut), (status = 400, body = Problem)))]
async fn history(
    State(service): State<Arc<Service>>,
    Params(q): Params<HistoryQuery>,
) -> ApiResult<Json<HistoryOut>> {
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    if limit == 0 || limit > crate::service::history::MAX_PAGE {
        return Err(ApiError::invalid("limit: give 1 to 200"));
    }
    let filter = HistoryFilter {
        user: q.user.unwrap_or_default(),
        bot_id: q.bot_id.unwrap_or_default(),
        session: q.session.unwrap_or_default(),
        kind: q.kind.unwrap_or_default(),
        direction: q.direction.unwrap_or_default(),
        since: q.since.unwrap_or_default(),
        until: q.until.unwrap_or_default(),
        text: q.text.unwrap_or_default(),
        limit,
        offset: 0,
        before_id: cursor(q.cursor.as_deref())?,
    };
    let found = service.history(&filter).await?;
    let more = found.page.total > found.page.messages.len() as u64;
    let next_cursor = more
        .then(|| found.page.messages.last().map(|m| m.id.to_string()))
        .flatten();
    let messages = MessageOut::list(found.page.messages);
    Ok(Json(HistoryOut {
        messages,
        total: found.page.total,
        total_exact: found.page.total_exact,
        next_cursor,
        note: found.note,
    }))
}

/// One stored message, by our id or the upstream id.
#[utoipa::path(get, path = "/messages/{id}", operation_id = "getMessage", tag = "messages",
    params(("id" = String, Path, description = "Our id or the upstream id")),
    responses((status = 200, body = MessageOut), (status = 404, body = Problem)))]
async fn one(
    State(service): State<Arc<Service>>,
    Segment(id): Segment<String>,
) -> ApiResult<Json<MessageOut>> {
    Ok(Json(MessageOut::new(service.message(&id).await?)))
}

/// Which media item.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MediaQuery {
    /// The media item, counted from 0 in the order of the message's items (default 0).
    pub index: Option<usize>,
}

/// The content type of a media file: by its name, else by its kind.
fn content_type(kind: &str, name: &str) -> String {
    if let Some(m) = mime_guess::from_path(name).first() {
        return m.essence_str().to_string();
    }
    match kind {
        "image" => "image/jpeg",
        "voice" => "audio/silk",
        "video" => "video/mp4",
        _ => "application/octet-stream",
    }
    .to_string()
}

/// `attachment` with an ASCII fallback name and the UTF-8 name (RFC 6266 / 8187).
fn disposition(name: &str) -> HeaderValue {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = name
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

/// The bytes of a media item (image, voice, file, video), fetched and decrypted.
#[utoipa::path(get, path = "/messages/{id}/media", operation_id = "getMessageMedia", tag = "messages",
    params(("id" = String, Path, description = "Our id or the upstream id"), MediaQuery),
    responses((status = 200, description = "The bytes", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 404, body = Problem), (status = 502, body = Problem)))]
async fn media(
    State(service): State<Arc<Service>>,
    Segment(id): Segment<String>,
    Params(q): Params<MediaQuery>,
) -> ApiResult<Response> {
    let (stored, mut files) = service.media(&id, &Unobserved).await?;
    let index = q.index.unwrap_or(0);
    if index >= files.len() {
        return Err(ApiError::App(AppError::NotFound {
            what: "media item",
            name: format!("{index} of message {id} (it has {})", files.len()),
        }));
    }
    let file = files.swap_remove(index);
    let name = sanitize(&file.name).unwrap_or_else(|| format!("{}.bin", stored.id));
    let mut response = file.data.into_response();
    let headers = response.headers_mut();
    let ct = content_type(&file.kind, &name);
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&ct)
            .unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    );
    headers.insert(header::CONTENT_DISPOSITION, disposition(&name));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=86400"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    // A file someone sent must never run as a page of this origin.
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    Ok(response)
}

/// Which session's conversations.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ConversationsQuery {
    /// Only this session's.
    pub session: Option<String>,
}

/// One conversation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationOut {
    /// The other party: open the conversation with `user`.
    pub user: String,
    /// The session of its latest message.
    pub session: String,
    /// Its latest message.
    pub last: MessageOut,
}

/// The conversations.
#[derive(Debug, Serialize, ToSchema)]
pub struct ConversationsOut {
    /// Most recent first (at most 200).
    pub conversations: Vec<ConversationOut>,
}

/// The latest message of each conversation, most recent first.
#[utoipa::path(get, path = "/conversations", operation_id = "listConversations", tag = "messages", params(ConversationsQuery),
    responses((status = 200, body = ConversationsOut), (status = 404, body = Problem)))]
async fn conversations(
    State(service): State<Arc<Service>>,
    Params(q): Params<ConversationsQuery>,
) -> ApiResult<Json<ConversationsOut>> {
    let session = q
        .session
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let conversations = service
        .conversation_list(session)
        .await?
        .into_iter()
        .map(|m| ConversationOut {
            user: m.message.peer.clone(),
            session: m.message.session.clone(),
            last: MessageOut::new(m),
        })
        .collect();
    Ok(Json(ConversationsOut { conversations }))
}
