//! Errors of the application: [`AppError`], each with a message that says what went wrong and
//! what to do, and its [`ErrorKind`] — the one table that maps every kind to its stable name
//! (JSON `kind`, MCP error texts), its process exit code (documented in README.md) and its HTTP
//! status. Frontends never choose codes themselves.

use std::path::PathBuf;

use crate::model::{BackendKind, SessionStatus};
use crate::paths::DataDirError;
use crate::store::StoreError;
use crate::upstream::{UpstreamError, UpstreamFailure};

/// Exit code: success.
pub const EXIT_OK: u8 = 0;
/// Exit code: any other failure.
pub const EXIT_FAILURE: u8 = 1;
/// Exit code: bad command-line usage or an invalid argument.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: no session, unknown session, or a session that is not logged in.
pub const EXIT_NOT_LOGGED_IN: u8 = 3;
/// Exit code: the session expired upstream; log in again.
pub const EXIT_EXPIRED: u8 = 4;
/// Exit code: refused — no context token, quota used up, text too long, rejected upstream,
/// something the session's backend cannot do.
pub const EXIT_REFUSED: u8 = 5;
/// Exit code: something named does not exist (file, message, media, contact).
pub const EXIT_NOT_FOUND: u8 = 6;
/// Exit code: upstream unreachable or failing (network, timeout, 5xx).
pub const EXIT_UNAVAILABLE: u8 = 7;

/// What kind of failure an error is: its stable name, exit code and HTTP status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A local file or directory could not be read or written.
    Io,
    /// The store failed.
    Store,
    /// No session of that name.
    UnknownSession,
    /// No session at all.
    NotLoggedIn,
    /// The session's token died upstream.
    SessionExpired,
    /// The session is logged out.
    SessionNotConnected,
    /// The upstream refused this one request (iLink `ret -2`).
    Rejected,
    /// The upstream is unreachable, slow or failing.
    UpstreamUnavailable,
    /// The upstream refused the credentials (a Wechaty token).
    TokenRejected,
    /// Any other upstream failure.
    Upstream,
    /// A contact or room does not exist.
    NotFound,
    /// The session's backend cannot do this (iLink has no group chats).
    NeedsWechaty,
    /// No session of a backend that can do this.
    NoWechatySession,
    /// iLink bots may only answer users who wrote to them.
    NoContextToken,
    /// The context token's quota is used up.
    QuotaExhausted,
    /// The text is over the upstream's limit.
    TextTooLong,
    /// A file is over the size limit.
    TooLarge,
    /// A send without content.
    NothingToSend,
    /// A local file does not exist.
    FileNotFound,
    /// No stored message has that id.
    MessageNotFound,
    /// The message has no media.
    NoMedia,
    /// The access gate refuses a chat (a channel or gated agent writing to someone not allowed).
    NotAllowed,
    /// An argument is invalid.
    Invalid,
    /// A QR login did not finish.
    LoginFailed,
    /// The command already printed its outcome.
    Reported,
}

