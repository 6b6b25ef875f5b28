//! iLink messages ↔ stored messages: upstream messages (as the `ilink` crate delivers them)
//! into the store's [`NewMessage`], sent items into outbound rows, and stored rows back into
//! upstream items for downloads.
//!
//! Normalized items (`NewMessage::items`) are what agents and the CLI show: kinds, text, file
//! names, sizes, quotes — never AES keys or CDN parameters. Those stay in `raw`, the upstream
//! JSON exactly as received or sent, which is what downloads read.

use ilink::wire::{ItemType, MessageItem, WeixinMessage, MESSAGE_TYPE_BOT};
use ilink::Received;
use serde_json::{json, Map, Value};

use crate::store::{Direction, Items, MessageStatus, NewMessage, Secret};

/// Name of an item type in our JSON (`text`, `image`, …; `unknown` for types we do not know).
pub fn kind_name(item: &MessageItem) -> &'static str {
    item.kind().map(ItemType::name).unwrap_or("unknown")
}

/// Turns one received upstream message into a row to store, or `None` for what is not a user's
/// message (the bot's own echoes, `message_type` 2).
pub fn inbound(session: &str, received: Received, now_ms: i64) -> Option<NewMessage> {
    // Taken apart, not cloned: the raw JSON moves into the row (a burst of a thousand
    // accounts' batches holds every message in memory at once).
    let Received { raw, message } = received;
    let msg = match message {
        Ok(m) => m,
        Err(reason) => return Some(unreadable(session, raw, &reason, now_ms)),
    };
    if msg.message_type == Some(MESSAGE_TYPE_BOT) {
        return None;
    }
    let (kind, text, items) = normalize_items(&msg.item_list);
    Some(NewMessage {
        session: session.to_string(),
        direction: Direction::In,
        upstream_id: msg.message_id.map(|id| id.to_string()),
        dedupe_key: dedupe_key(&msg, &raw),
        peer: msg.from_user_id.unwrap_or_default(),
        bot_id: msg.to_user_id,
        kind,
        text,
        items: items.into(),
        raw: Some(raw),
        context_token: msg.context_token.filter(|t| !t.is_empty()).map(Secret::new),
        created_at_ms: msg.create_time_ms.filter(|&t| t > 0).unwrap_or(now_ms),
        client_id: msg.client_id,
        status: MessageStatus::Received,
        error: None,
        speaker: None,
    })
}

/// A message the wire model could not read (its JSON nests too deep to be built): stored as
/// kind `unknown` with its JSON text and what its top level says, so nothing is lost.
fn unreadable(session: &str, raw: Value, reason: &str, now_ms: i64) -> NewMessage {
    let header = match &raw {
        Value::String(text) => WeixinMessage::header_of(text),
        other => WeixinMessage::deserialize_from(other).unwrap_or_default(),
    };
    NewMessage {
        session: session.to_string(),
        direction: Direction::In,
        dedupe_key: dedupe_key(&header, &raw),
        upstream_id: header.message_id.map(|id| id.to_string()),
        peer: header.from_user_id.unwrap_or_else(|| "unknown".into()),
        bot_id: header.to_user_id,
        kind: "unknown".into(),
        text: None,
        items: Items::empty(),
        raw: Some(raw),
        context_token: header
            .context_token
            .filter(|t| !t.is_empty())
            .map(Secret::new),
        created_at_ms: header.create_time_ms.filter(|&t| t > 0).unwrap_or(now_ms),
        client_id: header.client_id,
        status: MessageStatus::Received,
        error: Some(format!("unreadable upstream message: {reason}")),
        speaker: None,
    }
}

/// The upstream id, else the fallbacks of spec §6.6: client id, seq, content hash.
fn dedupe_key(msg: &WeixinMessage, raw: &Value) -> String {
    if let Some(id) = msg.message_id {
        return id.to_string();
    }
    if let Some(c) = msg.client_id.as_deref().filter(|c| !c.is_empty()) {
        return format!("client:{c}");
    }
    if let Some(seq) = msg.seq {
        return format!("seq:{seq}");
    }
    format!(
        "hash:{}",
        ::ilink::crypto::md5_hex(raw.to_string().as_bytes())
    )
}

