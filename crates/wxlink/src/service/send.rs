//! Sending: check everything that can be checked locally before anything goes out (the text's
//! size, every file a regular file within the backend's size limit, the quota), route the
//! message, then send one item per request — text first, then images, voices, files, videos —
//! recording each in the store, sent or failed.
//!
//! Files are opened without blocking (a FIFO's open would wait for a writer), checked on the
//! open handle (so a path swapped after the check changes nothing), and never read here: the
//! backend streams them.
//!
//! Each item is recorded as `pending` before it leaves, together with its quota reservation
//! (backends with one, iLink: 10 replies per message the user sends), in one transaction; then
//! finished as `sent` or `failed`. A process killed in flight leaves its sends `pending`;
//! [`Service::settle_pending`] marks them `unknown` at the next start — shown, never sent again,
//! still counted against the quota. The whole send must fit in what is left, so two processes
//! never overspend a token. A send that never reached the server is refunded; one the server
//! refused is not. There is no waiting before a send: pollers keep tokens fresh.
//!
//! A failure of the first item is an error; a failure after it stops the rest and is reported
//! in [`SendReport::error`] next to what did go out.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::Serialize;
use serde_json::json;

use crate::error::{AppError, AppResult};
use crate::service::route::Route;
use crate::service::Event;
use crate::service::Service;
use crate::store::{Direction, MessageStatus, NewMessage, Reservation};
use crate::timefmt::now_ms;
use crate::transfer::TransferObserver;
use crate::upstream::{FileKind, LocalFile, OutItem, SendTarget, UpstreamFailure};

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
    /// Who is sending: an agent may be held to the access gate.
    pub by: SentBy,
}