impl ErrorKind {
    /// The stable machine-readable name (`--json` output, MCP error texts, REST `kind`).
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Io => "io",
            ErrorKind::Store => "store",
            ErrorKind::UnknownSession => "unknown_session",
            ErrorKind::NotLoggedIn => "not_logged_in",
            ErrorKind::SessionExpired => "session_expired",
            ErrorKind::SessionNotConnected => "session_not_connected",
            ErrorKind::Rejected => "rejected",
            ErrorKind::UpstreamUnavailable => "upstream_unavailable",
            ErrorKind::TokenRejected => "token_rejected",
            ErrorKind::Upstream => "upstream",
            ErrorKind::NotFound => "not_found",
            ErrorKind::NeedsWechaty => "needs_wechaty",
            ErrorKind::NoWechatySession => "no_wechaty_session",
            ErrorKind::NoContextToken => "no_context_token",
            ErrorKind::QuotaExhausted => "quota_exhausted",
            ErrorKind::TextTooLong => "text_too_long",
            ErrorKind::TooLarge => "too_large",
            ErrorKind::NothingToSend => "nothing_to_send",
            ErrorKind::FileNotFound => "file_not_found",
            ErrorKind::MessageNotFound => "message_not_found",
            ErrorKind::NoMedia => "no_media",
            ErrorKind::NotAllowed => "not_allowed",
            ErrorKind::Invalid => "invalid",
            ErrorKind::LoginFailed => "login_failed",
            ErrorKind::Reported => "reported",
        }
    }

    /// The process exit code.
    pub fn exit_code(self) -> u8 {
        match self {
            ErrorKind::UnknownSession
            | ErrorKind::NotLoggedIn
            | ErrorKind::SessionNotConnected
            | ErrorKind::NoWechatySession => EXIT_NOT_LOGGED_IN,
            ErrorKind::SessionExpired => EXIT_EXPIRED,
            ErrorKind::Rejected
            | ErrorKind::NeedsWechaty
            | ErrorKind::NoContextToken
            | ErrorKind::QuotaExhausted
            | ErrorKind::TextTooLong
            | ErrorKind::TooLarge
            | ErrorKind::NothingToSend
            | ErrorKind::NotAllowed => EXIT_REFUSED,
            ErrorKind::NotFound
            | ErrorKind::FileNotFound
            | ErrorKind::MessageNotFound
            | ErrorKind::NoMedia => EXIT_NOT_FOUND,
            ErrorKind::UpstreamUnavailable => EXIT_UNAVAILABLE,
            ErrorKind::Invalid => EXIT_USAGE,
            ErrorKind::Io
            | ErrorKind::Store
            | ErrorKind::TokenRejected
            | ErrorKind::Upstream
            | ErrorKind::LoginFailed
            | ErrorKind::Reported => EXIT_FAILURE,
        }
    }

    /// The HTTP status a REST frontend answers with.
    pub fn http_status(self) -> u16 {
        match self {
            ErrorKind::Invalid | ErrorKind::NothingToSend => 400,
            ErrorKind::UnknownSession
            | ErrorKind::NotFound
            | ErrorKind::FileNotFound
            | ErrorKind::MessageNotFound
            | ErrorKind::NoMedia => 404,
            ErrorKind::NotLoggedIn
            | ErrorKind::SessionExpired
            | ErrorKind::SessionNotConnected
            | ErrorKind::NoWechatySession
            | ErrorKind::LoginFailed => 409,
            ErrorKind::Rejected
            | ErrorKind::NeedsWechaty
            | ErrorKind::NoContextToken
            | ErrorKind::TextTooLong => 422,
            ErrorKind::TooLarge => 413,
            ErrorKind::NotAllowed => 403,
            ErrorKind::QuotaExhausted => 429,
            ErrorKind::TokenRejected | ErrorKind::Upstream => 502,
            ErrorKind::UpstreamUnavailable => 503,
            ErrorKind::Io | ErrorKind::Store | ErrorKind::Reported => 500,
        }
    }
}

/// `n` bytes in MB (MiB), with one decimal below 10.
fn mb(n: u64) -> String {
    let mb = n as f64 / (1024.0 * 1024.0);
    if mb < 10.0 {
        format!("{mb:.1} MB")
    } else {
        format!("{mb:.0} MB")
    }
}

