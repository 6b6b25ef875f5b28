//! Sending: route a message to the session holding the freshest context token for the
//! recipient, check the per-token quota and the text limit before anything goes out, read
//! every local file up front (a missing file fails the whole send, not half of it), then send
//! one item per request — text first, then images, voices, files, videos — recording each in
//! the store, sent or failed.
//!
//! There is no waiting before a send: the poller keeps context tokens fresh.

use std::path::{Path, PathBuf};

use ilink::{MediaKind, MessageItem};
use serde::Serialize;

use crate::app::{App, AppEvent};
use crate::backend;
use crate::error::{AppError, AppResult};
use crate::store::{ContextRecord, SessionRecord, SessionStatus, SEND_QUOTA_PER_TOKEN};
use crate::timefmt::now_ms;
use crate::transfer::{TransferObserver, Unobserved};

/// Largest text iLink accepts, in UTF-8 bytes (spec §9.4).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    /// Recipient user id.
    pub to: String,
    /// Text, sent first.
    pub text: Option<String>,
    /// Image files.
    pub images: Vec<PathBuf>,
    /// Voice files (WeChat shows these poorly; files play better).
    pub voices: Vec<PathBuf>,
    /// Files, with an optional display name each.
    pub files: Vec<(PathBuf, Option<String>)>,
    /// Video files.
    pub videos: Vec<PathBuf>,
    /// Send through this session instead of routing.
    pub session: Option<String>,
}

