//! The seam between wxlink and the services it speaks to upstream: the [`Upstream`] trait, one
//! implementation per backend — [`ilink`] (WeChat's iLink Bot API) and [`wechaty`] (a Wechaty
//! Puppet Service) — and the backend-neutral types they exchange with the service layer.
//!
//! An upstream knows its protocol and nothing else: how to log an account in ([`LoginFlow`]),
//! how to keep receiving (a listener that hands normalized messages to a [`Sink`]), how to send
//! one item, fetch media, show "typing…", and look contacts and rooms up. It never decides which
//! session a message goes through, never touches the store directly, and never words anything
//! for a frontend: those are the service layer's rules. Adding a backend means a folder here, a
//! [`BackendKind`] variant and its registration in `Upstreams`; no frontend changes.

pub mod ilink;
pub mod wechaty;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use tokio::sync::watch;

use crate::model::{BackendKind, Secret};
use crate::store::{
    ContextRecord, LoginRecord, NewMessage, SessionRecord, StoreResult, StoredMessage,
};

pub use ::ilink::Progress;

use crate::transfer::TransferObserver;

/// How an upstream call failed, as far as the service's rules care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpstreamFailure {
    /// The session's credentials died; only a new login helps.
    SessionExpired,
    /// This one request was refused (and must not be retried with the same token).
    Rejected,
    /// Unreachable, slow, overloaded: worth retrying later.
    Unavailable,
    /// The credentials were refused (a wrong Wechaty token).
    Unauthenticated,
    /// What was asked for does not exist upstream.
    NotFound,
    /// This backend cannot do that.
    Unsupported,
    /// The request cannot be carried by the protocol.
    Invalid,
    /// Anything else.
    Other,
}

/// An upstream failure: which backend, its classification, and the backend's own error.
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct UpstreamError {
    /// The backend that failed.
    pub backend: BackendKind,
    /// How it failed.
    pub failure: UpstreamFailure,
    /// The message (the backend's error text).
    pub message: String,
    /// The backend's error, when there is one.
    #[source]
    pub source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl UpstreamError {
    /// A failure without an underlying error.
    pub fn new(backend: BackendKind, failure: UpstreamFailure, message: impl Into<String>) -> Self {
        UpstreamError {
            backend,
            failure,
            message: message.into(),
            source: None,
        }
    }

    /// "This backend cannot do `what`".
    pub fn unsupported(backend: BackendKind, what: &str) -> Self {
        Self::new(
            backend,
            UpstreamFailure::Unsupported,
            format!("{} sessions cannot {what}", backend.label()),
        )
    }

    /// A session without the credentials to reach its account: only a new login can help.
    pub fn no_credentials(backend: BackendKind, session: &SessionRecord) -> Self {
        Self::new(
            backend,
            UpstreamFailure::SessionExpired,
            format!("session {:?} has no credentials", session.name),
        )
    }

    /// Whether only a new login can help.
    pub fn is_session_expired(&self) -> bool {
        self.failure == UpstreamFailure::SessionExpired
    }

    /// Whether a retry later may succeed.
    pub fn is_transient(&self) -> bool {
        self.failure == UpstreamFailure::Unavailable
    }
}

/// Result alias for upstream calls.
pub type UpResult<T> = Result<T, UpstreamError>;

/// What a backend can do; the service's rules ask this instead of naming backends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// A bot may only write to users who wrote to it, with the context token their message
    /// carried (iLink).
    pub needs_context: bool,
    /// Sends allowed per context token, when there is such a quota.
    pub reply_quota: Option<u32>,
    /// Largest text one message may carry, in UTF-8 bytes.
    pub max_text_bytes: Option<usize>,
    /// Contacts by name and rooms by topic can be looked up.
    pub directory: bool,
    /// Group chats are carried.
    pub groups: bool,
    /// "typing…" can be shown.
    pub typing: bool,
    /// Logging in needs an endpoint and a token (a service to connect to).
    pub login_needs_endpoint: bool,
    /// Largest file one message may carry, in bytes.
    pub max_file_bytes: Option<u64>,
    /// The upstream serves one listener per account at a time: a re-login must first retire
    /// the session whose listener holds it.
    pub exclusive_listener: bool,
}

