//! The JSON shapes wxlink emits for messages and sessions — the same for the CLI's `--json`, the
//! MCP tools and resources, and REST. Ids that can exceed 2^53 are always strings; tokens are
//! never shown.

use std::borrow::Cow;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use utoipa::ToSchema;

use crate::error::{AppError, AppResult};

use crate::store::{Direction, Items, SessionRecord, StoredMessage};
use crate::timefmt::iso;

/// A stored message as JSON:
///
/// ```json
/// {"id": "12", "message_id": "7462500663980633224", "session": "default",
///  "bot_id": "b0f5860fdecb@im.bot", "direction": "in", "user": "o9cq…@im.wechat",
///  "from": "o9cq…@im.wechat", "to": "b0f5860fdecb@im.bot", "type": "text", "text": "你好",
///  "items": [{"type": "text", "text": "你好"}], "time": "2026-11-22T12:00:00.000Z",
///  "timestamp_ms": 1795348800000, "status": "received"}
/// ```
///
/// `type` is `text`, `image`, `voice`, `file`, `video`, `mixed` (several kinds) or `unknown`;
/// `text` gathers the searchable text (text items, voice transcripts, file names, quotes);
/// `error` appears on failed sends and unreadable upstream messages. Messages of a group chat
/// (Wechaty rooms) add `room_id` (the same as `user`: reply there) and `speaker` (who wrote;
/// also in `from`).
pub fn message(m: &StoredMessage) -> Value {
    // A struct of strings, numbers and JSON values always serializes.
    serde_json::to_value(MessageOut::from_stored(m)).unwrap_or_default()
}

/// A session as JSON: `{name, backend, bot_id, user_id, status, default, polling,
/// last_message_at, users, created_at}`, and `degraded` (why receiving keeps failing) while it
/// does. `polling` is filled in by the caller (it needs the
/// lock table), `null` when unknown.
pub fn session(s: &SessionRecord, polling: Option<bool>) -> Value {
    let mut v = json!({
        "name": s.name,
        "backend": s.backend.as_str(),
        "bot_id": s.bot_id,
        "user_id": s.user_id,
        "status": s.status.as_str(),
        "connected": s.is_connected(),
        "default": s.is_default,
        "polling": polling,
        "last_message_at": s.last_message_at_ms.map(iso),
        "users": s.users,
        "created_at": iso(s.created_at_ms),
    });
    if let Some(problem) = &s.problem {
        v["degraded"] = json!(problem);
    }
    v
}

// Typed descriptions of the same JSON, for schemas (MCP `outputSchema`, OpenAPI).

/// A stored message.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct MessageOut {
    /// Our id: pass it to `download`.
    pub id: String,
    /// The upstream id.
    pub message_id: Option<String>,
    /// Its session.
    pub session: String,
    /// The bot account id.
    pub bot_id: Option<String>,
    /// "in" or "out" (sent by the bot).
    pub direction: Cow<'static, str>,
    /// The other side (user, contact or room): reply to it.
    pub user: String,
    /// Sender id.
    pub from: String,
    /// Recipient id.
    pub to: String,
    /// text, image, voice, file, video, mixed or unknown.
    #[serde(rename = "type")]
    pub kind: String,
    /// Text, voice transcripts, file names, quotes.
    pub text: Option<String>,
    /// Its items (text, media, quotes).
    #[schemars(with = "Vec<Map<String, Value>>")]
    #[schema(value_type = Vec<Object>)]
    pub items: Items,
    /// When sent, ISO 8601 UTC.
    pub time: String,
    /// The same in unix ms.
    pub timestamp_ms: i64,
    /// received, sent, failed, pending or unknown.
    pub status: Cow<'static, str>,
    /// Why a send failed or a message was unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Group chats: the room (the same as `user`: reply there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub room_id: Option<String>,
    /// Group chats: who wrote (also in `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(skip)]
    pub speaker: Option<String>,
}

impl MessageOut {
    /// The message as [`message`] shows it.
    pub fn from_stored(m: &StoredMessage) -> Self {
        Self::new(m.clone())
    }

    /// The message as [`message`] shows it, its fields moved rather than copied.
    pub fn new(m: StoredMessage) -> Self {
        let msg = m.message;
        let bot = msg.bot_id.clone().unwrap_or_default();
        let (from, to) = match msg.direction {
            Direction::In => (msg.speaker.clone().unwrap_or(msg.peer.clone()), bot),
            Direction::Out => (bot, msg.peer.clone()),
        };
        MessageOut {
            id: m.id.to_string(),
            message_id: msg.upstream_id,
            session: msg.session,
            bot_id: msg.bot_id,
            direction: Cow::Borrowed(msg.direction.as_str()),
            room_id: msg.speaker.is_some().then(|| msg.peer.clone()),
            user: msg.peer,
            from,
            to,
            kind: msg.kind,
            text: msg.text,
            items: msg.items,
            time: iso(msg.created_at_ms),
            timestamp_ms: msg.created_at_ms,
            status: Cow::Borrowed(msg.status.as_str()),
            error: msg.error,
            speaker: msg.speaker,
        }
    }

    /// Several messages, moved.
    pub fn list(messages: Vec<StoredMessage>) -> Vec<Self> {
        messages.into_iter().map(Self::new).collect()
    }
}

/// A session (the JSON of `wxlink --json status`).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema, ToSchema)]
pub struct SessionOut {
    /// Its name.
    pub name: String,
    /// "ilink" or "wechaty".
    pub backend: String,
    /// The bot account id.
    pub bot_id: Option<String>,
    /// The WeChat user who bound it.
    pub user_id: Option<String>,
    /// connected, expired or logged_out.
    pub status: String,
    /// Whether it can send and receive.
    pub connected: bool,
    /// The default session.
    pub default: bool,
    /// Whether some process polls it now (null: unknown).
    pub polling: Option<bool>,
    /// Newest stored message, ISO 8601.
    pub last_message_at: Option<String>,
    /// Users it can answer (with a context token).
    pub users: u64,
    /// Why receiving fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded: Option<String>,
    /// First login, ISO 8601.
    pub created_at: String,
    /// Fields added later.
    #[serde(flatten)]
    #[schema(ignore)]
    pub extra: Map<String, Value>,
}

impl SessionOut {
    /// The session as [`session`] shows it.
    pub fn from_record(s: &SessionRecord, polling: Option<bool>) -> AppResult<Self> {
        serde_json::from_value(session(s, polling))
            .map_err(|e| AppError::Invalid(format!("internal: session view: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `direction` and `status` are borrowed words in the type, strings in every schema (MCP's
    /// output schema, OpenAPI) and in the JSON.
    #[test]
    fn direction_and_status_are_strings() {
        let mcp = serde_json::to_value(schemars::schema_for!(MessageOut)).unwrap();
        let openapi =
            serde_json::to_value(<MessageOut as utoipa::PartialSchema>::schema()).unwrap();
        for field in ["direction", "status"] {
            assert_eq!(mcp["properties"][field]["type"], "string", "{mcp}");
            assert_eq!(openapi["properties"][field]["type"], "string", "{openapi}");
        }
        let out: MessageOut = serde_json::from_value(json!({
            "id": "1", "message_id": null, "session": "s", "bot_id": null, "direction": "in",
            "user": "u", "from": "u", "to": "b", "type": "text", "text": "hi", "items": [],
            "time": "2026-12-07T00:00:00.000Z", "timestamp_ms": 0, "status": "received"
        }))
        .unwrap();
        assert_eq!((&*out.direction, &*out.status), ("in", "received"));
    }
}
