//! Structured tool answers written to JSON once.
//!
//! A tool's structured answer goes out twice in one result: as the JSON text of its text block
//! (for clients that read only text) and as `structuredContent`. rmcp's result type holds the
//! latter as a `serde_json::Value` tree, which costs building, writing and freeing: for a page
//! of `history` it was more than a fifth of the server's CPU time per call (perf).
//!
//! So [`stand_in`] carries the JSON text itself where the tree would go, and each transport
//! turns it back into the object on the way out:
//!
//! - the transports that write their own messages (stdio, legacy SSE) call [`encode`], which
//!   writes the text verbatim as the object: the answer is serialized once;
//! - rmcp's Streamable HTTP writes messages itself, so there [`expand`] parses the text into
//!   the tree before the result leaves the handler ([`WxlinkMcp`](super::WxlinkMcp) knows
//!   which transport it serves).
//!
//! A stand-in is recognised by its shape: structured content is always a JSON object (the
//! spec's and every output schema's), so a string there is one.

use rmcp::model::{
    CallToolResponse, ContentBlock, JsonRpcMessage, ServerJsonRpcMessage, ServerResult,
};
use rmcp::ErrorData;
use serde_json::Value;

/// What a tool puts in `structuredContent` for an answer whose JSON text is `json` (an object,
/// written by serde_json).
pub fn stand_in(json: String) -> Value {
    Value::String(json)
}

/// Replaces a stand-in in `response` with the object it stands for (for transports that
/// serialize results themselves).
pub fn expand(response: &mut CallToolResponse) -> Result<(), ErrorData> {
    let CallToolResponse::Complete(result) = response else {
        return Ok(());
    };
    if let Some(Value::String(json)) = &result.structured_content {
        let object = serde_json::from_str(json).map_err(|e| {
            ErrorData::internal_error(format!("cannot read a structured result: {e}"), None)
        })?;
        result.structured_content = Some(object);
    }
    Ok(())
}

/// `message` as one line of JSON (UTF-8, no newline), a stand-in written as the object it
/// stands for.
///
/// A tool answer's text block holds the same JSON as its stand-in. serde_json writes the
/// message without either copy (a frame of some hundred bytes), and the line is put together
/// in one buffer: the frame up to the text block's text, that text escaped by
/// `json_escape_simd` (serde_json escapes byte by byte and copies the run before each of a
/// page's thousand `"`: `benches/encode.rs`), the rest of the frame, the structured content
/// verbatim. Bytes rather than a `String`: stdio writes them as they are.
pub fn encode(mut message: ServerJsonRpcMessage) -> serde_json::Result<Vec<u8>> {
    let Some((json, text_is_json)) = take_stand_in(&mut message) else {
        return serde_json::to_vec(&message);
    };
    let frame = serde_json::to_vec(&message)?;
    let unexpected = || serde::ser::Error::custom("a tool result of an unexpected shape");
    // A response ends with its `result`, here an object that has at least `content`: the
    // frame ends `}}`, and the object's last member is followed by the one appended.
    let head = frame.strip_suffix(b"}}").ok_or_else(unexpected)?;
    // The text goes where the emptied text block's `""` is: the first `"text":""` is the first
    // content block's, since the frame's strings hold no bare `"` (serde_json writes `\"`) and
    // nothing before `content` is an object with a `text`.
    let (before, after) = if text_is_json {
        let at = find(head, EMPTY_TEXT).ok_or_else(unexpected)? + EMPTY_TEXT.len() - 2;
        (&head[..at], &head[at + 2..])
    } else {
        (head, &[][..])
    };
    // `escape_into` wants room for six bytes per byte of text while it writes; the buffer is
    // cut down to the line (and its newline) after, in place.
    let escaping = if text_is_json { 6 * json.len() + 35 } else { 0 };
    let mut line = Vec::with_capacity(head.len() + escaping + json.len() + 32);
    line.extend_from_slice(before);
    if text_is_json {
        json_escape_simd::escape_into(&json, &mut line);
    }
    line.extend_from_slice(after);
    line.extend_from_slice(b",\"structuredContent\":");
    line.extend_from_slice(json.as_bytes());
    line.extend_from_slice(b"}}");
    line.shrink_to(line.len() + 1);
    Ok(line)
}

/// An empty text block's text member, as serde_json writes it.
const EMPTY_TEXT: &[u8] = b"\"text\":\"\"";