/// Who asks for a send, which decides whether the access gate applies
/// ([`Service::check_sender`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SentBy {
    /// The owner (the CLI, the REST API, the admin panel): never gated.
    #[default]
    Owner,
    /// An MCP client: gated when the owner turned the gate on for `recv` too.
    Agent,
    /// An agent fed by push (the Claude Code channel): always gated.
    Channel,
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

    /// Sent by `by`.
    pub fn by(mut self, by: SentBy) -> Self {
        self.by = by;
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

/// What a path names when it is not a regular file.
fn file_type_name(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() || t.is_block_device() {
            return "a device";
        }
    }
    if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// Opens a file to send, on a blocking thread and without blocking on it: it must exist and
/// be a regular file (a FIFO, device, directory or socket is refused before anything reads it).
async fn open_file(path: &Path) -> AppResult<LocalFile> {
    let owned = path.to_path_buf();
    tokio::task::spawn_blocking(move || open_checked(&owned))
        .await
        .map_err(|e| AppError::System(format!("opening a file: {e}")))?
}

/// Refuses the first file over `limit` bytes (the backend's).
fn check_sizes(items: &[OutItem], limit: Option<u64>) -> AppResult<()> {
    let Some(limit) = limit else { return Ok(()) };
    for item in items {
        if let OutItem::File { file, .. } = item {
            if file.size > limit {
                return Err(AppError::FileTooLarge {
                    path: file.path.clone(),
                    size: file.size,
                    limit,
                });
            }
        }
    }
    Ok(())
}

fn open_checked(path: &Path) -> AppResult<LocalFile> {
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
    let not_regular = |t: std::fs::FileType| {
        AppError::Invalid(format!(
            "{} is {}: only regular files can be sent",
            path.display(),
            file_type_name(t)
        ))
    };
    // `stat` first: it names what the path is without opening it (opening a socket fails).
    let meta = std::fs::metadata(path).map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    let mut options = std::fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        // Non-blocking: if the path became a FIFO since the `stat`, opening it returns at once.
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(io)?;
    let meta = file.metadata().map_err(io)?;
    if !meta.is_file() {
        return Err(not_regular(meta.file_type()));
    }
    Ok(LocalFile {
        path: path.to_path_buf(),
        file: Arc::new(file),
        size: meta.len(),
    })
}

/// The items of a request, checked and opened.
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
            let file = open_file(&a.path).await?;
            let name = a
                .name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| display_name(&a.path));
            items.push(OutItem::File { kind, name, file });
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
        self.check_sender(req.by, &req.to).await?;
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
        check_sizes(&items, caps.max_file_bytes)?;
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
            // Recorded (and its quota reserved) before it leaves, so that a crash in flight
            // leaves a row behind: `pending`, later `unknown`, never lost or sent twice.
            let client_id = ::ilink::new_client_id();
            let reservation = quota.map(|(quota, ctx)| Reservation {
                token: ctx.token.clone(),
                quota,
            });
            let row = pending_row(&route, &item, &client_id);
            let id = match self.store().begin_send(row, reservation).await {
                Ok(Some(id)) => id,
                Ok(None) => {
                    // Another process used the quota, or the user wrote again (a new token).
                    let e = AppError::QuotaExhausted {
                        user: route.to.clone(),
                        session: route.session.name.clone(),
                        left: 0,
                        quota: quota.map_or(0, |(q, _)| q),
                        needed: 1,
                    };
                    return finish_with_error(report, e);
                }
                Err(e) => return finish_with_error(report, e.into()),
            };
            self.emit(Event::Outbound {
                session: route.session.name.clone(),
                id,
            });
            report.quota_left = report.quota_left.map(|left| left.saturating_sub(1));
            let progress = match &item {
                OutItem::Text(_) => crate::upstream::Progress::none(),
                OutItem::File { name, .. } => observer.start(&format!("Uploading {name}")),
            };
            let target = SendTarget {
                session: &route.session,
                to: &route.to,
                context: route.context.as_ref(),
            };
            let outcome = upstream.send(target, &item, &client_id, &progress).await;
            // A send that never reached the server's accounting gives its reservation back;
            // one the server refused does not.
            let refund = quota.is_some()
                && outcome
                    .result
                    .as_ref()
                    .is_err_and(|e| e.failure != UpstreamFailure::Rejected);
            let recorded = self
                .store()
                .finish_send(id, outcome.record.clone(), refund)
                .await;
            if recorded.is_ok() {
                self.emit(Event::MessageStatus {
                    id,
                    status: outcome.record.status,
                    error: outcome.record.error.clone(),
                });
            }
            match outcome.result {
                Ok(message_id) => {
                    let (path, size) = match &item {
                        OutItem::Text(_) => (None, None),
                        OutItem::File { file, .. } => {
                            (Some(file.path.display().to_string()), Some(file.size))
                        }
                    };
                    report.sent.push(SentItem {
                        kind: outcome.record.kind.clone(),
                        id: id.to_string(),
                        message_id,
                        path,
                        size,
                    });
                    if let Err(e) = recorded {
                        // It went out and its row still says `pending`: say so, and stop.
                        return finish_with_error(report, e.into());
                    }
                }
                Err(e) => {
                    match recorded {
                        Err(store_err) => {
                            tracing::warn!(error = %store_err, "cannot record a failed send")
                        }
                        Ok(()) if refund => {
                            let quota = quota.map_or(0, |(q, _)| q);
                            report.quota_left = report.quota_left.map(|l| (l + 1).min(quota));
                        }
                        Ok(()) => {}
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

/// The row a send is recorded as before it leaves (`pending`): what is known before the
/// upstream answers. [`crate::store::Store::finish_send`] replaces it with what went out.
fn pending_row(route: &Route, item: &OutItem, client_id: &str) -> NewMessage {
    let (kind, text, items) = match item {
        OutItem::Text(t) => ("text", t.clone(), json!([{"type": "text", "text": t}])),
        OutItem::File { kind, name, file } => (
            kind.as_str(),
            name.clone(),
            json!([{"type": kind.as_str(), "file_name": name, "size": file.size}]),
        ),
    };
    NewMessage {
        session: route.session.name.clone(),
        direction: Direction::Out,
        upstream_id: None,
        dedupe_key: format!("client:{client_id}"),
        peer: route.to.clone(),
        bot_id: route.session.bot_id.clone(),
        kind: kind.to_string(),
        text: Some(text),
        items: items.into(),
        raw: None,
        context_token: route.context.as_ref().map(|c| c.token.clone()),
        created_at_ms: now_ms(),
        client_id: Some(client_id.to_string()),
        status: MessageStatus::Pending,
        error: None,
        speaker: None,
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

/// How long a send may take at most (the slowest: a large upload with its retries). Sends still
/// `pending` longer than this belonged to a process that died.
pub const SEND_SETTLE_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

impl Service {
    /// Marks sends left `pending` by a process that died (older than [`SEND_SETTLE_AFTER`]) as
    /// `unknown`. Run at start-up; cheap (an index holds only pending sends).
    pub async fn settle_pending(&self) -> AppResult<u64> {
        let before = now_ms() - SEND_SETTLE_AFTER.as_millis() as i64;
        let n = self.store().settle_pending(before).await?;
        if n > 0 {
            tracing::warn!(
                count = n,
                "sends interrupted by a crash are marked unknown: they may or may not have arrived"
            );
        }
        Ok(n)
    }
}