/// Everything a login needs besides the backend.
#[derive(Debug, Clone)]
pub struct LoginParams {
    /// Tokens this installation already holds, newest first (iLink answers "already bound").
    pub local_tokens: Vec<Secret<String>>,
    /// The service to log in through (Wechaty).
    pub endpoint: Option<String>,
    /// Its token (Wechaty).
    pub token: Option<Secret<String>>,
    /// How long the whole login may take.
    pub deadline: Duration,
}

/// Why a QR code was replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrRenewal {
    /// The old one expired.
    Expired,
    /// Too many wrong verification codes.
    VerifyCodeBlocked,
}

/// What a login reports as it goes.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginEvent {
    /// Nothing new.
    Waiting,
    /// A QR code to show (the first, or one replacing an older one).
    Qr {
        /// Its content (a URL or a text the phone scans).
        content: String,
        /// Why it replaced the last one; `None` for a first code.
        renewal: Option<QrRenewal>,
    },
    /// Scanned; waiting for the phone to confirm.
    Scanned,
    /// The phone shows a number to type in ([`LoginFlow::submit_verify_code`]); `wrong` when
    /// the last one was refused.
    NeedVerifyCode {
        /// The last code was wrong.
        wrong: bool,
    },
    /// Logged in: the credentials to save.
    Confirmed(LoginRecord),
    /// This WeChat account is already bound to this installation; nothing changes.
    AlreadyBound,
}

/// A login in progress, driven by the service one event at a time.
#[async_trait]
pub trait LoginFlow: Send {
    /// Waits for the next event. Cancel-safe: dropping the future loses nothing.
    async fn next(&mut self) -> UpResult<LoginEvent>;
    /// Supplies the number the phone shows; the next [`LoginFlow::next`] sends it.
    fn submit_verify_code(&mut self, code: &str);
    /// Releases what the flow holds (an event stream).
    async fn close(self: Box<Self>) {}
}

/// What kind of file an outgoing attachment is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileKind {
    /// A picture.
    Image,
    /// A voice message.
    Voice,
    /// Any file.
    File,
    /// A video.
    Video,
}

impl FileKind {
    /// `image`, `voice`, `file`, `video`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Image => "image",
            FileKind::Voice => "voice",
            FileKind::File => "file",
            FileKind::Video => "video",
        }
    }

    /// Image for a picture's extension (png, jpg, jpeg, gif, webp, bmp), else file.
    pub fn guess(name: &str) -> FileKind {
        let lower = name.to_ascii_lowercase();
        let image = [".png", ".jpg", ".jpeg", ".gif", ".webp", ".bmp"]
            .iter()
            .any(|ext| lower.ends_with(ext));
        if image {
            FileKind::Image
        } else {
            FileKind::File
        }
    }
}

/// A local file to send, opened and checked by the service: a regular file of a known size
/// within the backend's limit. Backends read it in pieces (positioned reads on the shared
/// handle, on blocking threads), so it is never whole in memory unless a backend needs that.
#[derive(Debug, Clone)]
pub struct LocalFile {
    /// Where it was opened.
    pub path: PathBuf,
    /// The open file.
    pub file: Arc<std::fs::File>,
    /// Its size when opened: what is sent.
    pub size: u64,
}

impl LocalFile {
    /// The whole content, read on a blocking thread (for backends that send small files in
    /// one message).
    pub async fn read_all(&self) -> std::io::Result<Vec<u8>> {
        let (file, size) = (self.file.clone(), self.size);
        tokio::task::spawn_blocking(move || {
            let len = usize::try_from(size).map_err(std::io::Error::other)?;
            let mut data = vec![0u8; len];
            ::ilink::plaintext::read_exact_at(&file, &mut data, 0)?;
            Ok(data)
        })
        .await
        .map_err(std::io::Error::other)?
    }

