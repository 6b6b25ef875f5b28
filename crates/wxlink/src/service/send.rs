//! Sending: check everything that can be checked locally before anything goes out (the text's
//! size, every file readable and a regular file, the quota), route the message, then send one
//! item per request — text first, then images, voices, files, videos — recording each in the
//! store, sent or failed.
//!
//! Quota (backends with one, iLink: 10 replies per message the user sends): the whole send must
//! fit in what is left, and each item reserves its send in the store before it goes out, so two
//! processes never overspend a token. A send that never reached the server is refunded; one the
//! server refused is not. There is no waiting before a send: pollers keep tokens fresh.
//!
//! A failure of the first item is an error; a failure after it stops the rest and is reported
//! in [`SendReport::error`] next to what did go out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::service::route::Route;
use crate::service::Service;
use crate::transfer::TransferObserver;
use crate::upstream::{FileKind, OutItem, SendTarget, UpstreamFailure};

/// What to send.
#[derive(Debug, Clone, Default)]
pub struct SendRequest {
    /// The recipient: a user, contact or room id.
    pub to: String,
    /// Text, sent first.
    pub text: Option<String>,
    /// Files, sent after the text: images, then voices, files, videos, each kind in order.
    pub files: Vec<Attachment>,
    /// Send through this session instead of routing.
    pub session: Option<String>,
}

impl SendRequest {
    /// A request to `to`, with nothing in it yet.
    pub fn to(to: impl Into<String>) -> Self {
        SendRequest {
            to: to.into(),
            ..SendRequest::default()
        }
    }

    /// With this text.
    pub fn text(mut self, text: impl Into<String>) -> Self {
        self.text = Some(text.into());
        self
    }

    /// With a file of `kind`.
    pub fn attach(mut self, kind: FileKind, path: impl Into<PathBuf>) -> Self {
        self.files.push(Attachment::new(kind, path));
        self
    }

    /// With a file shown under `name`.
    pub fn file_named(mut self, path: impl Into<PathBuf>, name: impl Into<String>) -> Self {
        let mut a = Attachment::new(FileKind::File, path);
        a.name = Some(name.into());
        self.files.push(a);
        self
    }

    /// Through this session instead of routing.
    pub fn through(mut self, session: impl Into<String>) -> Self {
        self.session = Some(session.into());
        self
    }
}

/// A local file to send.
#[derive(Debug, Clone)]
pub struct Attachment {
    /// How it is sent.
    pub kind: FileKind,
    /// Where it is.
    pub path: PathBuf,
    /// The name the recipient sees (default: the file's own name).
    pub name: Option<String>,
}

impl Attachment {
    /// A file of `kind` at `path`.
    pub fn new(kind: FileKind, path: impl Into<PathBuf>) -> Self {
        Attachment {
            kind,
            path: path.into(),
            name: None,
        }
    }

    /// A file sent as an image when its name says it is one, else as a file.
    pub fn guessed(path: impl Into<PathBuf>, name: Option<String>) -> Self {
        let path = path.into();
        let shown = name.clone().unwrap_or_else(|| display_name(&path));
        Attachment {
            kind: FileKind::guess(&shown),
            path,
            name,
        }
    }
}

/// One item that went out.
#[derive(Debug, Clone, Serialize)]
pub struct SentItem {
    /// `text`, `image`, `voice`, `file`, `video`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Our stored id (empty when it went out but could not be recorded).
    pub id: String,
    /// The upstream's id, when it returned one.
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
    /// Sends left on the recipient's context token (backends with a quota).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quota_left: Option<u32>,
    /// Why the rest did not go out, when something failed midway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn display_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into())
}

/// Reads a file to send, off the runtime; refuses what is not a regular file (a FIFO or a
/// device would block or never end).
async fn read_file(path: &Path) -> AppResult<Vec<u8>> {
    let io = |source: std::io::Error| {
        if source.kind() == std::io::ErrorKind::NotFound {
            AppError::FileNotFound(path.to_path_buf())
        } else {
            AppError::Io {
                path: path.to_path_buf(),
                source,
            }
        }
    };
    let meta = tokio::fs::metadata(path).await.map_err(io)?;
    if !meta.is_file() {
        return Err(AppError::Invalid(format!(
            "{} is not a regular file (a directory, device, FIFO or socket cannot be sent)",
            path.display()
        )));
    }
    tokio::fs::read(path).await.map_err(io)
}

/// The items of a request, checked and read.
async fn prepare(req: &SendRequest) -> AppResult<Vec<OutItem>> {
    let mut items = Vec::new();
    if let Some(text) = req.text.as_ref().filter(|t| !t.is_empty()) {
        items.push(OutItem::Text(text.clone()));
    }
    let order = [
        FileKind::Image,
        FileKind::Voice,
        FileKind::File,
        FileKind::Video,
    ];
    for kind in order {
        for a in req.files.iter().filter(|a| a.kind == kind) {
            let data = read_file(&a.path).await?;
            let name = a
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| display_name(&a.path));
            items.push(OutItem::File {
                kind,
                name,
                path: a.path.clone(),
                data: Arc::new(data),
            });
        }
    }
    if items.is_empty() {
        return Err(AppError::NothingToSend);
    }
    Ok(items)
}

