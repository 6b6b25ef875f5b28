//! Tool arguments as WeiLink passes them (empty strings for "not given", `~` in paths, seconds
//! as floats), and service errors worded for an agent: what to do next, with tool names rather
//! than CLI flags, and the error kind in brackets.

use std::path::PathBuf;
use std::time::Duration;

use crate::error::AppError;

/// Longest a `recv` or `login` call waits, in seconds.
pub const MAX_WAIT_SECS: f64 = 300.0;

/// A wait in seconds from an agent, clamped to `0..=MAX_WAIT_SECS` (NaN is 0).
pub fn wait(seconds: f64) -> Duration {
    let s = if seconds.is_nan() {
        0.0
    } else {
        seconds.clamp(0.0, MAX_WAIT_SECS)
    };
    Duration::from_secs_f64(s)
}

/// `None` for an empty (or blank) string, else the trimmed text.
pub fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A local path from an agent: `~` and `~/…` expand to the home directory.
pub fn local_path(s: &str) -> Option<PathBuf> {
    let t = s.trim();
    if t.is_empty() {
        return None;
    }
    let home = || std::env::var_os("HOME").map(PathBuf::from);
    if t == "~" {
        if let Some(h) = home() {
            return Some(h);
        }
    } else if let Some(rest) = t.strip_prefix("~/") {
        if let Some(h) = home() {
            return Some(h.join(rest));
        }
    }
    Some(PathBuf::from(t))
}

/// What an agent is told when a tool fails: the engine's message, with the CLI's advice
/// ("`wxlink login`", "--text") replaced by the tools that do the same, and the error kind.
pub fn error_message(e: &AppError) -> String {
    let text = match e {
        AppError::NoSessions => {
            "no WeChat session yet: log in first with the `login` tool (it returns a QR code for \
             the user to scan with WeChat)"
                .to_string()
        }
        AppError::UnknownSession(name) => {
            format!("no session named {name:?}: call the `sessions` tool for the names")
        }
        AppError::NotConnected { name, status } => format!(
            "session {name:?} is {}: log in again with the `login` tool (session_name={name:?}, \
             force=true)",
            status.label()
        ),
        AppError::NeedsWechaty {
            session,
            backend,
            what,
        } => format!(
            "session {session:?} is {} {} session, and {what}. Group chats and contacts by \
             name need a Wechaty session: log one in with the `login` tool \
             (backend=\"wechaty\", endpoint=\"HOST:PORT\" of a Wechaty Puppet Service, \
             token=\"...\")",
            backend.article(),
            backend.label()
        ),
        AppError::LoginNeedsEndpoint { backend } => format!(
            "{} {} login needs `endpoint` (the service: HOST:PORT, or https://HOST:PORT for \
             TLS) and `token` (the service's token, e.g. insecure_<uuid> or \
             puppet_padlocal_<hex>)",
            backend.article(),
            backend.label()
        ),
        AppError::OtherBackend {
            session,
            backend,
            wanted,
        } => format!(
            "session {session:?} is {} {} session; give the {} login another session_name, or \
             log {session:?} in again with backend=\"{}\"",
            backend.article(),
            backend.as_str(),
            wanted.label(),
            backend.as_str()
        ),
        AppError::NoWechatySession => {
            "no Wechaty session: log one in with the `login` tool (backend=\"wechaty\", \
             endpoint=\"HOST:PORT\" of a Wechaty Puppet Service, token=\"...\")"
                .into()
        }
        AppError::NothingToSend => {
            "nothing to send: give text, image_path, file_path, video_path or voice_path".into()
        }
        AppError::MessageNotFound(id) => format!(
            "no stored message with id {id}: use the `id` of a message from `recv` or `history`"
        ),
        AppError::NoContext { .. } => format!(
            "{e}. Wait for the user to write (call `recv`), or see `contacts` for the users you \
             can reply to"
        ),
        AppError::Upstream(u) if u.is_session_expired() => format!(
            "{e}: the WeChat session expired; log in again with the `login` tool (force=true)"
        ),
        _ => e.to_string(),
    };
    format!("{text} [{}]", e.kind().as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_are_clamped() {
        assert_eq!(wait(-1.0), Duration::ZERO);
        assert_eq!(wait(f64::NAN), Duration::ZERO);
        assert_eq!(wait(1e9), Duration::from_secs(300));
        assert_eq!(wait(0.25), Duration::from_millis(250));
    }

    #[test]
    fn errors_point_at_tools() {
        let m = error_message(&AppError::NoSessions);
        assert!(
            m.contains("`login` tool") && m.ends_with("[not_logged_in]"),
            "{m}"
        );
        let m = error_message(&AppError::UnknownSession("x".into()));
        assert!(m.contains("`sessions` tool"), "{m}");
        let m = error_message(&AppError::NeedsWechaty {
            session: "default".into(),
            backend: crate::model::BackendKind::Ilink,
            what: "iLink does not carry group chats".into(),
        });
        assert!(
            m.contains("iLink does not carry group chats")
                && m.contains("backend=\"wechaty\"")
                && !m.contains("wxlink login")
                && m.ends_with("[needs_wechaty]"),
            "{m}"
        );
        let m = error_message(&AppError::NoWechatySession);
        assert!(
            m.contains("`login` tool") && m.ends_with("[no_wechaty_session]"),
            "{m}"
        );
        let m = error_message(&AppError::FileNotFound("/nope".into()));
        assert!(m.contains("file not found: /nope"), "{m}");
        let m = error_message(&AppError::NoContext {
            user: "u".into(),
            session: None,
        });
        assert!(
            m.contains("no context token") && m.contains("`recv`"),
            "{m}"
        );
    }

    #[test]
    fn paths_expand_home() {
        assert_eq!(local_path(""), None);
        assert_eq!(local_path("/a/b"), Some(PathBuf::from("/a/b")));
        if let Some(home) = std::env::var_os("HOME") {
            assert_eq!(
                local_path("~/x.png"),
                Some(PathBuf::from(home).join("x.png"))
            );
        }
    }
}
