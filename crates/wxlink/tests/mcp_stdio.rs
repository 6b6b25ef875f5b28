//! `wxlink mcp` as a separate process speaking raw JSON-RPC over stdio, against the fake iLink
//! server: the handshake, the tool list with schemas, a QR login, a message received and
//! answered, nothing but JSON-RPC on stdout, and a clean exit (with `notifystop`) on stdin EOF.
//! (The end-to-end suite with the official MCP client is `tests/mcp/`.)

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use ilink_fake::{FakeIlink, InboundSpec};
use serde_json::{json, Value};

use common::stdio::Server;

fn drive(fake: Arc<FakeIlink>, dir: &Path) {
    let mut s = Server::start(&fake, dir);
    let init = s.request(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {},
               "clientInfo": {"name": "cargo-test", "version": "0"}}),
    );
    assert_eq!(init["protocolVersion"], "2025-11-25");
    assert_eq!(init["serverInfo"]["name"], "wxlink");
    assert_eq!(init["serverInfo"]["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(init["capabilities"]["resources"]["subscribe"], true);
    assert!(init["instructions"]
        .as_str()
        .unwrap_or("")
        .contains("16 KiB"));
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let tools = s.request("tools/list", json!({}));
    let mut names: Vec<&str> = tools["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| {
            assert!(t["outputSchema"].is_object(), "{t}");
            assert!(t["annotations"].is_object(), "{t}");
            t["name"].as_str().unwrap_or_default()
        })
        .collect();
    names.sort_unstable();
    // Without a Wechaty session: WeiLink's nine tools, typing and contacts.
    assert_eq!(
        names,
        [
            "contacts",
            "download",
            "history",
            "login",
            "logout",
            "recv",
            "rename_session",
            "send",
            "sessions",
            "set_default",
            "typing",
        ]
    );

    // QR login: the first call shows the QR, later ones wait for the (auto-confirming) fake.
    let first = s.call("login", json!({}));
    assert_eq!(first["structuredContent"]["status"], "pending");
    assert!(first["content"]
        .as_array()
        .is_some_and(|c| c.iter().any(|b| b["type"] == "image")));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let r = s.call("login", json!({"timeout": 5}));
        if r["structuredContent"]["status"] == "confirmed" {
            break;
        }
        assert!(Instant::now() < deadline, "login never confirmed: {r}");
    }
    let user = fake.bots()[0].user_id.clone();

    fake.inject(&InboundSpec {
        text: Some("你好".into()),
        ..InboundSpec::default()
    })
    .expect("inject");
    let got = s.call("recv", json!({"timeout": 20}));
    let messages = &got["structuredContent"]["messages"];
    assert_eq!(messages[0]["text"], "你好", "{got}");
    assert_eq!(messages[0]["user"], json!(user));

    // The conversation template's user_id completes to the users who wrote.
    let prefix: String = user.chars().take(3).collect();
    let completion = s.request(
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "wxlink://conversation/{user_id}"},
               "argument": {"name": "user_id", "value": prefix}}),
    );
    assert_eq!(
        completion["completion"]["values"],
        json!([user]),
        "{completion}"
    );

    let sent = s.call("send", json!({"to": user, "text": "收到"}));
    assert_eq!(sent["structuredContent"]["success"], true);
    assert_eq!(fake.sent().len(), 1);

    // stdin EOF: a clean exit, with the poller's notifystop.
    drop(s.stdin.take());
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = s.child.try_wait().expect("wait") {
            break status;
        }
        assert!(Instant::now() < deadline, "wxlink mcp did not exit on EOF");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "{status}");
    assert!(!fake.requests(Some("notifystop")).is_empty());
    // Whatever else was printed is JSON-RPC too.
    for line in s.lines.try_iter() {
        let msg: Value = serde_json::from_str(&line).expect("JSON");
        assert_eq!(msg["jsonrpc"], "2.0");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_session_logs_in_receives_and_replies() {
    let fake = Arc::new(FakeIlink::start().await.expect("fake"));
    fake.configure(|c| {
        c.hold_ms = 300;
        c.qr_hold_ms = 50;
        c.qr_auto_confirm = true;
    });
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    let f = fake.clone();
    tokio::task::spawn_blocking(move || drive(f, &path))
        .await
        .expect("driver");
}

fn unreadable_lines(fake: Arc<FakeIlink>, dir: &Path) {
    let mut s = Server::start(&fake, dir);
    s.request(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {},
               "clientInfo": {"name": "mcp_stdio.rs", "version": "1"}}),
    );
    s.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let cases: [(&[u8], i64, Value); 7] = [
        (b"{not json", -32700, Value::Null),
        (b"\xff\xfe not utf-8", -32700, Value::Null),
        (br#"{"jsonrpc":"2.0","id":41,"foo":1}"#, -32600, json!(41)),
        (br#"[{"jsonrpc":"2.0","id":42,"method":"ping"}]"#, -32600, Value::Null),
        (
            br#"{"jsonrpc":"2.0","id":43,"method":"tools/call","params":{"name":"sessions","arguments":[]}}"#,
            -32602,
            json!(43),
        ),
        (
            br#"{"jsonrpc":"2.0","id":44,"method":"tools/call","params":{"arguments":{}}}"#,
            -32602,
            json!(44),
        ),
        (br#"{"jsonrpc":"2.0","id":45,"method":"no/such"}"#, -32601, json!(45)),
    ];
    for (line, code, id) in cases {
        let answer = s.raw(line);
        assert_eq!(answer["error"]["code"], code, "{answer}");
        assert_eq!(answer["id"], id, "{answer}");
        assert_eq!(answer["jsonrpc"], "2.0");
    }
    // The session goes on.
    assert!(s.request("tools/list", json!({}))["tools"].is_array());
    drop(s.stdin.take());
    let _ = s.child.wait();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lines_that_are_no_message_get_the_json_rpc_error() {
    let fake = Arc::new(FakeIlink::start().await.expect("fake"));
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().to_path_buf();
    tokio::task::spawn_blocking(move || unreadable_lines(fake, &path))
        .await
        .expect("driver");
}
