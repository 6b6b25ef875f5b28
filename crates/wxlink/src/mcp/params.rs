//! Turning tool arguments into engine requests — WeiLink's spellings included — and engine
//! errors into messages that tell an agent what to do next (with tool names, not CLI flags).

use std::path::PathBuf;
use std::time::Duration;

use crate::error::AppError;
use crate::store::{Direction, HistoryQuery, SessionRecord, StoreError};
use crate::timefmt::parse_time;

use super::types::HistoryParams;

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

/// A message type: ours (`text` … `unknown`), WeiLink's names (`TEXT` … `VIDEO`, any case) or
/// its numbers (1 … 5).
pub fn msg_type(s: &str) -> Result<Option<String>, AppError> {
    let Some(t) = given(s) else {
        return Ok(None);
    };
    let kind = match t.to_ascii_lowercase().as_str() {
        "text" | "1" => "text",
        "image" | "img" | "picture" | "photo" | "2" => "image",
        "voice" | "audio" | "3" => "voice",
        "file" | "4" => "file",
        "video" | "5" => "video",
        "mixed" => "mixed",
        "unknown" => "unknown",
        _ => {
            return Err(AppError::Invalid(format!(
                "unknown msg_type {t:?}: use text, image, voice, file, video, mixed or unknown"
            )))
        }
    };
    Ok(Some(kind.to_string()))
}

/// A direction: `received`/`in` or `sent`/`out` (any case; WeiLink's 1 and 2 too).
pub fn direction(s: &str) -> Result<Option<Direction>, AppError> {
    let Some(t) = given(s) else {
        return Ok(None);
    };
    match t.to_ascii_lowercase().as_str() {
        "in" | "received" | "inbound" | "incoming" | "1" => Ok(Some(Direction::In)),
        "out" | "sent" | "outbound" | "outgoing" | "2" => Ok(Some(Direction::Out)),
        _ => Err(AppError::Invalid(format!(
            "unknown direction {t:?}: use \"received\" (or \"in\") or \"sent\" (or \"out\")"
        ))),
    }
}

fn time(field: &str, s: &str) -> Result<Option<i64>, AppError> {
    given(s)
        .map(|t| parse_time(&t).map_err(|e| AppError::Invalid(format!("{field}: {e}"))))
        .transpose()
}

/// The store query for `history` (`None` when no message can match, e.g. an unknown bot id),
/// and a note when a filter needs explaining. `bot_id` is mapped to the session whose bot it
/// is (the store filters by session).
pub fn history_query(
    p: &HistoryParams,
    sessions: &[SessionRecord],
) -> Result<(Option<HistoryQuery>, Option<String>), AppError> {
    let mut note = None;
    let mut session = given(&p.session);
    let mut no_match = false;
    if let Some(bot) = given(&p.bot_id) {
        let owners: Vec<&SessionRecord> = sessions
            .iter()
            .filter(|s| s.bot_id.as_deref() == Some(bot.as_str()))
            .collect();
        match (owners.as_slice(), &session) {
            ([], _) => {
                no_match = true;
                note = Some(format!(
                    "no session has bot id {bot:?}; see the `sessions` tool for the bot ids"
                ));
            }
            (found, Some(name)) if !found.iter().any(|s| &s.name == name) => {
                no_match = true;
                note = Some(format!(
                    "bot id {bot:?} belongs to session {:?}, not {name:?}",
                    found[0].name
                ));
            }
            ([one], _) => session = Some(one.name.clone()),
            (several, None) => {
                session = Some(several[0].name.clone());
                note = Some(format!(
                    "bot id {bot:?} is used by sessions {}; showing session {:?} (pass `session` to choose)",
                    several
                        .iter()
                        .map(|s| format!("{:?}", s.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    several[0].name
                ));
            }
            (_, Some(_)) => {}
        }
    }
    let query = HistoryQuery {
        user: given(&p.user_id),
        session,
        kind: msg_type(&p.msg_type)?,
        direction: direction(&p.direction)?,
        since_ms: time("since", &p.since)?,
        until_ms: time("until", &p.until)?,
        text: given(&p.text_contains),
        limit: p.limit.clamp(1, 200),
        offset: p.offset,
    };
    Ok(((!no_match).then_some(query), note))
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
        AppError::UnknownSession(name) | AppError::Store(StoreError::UnknownSession(name)) => {
            format!("no session named {name:?}: call the `sessions` tool for the names")
        }
        AppError::NotConnected { name, status } => format!(
            "session {name:?} is {}: log in again with the `login` tool (session_name={name:?}, \
             force=true)",
            status.as_str().replace('_', " ")
        ),
        AppError::NeedsWechaty { session, what } => format!(
            "session {session:?} is an iLink session, and {what}. Group chats and contacts by \
             name need a Wechaty session: log one in with the `login` tool \
             (backend=\"wechaty\", endpoint=\"HOST:PORT\" of a Wechaty Puppet Service, \
             token=\"...\")"
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
    format!("{text} [{}]", e.kind())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::SessionStatus;

    fn params() -> HistoryParams {
        serde_json::from_value(serde_json::json!({})).unwrap()
    }

    fn session(name: &str, bot: &str) -> SessionRecord {
        SessionRecord {
            name: name.into(),
            backend: "ilink".into(),
            bot_id: Some(bot.into()),
            user_id: None,
            token: None,
            base_url: None,
            status: SessionStatus::Connected,
            is_default: false,
            created_at_ms: 0,
            updated_at_ms: 0,
            last_message_at_ms: None,
            users: 0,
        }
    }

    #[test]
    fn waits_are_clamped() {
        assert_eq!(wait(-1.0), Duration::ZERO);
        assert_eq!(wait(f64::NAN), Duration::ZERO);
        assert_eq!(wait(1e9), Duration::from_secs(300));
        assert_eq!(wait(0.25), Duration::from_millis(250));
    }

    #[test]
    fn weilink_spellings() {
        assert_eq!(msg_type("IMAGE").unwrap().as_deref(), Some("image"));
        assert_eq!(msg_type("Text").unwrap().as_deref(), Some("text"));
        assert_eq!(msg_type("5").unwrap().as_deref(), Some("video"));
        assert_eq!(msg_type("").unwrap(), None);
        assert!(msg_type("sticker").is_err());
        assert_eq!(direction("received").unwrap(), Some(Direction::In));
        assert_eq!(direction("SENT").unwrap(), Some(Direction::Out));
        assert_eq!(direction("out").unwrap(), Some(Direction::Out));
        assert_eq!(direction(" ").unwrap(), None);
        assert!(direction("sideways").is_err());
    }

    #[test]
    fn history_maps_bot_ids_to_sessions() {
        let sessions = [session("work", "b1@im.bot"), session("home", "b2@im.bot")];
        let mut p = params();
        p.bot_id = "b2@im.bot".into();
        p.limit = 1000;
        p.since = "2026-01-02T03:04:05Z".into();
        let (q, note) = history_query(&p, &sessions).unwrap();
        let q = q.unwrap();
        assert_eq!(q.session.as_deref(), Some("home"));
        assert_eq!(q.limit, 200);
        assert_eq!(q.since_ms, Some(1_767_323_045_000));
        assert!(note.is_none());

        p.bot_id = "nobody@im.bot".into();
        let (q, note) = history_query(&p, &sessions).unwrap();
        assert!(q.is_none());
        assert!(note.unwrap().contains("no session has bot id"));

        p.bot_id = String::new();
        p.until = "next tuesday".into();
        let err = history_query(&p, &sessions).unwrap_err();
        assert!(err.to_string().starts_with("until: "), "{err}");
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