/// The kind of the whole message, its searchable text, and its normalized items.
pub fn normalize_items(items: &[MessageItem]) -> (String, Option<String>, Value) {
    let mut texts: Vec<String> = Vec::new();
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        out.push(Value::Object(normalize_item(item, &mut texts)));
    }
    let mut kinds = items.iter().map(kind_name);
    let kind = match kinds.next() {
        None => "unknown",
        Some(first) if kinds.all(|k| k == first) => first,
        Some(_) => "mixed",
    };
    let text = (!texts.is_empty()).then(|| texts.join("\n"));
    (kind.to_string(), text, Value::Array(out))
}

fn normalize_item(item: &MessageItem, texts: &mut Vec<String>) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind_name(item)));
    let mut put = |k: &str, v: Value| {
        if !v.is_null() {
            m.insert(k.into(), v);
        }
    };
    match item.kind() {
        Some(ItemType::Text) => {
            let t = item
                .text_item
                .as_ref()
                .and_then(|t| t.text.clone())
                .unwrap_or_default();
            if !t.is_empty() {
                texts.push(t.clone());
            }
            put("text", json!(t));
        }
        Some(ItemType::Image) => {
            if let Some(i) = &item.image_item {
                put("size", json!(i.mid_size));
                put("thumb_width", json!(i.thumb_width));
                put("thumb_height", json!(i.thumb_height));
            }
        }
        Some(ItemType::Voice) => {
            if let Some(v) = &item.voice_item {
                if let Some(t) = v.text.as_deref().filter(|t| !t.is_empty()) {
                    texts.push(t.to_string());
                    put("transcript", json!(t));
                }
                put("duration_ms", json!(v.playtime));
                put("encode_type", json!(v.encode_type));
                put("sample_rate", json!(v.sample_rate));
            }
        }
        Some(ItemType::File) => {
            if let Some(f) = &item.file_item {
                if let Some(n) = f.file_name.as_deref().filter(|n| !n.is_empty()) {
                    texts.push(n.to_string());
                    put("file_name", json!(n));
                }
                put(
                    "size",
                    json!(f.len.as_deref().and_then(|l| l.parse::<u64>().ok())),
                );
                put("md5", json!(f.md5));
            }
        }
        Some(ItemType::Video) => {
            if let Some(v) = &item.video_item {
                put("size", json!(v.video_size));
                put("play_length", json!(v.play_length));
            }
        }
        Some(ItemType::ToolCallStart) | Some(ItemType::ToolCallResult) => {
            if let Some(t) = item
                .tool_call_start_item
                .as_ref()
                .or(item.tool_call_result_item.as_ref())
            {
                put("tool_name", json!(t.tool_name));
                put("status", json!(t.status));
            }
        }
        None => put("code", json!(item.item_type)),
    }
    if let Some(r) = &item.ref_msg {
        let mut q = Map::new();
        if let Some(id) = &r.svr_id {
            q.insert("message_id".into(), json!(id));
        }
        if let Some(t) = r.title.as_deref().filter(|t| !t.is_empty()) {
            q.insert("title".into(), json!(t));
        }
        if let Some(inner) = &r.message_item {
            let mut inner_texts = Vec::new();
            let inner = normalize_item(inner, &mut inner_texts);
            texts.extend(inner_texts);
            q.insert("item".into(), Value::Object(inner));
        }
        if let Some(p) = &r.partial_text {
            q.insert("partial".into(), json!({"start": p.start, "end": p.end}));
        }
        m.insert("quote".into(), Value::Object(q));
    }
    m
}