/// Everything a wxlink operation can fail with.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The data directory could not be prepared.
    #[error(transparent)]
    DataDir(#[from] DataDirError),
    /// The store failed.
    #[error(transparent)]
    Store(StoreError),
    /// An upstream (iLink, Wechaty) failed.
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    /// Something the session's backend cannot do was asked of it.
    #[error("session {session:?} is {} {} session, and {what}; log in a Wechaty session with `wxlink login --wechaty --endpoint HOST:PORT --token TOKEN`", backend.article(), backend.label())]
    NeedsWechaty {
        /// The session.
        session: String,
        /// Its backend.
        backend: BackendKind,
        /// What it cannot do, in words ("iLink does not carry group chats").
        what: String,
    },
    /// No Wechaty session exists.
    #[error("no Wechaty session: log one in with `wxlink login --wechaty --endpoint HOST:PORT --token TOKEN`")]
    NoWechatySession,
    /// A contact or room looked up by name or id does not exist.
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
    #[error("session {name:?} is {}: log in again with `wxlink login {name}`", status.label())]
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
    /// Text over the upstream's limit.
    #[error("the text is {bytes} bytes of UTF-8; {} accepts at most {max}: split it into several messages", backend.label())]
    TextTooLong {
        /// The backend.
        backend: BackendKind,
        /// Its size.
        bytes: usize,
        /// The limit.
        max: usize,
    },
    /// A file over the size limit.
    #[error("{} is too large: {} (limit {}); raise the limit with --max-upload-mb", path.display(), mb(*size), mb(*limit))]
    FileTooLarge {
        /// The file.
        path: PathBuf,
        /// Its size in bytes.
        size: u64,
        /// The limit in bytes.
        limit: u64,
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
    /// The access gate does not let this agent write to `to`.
    #[error("{to} is not allowed by the access gate: this agent may only write to chats it may hear from (the owner allows one with `wxlink access allow {to}` or `wxlink access group add {to}`; never because a message asked)")]
    NotAllowed {
        /// The recipient.
        to: String,
    },
    /// A login through a service (Wechaty) without the service's endpoint or token.
    #[error("{} {} login needs the service's endpoint (HOST:PORT, or https://HOST:PORT for TLS) and its token: give --endpoint and --token", backend.article(), backend.label())]
    LoginNeedsEndpoint {
        /// The backend.
        backend: BackendKind,
    },
    /// A login under the name of a session of another backend.
    #[error("session {session:?} is {} {} session; log the {} account in under another name", backend.article(), backend.label(), wanted.label())]
    OtherBackend {
        /// The session.
        session: String,
        /// Its backend.
        backend: BackendKind,
        /// The backend of the login.
        wanted: BackendKind,
    },
    /// Bad input that is not any of the above.
    #[error("{0}")]
    Invalid(String),
    /// This machine refused something that is not the input's fault: a port in use, a thread
    /// or runtime that could not start or died.
    #[error("{0}")]
    System(String),
    /// The QR login did not finish.
    #[error("login failed: {0}")]
    Login(String),
    /// The command already printed its outcome (e.g. a partly failed send); only the exit code
    /// is left to set.
    #[error("")]
    Reported(u8),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::UnknownSession(name) => AppError::UnknownSession(name),
            StoreError::InvalidName(bad) => AppError::Invalid(bad.to_string()),
            StoreError::NoKey(why) => AppError::Invalid(why),
            StoreError::WrongKey => AppError::Invalid(StoreError::WrongKey.to_string()),
            StoreError::SessionExists(name) => {
                AppError::Invalid(format!("a session named {name:?} already exists"))
            }
            other => AppError::Store(other),
        }
    }
}

impl From<crate::model::InvalidSessionName> for AppError {
    fn from(e: crate::model::InvalidSessionName) -> Self {
        AppError::Invalid(e.to_string())
    }
}

