//! The building blocks every fixture shares: media payloads (a PNG from wxlink's own QR encoder,
//! a tiny WAV), tool-result and schema helpers, the input requests of multi round-trip requests
//! (SEP-2322: elicitation, sampling, roots) and readers of the client's answers to them.

use std::collections::BTreeMap;
use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, InputRequest, InputRequests, JsonObject};
use rmcp::ErrorData;
use serde_json::{json, Value};
use wxlink::qr;

/// A JSON object literal as a tool input schema.
pub fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// A small PNG (wxlink's own encoder: a QR code).
pub fn png_base64() -> String {
    qr::png("wxlink conformance").map_or_else(String::new, |png| qr::base64(&png))
}

/// A tiny WAV file: 8 kHz mono 16-bit, 16 samples of silence.
pub fn wav_base64() -> String {
    let samples = 16u32;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
    wav.extend_from_slice(&16000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    qr::base64(&wav)
}

/// A successful tool result with one text block.
pub fn text(s: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s)])
}

/// A protocol value from its wire form (a fixture bug is an internal error).
pub fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value)
        .map_err(|e| ErrorData::internal_error(format!("bad fixture: {e}"), None))
}

/// One MRTR input request, from its wire form.
pub fn input_request(method: &str, params: Value) -> Result<InputRequest, ErrorData> {
    from_json(json!({ "method": method, "params": params }))
}

/// An `elicitation/create` asking for a name.
pub fn ask_name(message: &str) -> Result<InputRequest, ErrorData> {
    ask(message, "name")
}

/// An `elicitation/create` asking for one required string field.
pub fn ask(message: &str, field: &str) -> Result<InputRequest, ErrorData> {
    input_request(
        "elicitation/create",
        json!({
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { field: { "type": "string" } },
                "required": [field],
            },
        }),
    )
}

/// An `elicitation/create` asking for one required boolean field.
pub fn ask_bool(message: &str, field: &str) -> Result<InputRequest, ErrorData> {
    input_request(
        "elicitation/create",
        json!({
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { field: { "type": "boolean" } },
                "required": [field],
            },
        }),
    )
}

/// A `sampling/createMessage` with one user prompt.
pub fn sample(prompt: &str, max_tokens: u32) -> Result<InputRequest, ErrorData> {
    input_request(
        "sampling/createMessage",
        json!({
            "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
            "maxTokens": max_tokens,
        }),
    )
}

/// A `roots/list`.
pub fn roots() -> Result<InputRequest, ErrorData> {
    input_request("roots/list", json!({}))
}

/// Named input requests.
pub fn requests<const N: usize>(items: [(&str, InputRequest); N]) -> InputRequests {
    items
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<BTreeMap<_, _>>()
}

/// The accepted content field `field` of an elicitation response, if that is what it is.
pub fn accepted(response: Option<&Value>, field: &str) -> Option<String> {
    let response = response?.as_object()?;
    if response.get("action")?.as_str()? != "accept" {
        return None;
    }
    Some(
        response
            .get("content")?
            .get(field)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default(),
    )
}

/// The text of a sampling response (`CreateMessageResult`).
pub fn sampled(response: Option<&Value>) -> Option<String> {
    let content = response?.get("content")?;
    let block = content
        .as_array()
        .and_then(|a| a.first())
        .unwrap_or(content);
    block.get("text")?.as_str().map(str::to_owned)
}

/// The root URIs of a `ListRootsResult`.
pub fn root_uris(response: Option<&Value>) -> Option<Vec<String>> {
    let roots = response?.get("roots")?.as_array()?;
    Some(
        roots
            .iter()
            .filter_map(|r| r.get("uri")?.as_str().map(str::to_owned))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_fixtures_decode() {
        assert!(!png_base64().is_empty());
        // RIFF header + 32 bytes of samples, base64: 4 * ceil(76 / 3).
        assert_eq!(wav_base64().len(), 4 * 76_usize.div_ceil(3));
    }

    #[test]
    fn elicitation_answers() {
        let ok = json!({ "action": "accept", "content": { "name": "Alice" } });
        assert_eq!(accepted(Some(&ok), "name").as_deref(), Some("Alice"));
        assert_eq!(accepted(Some(&json!(12345)), "name"), None);
        assert_eq!(
            accepted(Some(&json!({ "action": "decline" })), "name"),
            None
        );
        assert_eq!(accepted(None, "name"), None);
    }

    #[test]
    fn sampling_and_roots_answers() {
        let message =
            json!({ "role": "assistant", "content": { "type": "text", "text": "Paris" } });
        assert_eq!(sampled(Some(&message)).as_deref(), Some("Paris"));
        let listed = json!({ "roots": [{ "uri": "file:///a" }, { "name": "no uri" }] });
        assert_eq!(
            root_uris(Some(&listed)),
            Some(vec!["file:///a".to_string()])
        );
        assert_eq!(root_uris(None), None);
    }
}
