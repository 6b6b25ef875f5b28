//! Errors of the application, each with a message that says what went wrong and what to do,
//! and an exit code scripts can branch on (documented in README.md).

use std::path::PathBuf;

use crate::paths::DataDirError;
use crate::store::{SessionStatus, StoreError};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad command-line usage (clap's own).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: no session, unknown session, or a session that is not logged in.
pub const EXIT_NOT_LOGGED_IN: u8 = 3;
/// Exit code: the session expired upstream; log in again.
pub const EXIT_EXPIRED: u8 = 4;
/// Exit code: refused — no context token, quota used up, text too long, rejected upstream.
pub const EXIT_REFUSED: u8 = 5;
/// Exit code: something named does not exist (file, message, media).
pub const EXIT_NOT_FOUND: u8 = 6;
/// Exit code: upstream unreachable or failing (network, timeout, 5xx).
pub const EXIT_UNAVAILABLE: u8 = 7;

/// Everything a wxlink command can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The data directory could not be prepared.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// iLink failed.
    #[error(transparent)]
    Upstream(#[from] ilink::Error),
    /// The Wechaty Puppet Service failed.
    #[error("wechaty: {0}")]
    Wechaty(#[from] wechaty::Error),
    /// Something only the Wechaty backend can do was asked of an iLink session.
    #[error("session {session:?} is an iLink session, and {what}; log in a Wechaty session with `wxlink login --wechaty --endpoint HOST:PORT --token TOKEN`")]
    NeedsWechaty {
        /// The session.
        session: String,
        /// What iLink cannot do, in words ("iLink does not carry group chats").
        what: String,
    },
    /// No Wechaty session exists.
    #[error("no Wechaty session: log one in with `wxlink login --wechaty --endpoint HOST:PORT --token TOKEN`")]
    NoWechatySession,
    /// A contact or room looked up by name does not exist.
    #[error("no {what} matches {name:?}")]
    NotFound {
        /// `contact` or `room`.
        what: &'static str,
        /// The name or id looked up.
        name: String,
    },
    /// No session exists at all.
    #[error("no WeChat session yet: log in first with `wxlink login`")]
    NoSessions,
    /// The named session does not exist.
    #[error("no session named {0:?}: see `wxlink sessions` for the names")]
    UnknownSession(String),
    /// The session is not usable.
    #[error("session {name:?} is {}: log in again with `wxlink login {name}`", status.as_str().replace('_', " "))]
    NotConnected {
        /// Session.
        name: String,
        /// Its status.
        status: SessionStatus,
    },
    /// iLink lets a bot write only to users who wrote to it.
    #[error("{user} has not written to {} yet, so there is no context token to reply with; iLink bots can only answer users who messaged them first", session.as_deref().map(|s| format!("session {s:?}")).unwrap_or_else(|| "any logged-in session".into()))]
    NoContext {
        /// The recipient.
        user: String,
        /// The session asked for, if any.
        session: Option<String>,
    },
    /// The context token's quota would be exceeded.
    #[error("only {left} of {quota} messages are left on {user}'s context token in session {session:?} and this send needs {needed}; the quota resets when the user writes again")]
    QuotaExhausted {
        /// The recipient.
        user: String,
        /// The session.
        session: String,
        /// Sends left.
        left: u32,
        /// The quota.
        quota: u32,
        /// Sends this request needs.
        needed: u32,
    },
    /// Text over the protocol's limit.
    #[error("the text is {bytes} bytes of UTF-8; iLink accepts at most {max}: split it into several messages")]
    TextTooLong {
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// `send` without any content.
    #[error("nothing to send: give --text, --image, --file, --video or --voice")]
    NothingToSend,
    /// A local file does not exist.
    #[error("file not found: {}", .0.display())]
    FileNotFound(PathBuf),
    /// A local file could not be read or written.
    #[error("cannot access {}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// No stored message has that id.
    #[error("no stored message with id {0}: ids come from `wxlink recv` or `wxlink history`")]
    MessageNotFound(String),
    /// The message carries no media.
    #[error("message {0} has no image, voice, file or video to download")]
    NoMedia(String),
    /// Bad input that is not any of the above.
    #[error("{0}")]
    Invalid(String),
    /// The QR login did not finish.
    #[error("login failed: {0}")]
    Login(String),
    /// The command already printed its outcome (e.g. a partly failed send); only the exit code
    /// is left to set.
    #[error("")]
    Reported(u8),
}

impl AppError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Reported(code) => *code,
            AppError::NoSessions | AppError::UnknownSession(_) => EXIT_NOT_LOGGED_IN,
            AppError::NotConnected { status, .. } => match status {
                SessionStatus::Expired => EXIT_EXPIRED,
                _ => EXIT_NOT_LOGGED_IN,
            },
            AppError::Store(StoreError::UnknownSession(_)) => EXIT_NOT_LOGGED_IN,
            AppError::NoContext { .. }
            | AppError::QuotaExhausted { .. }
            | AppError::TextTooLong { .. }
            | AppError::NothingToSend => EXIT_REFUSED,
            AppError::FileNotFound(_) | AppError::MessageNotFound(_) | AppError::NoMedia(_) => {
                EXIT_NOT_FOUND
            }
            AppError::Upstream(e) if e.is_session_expired() => EXIT_EXPIRED,
            AppError::Upstream(ilink::Error::Rejected { .. }) => EXIT_REFUSED,
            AppError::Upstream(e) if e.is_transient() => EXIT_UNAVAILABLE,
            AppError::NoWechatySession => EXIT_NOT_LOGGED_IN,
            AppError::NeedsWechaty { .. } => EXIT_REFUSED,
            AppError::NotFound { .. } | AppError::Wechaty(wechaty::Error::NotFound { .. }) => {
                EXIT_NOT_FOUND
            }
            AppError::Wechaty(e) if e.is_transient() => EXIT_UNAVAILABLE,
            _ => EXIT_FAILURE,
        }
    }

    /// A short machine-readable name for JSON output.
    pub fn kind(&self) -> &'static str {
        match self {
            AppError::DataDir(_) | AppError::Io { .. } => "io",
            AppError::Store(StoreError::UnknownSession(_)) | AppError::UnknownSession(_) => {
                "unknown_session"
            }
            AppError::Store(_) => "store",
            AppError::Upstream(e) if e.is_session_expired() => "session_expired",
            AppError::Upstream(ilink::Error::Rejected { .. }) => "rejected",
            AppError::Upstream(e) if e.is_transient() => "upstream_unavailable",
            AppError::Upstream(_) => "upstream",
            AppError::Wechaty(wechaty::Error::NotFound { .. }) | AppError::NotFound { .. } => {
                "not_found"
            }
            AppError::Wechaty(wechaty::Error::Unauthenticated { .. }) => "token_rejected",
            AppError::Wechaty(e) if e.is_transient() => "upstream_unavailable",
            AppError::Wechaty(_) => "upstream",
            AppError::NeedsWechaty { .. } => "needs_wechaty",
            AppError::NoWechatySession => "no_wechaty_session",
            AppError::NoSessions => "not_logged_in",
            AppError::NotConnected { .. } => "session_not_connected",
            AppError::NoContext { .. } => "no_context_token",
            AppError::QuotaExhausted { .. } => "quota_exhausted",
            AppError::TextTooLong { .. } => "text_too_long",
            AppError::NothingToSend => "nothing_to_send",
            AppError::FileNotFound(_) => "file_not_found",
            AppError::MessageNotFound(_) => "message_not_found",
            AppError::NoMedia(_) => "no_media",
            AppError::Invalid(_) => "invalid",
            AppError::Login(_) => "login_failed",
            AppError::Reported(_) => "reported",
        }
    }
}

/// Result alias for the application.
pub type AppResult<T> = Result<T, AppError>;
