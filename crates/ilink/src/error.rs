//! Errors of the iLink client, classified as spec §17 says: session expired, rejected, other API
//! error, HTTP status, timeout, transport, undecodable body — each with a message a user can act on.

use crate::crypto::CryptoError;

/// Result alias for this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong talking to iLink and its CDN.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `errcode -14` or `ret -14` on any endpoint: the bot token is stale, or the WeChat account
    /// was bound to another client. Only a new QR login helps.
    #[error("iLink session expired on {endpoint} ({errmsg}): the bot token is no longer valid (it may have been bound to another client); log in again with a new QR code")]
    SessionExpired {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// The server's text.
        errmsg: String,
    },
    /// `ret -2`: the request was refused — usually an exhausted or stale context token (about 10
    /// sends per inbound message), a rate limit, or a missing field. Do not retry with the same token.
    #[error("iLink rejected {endpoint} (ret -2: {}): the user's context token may be used up or stale; wait for the user to write again", display_msg(errmsg))]
    Rejected {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// The server's text.
        errmsg: String,
    },
    /// Any other non-zero `ret` or `errcode`.
    #[error(
        "iLink {endpoint} failed (ret {ret:?}, errcode {errcode:?}: {})",
        display_msg(errmsg)
    )]
    Api {
        /// The endpoint that answered.
        endpoint: &'static str,
        /// `ret`.
        ret: Option<i64>,
        /// `errcode`.
        errcode: Option<i64>,
        /// `errmsg`.
        errmsg: String,
    },
    /// The server answered with a non-2xx HTTP status (gateway trouble; retry with backoff).
    #[error("iLink {endpoint} answered HTTP {status}{}", snippet_suffix(body))]
    HttpStatus {
        /// The endpoint.
        endpoint: &'static str,
        /// The status code.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The request did not complete in time.
    #[error("iLink {endpoint} timed out after {secs:.1} s")]
    Timeout {
        /// The endpoint.
        endpoint: &'static str,
        /// The timeout that ran out.
        secs: f64,
    },
    /// Connecting or transferring failed (refused, reset, DNS, TLS).
    #[error("could not reach iLink {endpoint} at {url}: {source}")]
    Transport {
        /// The endpoint.
        endpoint: &'static str,
        /// The URL tried (no secrets: iLink URLs carry none).
        url: String,
        /// The underlying error.
        #[source]
        source: reqwest::Error,
    },
    /// The body was not the JSON the protocol promises.
    #[error(
        "iLink {endpoint} sent a body that is not valid protocol JSON ({reason}){}",
        snippet_suffix(body)
    )]
    Decode {
        /// The endpoint.
        endpoint: &'static str,
        /// What the parser said.
        reason: String,
        /// The start of the body.
        body: String,
    },
    /// The CDN refused an upload or download (4xx, with `x-error-message` when present).
    #[error(
        "the media CDN refused the {op} (HTTP {status}: {})",
        display_msg(message)
    )]
    Cdn {
        /// `upload` or `download`.
        op: &'static str,
        /// The status code.
        status: u16,
        /// `x-error-message` or the body.
        message: String,
    },
    /// The CDN answered 200 to an upload without the `x-encrypted-param` header, every attempt.
    #[error("the media CDN accepted the upload but returned no download parameter (x-encrypted-param) after {attempts} attempts")]
    CdnMissingParam {
        /// Attempts made.
        attempts: u32,
    },
    /// A media key could not be read, or a download did not decrypt.
    #[error("media crypto: {0}")]
    Crypto(#[from] CryptoError),
    /// QR login did not finish.
    #[error("QR login failed: {0}")]
    Login(String),
    /// The caller passed something the protocol cannot carry.
    #[error("invalid request: {0}")]
    InvalidInput(String),
    /// A file being uploaded could not be read (or changed size while it was).
    #[error("cannot read the file to upload: {0}")]
    ReadFile(#[source] std::io::Error),
}

impl Error {
    /// True for failures worth retrying after a pause: timeouts, transport errors, HTTP 5xx and
    /// undecodable bodies (a proxy's error page, a cut-off body).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Timeout { .. } | Error::Transport { .. } | Error::Decode { .. } => true,
            Error::HttpStatus { status, .. } => *status >= 500 || *status == 429,
            _ => false,
        }
    }

    /// True when only a new login can help.
    pub fn is_session_expired(&self) -> bool {
        matches!(self, Error::SessionExpired { .. })
    }
}

fn display_msg(msg: &str) -> &str {
    if msg.is_empty() {
        "no message"
    } else {
        msg
    }
}

fn snippet_suffix(body: &str) -> String {
    if body.is_empty() {
        String::new()
    } else {
        format!(": {body}")
    }
}

/// The first 200 characters of a body, for error messages.
pub(crate) fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let mut s: String = text.chars().take(200).collect();
    if text.chars().nth(200).is_some() {
        s.push('…');
    }
    s
}
