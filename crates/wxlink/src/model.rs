//! The small typed vocabulary every layer shares: which backend a session speaks
//! ([`BackendKind`]), where a session stands ([`SessionStatus`]), which way a message went
//! ([`Direction`]) and what became of it ([`MessageStatus`]), session names, and [`Secret`], the
//! wrapper that keeps tokens out of every `Debug` and log line; [`Items`], a message's items
//! as JSON text ([`items`]).
//!
//! Each kind is stored and shown as a fixed lower-case word (`as_str`), parsed back with
//! `parse`; nothing outside this module spells those words by hand.

use std::fmt;

pub mod items;
pub use items::Items;

use serde::{Deserialize, Serialize};

/// The upstream a session is logged in through.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BackendKind {
    /// WeChat's official iLink Bot API: one-to-one chats with users who wrote to the bot.
    Ilink,
    /// A Wechaty Puppet Service: contacts by name and group chats.
    Wechaty,
}

impl BackendKind {
    /// Every backend, in the order they are offered.
    pub const ALL: [BackendKind; 2] = [BackendKind::Ilink, BackendKind::Wechaty];

    /// The backend a login uses when nothing says otherwise: WeChat's official API.
    pub const DEFAULT: BackendKind = BackendKind::Ilink;

    /// The stored and displayed name (`ilink`, `wechaty`).
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Ilink => "ilink",
            BackendKind::Wechaty => "wechaty",
        }
    }

    /// Parses a name, ignoring case and surrounding blanks.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        BackendKind::ALL
            .into_iter()
            .find(|k| k.as_str().eq_ignore_ascii_case(s))
    }

    /// The article its name takes ("an iLink", "a Wechaty").
    pub fn article(self) -> &'static str {
        match self {
            BackendKind::Ilink => "an",
            BackendKind::Wechaty => "a",
        }
    }

    /// How people call it ("iLink", "Wechaty").
    pub fn label(self) -> &'static str {
        match self {
            BackendKind::Ilink => "iLink",
            BackendKind::Wechaty => "Wechaty",
        }
    }
}

impl fmt::Display for BackendKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a session stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SessionStatus {
    /// Has live credentials.
    Connected,
    /// Upstream said the token is dead (iLink `-14`, a Wechaty logout); a new login is needed.
    Expired,
    /// Credentials removed by `logout`.
    LoggedOut,
}

impl SessionStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            SessionStatus::Connected => "connected",
            SessionStatus::Expired => "expired",
            SessionStatus::LoggedOut => "logged_out",
        }
    }

    /// The text for people ("logged out").
    pub fn label(self) -> &'static str {
        match self {
            SessionStatus::Connected => "connected",
            SessionStatus::Expired => "expired",
            SessionStatus::LoggedOut => "logged out",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "connected" => SessionStatus::Connected,
            "expired" => SessionStatus::Expired,
            "logged_out" => SessionStatus::LoggedOut,
            _ => return None,
        })
    }
}

/// Direction of a message, seen from the bot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// From a user to the bot.
    In,
    /// From the bot to a user.
    Out,
}

impl Direction {
    /// Stored integer: 1 in, 2 out (WeiLink's numbering).
    pub fn code(self) -> i64 {
        match self {
            Direction::In => 1,
            Direction::Out => 2,
        }
    }

    /// From the stored integer.
    pub fn from_code(c: i64) -> Option<Self> {
        match c {
            1 => Some(Direction::In),
            2 => Some(Direction::Out),
            _ => None,
        }
    }

    /// `in` or `out`, as JSON shows it.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// An inbound message, stored.
    Received,
    /// An outbound message the upstream accepted.
    Sent,
    /// An outbound message the upstream refused or that never arrived there.
    Failed,
    /// An outbound message on its way (recorded before it left).
    Pending,
    /// An outbound message whose process died while it was on its way: it may or may not
    /// have arrived. Never sent again automatically.
    Unknown,
}