    /// The content in pieces of at most `piece` bytes, read on a blocking thread a few pieces
    /// ahead of the consumer; and how the reading ended, to check once the stream is done (a
    /// stream of bytes cannot carry a read error: a short stream means look there).
    pub fn pieces(
        &self,
        piece: usize,
    ) -> (
        impl futures_util::Stream<Item = Vec<u8>> + Send + 'static,
        tokio::sync::oneshot::Receiver<std::io::Result<()>>,
    ) {
        let (tx, rx) = tokio::sync::mpsc::channel::<Vec<u8>>(4);
        let (done_tx, done) = tokio::sync::oneshot::channel();
        let (file, size) = (self.file.clone(), self.size);
        tokio::task::spawn_blocking(move || {
            let mut offset = 0u64;
            let outcome = loop {
                if offset >= size {
                    break Ok(());
                }
                let n = usize::try_from(size - offset).map_or(piece, |left| left.min(piece));
                let mut buf = vec![0u8; n];
                let read = ::ilink::plaintext::read_exact_at(&file, &mut buf, offset);
                if let Err(e) = read {
                    break Err(e);
                }
                if tx.blocking_send(buf).is_err() {
                    break Err(std::io::Error::other("the upload stopped reading"));
                }
                offset += n as u64;
            };
            let _ = done_tx.send(outcome);
        });
        (tokio_stream::wrappers::ReceiverStream::new(rx), done)
    }
}

/// One item of an outgoing message.
#[derive(Debug, Clone)]
pub enum OutItem {
    /// A text.
    Text(String),
    /// A local file.
    File {
        /// How it is sent.
        kind: FileKind,
        /// The name the recipient sees.
        name: String,
        /// The file, open.
        file: LocalFile,
    },
}

/// Where one item goes: the session, the conversation, and (iLink) the context token.
#[derive(Debug, Clone, Copy)]
pub struct SendTarget<'a> {
    /// The session sending.
    pub session: &'a SessionRecord,
    /// The user, contact or room.
    pub to: &'a str,
    /// The context token to reply with (backends that need one).
    pub context: Option<&'a ContextRecord>,
}

/// What one send produced: the row to record (sent or failed) and the outcome.
#[derive(Debug)]
pub struct SendOutcome {
    /// The outbound message as the store keeps it.
    pub record: NewMessage,
    /// The upstream message id on success.
    pub result: UpResult<Option<String>>,
}

/// One media file of a stored message, fetched.
#[derive(Debug, Clone)]
pub struct MediaFile {
    /// `image`, `voice`, `file`, `video` (or the backend's own kind).
    pub kind: String,
    /// The name to save it under (not yet sanitized).
    pub name: String,
    /// The content.
    pub data: Vec<u8>,
}

/// Where an upstream listener delivers what it receives: the service's side of the seam.
#[async_trait]
pub trait Sink: Send + Sync {
    /// The session's stored upstream cursor (`""` when none).
    async fn cursor(&self) -> StoreResult<String>;
    /// Stores a batch and the new cursor in one transaction and wakes readers; returns the ids
    /// of the rows inserted (duplicates are skipped). With `from` (the cursor the batch was
    /// fetched with), only while the stored cursor is still that one, else
    /// [`crate::store::StoreError::CursorMoved`] ([`crate::store::Store::ingest_from`]).
    async fn store(
        &self,
        batch: Vec<NewMessage>,
        from: Option<String>,
        cursor: String,
    ) -> StoreResult<Vec<i64>>;
    /// Whether batches are stored in the order their [`Sink::store`] futures were first
    /// polled, so that a listener may hand over the next before the one ahead has committed
    /// ([`crate::store::Store::ingests_in_order`]).
    fn stores_in_order(&self) -> bool;
    /// Whether the session still exists, is connected, and has the credentials the listener
    /// started with. Cheap to ask after every batch: the answer may be up to a second old.
    async fn still_wanted(&self) -> bool;
    /// The session's credentials died upstream: mark it expired.
    async fn expired(&self);
    /// Receiving keeps failing (`Some(why)`: the session is degraded), or works again
    /// (`None`). Called on each change only.
    async fn problem(&self, problem: Option<String>);
}

