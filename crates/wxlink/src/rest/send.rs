//! `POST /api/v1/messages` (send) and `POST /api/v1/typing`. A send is JSON (text) or
//! `multipart/form-data` (text and files): each file part is streamed to a private temporary
//! file in the data directory — never whole in memory, refused with 413 as soon as it passes
//! the largest size a backend takes — then sent by the service like any file, and removed.

use std::path::PathBuf;
use std::sync::Arc;

use axum::extract::{DefaultBodyLimit, FromRequest, Multipart, Request, State};
use axum::http::{header, StatusCode};
use axum::Json;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncWriteExt;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, ApiResult, Body, Problem};
use crate::error::AppError;
use crate::service::download::sanitize;
use crate::service::send::{Attachment, SendReport, SendRequest};
use crate::service::Service;
use crate::transfer::Unobserved;
use crate::upstream::FileKind;

/// Most files in one send.
const MAX_FILES: usize = 10;
/// Largest JSON send.
const MAX_JSON_BYTES: usize = 1024 * 1024;
/// Longest text field of a multipart send.
const MAX_FIELD_BYTES: usize = 64 * 1024;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    // Uploads are streamed to disk and limited by the send handler itself.
    OpenApiRouter::new()
        .routes(routes!(send))
        .layer(DefaultBodyLimit::disable())
        .merge(OpenApiRouter::new().routes(routes!(typing)))
}

/// A text message. For files, send `multipart/form-data` with the fields `to`, `text`,
/// `session` and one or more `file` parts.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendBody {
    /// The recipient: a user, contact or room id.
    pub to: String,
    /// The text.
    pub text: Option<String>,
    /// Send through this session instead of routing.
    pub session: Option<String>,
}

/// The multipart form of a send (for the document; parts are read in any order).
#[derive(Debug, ToSchema)]
#[allow(dead_code)]
pub struct SendForm {
    /// The recipient.
    to: String,
    /// Text, sent first.
    text: Option<String>,
    /// The session.
    session: Option<String>,
    /// Files (images and videos by their content type, the rest as files).
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
}

/// One item that went out.
#[derive(Debug, Serialize, ToSchema)]
pub struct SentOut {
    /// text, image, voice, file or video.
    #[serde(rename = "type")]
    pub kind: String,
    /// Our id.
    pub id: String,
    /// The upstream id.
    pub message_id: Option<String>,
    /// Media: its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What a send did.
#[derive(Debug, Serialize, ToSchema)]
pub struct SendOut {
    /// True when every item went out.
    pub success: bool,
    /// The session used.
    pub session: String,
    /// The recipient.
    pub to: String,
    /// Items sent, in order.
    pub sent: Vec<SentOut>,
    /// Replies left on the recipient's context token (iLink).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_left: Option<u32>,
    /// Why the rest did not go out, when something failed midway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<SendReport> for SendOut {
    fn from(r: SendReport) -> Self {
        SendOut {
            success: r.success,
            session: r.session,
            to: r.to,
            sent: r
                .sent
                .into_iter()
                .map(|s| SentOut {
                    kind: s.kind,
                    id: s.id,
                    message_id: s.message_id,
                    size: s.size,
                })
                .collect(),
            quota_left: r.quota_left,
            error: r.error,
        }
    }
}

/// Temporary upload files, removed when dropped (on a blocking thread).
#[derive(Debug, Default)]
struct Uploads(Vec<PathBuf>);

impl Drop for Uploads {
    fn drop(&mut self) {
        let paths = std::mem::take(&mut self.0);
        if paths.is_empty() {
            return;
        }
        let remove = move || {
            for p in paths {
                if let Err(e) = std::fs::remove_file(&p) {
                    tracing::debug!(path = %p.display(), error = %e, "cannot remove an upload");
                }
            }
        };
        match tokio::runtime::Handle::try_current() {
            Ok(rt) => drop(rt.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

/// Sends text (JSON) or text and files (`multipart/form-data`).
#[utoipa::path(post, path = "/messages", operation_id = "sendMessage", tag = "messages",
    request_body(description = "JSON for text; multipart for files", content(
        (SendBody = "application/json"), (SendForm = "multipart/form-data"))),
    responses((status = 200, body = SendOut), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem),
        (status = 429, body = Problem), (status = 502, body = Problem)))]
async fn send(State(service): State<Arc<Service>>, request: Request) -> ApiResult<Json<SendOut>> {
    let multipart = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim_start().starts_with("multipart/form-data"));
    let mut uploads = Uploads::default();
    let req = if multipart {
        let form = Multipart::from_request(request, &())
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?;
        read_form(&service, form, &mut uploads).await?
    } else {
        let json = request
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim_start().starts_with("application/json"));
        if !json {
            return Err(Problem::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "invalid",
                "send JSON (Content-Type: application/json) or multipart/form-data",
            )
            .into());
        }
        let bytes = axum::body::to_bytes(request.into_body(), MAX_JSON_BYTES)
            .await
            .map_err(|_| {
                ApiError::App(AppError::Invalid(format!(
                    "the JSON body is over {MAX_JSON_BYTES} bytes (send files as multipart)"
                )))
            })?;
        let body: SendBody = serde_json::from_slice(&bytes).map_err(|e| {
            Problem::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                format!("body: {e}"),
            )
        })?;
        let mut req = SendRequest::to(body.to);
        req.text = body.text.filter(|t| !t.is_empty());
        req.session = body.session.filter(|s| !s.trim().is_empty());
        req
    };
    if req.to.trim().is_empty() {
        return Err(ApiError::invalid("to: give the recipient's id"));
    }
    let report = service.send(&req, &Unobserved).await?;
    drop(uploads);
    Ok(Json(report.into()))
}