impl MessageStatus {
    /// The stored text.
    pub fn as_str(self) -> &'static str {
        match self {
            MessageStatus::Received => "received",
            MessageStatus::Sent => "sent",
            MessageStatus::Failed => "failed",
            MessageStatus::Pending => "pending",
            MessageStatus::Unknown => "unknown",
        }
    }

    /// Parses the stored text.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "received" => MessageStatus::Received,
            "sent" => MessageStatus::Sent,
            "failed" => MessageStatus::Failed,
            "pending" => MessageStatus::Pending,
            "unknown" => MessageStatus::Unknown,
            _ => return None,
        })
    }
}

/// Longest session name, in characters.
pub const MAX_SESSION_NAME_CHARS: usize = 64;

/// A name that cannot be used for a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid session name {0:?}: use 1-64 letters, digits, '-', '_' or '.'")]
pub struct InvalidSessionName(pub String);

/// Checks a session name: 1–64 characters, each a letter or digit (any script), `-`, `_` or
/// `.`; not `.` or `..` (names may become file names). Checked before anything goes upstream.
pub fn check_session_name(name: &str) -> Result<(), InvalidSessionName> {
    let count = name.chars().count();
    let charset_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if (1..=MAX_SESSION_NAME_CHARS).contains(&count) && charset_ok && name != "." && name != ".." {
        Ok(())
    } else {
        Err(InvalidSessionName(name.to_owned()))
    }
}

/// A value that must never be printed: bearer tokens, upstream tokens, context tokens. `Debug`
/// and `Display` show `***`; the value is reached only through [`Secret::expose`], so every
/// place that handles the raw value says so.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct Secret<T>(T);

impl<T> Secret<T> {
    /// Wraps a value.
    pub fn new(value: T) -> Self {
        Secret(value)
    }

    /// The value itself, for the one place that must send or compare it.
    pub fn expose(&self) -> &T {
        &self.0
    }

    /// Unwraps the value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl Secret<String> {
    /// The value as `&str`.
    pub fn expose_str(&self) -> &str {
        &self.0
    }
}

impl<T> From<T> for Secret<T> {
    fn from(value: T) -> Self {
        Secret(value)
    }
}

impl From<&str> for Secret<String> {
    fn from(value: &str) -> Self {
        Secret(value.to_owned())
    }
}

impl std::str::FromStr for Secret<String> {
    type Err = std::convert::Infallible;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(Secret(s.to_owned()))
    }
}

impl<T> fmt::Debug for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(***)")
    }
}

impl<T> fmt::Display for Secret<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Secret<T> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        T::deserialize(d).map(Secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip_their_words() {
        for k in BackendKind::ALL {
            assert_eq!(BackendKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(BackendKind::parse(" Wechaty "), Some(BackendKind::Wechaty));
        assert_eq!(BackendKind::parse("padlocal"), None);
        for s in [
            SessionStatus::Connected,
            SessionStatus::Expired,
            SessionStatus::LoggedOut,
        ] {
            assert_eq!(SessionStatus::parse(s.as_str()), Some(s));
        }
        for s in [
            MessageStatus::Received,
            MessageStatus::Sent,
            MessageStatus::Failed,
        ] {
            assert_eq!(MessageStatus::parse(s.as_str()), Some(s));
        }
        assert_eq!(
            Direction::from_code(Direction::Out.code()),
            Some(Direction::Out)
        );
    }

    #[test]
    fn session_names_are_checked() {
        for ok in ["default", "工作", "a.b-c_d", &"x".repeat(64)] {
            assert!(check_session_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", ".", "..", "../evil", "a/b", "a b", &"x".repeat(65)] {
            assert!(check_session_name(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("s3cret-token".to_string());
        assert_eq!(format!("{s:?}"), "Secret(***)");
        assert_eq!(format!("{s}"), "***");
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Holder {
            token: Option<Secret<String>>,
        }
        let h = Holder {
            token: Some(s.clone()),
        };
        assert!(!format!("{h:?}").contains("s3cret"));
        assert_eq!(s.expose_str(), "s3cret-token");
    }
}
