//! `wechaty_payload`: a Wechaty message payload as the puppet service sends it
//! (`MessagePayloadResponse`) → `wechaty::Message` (crates/wechaty/src/message.rs) → the row
//! wxlink stores (`upstream::wechaty::normalize::message`, crates/wxlink/src/upstream/wechaty/
//! normalize.rs).
//!
//! Input: a JSON object with the payload's fields (`id`, `type`, `text`, `filename`, `talker_id`,
//! `room_id`, `listener_id`, `mention_ids`, `timestamp_deprecated`, `receive_time: {seconds,
//! nanos}`) plus `self_id` (the bot) and `now_ms`; anything else goes through `arbitrary` into
//! the same fields.
//!
//! Invariants:
//! - Neither conversion panics (timestamps of any size included).
//! - The row's `peer` and `kind` are never empty; `peer` is the room for a room message, the
//!   other party of a one-to-one message, or `unknown`; `kind` is iLink's name for the five
//!   shared kinds and Wechaty's name otherwise.
//! - A text message keeps its text: `text` is the payload's text (absent only when that is
//!   empty) and the item carries it; a file name, when there is one and the message is not
//!   text, is the searchable text.
//! - Direction is `out` exactly when the talker is the bot; the speaker is the talker of a room
//!   message that the bot did not write, else none; the dedupe key and upstream id are the
//!   payload id (trimmed) — or, without an id, no upstream id and a `hash:` key of the
//!   content, never empty; the row's time is the payload's positive time, else `now`.
//! - Mentions are the non-empty mention ids, in order; `raw.type` is the wire number.

#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use wechaty::{Message, MessagePayloadResponse, MessageType};
use wxlink::store::Direction;
use wxlink::upstream::wechaty::normalize;

/// The payload's fields, as the fuzzer makes them.
#[derive(Debug, Default, Arbitrary)]
struct Payload {
    id: String,
    kind: i32,
    text: String,
    filename: String,
    talker_id: String,
    room_id: String,
    listener_id: String,
    mention_ids: Vec<String>,
    timestamp_deprecated: u64,
    receive_time: Option<(i64, i32)>,
    self_id: Option<String>,
    now_ms: i64,
}

