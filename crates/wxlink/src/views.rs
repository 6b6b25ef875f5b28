//! The JSON shapes wxlink emits for messages and sessions — the same for the CLI's `--json`, the
//! MCP tools and resources, and REST. Ids that can exceed 2^53 are always strings; tokens are
//! never shown.

use serde_json::{json, Value};

use crate::store::{Direction, SessionRecord, StoredMessage};
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
    let msg = &m.message;
    let bot = msg.bot_id.clone().unwrap_or_default();
    let (from, to) = match msg.direction {
        Direction::In => (msg.speaker.clone().unwrap_or(msg.peer.clone()), bot.clone()),
        Direction::Out => (bot.clone(), msg.peer.clone()),
    };
    let mut v = json!({
        "id": m.id.to_string(),
        "message_id": msg.upstream_id,
        "session": msg.session,
        "bot_id": msg.bot_id,
        "direction": msg.direction.as_str(),
        "user": msg.peer,
        "from": from,
        "to": to,
        "type": msg.kind,
        "text": msg.text,
        "items": msg.items,
        "time": iso(msg.created_at_ms),
        "timestamp_ms": msg.created_at_ms,
        "status": msg.status.as_str(),
    });
    if let Some(e) = &msg.error {
        v["error"] = json!(e);
    }
    if let Some(speaker) = &msg.speaker {
        v["room_id"] = json!(msg.peer);
        v["speaker"] = json!(speaker);
    }
    v
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
