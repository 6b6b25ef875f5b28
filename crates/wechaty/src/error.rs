//! Errors: the one [`Error`] type of the crate, and its classification of gRPC statuses and
//! transport failures (done once, here, so every call reports the same kinds).

use std::time::Duration;

/// Everything that can go wrong talking to a Wechaty Puppet Service.
///
/// `Clone` so that the event stream can hand the same error to its consumer and keep it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The [`Config`](crate::Config) cannot work (bad endpoint, token not usable as a header,
    /// unreadable CA certificate, ...). Nothing was sent.
    #[error("invalid configuration: {0}")]
    Config(String),

    /// An argument cannot be used (an empty search query, an empty conversation id, ...).
    /// Nothing was sent.
    #[error("invalid argument: {0}")]
    InvalidArgument(String),

    /// The service rejected our token (gRPC `UNAUTHENTICATED` or `PERMISSION_DENIED`). Retrying
    /// with the same token will not help.
    #[error("the puppet service rejected the token: {message}")]
    Unauthenticated {
        /// The service's explanation, e.g. `Invalid Wechaty TOKEN "..."`.
        message: String,
    },

    /// The service could not be reached or went away (connection refused, reset, DNS, gRPC
    /// `UNAVAILABLE`). Usually transient.
    #[error("the puppet service is unavailable: {message}")]
    Unavailable {
        /// What the transport said.
        message: String,
    },

    /// The TLS setup cannot work: an untrusted certificate, the wrong server name, a plaintext
    /// server, an alert from the server. (A handshake merely cut short is
    /// [`Error::Unavailable`].)
    #[error("TLS handshake with the puppet service failed: {message}")]
    Tls {
        /// What rustls said.
        message: String,
    },

    /// The service presents the certificate that ships inside `wechaty-puppet-service`
    /// (CN `insecure`, X.509 **v1**, no subjectAltName). rustls, the only TLS stack of this
    /// client, refuses v1 certificates outright, so this cannot be fixed on the client side.
    #[error(
        "the puppet service uses Wechaty's built-in \"insecure\" TLS certificate (X.509 v1, no \
         subjectAltName), which rustls refuses ({message}). Either run the service without TLS \
         (WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true, on localhost or behind an SSH \
         tunnel / private network) and use plaintext here, or give it a real certificate \
         (WECHATY_PUPPET_SERVICE_TLS_SERVER_CERT / _KEY, X.509 v3 with a subjectAltName) and pass \
         its CA and server name in the TLS configuration"
    )]
    InsecureBuiltinCertificate {
        /// What rustls said.
        message: String,
    },

    /// A call or a transfer did not finish in time.
    #[error("{what} timed out after {after:?}")]
    Timeout {
        /// Which operation.
        what: String,
        /// The limit that was hit.
        after: Duration,
    },

    /// The service does not know this id (gRPC `NOT_FOUND`, or a puppet error saying so).
    #[error("{what} not found: {id} ({message})")]
    NotFound {
        /// The kind of thing: `contact`, `room`, `room member`, `message`, `file`.
        what: &'static str,
        /// The id we asked for.
        id: String,
        /// The service's message.
        message: String,
    },

    /// The service answered something we cannot use (bad JSON in a FileBox, an empty id where
    /// one is required, ...).
    #[error("malformed {what} from the puppet service: {message}")]
    Malformed {
        /// What was being decoded.
        what: String,
        /// Why it does not fit.
        message: String,
    },

    /// An event stream is already open: the service allows one at a time (gRPC
    /// `ALREADY_EXISTS`), and a [`Client`](crate::Client) opens at most one.
    #[error("an event stream is already open: {message}")]
    EventStreamBusy {
        /// Who refused it (this client or the service).
        message: String,
    },

    /// The puppet behind the service failed the call (its exception comes back as gRPC
    /// `UNKNOWN` with the JavaScript message), or another gRPC status we do not classify.
    #[error("{rpc} failed: {code:?}: {message}")]
    Rpc {
        /// The RPC name, e.g. `MessageSendText`.
        rpc: &'static str,
        /// The gRPC status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },

    /// Something this client does not do (e.g. fetching a FileBox of type URL, which needs an
    /// HTTP client: the URL is in the error).
    #[error("unsupported: {0}")]
    Unsupported(String),
}