/// Stops a listener: `true` once the process shuts down.
pub type Shutdown = watch::Receiver<bool>;

/// Waits `d` or until shutdown; true when shutting down.
pub async fn pause(d: std::time::Duration, shutdown: &mut Shutdown) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = shutdown.changed() => true,
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
    }
}

/// A contact of a session with an address book.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Contact {
    /// Its id (what sends take).
    pub id: String,
    /// The nickname.
    pub name: String,
    /// The remark (备注) the bot's account gave them.
    pub alias: Option<String>,
    /// `personal`, `official`, `corporation` or `unknown`.
    pub kind: &'static str,
    /// Whether they are the bot's friend.
    pub friend: bool,
}

/// A group chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// Its id (what sends take).
    pub id: String,
    /// Its topic (name).
    pub topic: String,
    /// How many members it has.
    pub members: usize,
    /// Who owns it, when known.
    pub owner_id: Option<String>,
}

/// A member of a group chat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The member's contact id.
    pub id: String,
    /// Their nickname.
    pub name: String,
    /// The name they use in this room.
    pub room_alias: Option<String>,
    /// Who invited them.
    pub inviter_id: Option<String>,
}

/// How names are compared in lookups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matching {
    /// The whole name, exactly (what Wechaty-MCP-SSE did).
    #[default]
    Exact,
    /// Case-insensitive substring.
    Fuzzy,
}

impl Matching {
    /// `Fuzzy` when `fuzzy`, else `Exact`.
    pub fn fuzzy(fuzzy: bool) -> Self {
        if fuzzy {
            Matching::Fuzzy
        } else {
            Matching::Exact
        }
    }
}

/// A backend.
#[async_trait]
pub trait Upstream: Send + Sync + fmt::Debug {
    /// Which backend this is.
    fn kind(&self) -> BackendKind;
    /// What it can do.
    fn capabilities(&self) -> Capabilities;
    /// The session name a login takes when none is given and no session of this backend exists.
    fn default_session_name(&self) -> &'static str;
    /// Whether an id is one only this backend uses (iLink user ids end in `@im.wechat`).
    fn owns_id(&self, _id: &str) -> bool {
        false
    }
    /// The name of the cross-process lock a listener of `session` holds (one listener per
    /// account); `None` before a login.
    fn listener_lock(&self, session: &SessionRecord) -> Option<String>;

    /// Starts a login (fetching the first QR code, or connecting to the service).
    async fn begin_login(&self, params: &LoginParams) -> UpResult<Box<dyn LoginFlow>>;
    /// Receives for `session` until `shutdown`, until the session is no longer wanted, or until
    /// its credentials die, storing everything through `sink`.
    async fn listen(&self, session: SessionRecord, sink: Arc<dyn Sink>, shutdown: Shutdown);
    /// Sends one item, as `client_id` where the protocol carries one (the id the service
    /// recorded the send under before it left).
    async fn send(
        &self,
        target: SendTarget<'_>,
        item: &OutItem,
        client_id: &str,
        progress: &Progress,
    ) -> SendOutcome;
    /// Fetches the media of a stored message of `session`; empty when it has none.
    async fn download(
        &self,
        session: &SessionRecord,
        message: &StoredMessage,
        observer: &dyn TransferObserver,
    ) -> UpResult<Vec<MediaFile>>;
    /// Shows (`on`) or cancels "typing…".
    async fn typing(&self, target: SendTarget<'_>, _on: bool) -> UpResult<()> {
        Err(UpstreamError::unsupported(
            self.kind(),
            &format!("show typing (session {:?})", target.session.name),
        ))
    }

