//! Wechaty messages ↔ stored messages: message payloads of a Wechaty Puppet Service (as the
//! `wechaty` crate delivers them) into the store's [`NewMessage`], and sends back out as rows to
//! record.
//!
//! A session's credentials for this backend are the puppet service's endpoint (stored as the
//! session's `base_url`) and its token. In a room, `peer` is the room id (where replies go) and
//! `speaker` the contact who wrote; one-to-one, `peer` is the contact.

use serde_json::{json, Value};
use wechaty::{Message, MessageType};

use crate::store::{Direction, MessageStatus, NewMessage, SessionRecord};

/// Our kind for a Wechaty message type: the kinds iLink uses where they mean the same
/// (`text`, `image`, `voice`, `file`, `video`), else Wechaty's own name (`emoticon`, `url`, …).
pub fn kind_of(kind: MessageType) -> &'static str {
    match kind {
        MessageType::Text => "text",
        MessageType::Image => "image",
        MessageType::Audio => "voice",
        MessageType::Attachment => "file",
        MessageType::Video => "video",
        other => other.name(),
    }
}

/// Whether a message of this kind carries a file that `download` can fetch.
pub fn has_media(kind: &str) -> bool {
    matches!(kind, "image" | "voice" | "file" | "video")
}

/// The payload as JSON, as we keep it in `raw` (the service's payload has no JSON form of its
/// own; this one keeps every field).
pub fn raw_json(m: &Message) -> Value {
    json!({
        "id": m.id,
        "type": m.kind.to_wire(),
        "text": m.text,
        "filename": m.filename,
        "talker_id": m.talker_id,
        "room_id": m.room_id,
        "listener_id": m.listener_id,
        "mention_ids": m.mention_ids,
        "timestamp_ms": m.timestamp_ms,
    })
}

/// Turns a message payload into a row to store, seen from the bot `self_id`: inbound when
/// someone else wrote it, outbound when the bot did (a send from the phone or another client).
pub fn message(session: &str, self_id: Option<&str>, m: &Message, now_ms: i64) -> NewMessage {
    let from_bot = matches!((m.talker_id.as_deref(), self_id), (Some(t), Some(me)) if t == me);
    let peer = m.conversation_id(self_id).unwrap_or("unknown").to_string();
    let kind = kind_of(m.kind);
    let mut item = json!({"type": kind});
    let mut text = None;
    if m.kind == MessageType::Text {
        item["text"] = json!(m.text);
        text = Some(m.text.clone());
    } else if let Some(name) = &m.filename {
        item["file_name"] = json!(name);
        text = Some(name.clone());
    } else if !m.text.is_empty() && !m.text.trim_start().starts_with('<') {
        // A description the puppet gave (not an XML blob): searchable.
        item["text"] = json!(m.text);
        text = Some(m.text.clone());
    }
    if !m.mention_ids.is_empty() {
        item["mentions"] = json!(m.mention_ids);
    }
    let raw = raw_json(m);
    // A payload without an id (a puppet that sends none) is keyed by its content, so two of
    // them never collide and a redelivery of one is still recognised.
    let id = Some(m.id.trim()).filter(|id| !id.is_empty());
    let dedupe_key = match id {
        Some(id) => id.to_string(),
        None => format!(
            "hash:{}",
            ::ilink::crypto::md5_hex(raw.to_string().as_bytes())
        ),
    };
    NewMessage {
        session: session.to_string(),
        direction: if from_bot {
            Direction::Out
        } else {
            Direction::In
        },
        upstream_id: id.map(str::to_string),
        dedupe_key,
        peer,
        bot_id: self_id.map(str::to_string),
        kind: kind.to_string(),
        text: text.filter(|t| !t.is_empty()),
        items: json!([item]).into(),
        raw: Some(raw),
        context_token: None,
        created_at_ms: m.timestamp_ms.filter(|&t| t > 0).unwrap_or(now_ms),
        client_id: None,
        status: if from_bot {
            MessageStatus::Sent
        } else {
            MessageStatus::Received
        },
        error: None,
        speaker: if m.room_id.is_some() && !from_bot {
            m.talker_id.clone()
        } else {
            None
        },
    }
}

/// What a send through this backend looked like, for the store: a text, or a file by name.
pub enum Sent<'a> {
    /// A text.
    Text(&'a str),
    /// A file (image or other) with its display name and size.
    File {
        /// `image` or `file`.
        kind: &'static str,
        /// Display name.
        name: &'a str,
        /// Size in bytes.
        size: u64,
    },
}

