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
/// A tool answer's text block holds the same JSON as its stand-in; it is written as a JSON
/// string by [`escape_into`] (what serde_json writes, in about half its time), and the
/// whole line goes into one buffer sized for it, with room for the newline that ends it.
/// Bytes rather than a `String`: stdio writes them as they are, and checking that a line of a
/// page of history is UTF-8 (it is, by construction) cost as much as a tenth of escaping it.
pub fn encode(mut message: ServerJsonRpcMessage) -> serde_json::Result<Vec<u8>> {
    let Some((json, text_is_json)) = take_stand_in(&mut message) else {
        return serde_json::to_vec(&message);
    };
    // The message without the two copies of the answer: the text block emptied (when it is
    // the answer's JSON), the structured content taken out.
    let frame = serde_json::to_string(&message)?;
    let unexpected = || serde::ser::Error::custom("a tool result of an unexpected shape");
    // A response ends with its `result`, here an object that has at least `content`: the
    // frame ends `}}`, and the object's last member is followed by the one spliced in.
    let head = frame.strip_suffix("}}").ok_or_else(unexpected)?;
    // The first `"text":""` is the first content block's: the frame's strings hold no bare
    // `"` (serde_json writes `\"`), so the pattern cannot start inside one.
    let (before, after) = if text_is_json {
        let at = head.find(EMPTY_TEXT).ok_or_else(unexpected)? + EMPTY_TEXT.len() - 1;
        (&head[..at], &head[at..])
    } else {
        (head, "")
    };
    // `escape_into` needs room for twice the text while it writes.
    let escaped = if text_is_json { 2 * json.len() } else { 0 };
    let mut line = Vec::with_capacity(head.len() + escaped + json.len() + 24);
    line.extend_from_slice(before.as_bytes());
    if text_is_json {
        escape_into(&json, &mut line);
    }
    line.extend_from_slice(after.as_bytes());
    line.extend_from_slice(b",\"structuredContent\":");
    line.extend_from_slice(json.as_bytes());
    line.extend_from_slice(b"}}");
    // UTF-8: UTF-8 pieces, and escapes inserted only before ASCII bytes.
    Ok(line)
}

/// An empty text block's text member, as serde_json writes it.
const EMPTY_TEXT: &str = "\"text\":\"\"";

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

/// Appends `s` as the contents of a JSON string (without its quotes), exactly as serde_json
/// writes it: `"` and `\` escaped, control characters as `\n`, `\t`… or `\u00XX`,
/// everything else as is.
///
/// A tool answer's JSON has a `"` every few bytes and no control character (serde_json
/// escaped them), so the common case is written without a branch per byte: each byte is
/// stored after a `\` that the next byte overwrites unless this one needed it. That takes
/// about half the time of serde_json's own escaping of the same text (a page of `history`:
/// 6.7 against 12.5 µs, in a loop of 100,000). Text with a control character is written byte
/// by byte.
pub fn escape_into(s: &str, out: &mut Vec<u8>) {
    let bytes = s.as_bytes();
    if bytes.iter().fold(false, |seen, &b| seen | (b < 0x20)) {
        return escape_bytewise(bytes, out);
    }
    let start = out.len();
    // At most two bytes for each.
    out.resize(start + 2 * bytes.len(), 0);
    let written = {
        let free = &mut out[start..];
        let mut at = 0;
        for &b in bytes {
            let escaped = usize::from(b == b'"' || b == b'\\');
            free[at] = b'\\';
            free[at + escaped] = b;
            at += 1 + escaped;
        }
        at
    };
    out.truncate(start + written);
}

/// [`escape_into`] one byte at a time, for text with control characters.
fn escape_bytewise(bytes: &[u8], out: &mut Vec<u8>) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for &b in bytes {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            0..0x20 => {
                out.extend_from_slice(b"\\u00");
                out.push(HEX[usize::from(b >> 4)]);
                out.push(HEX[usize::from(b & 0xf)]);
            }
            _ => out.push(b),
        }
    }
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

    /// A tool's answer, its text block the same JSON as its stand-in (as `structured` makes
    /// it), is written as serde_json writes the result with the tree: the same members (the
    /// structured content last rather than before `isError`) and the same values.
    #[test]
    fn an_answer_is_written_as_serde_writes_it() {
        let object = json!({
            "messages": [{"text": "我们 \"quoted\" back\\slash\n\t\u{1}\u{1f}\u{7f} é", "n": 1}],
            "total": 2, "note": null, "empty": "", "里": "面"
        });
        for is_error in [false, true] {
            let text = object.to_string();
            let tree = if is_error {
                CallToolResult::error(vec![ContentBlock::text(text.clone())])
            } else {
                CallToolResult::success(vec![ContentBlock::text(text.clone())])
            };
            let mut with_tree = tree.clone();
            with_tree.structured_content = Some(object.clone());
            let mut with_stand_in = tree;
            with_stand_in.structured_content = Some(stand_in(text));
            let line = encode(response(with_stand_in)).unwrap();
            assert!(!line.contains(&b'\n'));
            let got: Value = serde_json::from_slice(&line).unwrap();
            assert_eq!(got, serde_json::to_value(response(with_tree)).unwrap());
        }
    }

    /// `escape_into` writes what serde_json writes for any string: every ASCII byte, in runs
    /// of every length around the eight-byte words, and characters of two to four bytes.
    #[test]
    fn escaping_agrees_with_serde_json() {
        use rand::{Rng, SeedableRng};
        let alphabet: Vec<char> = (0u8..0x80)
            .map(char::from)
            .chain(['é', '里', '😀', '\u{80}', '\u{2028}'])
            .collect();
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        for round in 0..30_000 {
            let len = round % 40;
            // From mostly plain letters (long unescaped runs) to none.
            let plain = [0.9, 0.5, 0.0][round % 3];
            let s: String = (0..len)
                .map(|_| {
                    if rng.random_bool(plain) {
                        'a'
                    } else {
                        alphabet[rng.random_range(0..alphabet.len())]
                    }
                })
                .collect();
            let mut out = Vec::new();
            escape_into(&s, &mut out);
            let serde = serde_json::to_string(&s).unwrap();
            assert_eq!(out, &serde.as_bytes()[1..serde.len() - 1], "escaping {s:?}");
        }
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
