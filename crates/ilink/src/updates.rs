//! `getupdates` answers, read message by message so that no message can cost another.
//!
//! A reply is parsed in two steps. First the envelope (status, cursor, timeout) with each
//! entry of `msgs` kept as raw JSON text; unknown fields and any nesting are skipped without
//! building them, and unpaired surrogate escapes were repaired before ([`crate::json`]). Then
//! each entry on its own:
//! - an object becomes a [`Received`]: its raw JSON and the typed message, read leniently
//!   field by field (a field of the wrong type is left empty, the rest is kept);
//! - an object that cannot even be built as JSON (nested deeper than `serde_json` goes) is
//!   kept as its JSON text, with the reason, so it is still stored and the cursor moves on;
//! - anything else (`1`, `"x"`, `null`, `[]`) is no message: skipped, counted and logged.
//!
//! Only a reply whose envelope cannot be read is an error; the caller retries it.

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::error::snippet;
use crate::lenient;
use crate::wire::{StatusResponse, WeixinMessage};

/// One batch from `getupdates`.
#[derive(Debug, Clone, Default)]
pub struct Updates {
    /// The messages, in server order.
    pub messages: Vec<Received>,
    /// The cursor to pass next time (the old one when the server sent none).
    pub cursor: String,
    /// The server's suggested timeout for the next poll.
    pub next_timeout: Option<std::time::Duration>,
    /// True when the client gave up waiting (a normal long-poll end; no error).
    pub timed_out: bool,
    /// Entries of `msgs` that were not messages at all (not JSON objects), skipped.
    pub skipped: usize,
}

/// One inbound message: the raw JSON as delivered, and the typed model of it. A message the
/// model cannot read keeps its raw JSON and the reason, so nothing is lost.
#[derive(Debug, Clone)]
pub struct Received {
    /// The message exactly as the server sent it; for a message too deeply nested to be
    /// built as a JSON value, its JSON text as a string.
    pub raw: Value,
    /// The typed message, or why the raw JSON does not fit the model.
    pub message: std::result::Result<WeixinMessage, String>,
}

/// A `getupdates` body, read: the status fields (for [`crate::error`] classification) and
/// the batch.
#[derive(Debug, Clone, Default)]
pub struct UpdatesReply {
    /// `ret`, `errcode` and `errmsg`.
    pub status: StatusResponse,
    /// The messages, in server order.
    pub messages: Vec<Received>,
    /// The next cursor, when the server sent a non-empty one.
    pub cursor: Option<String>,
    /// `longpolling_timeout_ms`, when positive.
    pub next_timeout_ms: Option<u64>,
    /// Entries of `msgs` that were not JSON objects, skipped.
    pub skipped: usize,
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(default, with = "lenient::int")]
    ret: Option<i64>,
    #[serde(default, with = "lenient::int")]
    errcode: Option<i64>,
    #[serde(default, with = "lenient::string")]
    errmsg: Option<String>,
    #[serde(default, borrow)]
    msgs: Option<Vec<&'a RawValue>>,
    #[serde(default, with = "lenient::string")]
    get_updates_buf: Option<String>,
    #[serde(default, with = "lenient::int")]
    longpolling_timeout_ms: Option<u64>,
}

/// Reads a `getupdates` body. Fails only when the envelope itself is not a JSON object of
/// the expected shape (`msgs`, when present, a list).
pub fn parse_updates(body: &[u8]) -> Result<UpdatesReply, serde_json::Error> {
    let body = crate::json::repair_lone_surrogates(body);
    let envelope: Envelope<'_> = serde_json::from_slice(&body)?;
    let mut reply = UpdatesReply {
        status: StatusResponse {
            ret: envelope.ret,
            errcode: envelope.errcode,
            errmsg: envelope.errmsg,
            ..StatusResponse::default()
        },
        cursor: envelope.get_updates_buf.filter(|c| !c.is_empty()),
        next_timeout_ms: envelope.longpolling_timeout_ms.filter(|&ms| ms > 0),
        ..UpdatesReply::default()
    };
    for entry in envelope.msgs.unwrap_or_default() {
        match read_entry(entry.get()) {
            Some(received) => reply.messages.push(received),
            None => {
                reply.skipped += 1;
                tracing::warn!(
                    entry = %snippet(entry.get().as_bytes()),
                    "getupdates: skipping an entry of msgs that is not a message"
                );
            }
        }
    }
    Ok(reply)
}

/// One entry of `msgs`; `None` when it is not a JSON object.
fn read_entry(text: &str) -> Option<Received> {
    if !text.trim_start().starts_with('{') {
        return None;
    }
    Some(match serde_json::from_str::<Value>(text) {
        Ok(raw) => {
            let message = WeixinMessage::deserialize_from(&raw);
            Received { raw, message }
        }
        Err(e) => Received {
            raw: Value::String(text.to_string()),
            message: Err(format!("the message cannot be read as JSON: {e}")),
        },
    })
}

/// The top-level scalar fields of a message, read without building anything nested.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Header {
    #[serde(with = "lenient::int")]
    seq: Option<i64>,
    #[serde(with = "lenient::int")]
    message_id: Option<u64>,
    #[serde(with = "lenient::string")]
    from_user_id: Option<String>,
    #[serde(with = "lenient::string")]
    to_user_id: Option<String>,
    #[serde(with = "lenient::string")]
    client_id: Option<String>,
    #[serde(with = "lenient::int")]
    create_time_ms: Option<i64>,
    #[serde(with = "lenient::int")]
    message_type: Option<i64>,
    #[serde(with = "lenient::string")]
    context_token: Option<String>,
}