impl Payload {
    fn from_json(v: &Value) -> Payload {
        let s = |k: &str| {
            v.get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        Payload {
            id: s("id"),
            kind: v.get("type").and_then(Value::as_i64).unwrap_or(0) as i32,
            text: s("text"),
            filename: s("filename"),
            talker_id: s("talker_id"),
            room_id: s("room_id"),
            listener_id: s("listener_id"),
            mention_ids: v
                .get("mention_ids")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(|m| m.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default(),
            timestamp_deprecated: v
                .get("timestamp_deprecated")
                .and_then(Value::as_u64)
                .unwrap_or(0),
            receive_time: v.get("receive_time").map(|t| {
                (
                    t.get("seconds").and_then(Value::as_i64).unwrap_or(0),
                    t.get("nanos").and_then(Value::as_i64).unwrap_or(0) as i32,
                )
            }),
            self_id: v.get("self_id").and_then(Value::as_str).map(str::to_string),
            now_ms: v
                .get("now_ms")
                .and_then(Value::as_i64)
                .unwrap_or(1_767_323_045_000),
        }
    }

    fn wire(&self) -> MessagePayloadResponse {
        MessagePayloadResponse {
            id: self.id.clone(),
            filename: self.filename.clone(),
            text: self.text.clone(),
            timestamp_deprecated: self.timestamp_deprecated,
            r#type: self.kind,
            talker_id: self.talker_id.clone(),
            room_id: self.room_id.clone(),
            listener_id: self.listener_id.clone(),
            mention_ids: self.mention_ids.clone(),
            receive_time: self
                .receive_time
                .map(|(seconds, nanos)| prost_types::Timestamp { seconds, nanos }),
        }
    }
}

fn non_empty(s: &str) -> Option<&str> {
    (!s.is_empty()).then_some(s)
}

fn check(p: &Payload) {
    let m = Message::from(p.wire());

    // The payload → Message conversion.
    assert_eq!(m.id, p.id);
    assert_eq!(m.kind.to_wire(), p.kind);
    assert_eq!(m.text, p.text);
    assert_eq!(m.filename.as_deref(), non_empty(&p.filename));
    assert_eq!(m.talker_id.as_deref(), non_empty(&p.talker_id));
    assert_eq!(m.room_id.as_deref(), non_empty(&p.room_id));
    assert_eq!(m.listener_id.as_deref(), non_empty(&p.listener_id));
    let mentions: Vec<&String> = p.mention_ids.iter().filter(|s| !s.is_empty()).collect();
    assert_eq!(m.mention_ids.iter().collect::<Vec<_>>(), mentions);
    if let Some(t) = m.timestamp_ms {
        assert!(t > 0, "a non-positive time kept: {t}");
    }
    let from_receive = p.receive_time.and_then(|(s, n)| {
        s.checked_mul(1000)
            .and_then(|ms| ms.checked_add(i64::from(n) / 1_000_000))
            .filter(|ms| *ms > 0)
    });
    let deprecated = i64::try_from(p.timestamp_deprecated)
        .ok()
        .filter(|ms| *ms > 0);
    assert_eq!(m.timestamp_ms, from_receive.or(deprecated));

    // Message → row.
    let self_id = p.self_id.as_deref();
    let row = normalize::message("wc", self_id, &m, p.now_ms);
    assert!(!row.peer.is_empty(), "empty peer for {m:?}");
    assert!(!row.kind.is_empty(), "empty kind for {m:?}");
    assert_eq!(row.kind, normalize::kind_of(m.kind));
    let shared = match m.kind {
        MessageType::Text => Some("text"),
        MessageType::Image => Some("image"),
        MessageType::Audio => Some("voice"),
        MessageType::Attachment => Some("file"),
        MessageType::Video => Some("video"),
        _ => None,
    };
    assert_eq!(row.kind, shared.unwrap_or(m.kind.name()));

    let from_bot = matches!((m.talker_id.as_deref(), self_id), (Some(t), Some(me)) if t == me);
    let expected_peer = match (&m.room_id, &m.talker_id) {
        (Some(room), _) => room.as_str(),
        (None, Some(t)) if !from_bot => t.as_str(),
        _ => m.listener_id.as_deref().unwrap_or("unknown"),
    };
    assert_eq!(row.peer, expected_peer);
    assert_eq!(
        row.direction,
        if from_bot {
            Direction::Out
        } else {
            Direction::In
        }
    );
    let speaker = (m.room_id.is_some() && !from_bot)
        .then(|| m.talker_id.clone())
        .flatten();
    assert_eq!(row.speaker, speaker);
    match Some(m.id.trim()).filter(|id| !id.is_empty()) {
        Some(id) => {
            assert_eq!(row.dedupe_key, id);
            assert_eq!(row.upstream_id.as_deref(), Some(id));
        }
        None => {
            assert!(row.dedupe_key.starts_with("hash:") && row.dedupe_key.len() == 37);
            assert_eq!(row.upstream_id, None);
        }
    }
    assert_eq!(row.session, "wc");
    assert_eq!(row.bot_id.as_deref(), self_id);
    assert_eq!(
        row.created_at_ms,
        m.timestamp_ms.filter(|&t| t > 0).unwrap_or(p.now_ms)
    );

    let item = &row.items.value()[0];
    assert_eq!(row.items.value().as_array().map(Vec::len), Some(1));
    assert_eq!(item["type"], Value::from(row.kind.as_str()));
    if m.kind == MessageType::Text {
        assert_eq!(row.text.as_deref(), non_empty(&m.text), "text lost");
        assert_eq!(
            item["text"],
            Value::from(m.text.as_str()),
            "text lost from the item"
        );
    } else if let Some(name) = &m.filename {
        assert_eq!(row.text.as_deref(), Some(name.as_str()));
        assert_eq!(item["file_name"], Value::from(name.as_str()));
    }
    if let Some(t) = &row.text {
        assert!(!t.is_empty());
    }
    if m.mention_ids.is_empty() {
        assert!(item.get("mentions").is_none());
    } else {
        assert_eq!(item["mentions"], serde_json::json!(m.mention_ids));
    }
    let raw = row.raw.as_ref().expect("raw payload kept");
    assert_eq!(raw["type"], Value::from(p.kind));
    assert_eq!(raw["id"], Value::from(p.id.as_str()));
    // The row serializes (it is written as JSON columns).
    serde_json::to_string(&row.items).unwrap();
}

fuzz_target!(|data: &[u8]| {
    let payload = match serde_json::from_slice::<Value>(data) {
        Ok(v @ Value::Object(_)) => Payload::from_json(&v),
        _ => match Payload::arbitrary_take_rest(Unstructured::new(data)) {
            Ok(p) => p,
            Err(_) => return,
        },
    };
    check(&payload);
});