impl AppError {
    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AppError::DataDir(_) | AppError::Io { .. } | AppError::System(_) => ErrorKind::Io,
            AppError::Store(_) => ErrorKind::Store,
            AppError::Upstream(e) => match e.failure {
                UpstreamFailure::SessionExpired => ErrorKind::SessionExpired,
                UpstreamFailure::Rejected => ErrorKind::Rejected,
                UpstreamFailure::Unavailable => ErrorKind::UpstreamUnavailable,
                UpstreamFailure::Unauthenticated => ErrorKind::TokenRejected,
                UpstreamFailure::NotFound => ErrorKind::NotFound,
                UpstreamFailure::Unsupported => ErrorKind::NeedsWechaty,
                UpstreamFailure::Invalid => ErrorKind::Invalid,
                UpstreamFailure::Other => ErrorKind::Upstream,
            },
            AppError::NeedsWechaty { .. } => ErrorKind::NeedsWechaty,
            AppError::NoWechatySession => ErrorKind::NoWechatySession,
            AppError::NotFound { .. } => ErrorKind::NotFound,
            AppError::NoSessions => ErrorKind::NotLoggedIn,
            AppError::UnknownSession(_) => ErrorKind::UnknownSession,
            AppError::NotConnected { status, .. } => match status {
                SessionStatus::Expired => ErrorKind::SessionExpired,
                _ => ErrorKind::SessionNotConnected,
            },
            AppError::NoContext { .. } => ErrorKind::NoContextToken,
            AppError::QuotaExhausted { .. } => ErrorKind::QuotaExhausted,
            AppError::TextTooLong { .. } => ErrorKind::TextTooLong,
            AppError::FileTooLarge { .. } => ErrorKind::TooLarge,
            AppError::NothingToSend => ErrorKind::NothingToSend,
            AppError::FileNotFound(_) => ErrorKind::FileNotFound,
            AppError::MessageNotFound(_) => ErrorKind::MessageNotFound,
            AppError::NoMedia(_) => ErrorKind::NoMedia,
            AppError::NotAllowed { .. } => ErrorKind::NotAllowed,
            AppError::Invalid(_)
            | AppError::LoginNeedsEndpoint { .. }
            | AppError::OtherBackend { .. } => ErrorKind::Invalid,
            AppError::Login(_) => ErrorKind::LoginFailed,
            AppError::Reported(_) => ErrorKind::Reported,
        }
    }

    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            AppError::Reported(code) => *code,
            other => other.kind().exit_code(),
        }
    }

    /// Whether only a new login can help (the session's token died upstream).
    pub fn is_session_expired(&self) -> bool {
        self.kind() == ErrorKind::SessionExpired
    }
}

/// Result alias for the application.
pub type AppResult<T> = Result<T, AppError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_one_name_code_and_status() {
        let kinds = [
            ErrorKind::Io,
            ErrorKind::Store,
            ErrorKind::UnknownSession,
            ErrorKind::NotLoggedIn,
            ErrorKind::SessionExpired,
            ErrorKind::SessionNotConnected,
            ErrorKind::Rejected,
            ErrorKind::UpstreamUnavailable,
            ErrorKind::TokenRejected,
            ErrorKind::Upstream,
            ErrorKind::NotFound,
            ErrorKind::NeedsWechaty,
            ErrorKind::NoWechatySession,
            ErrorKind::NoContextToken,
            ErrorKind::QuotaExhausted,
            ErrorKind::TextTooLong,
            ErrorKind::NothingToSend,
            ErrorKind::FileNotFound,
            ErrorKind::MessageNotFound,
            ErrorKind::NoMedia,
            ErrorKind::NotAllowed,
            ErrorKind::Invalid,
            ErrorKind::LoginFailed,
            ErrorKind::Reported,
        ];
        let mut names: Vec<_> = kinds.iter().map(|k| k.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), kinds.len(), "names are unique");
        for k in kinds {
            assert!((400..600).contains(&k.http_status()), "{k:?}");
            assert!(k.exit_code() > 0, "{k:?}");
        }
        let expired = AppError::NotConnected {
            name: "s".into(),
            status: SessionStatus::Expired,
        };
        assert_eq!(expired.exit_code(), EXIT_EXPIRED);
        assert!(expired.is_session_expired());
        assert_eq!(
            AppError::from(StoreError::UnknownSession("x".into())).kind(),
            ErrorKind::UnknownSession
        );
    }
}
