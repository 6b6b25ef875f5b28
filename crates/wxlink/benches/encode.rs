//! Writing a tool answer to stdio: a page of `history` (20 messages, the answer
//! `bench/tools.py` times) written the way `mcp::rendered::encode` writes it, against serde_json
//! writing the same response from rmcp's `Value` tree (rmcp's own way), and the text block's
//! escaping alone: `rendered::escape_into` against serde_json's.
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
use wxlink::mcp::rendered::{encode, escape_into, stand_in};

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

fn response(structured: Value, text: String) -> ServerJsonRpcMessage {
    let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
    result.structured_content = Some(structured);
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

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn show(label: &str, v: &[f64]) {
    let mut s = v.to_vec();
    s.sort_by(f64::total_cmp);
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
    // The two ways write the same message.
    let ours: Value =
        serde_json::from_slice(&encode(response(stand_in(text.clone()), text.clone())).unwrap())
            .unwrap();
    assert_eq!(
        ours,
        serde_json::to_value(response(tree.clone(), text.clone())).unwrap()
    );

    // Escaping alone, then whole lines (each builds its message, as a server does).
    let serde_escape = rounds(n, || {
        let mut out = Vec::with_capacity(3 * text.len());
        serde_json::to_writer(&mut out, black_box(text.as_str())).unwrap();
        out.len()
    });
    let our_escape = rounds(n, || {
        let mut out = Vec::with_capacity(3 * text.len());
        escape_into(black_box(&text), &mut out);
        out.len()
    });
    let serde_line = rounds(n, || {
        let message = response(black_box(&tree).clone(), text.clone());
        serde_json::to_vec(&message).unwrap().len()
    });
    let our_line = rounds(n, || {
        let message = response(stand_in(text.clone()), text.clone());
        encode(message).unwrap().len()
    });
    println!(
        "a page of history ({} B of JSON, a line of {} B), {n} rounds of {PER_ROUND}:",
        text.len(),
        encode(response(stand_in(text.clone()), text.clone()))
            .unwrap()
            .len()
    );
    show("text block escaped: serde_json", &serde_escape);
    show("text block escaped: rendered::escape_into", &our_escape);
    show("line from rmcp's tree (serde_json)", &serde_line);
    show("line from the JSON text (rendered::encode)", &our_line);
    println!(
        "  escaping {:.2}x faster; the line {:.2}x faster (the tree's clone included, as a server \
         builds it)",
        median(&serde_escape) / median(&our_escape),
        median(&serde_line) / median(&our_line)
    );
}
