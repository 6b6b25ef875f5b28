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

use rmcp::model::{CallToolResponse, JsonRpcMessage, ServerJsonRpcMessage, ServerResult};
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
/// serde_json writes the message (the text block escaped as it goes) into a buffer sized for
/// the whole line, with room for the newline that ends it, and the structured content is
/// appended in place. Bytes rather than a `String`: stdio writes them as they are.
pub fn encode(mut message: ServerJsonRpcMessage) -> serde_json::Result<Vec<u8>> {
    let Some(json) = take_stand_in(&mut message) else {
        return serde_json::to_vec(&message);
    };
    // The text block holds the same JSON escaped (a page of history: an eighth more), then
    // the structured content.
    let mut line = Vec::with_capacity(json.len() * 5 / 2 + 256);
    serde_json::to_writer(&mut line, &message)?;
    // A response ends with its `result`, here an object that has at least `content`: the line
    // ends `}}`, and the object's last member is followed by the one appended.
    if !line.ends_with(b"}}") {
        return Err(serde::ser::Error::custom(
            "a tool result of an unexpected shape",
        ));
    }
    line.truncate(line.len() - 2);
    line.extend_from_slice(b",\"structuredContent\":");
    line.extend_from_slice(json.as_bytes());
    line.extend_from_slice(b"}}");
    Ok(line)
}

/// Takes a tool answer's stand-in (its JSON) out of `message`.
fn take_stand_in(message: &mut ServerJsonRpcMessage) -> Option<String> {
    let JsonRpcMessage::Response(response) = message else {
        return None;
    };
    let ServerResult::CallToolResult(result) = &mut response.result else {
        return None;
    };
    match result.structured_content.take() {
        Some(Value::String(json)) => Some(json),
        other => {
            result.structured_content = other;
            None
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