/// One item that went out.
#[derive(Debug, Clone, Serialize)]
pub struct SentItem {
    /// `text`, `image`, `voice`, `file`, `video`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Our stored id.
    pub id: String,
    /// The server's id, when it returned one.
    pub message_id: Option<String>,
    /// For media: the file sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For media: its size in bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// What happened.
#[derive(Debug, Clone, Serialize)]
pub struct SendReport {
    /// True when every item went out.
    pub success: bool,
    /// The session used.
    pub session: String,
    /// The recipient.
    pub to: String,
    /// Items sent, in order.
    pub sent: Vec<SentItem>,
    /// Sends left on the recipient's context token (iLink); `None` for Wechaty sessions,
    /// which have no such quota.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_left: Option<u32>,
    /// Why the rest did not go out, when something failed midway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// A local file and the display name to send it under.
type NamedPath = (PathBuf, Option<String>);

struct Part {
    kind: &'static str,
    media: Option<(MediaKind, Vec<u8>, String, PathBuf)>,
    text: Option<String>,
}

fn read_file(path: &Path) -> AppResult<Vec<u8>> {
    std::fs::read(path).map_err(|source| {
        if source.kind() == std::io::ErrorKind::NotFound {
            AppError::FileNotFound(path.to_path_buf())
        } else {
            AppError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    })
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// Checks everything that can be checked locally and reads the files.
fn prepare(req: &SendRequest) -> AppResult<Vec<Part>> {
    let mut parts = Vec::new();
    if let Some(text) = req.text.as_ref().filter(|t| !t.is_empty()) {
        if text.len() > MAX_TEXT_BYTES {
            return Err(AppError::TextTooLong {
                bytes: text.len(),
                max: MAX_TEXT_BYTES,
            });
        }
        parts.push(Part {
            kind: "text",
            media: None,
            text: Some(text.clone()),
        });
    }
    let groups: [(&'static str, MediaKind, Vec<NamedPath>); 4] = [
        (
            "image",
            MediaKind::Image,
            req.images.iter().map(|p| (p.clone(), None)).collect(),
        ),
        (
            "voice",
            MediaKind::Voice,
            req.voices.iter().map(|p| (p.clone(), None)).collect(),
        ),
        ("file", MediaKind::File, req.files.clone()),
        (
            "video",
            MediaKind::Video,
            req.videos.iter().map(|p| (p.clone(), None)).collect(),
        ),
    ];
    for (kind, media_kind, paths) in groups {
        for (path, name) in paths {
            let data = read_file(&path)?;
            let name = name
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| display_name(&path));
            parts.push(Part {
                kind,
                media: Some((media_kind, data, name, path)),
                text: None,
            });
        }
    }
    if parts.is_empty() {
        return Err(AppError::NothingToSend);
    }
    Ok(parts)
}

/// The Wechaty session to send through, when the recipient is reached that way: the session
/// named, or else the Wechaty session the recipient last talked in — or, for an id that is not
/// an iLink user id (`…@im.wechat`) and has no iLink context token, the default Wechaty session.
fn wechaty_route(app: &App, req: &SendRequest) -> AppResult<Option<SessionRecord>> {
    let to = req.to.trim();
    if let Some(name) = &req.session {
        let session = app.resolve_session(Some(name))?;
        return Ok((session.backend == backend::wechaty::BACKEND).then_some(session));
    }
    let sessions = app.store().sessions()?;
    if !sessions
        .iter()
        .any(|s| s.backend == backend::wechaty::BACKEND)
    {
        return Ok(None);
    }
    if !app.store().contexts_for_user(to)?.is_empty() {
        return Ok(None);
    }
    if let Some(last) = app.store().last_session_with(to)? {
        if let Some(s) = sessions
            .iter()
            .find(|s| s.name == last && s.backend == backend::wechaty::BACKEND)
        {
            return Ok(Some(s.clone()));
        }
    }
    if to.ends_with("@im.wechat") {
        return Ok(None);
    }
    match app.wechaty_session(None, "") {
        Ok((s, _)) => Ok(Some(s)),
        Err(AppError::NoWechatySession) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Sends `parts` to `to` (a contact or room id) through a Wechaty session, recording each
/// item. As with iLink, a failure after the first item is reported in the result.
async fn send_wechaty(
    app: &App,
    session: &SessionRecord,
    to: &str,
    parts: Vec<Part>,
    observer: &dyn TransferObserver,
) -> AppResult<SendReport> {
    let client = app.wechaty_for(session)?;
    let mut report = SendReport {
        success: true,
        session: session.name.clone(),
        to: to.to_string(),
        sent: Vec::new(),
        quota_left: None,
        error: None,
    };
    for part in parts {
        let sent = match &part.media {
            None => {
                let text = part.text.clone().unwrap_or_default();
                send_wechaty_item(app, session, &client, to, WechatyItem::Text(&text)).await
            }
            Some((kind, data, name, path)) => {
                let progress = observer.start(&format!("Uploading {name}"));
                let total = data.len() as u64;
                let item = WechatyItem::File {
                    kind: if *kind == MediaKind::Image {
                        "image"
                    } else {
                        "file"
                    },
                    name,
                    data,
                };
                let result = send_wechaty_item(app, session, &client, to, item).await;
                progress.report(ilink::Transfer {
                    done: if result.is_ok() { total } else { 0 },
                    total: Some(total),
                });
                result.map(|mut item| {
                    item.kind = part.kind.to_string();
                    item.path = Some(path.display().to_string());
                    item.size = Some(total);
                    item
                })
            }
        };
        match sent {
            Ok(item) => report.sent.push(item),
            Err(e) => return finish_with_error(report, e),
        }
    }
    Ok(report)
}

/// One item for [`send_wechaty_item`].
pub enum WechatyItem<'a> {
    /// A text.
    Text(&'a str),
    /// A file: `image` or `file`, its display name and bytes.
    File {
        /// `image` or `file`.
        kind: &'static str,
        /// Display name.
        name: &'a str,
        /// Content.
        data: &'a [u8],
    },
}

/// Sends one item to a contact or room through a Wechaty session and records it in the store
/// (a failed send is recorded as failed, then returned as the error).
pub async fn send_wechaty_item(
    app: &App,
    session: &SessionRecord,
    client: &wechaty::Client,
    to: &str,
    item: WechatyItem<'_>,
) -> AppResult<SentItem> {
    let (result, sent) = match &item {
        WechatyItem::Text(text) => (
            client.send_text(to, text).await,
            backend::wechaty::Sent::Text(text),
        ),
        WechatyItem::File { kind, name, data } => (
            client.send_file(to, name, data.to_vec()).await,
            backend::wechaty::Sent::File {
                kind,
                name,
                size: data.len() as u64,
            },
        ),
    };
    let (upstream_id, error) = match &result {
        Ok(id) => (id.clone(), None),
        Err(e) => (None, Some(e.to_string())),
    };
    let row = backend::wechaty::outbound(
        &session.name,
        session.bot_id.as_deref(),
        to,
        &sent,
        upstream_id.as_deref(),
        now_ms(),
        error,
    );
    let id = app.store().record_outbound(&row)?;
    result?;
    Ok(SentItem {
        kind: row.kind.clone(),
        id: id.to_string(),
        message_id: upstream_id,
        path: None,
        size: None,
    })
}

/// The session and context token to send with.
fn route(app: &App, req: &SendRequest) -> AppResult<ContextRecord> {
    let to = req.to.trim();
    if to.is_empty() {
        return Err(AppError::Invalid("the recipient (TO) is empty".into()));
    }
    if let Some(name) = &req.session {
        let session = app.resolve_session(Some(name))?;
        if session.status != SessionStatus::Connected {
            return Err(AppError::NotConnected {
                name: session.name,
                status: session.status,
            });
        }
        return app
            .store()
            .contexts(Some(name))?
            .into_iter()
            .find(|c| c.user_id == to)
            .ok_or_else(|| AppError::NoContext {
                user: to.to_string(),
                session: Some(name.clone()),
            });
    }
    let sessions = app.store().sessions()?;
    if sessions.is_empty() {
        return Err(AppError::NoSessions);
    }
    let connected = |name: &str| {
        sessions
            .iter()
            .any(|s| s.name == name && s.status == SessionStatus::Connected)
    };
    app.store()
        .contexts_for_user(to)?
        .into_iter()
        .find(|c| connected(&c.session))
        .ok_or_else(|| AppError::NoContext {
            user: to.to_string(),
            session: None,
        })
}

/// Sends everything in `req`. Local problems (missing file, text too long, no context token,
/// not enough quota) fail before anything goes out. An upstream failure midway stops the rest
/// and is reported in [`SendReport::error`] with what did go out; a failure of the very first
/// item is returned as an error.
pub async fn send(app: &App, req: &SendRequest) -> AppResult<SendReport> {
    send_observed(app, req, &Unobserved).await
}

/// [`send`], announcing each upload and its byte progress to `observer`.
pub async fn send_observed(
    app: &App,
    req: &SendRequest,
    observer: &dyn TransferObserver,
) -> AppResult<SendReport> {
    let parts = prepare(req)?;
    if let Some(session) = wechaty_route(app, req)? {
        return send_wechaty(app, &session, req.to.trim(), parts, observer).await;
    }
    let ctx = route(app, req)?;
    let needed = parts.len() as u32;
    let left = SEND_QUOTA_PER_TOKEN.saturating_sub(ctx.send_count);
    if needed > left {
        return Err(AppError::QuotaExhausted {
            user: ctx.user_id,
            session: ctx.session,
            left,
            quota: SEND_QUOTA_PER_TOKEN,
            needed,
        });
    }
    let session = app.resolve_session(Some(&ctx.session))?;
    let bot = app.bot_for(&session)?;
    let mut report = SendReport {
        success: true,
        session: ctx.session.clone(),
        to: ctx.user_id.clone(),
        sent: Vec::new(),
        quota_left: Some(left),
        error: None,
    };
    for part in parts {
        let Some(count) = app
            .store()
            .reserve_send(&ctx.session, &ctx.user_id, &ctx.token)?
        else {
            // Another process used the quota, or the user wrote again (a new token).
            let e = AppError::QuotaExhausted {
                user: ctx.user_id.clone(),
                session: ctx.session.clone(),
                left: 0,
                quota: SEND_QUOTA_PER_TOKEN,
                needed: 1,
            };
            return finish_with_error(report, e);
        };
        report.quota_left = Some(SEND_QUOTA_PER_TOKEN.saturating_sub(count));
        match send_part(app, &bot, &session, &ctx, &part, observer).await {
            Ok(item) => report.sent.push(item),
            Err(e) => {
                let rejected = matches!(&e, AppError::Upstream(ilink::Error::Rejected { .. }));
                if !rejected {
                    // It never reached the server's quota accounting (or we cannot know): give
                    // the reservation back.
                    let _ = app
                        .store()
                        .refund_send(&ctx.session, &ctx.user_id, &ctx.token);
                    report.quota_left = report
                        .quota_left
                        .map(|left| (left + 1).min(SEND_QUOTA_PER_TOKEN));
                }
                if let AppError::Upstream(u) = &e {
                    if u.is_session_expired() {
                        let _ = app.store().set_status(&ctx.session, SessionStatus::Expired);
                        app.emit(AppEvent::SessionExpired {
                            session: ctx.session.clone(),
                        });
                    }
                }
                return finish_with_error(report, e);
            }
        }
    }
    Ok(report)
}

fn finish_with_error(mut report: SendReport, e: AppError) -> AppResult<SendReport> {
    if report.sent.is_empty() {
        return Err(e);
    }
    report.success = false;
    report.error = Some(e.to_string());
    Ok(report)
}

async fn send_part(
    app: &App,
    bot: &ilink::Bot,
    session: &crate::store::SessionRecord,
    ctx: &ContextRecord,
    part: &Part,
    observer: &dyn TransferObserver,
) -> AppResult<SentItem> {
    let (item, path, size): (MessageItem, Option<String>, Option<u64>) = match &part.media {
        None => (
            MessageItem::text(part.text.clone().unwrap_or_default()),
            None,
            None,
        ),
        Some((kind, data, name, path)) => {
            let progress = observer.start(&format!("Uploading {name}"));
            let uploaded = bot
                .upload_with_progress(&ctx.user_id, *kind, data, &progress)
                .await?;
            (
                uploaded.to_item(name),
                Some(path.display().to_string()),
                Some(data.len() as u64),
            )
        }
    };
    let result = bot
        .send_item(&ctx.user_id, item.clone(), Some(&ctx.token))
        .await;
    let now = now_ms();
    let bot_id = session.bot_id.as_deref();
    match result {
        Ok(receipt) => {
            let row = backend::ilink::outbound(
                &ctx.session,
                bot_id,
                &ctx.user_id,
                &item,
                Some(&ctx.token),
                &receipt.client_id,
                receipt.message_id,
                now,
                None,
            );
            let id = app.store().record_outbound(&row)?;
            Ok(SentItem {
                kind: part.kind.to_string(),
                id: id.to_string(),
                message_id: receipt.message_id.map(|m| m.to_string()),
                path,
                size,
            })
        }
        Err(e) => {
            let row = backend::ilink::outbound(
                &ctx.session,
                bot_id,
                &ctx.user_id,
                &item,
                Some(&ctx.token),
                &ilink::new_client_id(),
                None,
                now,
                Some(e.to_string()),
            );
            if let Err(store_err) = app.store().record_outbound(&row) {
                tracing::warn!(error = %store_err, "cannot record the failed send");
            }
            Err(e.into())
        }
    }
}