/// Reads a multipart send, streaming each file part to a temporary file.
async fn read_form(
    service: &Service,
    mut form: Multipart,
    uploads: &mut Uploads,
) -> Result<SendRequest, ApiError> {
    let limit = service.max_upload_bytes();
    let dir = service.data().root().join("uploads");
    let mut req = SendRequest::default();
    while let Some(mut field) = form
        .next_field()
        .await
        .map_err(|e| ApiError::invalid(e.body_text()))?
    {
        let name = field.name().unwrap_or_default().to_string();
        if name != "file" {
            let mut text = Vec::new();
            while let Some(chunk) = field
                .chunk()
                .await
                .map_err(|e| ApiError::invalid(e.body_text()))?
            {
                if text.len() + chunk.len() > MAX_FIELD_BYTES {
                    return Err(ApiError::invalid(format!(
                        "{name}: longer than {MAX_FIELD_BYTES} bytes"
                    )));
                }
                text.extend_from_slice(&chunk);
            }
            let text = String::from_utf8(text)
                .map_err(|_| ApiError::invalid(format!("{name}: not UTF-8 text")))?;
            match name.as_str() {
                "to" => req.to = text.trim().to_string(),
                "text" => req.text = Some(text).filter(|t| !t.is_empty()),
                "session" => req.session = Some(text.trim().to_string()).filter(|s| !s.is_empty()),
                other => {
                    return Err(ApiError::invalid(format!(
                        "unknown field {other:?}: use to, text, session and file"
                    )))
                }
            }
            continue;
        }
        if req.files.len() == MAX_FILES {
            return Err(ApiError::invalid(format!(
                "at most {MAX_FILES} files in one send"
            )));
        }
        let shown = field
            .file_name()
            .and_then(sanitize)
            .unwrap_or_else(|| "file".to_string());
        let kind = match field.content_type().unwrap_or_default() {
            t if t.starts_with("image/") => FileKind::Image,
            t if t.starts_with("video/") => FileKind::Video,
            _ => FileKind::guess(&shown),
        };
        if uploads.0.is_empty() {
            let d = dir.clone();
            tokio::task::spawn_blocking(move || crate::paths::create_private_dir(&d))
                .await
                .map_err(|e| AppError::System(format!("cannot prepare uploads/: {e}")))?
                .map_err(|source| AppError::Io {
                    path: dir.clone(),
                    source,
                })?;
        }
        let path = dir.join(format!("upload-{}", ::ilink::new_client_id()));
        let mut file = tokio::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&path)
            .await
            .map_err(|source| AppError::Io {
                path: path.clone(),
                source,
            })?;
        uploads.0.push(path.clone());
        let mut size: u64 = 0;
        while let Some(chunk) = field
            .chunk()
            .await
            .map_err(|e| ApiError::invalid(e.body_text()))?
        {
            size += chunk.len() as u64;
            if let Some(limit) = limit.filter(|&l| size > l) {
                return Err(ApiError::App(AppError::FileTooLarge {
                    path: PathBuf::from(&shown),
                    size,
                    limit,
                }));
            }
            file.write_all(&chunk)
                .await
                .map_err(|source| AppError::Io {
                    path: path.clone(),
                    source,
                })?;
        }
        file.flush().await.map_err(|source| AppError::Io {
            path: path.clone(),
            source,
        })?;
        let mut attachment = Attachment::new(kind, path);
        attachment.name = Some(shown);
        req.files.push(attachment);
    }
    Ok(req)
}

/// "typing…" on or off.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingBody {
    /// The recipient.
    pub to: String,
    /// Through this session instead of routing.
    pub session: Option<String>,
    /// Show (default) or cancel.
    pub on: Option<bool>,
}

/// What typing did.
#[derive(Debug, Serialize, ToSchema)]
pub struct TypingOut {
    /// The session used.
    pub session: String,
    /// The recipient.
    pub to: String,
    /// Whether "typing…" is shown now.
    pub on: bool,
}

/// Shows (or cancels) "typing…" to a user.
#[utoipa::path(post, path = "/typing", operation_id = "setTyping", tag = "messages", request_body = TypingBody,
    responses((status = 200, body = TypingOut), (status = 400, body = Problem),
        (status = 404, body = Problem), (status = 502, body = Problem)))]
async fn typing(
    State(service): State<Arc<Service>>,
    Body(body): Body<TypingBody>,
) -> ApiResult<Json<TypingOut>> {
    let session = body
        .session
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    let r = service
        .typing(&body.to, session, body.on.unwrap_or(true))
        .await?;
    Ok(Json(TypingOut {
        session: r.session,
        to: r.to,
        on: r.on,
    }))
}