/// `Result` with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Worth retrying later with the same configuration (the service was down, slow, or busy).
    pub fn is_transient(&self) -> bool {
        match self {
            Error::Unavailable { .. } | Error::Timeout { .. } | Error::EventStreamBusy { .. } => {
                true
            }
            Error::Rpc { code, .. } => matches!(
                code,
                tonic::Code::Unavailable
                    | tonic::Code::Cancelled
                    | tonic::Code::Aborted
                    | tonic::Code::ResourceExhausted
                    | tonic::Code::Internal
                    | tonic::Code::DeadlineExceeded
            ),
            _ => false,
        }
    }

    /// Retrying can never succeed without a change of configuration: a rejected token, a TLS
    /// setup that cannot work, a bad configuration. The event stream stops reconnecting on
    /// these.
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            Error::Unauthenticated { .. }
                | Error::InsecureBuiltinCertificate { .. }
                | Error::Tls { .. }
                | Error::Config(_)
        )
    }

    /// Classifies a gRPC status returned by `rpc`. `what` and `id` name the object asked for,
    /// for [`Error::NotFound`].
    pub(crate) fn from_status(
        rpc: &'static str,
        what: &'static str,
        id: &str,
        status: &tonic::Status,
    ) -> Error {
        let message = status_message(status);
        match status.code() {
            tonic::Code::Unauthenticated | tonic::Code::PermissionDenied => {
                Error::Unauthenticated { message }
            }
            tonic::Code::AlreadyExists if rpc == "Event" => Error::EventStreamBusy { message },
            tonic::Code::NotFound => Error::NotFound {
                what,
                id: id.to_owned(),
                message,
            },
            tonic::Code::Unknown if !id.is_empty() && looks_like_not_found(&message) => {
                Error::NotFound {
                    what,
                    id: id.to_owned(),
                    message,
                }
            }
            tonic::Code::DeadlineExceeded => Error::Timeout {
                what: rpc.to_owned(),
                after: Duration::ZERO,
            },
            tonic::Code::Unavailable | tonic::Code::Unknown | tonic::Code::Internal
                if std::error::Error::source(status).is_some() =>
            {
                // a transport failure surfaced as a status (tonic reconnects lazily)
                match std::error::Error::source(status) {
                    Some(source) => classify_transport(&message, source),
                    None => Error::Unavailable { message },
                }
            }
            tonic::Code::Unavailable => Error::Unavailable { message },
            code => Error::Rpc { rpc, code, message },
        }
    }

    /// Classifies a failure to establish the connection.
    pub(crate) fn from_transport(err: &tonic::transport::Error) -> Error {
        classify_transport("", err)
    }
}

/// The status message, without the JavaScript stack trace the service appends.
fn status_message(status: &tonic::Status) -> String {
    let msg = status.message();
    // wechaty-puppet-service puts `message\n    at ...stack` into details
    let first = msg
        .split("\n    at ")
        .next()
        .unwrap_or(msg)
        .trim()
        .to_owned();
    if first.is_empty() {
        format!("{:?}", status.code())
    } else {
        first
    }
}

fn looks_like_not_found(message: &str) -> bool {
    let m = message.to_lowercase();
    m.contains("not found")
        || m.contains("no payload")
        || m.contains("not exist")
        || m.contains("unknown contact")
        || m.contains("unknown room")
        || m.contains("is not a member")
        || m.contains("is not in the room")
}

