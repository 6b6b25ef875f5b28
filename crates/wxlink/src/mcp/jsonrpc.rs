//! Answers for input that is not a JSON-RPC message, which rmcp's transports drop (stdio) or
//! answer with a bare HTTP 415: input that is not JSON gets -32700 "Parse error", JSON that is
//! no message -32600 "Invalid Request", each with the request's `id` when one can be read and
//! `null` otherwise (JSON-RPC 2.0 §5.1). And a request for a method this server serves whose
//! params have the wrong shape is -32602 "Invalid params" (rmcp takes it for an unknown
//! method, -32601).

use rmcp::model::{ErrorCode, ErrorData};
use serde_json::{json, Value};

/// JSON-RPC "Parse error".
pub const PARSE_ERROR: i64 = -32700;
/// JSON-RPC "Invalid Request".
pub const INVALID_REQUEST: i64 = -32600;

/// The error response for `input`, which the transport could not read as a message.
pub fn reject(input: &[u8]) -> Value {
    let (id, code, message) = match serde_json::from_slice::<Value>(input) {
        Err(e) => (Value::Null, PARSE_ERROR, format!("Parse error: {e}")),
        Ok(v) => {
            let id = v
                .get("id")
                .filter(|id| id.is_string() || id.is_number())
                .cloned()
                .unwrap_or(Value::Null);
            let method = v.get("method").and_then(Value::as_str);
            if let Some(method) = method.filter(|m| SERVED.contains(m) && !id.is_null()) {
                let e = unrecognised(method, v.get("params"));
                return json!({"jsonrpc": "2.0", "id": id,
                    "error": {"code": e.code.0, "message": e.message}});
            }
            let why = if v.is_array() {
                "batches are not supported: send one message at a time"
            } else {
                "not a JSON-RPC 2.0 request, notification or response"
            };
            (id, INVALID_REQUEST, format!("Invalid Request: {why}"))
        }
    };
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// Methods this server answers whose params rmcp checks: a request for one of them that rmcp
/// could not read had params of the wrong shape. (`initialize` is not here: rmcp reads it
/// itself, and one it hands over is one 2026-07-28 removed, which is "method not found".)
const SERVED: &[&str] = &[
    "ping",
    "tools/list",
    "tools/call",
    "resources/list",
    "resources/templates/list",
    "resources/read",
    "completion/complete",
];

/// The error for a request rmcp did not recognise: -32602 for a served method (its params did
/// not fit), else -32601 "Method not found".
pub fn unrecognised(method: &str, params: Option<&Value>) -> ErrorData {
    if !SERVED.contains(&method) {
        return ErrorData::new(ErrorCode::METHOD_NOT_FOUND, method.to_string(), None);
    }
    let why = match (method, params) {
        ("tools/call", Some(p)) => match p.get("arguments") {
            Some(a) if !a.is_object() && !a.is_null() => {
                "`arguments` must be an object of named arguments".to_string()
            }
            _ if !p.get("name").is_some_and(Value::is_string) => {
                "`name` must be the tool's name".to_string()
            }
            _ => "the params do not match tools/call".to_string(),
        },
        (_, Some(p)) if !p.is_object() => "params must be an object".to_string(),
        _ => format!("the params do not match {method}"),
    };
    ErrorData::invalid_params(format!("Invalid params for {method}: {why}"), None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unreadable_input_gets_the_json_rpc_error() {
        let r = reject(b"{not json");
        assert_eq!(r["error"]["code"], PARSE_ERROR);
        assert_eq!(r["id"], Value::Null);
        let r = reject(br#"{"id": 7, "foo": 1}"#);
        assert_eq!(
            (r["error"]["code"].clone(), r["id"].clone()),
            (json!(INVALID_REQUEST), json!(7))
        );
        let r = reject(br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#);
        assert!(r["error"]["message"].as_str().unwrap().contains("batches"));
        assert_eq!(reject(br#"{"id": {"x": 1}}"#)["id"], Value::Null);
        let r = reject(br#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":[]}"#);
        assert_eq!(
            (r["error"]["code"].clone(), r["id"].clone()),
            (json!(-32602), json!(3))
        );
    }

    #[test]
    fn bad_params_of_served_methods_are_invalid_params() {
        let e = unrecognised(
            "tools/call",
            Some(&json!({"name": "send", "arguments": []})),
        );
        assert_eq!(e.code.0, -32602);
        assert!(
            e.message.contains("`arguments` must be an object"),
            "{}",
            e.message
        );
        let e = unrecognised("tools/call", Some(&json!({"arguments": {}})));
        assert!(e.message.contains("`name`"), "{}", e.message);
        assert_eq!(unrecognised("tools/list", Some(&json!([]))).code.0, -32602);
        assert_eq!(unrecognised("nope/x", None).code.0, -32601);
        assert_eq!(unrecognised("prompts/list", None).code.0, -32601);
        assert_eq!(unrecognised("initialize", Some(&json!({}))).code.0, -32601);
    }
}