/// Where `needle` first starts in `haystack`.
fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Takes a tool answer's stand-in out of `message`: its JSON, and whether the first content
/// block (the text block) held the same JSON and was emptied for [`encode`] to write it.
fn take_stand_in(message: &mut ServerJsonRpcMessage) -> Option<(String, bool)> {
    let JsonRpcMessage::Response(response) = message else {
        return None;
    };
    let ServerResult::CallToolResult(result) = &mut response.result else {
        return None;
    };
    let json = match result.structured_content.take() {
        Some(Value::String(json)) => json,
        other => {
            result.structured_content = other;
            return None;
        }
    };
    let text_is_json = match result.content.first_mut() {
        Some(ContentBlock::Text(block)) if block.text == json => {
            block.text = String::new();
            true
        }
        _ => false,
    };
    Some((json, text_is_json))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rmcp::model::{CallToolResult, ContentBlock, JsonRpcResponse, NumberOrString};
    use serde_json::json;

    fn response(result: CallToolResult) -> ServerJsonRpcMessage {
        JsonRpcMessage::Response(JsonRpcResponse {
            jsonrpc: Default::default(),
            id: NumberOrString::Number(7),
            result: ServerResult::CallToolResult(result),
        })
    }

    fn answer(structured: Value, is_error: bool) -> CallToolResult {
        let mut result = if is_error {
            CallToolResult::error(vec![ContentBlock::text("{\"a\":\"x\\\"y\"}")])
        } else {
            CallToolResult::success(vec![ContentBlock::text("{\"a\":\"x\\\"y\"}")])
        };
        result.structured_content = Some(structured);
        result
    }

    /// Written from the stand-in, the line is the JSON rmcp writes from the tree: same
    /// members, same values.
    #[test]
    fn a_stand_in_is_written_as_the_object() {
        let object = json!({"a": "x\"y", "n": [1, 2, {"m": null}], "里": "面"});
        for is_error in [false, true] {
            let expected = serde_json::to_value(response(answer(object.clone(), is_error)));
            let line = encode(response(answer(stand_in(object.to_string()), is_error))).unwrap();
            let got: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(got, expected.unwrap());
            assert!(!line.contains(&b'\n'));
        }
    }

    /// A text block holding the stand-in's JSON is written from it: the JSON rmcp writes from
    /// the tree, the text escaped byte for byte as serde_json escapes it; and any text
    /// (control characters, `"`, `\\`, CJK, emoji) reads back unchanged, whatever the request
    /// id holds.
    #[test]
    fn a_text_block_of_the_answer_is_written_from_it() {
        let every: String = (0u8..0x80)
            .map(char::from)
            .chain("里面🙂".chars())
            .collect();
        let object = json!({"a": "x\"y\\z", "all": every, "n": [1, {"m": null}]});
        let json = object.to_string();
        for is_error in [false, true] {
            let mut result = if is_error {
                CallToolResult::error(vec![ContentBlock::text(json.clone())])
            } else {
                CallToolResult::success(vec![ContentBlock::text(json.clone())])
            };
            result.structured_content = Some(object.clone());
            let expected = serde_json::to_value(response(result.clone())).unwrap();
            result.structured_content = Some(stand_in(json.clone()));
            let line = encode(response(result.clone())).unwrap();
            assert_eq!(serde_json::from_slice::<Value>(&line).unwrap(), expected);
            let escaped = serde_json::to_vec(&json).unwrap();
            assert!(line.windows(escaped.len()).any(|w| w == escaped));

            let mut odd = response(result);
            if let JsonRpcMessage::Response(r) = &mut odd {
                r.id = NumberOrString::String("\"text\":\"\"},".into());
            }
            let got: Value = serde_json::from_slice(&encode(odd).unwrap()).unwrap();
            assert_eq!(got["id"], "\"text\":\"\"},");
            assert_eq!(got["result"]["content"][0]["text"], json.as_str());
            assert_eq!(got["result"]["structuredContent"], object);
        }
        let mut raw = CallToolResult::success(vec![ContentBlock::text(every.clone())]);
        raw.structured_content = Some(stand_in(every.clone()));
        // Not JSON, but the text block must still read back as it was.
        let line = encode(response(raw)).unwrap();
        let text_end = line
            .windows(21)
            .position(|w| w == b",\"structuredContent\":");
        let frame = [&line[..text_end.unwrap()], b"}}"].concat();
        let got: Value = serde_json::from_slice(&frame).unwrap();
        assert_eq!(got["result"]["content"][0]["text"], every.as_str());
    }

    /// Everything else is written as serde writes it.
    #[test]
    fn other_messages_are_written_unchanged() {
        let plain = response(answer(json!({"k": 1}), false));
        assert_eq!(
            encode(plain.clone()).unwrap(),
            serde_json::to_vec(&plain).unwrap()
        );
        let text_only = response(CallToolResult::success(vec![ContentBlock::text("hi")]));
        assert_eq!(
            encode(text_only.clone()).unwrap(),
            serde_json::to_vec(&text_only).unwrap()
        );
    }

    /// Expanded, a stand-in is the object; an object is left alone; broken text is an error.
    #[test]
    fn expand_parses_the_stand_in() {
        let object = json!({"a": [1, "two"]});
        let mut r = CallToolResponse::from(answer(stand_in(object.to_string()), false));
        expand(&mut r).unwrap();
        let CallToolResponse::Complete(done) = &r else {
            panic!("not complete")
        };
        assert_eq!(done.structured_content, Some(object.clone()));
        let mut again = r.clone();
        expand(&mut again).unwrap();
        let CallToolResponse::Complete(again) = &again else {
            panic!("not complete")
        };
        assert_eq!(again.structured_content, Some(object));
        let mut broken = CallToolResponse::from(answer(stand_in("{".into()), false));
        assert!(expand(&mut broken).is_err());
    }
}