/// A row recording a send to `conversation` (a contact or room id). `upstream_id` is the
/// message id the service returned, if any; a failed send carries its `error`.
pub fn outbound(
    session: &SessionRecord,
    conversation: &str,
    sent: &Sent<'_>,
    upstream_id: Option<&str>,
    client_id: &str,
    now_ms: i64,
    error: Option<String>,
) -> NewMessage {
    let (kind, text, item) = match sent {
        Sent::Text(t) => (
            "text",
            Some(t.to_string()),
            json!({"type": "text", "text": t}),
        ),
        Sent::File { kind, name, size } => (
            *kind,
            Some(name.to_string()),
            json!({"type": kind, "file_name": name, "size": size}),
        ),
    };
    NewMessage {
        session: session.name.clone(),
        direction: Direction::Out,
        upstream_id: upstream_id.map(str::to_string),
        dedupe_key: match upstream_id {
            Some(id) => id.to_string(),
            None => format!("client:{client_id}"),
        },
        peer: conversation.to_string(),
        bot_id: session.bot_id.clone(),
        kind: kind.to_string(),
        text,
        items: json!([item.clone()]).into(),
        raw: Some(json!({"to": conversation, "item": item, "message_id": upstream_id})),
        context_token: None,
        created_at_ms: now_ms,
        client_id: Some(client_id.to_string()),
        status: if error.is_some() {
            MessageStatus::Failed
        } else {
            MessageStatus::Sent
        },
        error,
        speaker: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(kind: MessageType, talker: &str, room: Option<&str>) -> Message {
        Message {
            id: "m1".into(),
            kind,
            text: "你好".into(),
            filename: None,
            talker_id: Some(talker.into()),
            room_id: room.map(str::to_string),
            listener_id: room.is_none().then(|| "wxid_bot".to_string()),
            mention_ids: vec![],
            timestamp_ms: Some(1_000),
        }
    }

    #[test]
    fn a_room_message_is_stored_under_the_room_with_its_speaker() {
        let m = message(
            "wc",
            Some("wxid_bot"),
            &msg(MessageType::Text, "wxid_zhangsan", Some("r@chatroom")),
            5,
        );
        assert_eq!(m.direction, Direction::In);
        assert_eq!(m.peer, "r@chatroom");
        assert_eq!(m.speaker.as_deref(), Some("wxid_zhangsan"));
        assert_eq!(m.text.as_deref(), Some("你好"));
        assert_eq!(m.created_at_ms, 1_000);
        assert_eq!(m.raw.unwrap()["type"], 7, "wechaty-puppet numbering");
    }

    #[test]
    fn messages_without_an_id_are_keyed_by_content() {
        let mut a = msg(MessageType::Text, "wxid_alice", None);
        a.id = " ".into();
        let mut b = a.clone();
        b.text = "another".into();
        let (ra, rb) = (message("wc", None, &a, 5), message("wc", None, &b, 5));
        assert_eq!(ra.upstream_id, None);
        assert!(ra.dedupe_key.starts_with("hash:"), "{}", ra.dedupe_key);
        assert_ne!(
            ra.dedupe_key, rb.dedupe_key,
            "two id-less messages never collide"
        );
        assert_eq!(
            ra.dedupe_key,
            message("wc", None, &a, 9).dedupe_key,
            "a redelivery does"
        );
    }

    #[test]
    fn one_to_one_and_own_messages() {
        let m = message(
            "wc",
            Some("wxid_bot"),
            &msg(MessageType::Text, "wxid_alice", None),
            5,
        );
        assert_eq!((m.peer.as_str(), m.speaker), ("wxid_alice", None));
        let mut own = msg(MessageType::Image, "wxid_bot", None);
        own.listener_id = Some("wxid_alice".into());
        own.filename = Some("p.jpg".into());
        let m = message("wc", Some("wxid_bot"), &own, 5);
        assert_eq!(m.direction, Direction::Out);
        assert_eq!(m.peer, "wxid_alice");
        assert_eq!(m.kind, "image");
        assert_eq!(m.text.as_deref(), Some("p.jpg"));
    }

    #[test]
    fn kinds_map_onto_ilinks_names() {
        assert_eq!(kind_of(MessageType::Audio), "voice");
        assert_eq!(kind_of(MessageType::Attachment), "file");
        assert_eq!(kind_of(MessageType::Url), "url");
        assert!(has_media("file") && !has_media("url"));
    }
}