impl Service {
    /// Sends everything in `req`, announcing each upload to `observer`.
    pub async fn send(
        &self,
        req: &SendRequest,
        observer: &dyn TransferObserver,
    ) -> AppResult<SendReport> {
        let items = prepare(req).await?;
        let route = self.route(&req.to, req.session.as_deref()).await?;
        self.send_items(route, items, observer).await
    }

    /// Sends prepared items along a route.
    async fn send_items(
        &self,
        route: Route,
        items: Vec<OutItem>,
        observer: &dyn TransferObserver,
    ) -> AppResult<SendReport> {
        let upstream = self.upstream(route.session.backend).clone();
        let caps = upstream.capabilities();
        if let Some(max) = caps.max_text_bytes {
            for item in &items {
                if let OutItem::Text(t) = item {
                    if t.len() > max {
                        return Err(AppError::TextTooLong {
                            backend: route.session.backend,
                            bytes: t.len(),
                            max,
                        });
                    }
                }
            }
        }
        let quota = caps.reply_quota.zip(route.context.as_ref());
        let mut quota_left = None;
        if let Some((quota, ctx)) = quota {
            let needed = items.len() as u32;
            let left = ctx.sends_left(quota);
            if needed > left {
                return Err(AppError::QuotaExhausted {
                    user: route.to.clone(),
                    session: route.session.name.clone(),
                    left,
                    quota,
                    needed,
                });
            }
            quota_left = Some(left);
        }
        let mut report = SendReport {
            success: true,
            session: route.session.name.clone(),
            to: route.to.clone(),
            sent: Vec::new(),
            quota_left,
            error: None,
        };
        for item in items {
            if let Some((quota, ctx)) = quota {
                let reserved = self
                    .store()
                    .reserve_send(&ctx.session, &ctx.user_id, &ctx.token, quota)
                    .await?;
                let Some(count) = reserved else {
                    // Another process used the quota, or the user wrote again (a new token).
                    let e = AppError::QuotaExhausted {
                        user: route.to.clone(),
                        session: route.session.name.clone(),
                        left: 0,
                        quota,
                        needed: 1,
                    };
                    return finish_with_error(report, e);
                };
                report.quota_left = Some(quota.saturating_sub(count));
            }
            let progress = match &item {
                OutItem::Text(_) => crate::upstream::Progress::none(),
                OutItem::File { name, .. } => observer.start(&format!("Uploading {name}")),
            };
            let target = SendTarget {
                session: &route.session,
                to: &route.to,
                context: route.context.as_ref(),
            };
            let outcome = upstream.send(target, &item, &progress).await;
            let recorded = self.store().record_outbound(outcome.record.clone()).await;
            match outcome.result {
                Ok(message_id) => {
                    let (path, size) = match &item {
                        OutItem::Text(_) => (None, None),
                        OutItem::File { path, data, .. } => {
                            (Some(path.display().to_string()), Some(data.len() as u64))
                        }
                    };
                    let mut sent = SentItem {
                        kind: outcome.record.kind.clone(),
                        id: String::new(),
                        message_id,
                        path,
                        size,
                    };
                    match recorded {
                        Ok(id) => {
                            sent.id = id.to_string();
                            report.sent.push(sent);
                        }
                        Err(e) => {
                            // It went out: say so (with no stored id), so nobody sends it again.
                            report.sent.push(sent);
                            let e = AppError::from(e);
                            return finish_with_error(report, e);
                        }
                    }
                }
                Err(e) => {
                    if let Err(store_err) = recorded {
                        tracing::warn!(error = %store_err, "cannot record the failed send");
                    }
                    if let Some((quota, ctx)) = quota {
                        if e.failure != UpstreamFailure::Rejected {
                            // It never reached the server's quota accounting (or we cannot
                            // know): give the reservation back.
                            if let Err(store_err) = self
                                .store()
                                .refund_send(&ctx.session, &ctx.user_id, &ctx.token)
                                .await
                            {
                                tracing::warn!(error = %store_err, "cannot refund a send");
                            } else {
                                report.quota_left =
                                    report.quota_left.map(|left| (left + 1).min(quota));
                            }
                        }
                    }
                    if e.is_session_expired() {
                        self.expire_session(&route.session.name).await;
                    }
                    return finish_with_error(report, e.into());
                }
            }
        }
        Ok(report)
    }
}

fn finish_with_error(mut report: SendReport, e: AppError) -> AppResult<SendReport> {
    if report.sent.is_empty() {
        return Err(e);
    }
    report.success = false;
    report.error = Some(e.to_string());
    Ok(report)
}