/// Classifies a transport error by its whole source chain. rustls' certificate errors show
/// their variant names (`UnsupportedCertVersion`) only in `Debug`, so both are searched.
fn classify_transport(prefix: &str, err: &(dyn std::error::Error + 'static)) -> Error {
    let mut display = Vec::new();
    let mut debug = String::new();
    if !prefix.is_empty() {
        display.push(prefix.to_owned());
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    for _ in 0..16 {
        let Some(e) = cur else { break };
        let text = e.to_string();
        if display.last() != Some(&text) {
            display.push(text);
        }
        debug.push_str(&format!("{e:?} "));
        cur = e.source();
    }
    let mut message = display.join(": ");
    if message.chars().count() > 400 {
        message = message.chars().take(400).collect::<String>() + "…";
    }
    classify_transport_text(&message, &debug)
}

fn classify_transport_text(message: &str, debug: &str) -> Error {
    let all = format!("{message} {debug}");
    let lower = all.to_lowercase();
    let message = message.to_owned();
    if all.contains("UnsupportedCertVersion") {
        let message = if message.contains("UnsupportedCertVersion") {
            message
        } else {
            format!("{message} (UnsupportedCertVersion)")
        };
        Error::InsecureBuiltinCertificate { message }
    } else if lower.contains("certificate")
        || lower.contains("invalidcontenttype")
        || lower.contains("invalid content type")
        || lower.contains("corrupt message")
        || lower.contains("peerincompatible")
        || lower.contains("peer is incompatible")
        || lower.contains("alertreceived")
        || lower.contains("received fatal alert")
    {
        // configuration problems (trust, name, TLS against plaintext): retrying cannot help.
        // A handshake cut short (EOF, reset) is not among them: that is Unavailable.
        Error::Tls { message }
    } else {
        Error::Unavailable { message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified() {
        let s = tonic::Status::unauthenticated("Invalid Wechaty TOKEN \"x\"");
        assert!(matches!(
            Error::from_status("Version", "", "", &s),
            Error::Unauthenticated { .. }
        ));
        let s = tonic::Status::permission_denied("no");
        assert!(Error::from_status("Version", "", "", &s).is_fatal());
        let s = tonic::Status::already_exists("GrpcServerImpl.event() can not call twice.");
        let e = Error::from_status("Event", "", "", &s);
        assert!(matches!(e, Error::EventStreamBusy { .. }) && e.is_transient());
        let s = tonic::Status::unknown("no payload found for id x\n    at Foo (bar.js:1:2)");
        match Error::from_status("ContactPayload", "contact", "x", &s) {
            Error::NotFound { what, id, message } => {
                assert_eq!((what, id.as_str()), ("contact", "x"));
                assert_eq!(message, "no payload found for id x");
            }
            other => panic!("{other:?}"),
        }
        let s = tonic::Status::unknown("not logged in");
        assert!(matches!(
            Error::from_status("MessageSendText", "conversation", "x", &s),
            Error::Rpc {
                code: tonic::Code::Unknown,
                ..
            }
        ));
        let s = tonic::Status::unavailable("connection refused");
        assert!(Error::from_status("Version", "", "", &s).is_transient());
    }

    #[test]
    fn transport_texts_are_classified() {
        assert!(matches!(
            classify_transport_text(
                "invalid peer certificate: Other(OtherError(UnsupportedCertVersion))",
                ""
            ),
            Error::InsecureBuiltinCertificate { .. }
        ));
        assert!(matches!(
            classify_transport_text(
                "transport error",
                "InvalidCertificate(Other(OtherError(UnsupportedCertVersion)))"
            ),
            Error::InsecureBuiltinCertificate { .. }
        ));
        assert!(matches!(
            classify_transport_text("invalid peer certificate: UnknownIssuer", ""),
            Error::Tls { .. }
        ));
        assert!(matches!(
            classify_transport_text("tcp connect error: Connection refused (os error 111)", ""),
            Error::Unavailable { .. }
        ));
        assert!(matches!(
            classify_transport_text("tls handshake eof", ""),
            Error::Unavailable { .. }
        ));
        assert!(matches!(
            classify_transport_text("received corrupt message of type InvalidContentType", ""),
            Error::Tls { .. }
        ));
    }
}