/// The outbound row for one item sent to `to` (or attempted).
#[allow(clippy::too_many_arguments)]
pub fn outbound(
    session: &str,
    bot_id: Option<&str>,
    to: &str,
    item: &MessageItem,
    context_token: Option<&str>,
    client_id: &str,
    upstream_id: Option<u64>,
    now_ms: i64,
    error: Option<String>,
) -> NewMessage {
    let (kind, text, items) = normalize_items(std::slice::from_ref(item));
    let raw = json!({
        "to_user_id": to,
        "client_id": client_id,
        "message_type": 2,
        "message_state": 2,
        "item_list": [item],
        "context_token": context_token,
        "message_id": upstream_id,
    });
    NewMessage {
        session: session.to_string(),
        direction: Direction::Out,
        upstream_id: upstream_id.map(|id| id.to_string()),
        dedupe_key: format!("client:{client_id}"),
        peer: to.to_string(),
        bot_id: bot_id.map(str::to_string),
        kind,
        text,
        items: items.into(),
        raw: Some(raw),
        context_token: context_token.map(|t| Secret::new(t.to_string())),
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

/// The upstream items of a stored message (from its raw JSON), for downloads.
pub fn upstream_items(raw: Option<&Value>) -> Vec<MessageItem> {
    raw.and_then(|r| r.get("item_list"))
        .and_then(|l| serde_json::from_value::<Vec<Value>>(l.clone()).ok())
        .map(|values| {
            values
                .into_iter()
                .map(|v| serde_json::from_value(v).unwrap_or_default())
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn received(v: Value) -> Received {
        Received {
            message: WeixinMessage::deserialize_from(&v),
            raw: v,
        }
    }

    #[test]
    fn text_message_normalizes() {
        let r = received(
            json!({"message_id": 7462500663980633224u64, "from_user_id": "u@im.wechat",
            "to_user_id": "b@im.bot", "create_time_ms": 1000, "message_type": 1,
            "context_token": "ctx", "item_list": [{"type": 1, "text_item": {"text": "你好"}}]}),
        );
        let m = inbound("s", r, 5).unwrap();
        assert_eq!(m.upstream_id.as_deref(), Some("7462500663980633224"));
        assert_eq!(m.dedupe_key, "7462500663980633224");
        assert_eq!((m.kind.as_str(), m.text.as_deref()), ("text", Some("你好")));
        assert_eq!(m.peer, "u@im.wechat");
        assert_eq!(m.created_at_ms, 1000);
        assert_eq!(
            m.context_token.as_ref().map(Secret::expose_str),
            Some("ctx")
        );
        assert_eq!(m.items, json!([{"type": "text", "text": "你好"}]));
    }

    #[test]
    fn media_secrets_stay_out_of_items_and_searchable_text_collects_names() {
        let r = received(json!({"message_id": 1, "from_user_id": "u", "item_list": [
            {"type": 4, "file_item": {"file_name": "报告.pdf", "len": "11",
                "media": {"aes_key": "SECRET", "encrypt_query_param": "PARAM"}}},
            {"type": 3, "voice_item": {"text": "几点开会", "playtime": 3120}}]}));
        let m = inbound("s", r, 0).unwrap();
        assert_eq!(m.kind, "mixed");
        assert_eq!(m.text.as_deref(), Some("报告.pdf\n几点开会"));
        let s = m.items.json();
        assert!(!s.contains("SECRET") && !s.contains("PARAM"), "{s}");
        assert_eq!(m.items.value()[0]["size"], 11);
        assert_eq!(upstream_items(m.raw.as_ref()).len(), 2);
    }

    #[test]
    fn quotes_bot_echoes_and_unreadable_messages() {
        let r = received(
            json!({"message_id": 2, "item_list": [{"type": 1, "text_item": {"text": "yes"},
            "ref_msg": {"svr_id": "99", "message_item": {"type": 1, "text_item": {"text": "原文"}}}}]}),
        );
        let m = inbound("s", r, 0).unwrap();
        assert_eq!(m.items.value()[0]["quote"]["message_id"], "99");
        assert_eq!(m.items.value()[0]["quote"]["item"]["text"], "原文");
        assert_eq!(m.text.as_deref(), Some("yes\n原文"));

        let echo = received(json!({"message_id": 3, "message_type": 2}));
        assert!(inbound("s", echo, 0).is_none());

        // A field of the wrong type is left empty; the rest is kept.
        let bad = received(json!({"message_id": "77", "item_list": "oops", "from_user_id": "u"}));
        let m = inbound("s", bad, 9).unwrap();
        assert_eq!((m.dedupe_key.as_str(), m.peer.as_str()), ("77", "u"));
        assert_eq!(m.text, None);
        assert_eq!(m.raw.as_ref().unwrap()["item_list"], "oops");
        // JSON too deep to build: kept as its text, with what its top level says.
        let deep = Received {
            raw: json!(r#"{"message_id": 78, "from_user_id": "u", "x": [[[]]]}"#),
            message: Err("too deep".into()),
        };
        let m = inbound("s", deep, 9).unwrap();
        assert_eq!((m.kind.as_str(), m.dedupe_key.as_str()), ("unknown", "78"));
        assert_eq!(m.peer, "u");
        assert!(m.error.as_deref().unwrap().contains("too deep"));
        let no_id =
            received(json!({"item_list": [{"type": 1, "text_item": {"text": "x"}}], "seq": 5}));
        assert_eq!(inbound("s", no_id, 0).unwrap().dedupe_key, "seq:5");
    }
}