    /// Contacts whose nickname or remark matches `name`.
    async fn find_contacts(
        &self,
        _session: &SessionRecord,
        _name: &str,
        _matching: Matching,
    ) -> UpResult<Vec<Contact>> {
        Err(UpstreamError::unsupported(self.kind(), "look contacts up"))
    }
    /// Rooms whose topic matches `topic`.
    async fn find_rooms(
        &self,
        _session: &SessionRecord,
        _topic: &str,
        _matching: Matching,
    ) -> UpResult<Vec<Room>> {
        Err(UpstreamError::unsupported(
            self.kind(),
            "look group chats up",
        ))
    }
    /// A contact by id ([`UpstreamFailure::NotFound`] when there is none).
    async fn contact(&self, _session: &SessionRecord, _id: &str) -> UpResult<Contact> {
        Err(UpstreamError::unsupported(self.kind(), "look contacts up"))
    }
    /// A room by id ([`UpstreamFailure::NotFound`] when there is none).
    async fn room(&self, _session: &SessionRecord, _id: &str) -> UpResult<Room> {
        Err(UpstreamError::unsupported(
            self.kind(),
            "look group chats up",
        ))
    }
    /// The members of a room.
    async fn room_members(
        &self,
        _session: &SessionRecord,
        _room_id: &str,
    ) -> UpResult<Vec<RoomMember>> {
        Err(UpstreamError::unsupported(
            self.kind(),
            "list group members",
        ))
    }
    /// How many contacts and rooms the session's address book holds.
    async fn directory_size(&self, _session: &SessionRecord) -> UpResult<(usize, usize)> {
        Err(UpstreamError::unsupported(self.kind(), "count contacts"))
    }
}

/// How to reach the upstreams (hosts and policies; the real ones when `None`).
#[derive(Debug, Clone, Default)]
pub struct UpstreamOptions {
    /// iLink API and QR base (`--ilink-base`).
    pub ilink_base: Option<url::Url>,
    /// iLink CDN base (`--cdn-base`).
    pub cdn_base: Option<url::Url>,
    /// Poll backoff; the protocol's when `None`.
    pub backoff: Option<::ilink::BackoffPolicy>,
    /// Largest file sent (`--max-upload-mb`); [`DEFAULT_MAX_UPLOAD_BYTES`] when `None`.
    pub max_upload_bytes: Option<u64>,
}

/// Largest file sent unless configured otherwise: 100 MiB, as large as WeChat's bot CDN is
/// known to take and what iLink downloads are limited to.
pub const DEFAULT_MAX_UPLOAD_BYTES: u64 = 100 * 1024 * 1024;

/// Every backend this build speaks, by kind.
#[derive(Debug, Clone)]
pub struct Upstreams {
    ilink: Arc<dyn Upstream>,
    wechaty: Arc<dyn Upstream>,
}

impl Upstreams {
    /// The backends, configured. Builds nothing that touches the network.
    pub fn new(options: &UpstreamOptions) -> Self {
        Upstreams {
            ilink: Arc::new(ilink::IlinkUpstream::new(options)),
            wechaty: Arc::new(wechaty::WechatyUpstream::new(options)),
        }
    }

    /// The backend of `kind`.
    pub fn get(&self, kind: BackendKind) -> &Arc<dyn Upstream> {
        match kind {
            BackendKind::Ilink => &self.ilink,
            BackendKind::Wechaty => &self.wechaty,
        }
    }

    /// Every backend, in [`BackendKind::ALL`] order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<dyn Upstream>> {
        BackendKind::ALL.into_iter().map(|k| self.get(k))
    }
}