impl WeixinMessage {
    /// Reads a message from raw JSON, saying why when it does not fit the model (only when
    /// it is not an object: fields of the wrong type are left empty).
    pub fn deserialize_from(raw: &Value) -> std::result::Result<WeixinMessage, String> {
        WeixinMessage::deserialize(raw).map_err(|e| e.to_string())
    }

    /// What can be read of a message whose JSON cannot be built as a whole (see
    /// [`Received::raw`]): its top-level ids, sender, time and context token, no items.
    /// Empty when not even that can be read.
    pub fn header_of(text: &str) -> WeixinMessage {
        let h: Header = serde_json::from_str(text).unwrap_or_default();
        WeixinMessage {
            seq: h.seq,
            message_id: h.message_id,
            from_user_id: h.from_user_id,
            to_user_id: h.to_user_id,
            client_id: h.client_id,
            create_time_ms: h.create_time_ms,
            message_type: h.message_type,
            context_token: h.context_token,
            ..WeixinMessage::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(body: &str) -> UpdatesReply {
        parse_updates(body.as_bytes()).unwrap()
    }

    #[test]
    fn a_lone_surrogate_costs_nothing() {
        let r = parse(
            r#"{"ret":0,"msgs":[{"message_id":1,"item_list":[{"type":1,"text_item":{"text":"a\ud83d"}}]},
                {"message_id":2}],"get_updates_buf":"c2"}"#,
        );
        assert_eq!(r.messages.len(), 2);
        let m = r.messages[0].message.as_ref().unwrap();
        assert_eq!(
            m.item_list[0].text_item.as_ref().unwrap().text.as_deref(),
            Some("a\u{FFFD}")
        );
        assert_eq!(r.cursor.as_deref(), Some("c2"));
    }

    #[test]
    fn a_message_nested_too_deep_is_kept_as_text_and_the_rest_is_read() {
        let deep = format!("{}1{}", "[".repeat(200), "]".repeat(200));
        let body = format!(
            r#"{{"msgs":[{{"message_id":1,"x":{deep}}},{{"message_id":2,"from_user_id":"u"}}],
                "get_updates_buf":"next"}}"#
        );
        let r = parse(&body);
        assert_eq!(r.messages.len(), 2);
        assert!(r.messages[0].message.is_err());
        let text = r.messages[0].raw.as_str().unwrap();
        assert!(text.contains(&deep));
        assert_eq!(WeixinMessage::header_of(text).message_id, Some(1));
        assert_eq!(r.messages[1].message.as_ref().unwrap().message_id, Some(2));
        assert_eq!(r.cursor.as_deref(), Some("next"));
    }

    #[test]
    fn junk_entries_are_skipped_and_counted() {
        let r = parse(r#"{"msgs":[1,"x",null,[],{"message_id":7},true]}"#);
        assert_eq!(r.skipped, 5);
        assert_eq!(r.messages.len(), 1);
    }

    #[test]
    fn wrong_typed_fields_lose_only_themselves() {
        let r = parse(
            r#"{"msgs":[{"message_id":"not a number","create_time_ms":"soon","from_user_id":"u@im.wechat",
                "item_list":[{"type":1,"text_item":{"text":"kept"}},
                             {"type":3,"voice_item":{"playtime":"long","text":"said"}},
                             {"type":5,"video_item":{"video_size":-5}}, 7]}]}"#,
        );
        let m = r.messages[0].message.as_ref().unwrap();
        assert_eq!(m.message_id, None);
        assert_eq!(m.create_time_ms, None);
        assert_eq!(m.from_user_id.as_deref(), Some("u@im.wechat"));
        assert_eq!(m.item_list.len(), 3);
        assert_eq!(
            m.item_list[0].text_item.as_ref().unwrap().text.as_deref(),
            Some("kept")
        );
        let voice = m.item_list[1].voice_item.as_ref().unwrap();
        assert_eq!(voice.text.as_deref(), Some("said"));
        assert_eq!(m.item_list[2].video_item.as_ref().unwrap().video_size, None);
    }

    #[test]
    fn ids_out_of_range_are_dropped_not_fatal() {
        let r = parse(
            r#"{"msgs":[{"message_id":1e30,"seq":"x","item_list":[{"type":1,"text_item":{"text":"t"}}]}]}"#,
        );
        let m = r.messages[0].message.as_ref().unwrap();
        assert_eq!(m.message_id, None);
        assert_eq!(m.item_list.len(), 1);
        let r = parse(r#"{"msgs":[{"message_id":"18446744073709551616"}]}"#);
        assert_eq!(r.messages[0].message.as_ref().unwrap().message_id, None);
        let r = parse(r#"{"msgs":[{"message_id":"18446744073709551615"}]}"#);
        assert_eq!(
            r.messages[0].message.as_ref().unwrap().message_id,
            Some(u64::MAX)
        );
    }

    #[test]
    fn an_unreadable_envelope_is_an_error() {
        assert!(parse_updates(b"<html>502</html>").is_err());
        assert!(parse_updates(br#"{"ret":0,"msgs":{"a":1}}"#).is_err());
        assert!(parse_updates(br#"{"ret":0,"msgs":[{"seq":1,"message_id":74"#).is_err());
        let nulls = parse(r#"{"msgs":null,"get_updates_buf":null,"ret":null}"#);
        assert!(nulls.messages.is_empty() && nulls.cursor.is_none());
    }
}
