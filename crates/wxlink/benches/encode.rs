//! Writing a tool answer to stdio: a page of `history` (20 messages, the answer
//! `bench/tools.py` times) written the way `mcp::rendered::encode` writes it, against serde_json
//! writing the same response from rmcp's `Value` tree (rmcp's own way), and against `encode`
//! as it was (serde_json escaping the text block as it writes the message; `encode` now
//! escapes it with `json_escape_simd`).
//!
//! `cargo bench -p wxlink --bench encode` — knob: `ENCODE_BENCH_ROUNDS` (default 15 rounds of
//! 2,000 pages each). Prints µs per page as min / median / max over the rounds' medians, and
//! the ratios.

use std::hint::black_box;
use std::time::Instant;

use rmcp::model::{
    CallToolResult, ContentBlock, JsonRpcMessage, JsonRpcResponse, NumberOrString,
    ServerJsonRpcMessage, ServerResult,
};
use serde_json::{json, Value};
use wxlink::mcp::rendered::{encode, stand_in};

/// Pages written per round.
const PER_ROUND: usize = 2_000;

/// The structured answer of `history` with `limit` 20, as `bench/tools.py`'s store holds it.
fn page() -> Value {
    let messages: Vec<Value> = (0..20)
        .map(|i| {
            let text = format!("我们明天开会 budget review {}", 499 - i);
            json!({
                "id": (500 - i).to_string(),
                "message_id": format!("74625006640139{:05}", 58306 - i),
                "session": "default",
                "bot_id": "482e7cb363e1@im.bot",
                "direction": "in",
                "user": "o9cq80003a0291c2fe02d5045025@im.wechat",
                "from": "o9cq80003a0291c2fe02d5045025@im.wechat",
                "to": "482e7cb363e1@im.bot",
                "type": "text",
                "text": text,
                "items": [{"text": text, "type": "text"}],
                "time": "2026-12-06T21:35:06.529Z",
                "timestamp_ms": 1_796_592_906_529_i64,
                "status": "received",
            })
        })
        .collect();
    json!({"messages": messages, "total": 500, "total_exact": true, "limit": 20, "offset": 0})
}

/// A `tools/call` response with `text` in its text block and `structured` as its structured
/// content (an object, or a stand-in).
fn response(structured: Option<Value>, text: String) -> ServerJsonRpcMessage {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = structured;
    JsonRpcMessage::Response(JsonRpcResponse {
        jsonrpc: Default::default(),
        id: NumberOrString::Number(7),
        result: ServerResult::CallToolResult(result),
    })
}

/// µs per call of `f` over `PER_ROUND` calls, per round.
fn rounds(rounds: usize, mut f: impl FnMut() -> usize) -> Vec<f64> {
    (0..rounds)
        .map(|_| {
            let start = Instant::now();
            let mut bytes = 0;
            for _ in 0..PER_ROUND {
                bytes += f();
            }
            black_box(bytes);
            start.elapsed().as_secs_f64() * 1e6 / PER_ROUND as f64
        })
        .collect()
}

fn sorted(v: &[f64]) -> Vec<f64> {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
    s
}

fn median(v: &[f64]) -> f64 {
    sorted(v)[v.len() / 2]
}

fn show(label: &str, v: &[f64]) {
    let s = sorted(v);
    println!(
        "  {label:<44} min {:6.2}  median {:6.2}  max {:6.2} µs",
        s[0],
        median(v),
        s[s.len() - 1]
    );
}

fn main() {
    let n: usize = std::env::var("ENCODE_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(15);
    let tree = page();
    let text = tree.to_string();
    // The ways below write the same message.
    let line = encode(response(Some(stand_in(text.clone())), text.clone())).expect("encode");
    let ours: Value = serde_json::from_slice(&line).expect("JSON");
    let theirs = serde_json::to_value(response(Some(tree.clone()), text.clone())).expect("JSON");
    assert_eq!(ours, theirs);

    // Whole lines, each message built as a server builds it.
    let from_tree = rounds(n, || {
        let message = response(Some(black_box(&tree).clone()), text.clone());
        serde_json::to_vec(&message).expect("JSON").len()
    });
    // As `encode` wrote it before: serde_json escaping the text block as it writes the
    // message into a buffer sized for the line, the structured content appended.
    let serde_escaped = rounds(n, || {
        let message = response(None, text.clone());
        let mut line = Vec::with_capacity(text.len() * 5 / 2 + 256);
        serde_json::to_writer(&mut line, &message).expect("JSON");
        line.truncate(line.len() - 2);
        line.extend_from_slice(b",\"structuredContent\":");
        line.extend_from_slice(text.as_bytes());
        line.extend_from_slice(b"}}");
        line.len()
    });
    let encoded = rounds(n, || {
        let message = response(Some(stand_in(text.clone())), text.clone());
        encode(message).expect("encode").len()
    });
    println!(
        "a page of history ({} B of JSON, a line of {} B), {n} rounds of {PER_ROUND}:",
        text.len(),
        line.len()
    );
    show("line from rmcp's tree (serde_json)", &from_tree);
    show("text escaped by serde_json (encode before)", &serde_escaped);
    show("line from the text (rendered::encode)", &encoded);
    println!(
        "  from the tree / encode {:.2}x (the tree's clone included, as a server builds it); \
         serde_json's escaping / encode {:.2}x",
        median(&from_tree) / median(&encoded),
        median(&serde_escaped) / median(&encoded)
    );
}
