//! The HTTP server under hostile or unlucky use: sends naming FIFOs and devices never stall it,
//! a session that ended answers 404 (so clients start a new one), tokens that cannot work are
//! refused at start, input that is no message gets the JSON-RPC error, and a session whose polls
//! keep failing shows as degraded in `/health`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

mod common;
use common::http::*;

/// An initialized Streamable HTTP session; its headers.
fn session(addr: &str, auth: (&'static str, &'static str)) -> Vec<(&'static str, String)> {
    let init = request(
        addr,
        "POST",
        "/mcp",
        &[auth, MCP_ACCEPT],
        &initialize_body(),
    );
    assert_eq!(init.status, 200, "{}", init.body);
    let id = init.header("mcp-session-id").expect("Mcp-Session-Id");
    let headers = vec![
        (auth.0, auth.1.to_string()),
        (MCP_ACCEPT.0, MCP_ACCEPT.1.to_string()),
        ("Mcp-Session-Id", id),
        ("Mcp-Protocol-Version", "2025-06-18".to_string()),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = post(addr, &headers, &initialized.to_string());
    assert_eq!(ack.status, 202, "{}", ack.body);
    headers
}

fn post(addr: &str, headers: &[(&'static str, String)], body: &str) -> Reply {
    let h: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
    request(addr, "POST", "/mcp", &h, body)
}

const AUTH: (&str, &str) = ("Authorization", "Bearer s3cret-token-for-tests");

#[test]
fn health_answers_while_sends_to_fifos_and_devices_are_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    let addr = server.addr.clone();
    let headers = session(&addr, AUTH);
    let mut calls = Vec::new();
    for i in 0..16 {
        let args = if i % 2 == 0 {
            let fifo = dir.path().join(format!("fifo{i}"));
            assert!(Command::new("mkfifo")
                .arg(&fifo)
                .status()
                .unwrap()
                .success());
            json!({"to": "o9cq80x@im.wechat", "file_path": fifo})
        } else {
            json!({"to": "o9cq80x@im.wechat", "image_path": "/dev/zero"})
        };
        let body = json!({"jsonrpc": "2.0", "id": 10 + i, "method": "tools/call",
            "params": {"name": "send", "arguments": args}})
        .to_string();
        let (addr, headers) = (addr.clone(), headers.clone());
        calls.push(std::thread::spawn(move || post(&addr, &headers, &body)));
    }
    let mut slowest = Duration::ZERO;
    for _ in 0..20 {
        let started = Instant::now();
        let health = request(&addr, "GET", "/health", &[], "");
        slowest = slowest.max(started.elapsed());
        assert_eq!(health.status, 200);
        std::thread::sleep(Duration::from_millis(10));
    }
    assert!(
        slowest < Duration::from_millis(100),
        "/health took {slowest:?}"
    );
    for call in calls {
        let reply = call.join().unwrap();
        assert_eq!(reply.status, 200, "{}", reply.body);
        let result = &reply.json()["result"];
        assert_eq!(result["isError"], true, "{result}");
        let text = result.to_string();
        assert!(text.contains("only regular files can be sent"), "{text}");
    }
    server.stop();
}

#[test]
fn a_session_that_ended_answers_404() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN, "--session-timeout", "1"]);
    let headers = session(&server.addr, AUTH);
    std::thread::sleep(Duration::from_millis(2500));
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let reply = post(&server.addr, &headers, &list);
    assert_eq!(reply.status, 404, "{}", reply.body);
    let again = post(&server.addr, &headers, &list);
    assert_eq!(again.status, 404, "{}", again.body);
    // A new session works.
    let fresh = session(&server.addr, AUTH);
    assert_eq!(post(&server.addr, &fresh, &list).status, 200);
    server.stop();
}

#[test]
fn bodies_that_are_no_message_get_400_and_the_json_rpc_error() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    let addr = server.addr.as_str();
    for (body, code) in [
        ("{not json", -32700),
        (r#"{"foo": 1}"#, -32600),
        (r#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#, -32600),
    ] {
        let reply = request(addr, "POST", "/mcp", &[AUTH, MCP_ACCEPT], body);
        assert_eq!(reply.status, 400, "{body}: {}", reply.body);
        assert_eq!(reply.json()["error"]["code"], code, "{}", reply.body);
    }
    let headers = session(addr, AUTH);
    let call = json!({"jsonrpc": "2.0", "id": 9, "method": "tools/call",
        "params": {"name": "sessions", "arguments": ["not", "an", "object"]}});
    let reply = post(addr, &headers, &call.to_string());
    let answer = reply.json();
    assert_eq!(answer["id"], 9, "{}", reply.body);
    assert_eq!(answer["error"]["code"], -32602, "{}", reply.body);
    server.stop();
}

fn start_with(args: &[&str]) -> std::process::Output {
    let dir = tempfile::tempdir().unwrap();
    Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["mcp", "-t", "http", "-p", "0"])
        .args(args)
        .env_remove("WXLINK_TOKEN")
        .env_remove("WXLINK_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run")
}

#[test]
fn tokens_that_cannot_work_are_refused_at_start() {
    for token in ["", " ", "\t  ", " padded-token-123456 "] {
        for host in ["127.0.0.1", "0.0.0.0"] {
            let out = start_with(&["--host", host, "--token", token]);
            assert_eq!(out.status.code(), Some(2), "{token:?} on {host}");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains("token"), "{stderr}");
            assert!(out.stdout.is_empty());
        }
    }
    let out = start_with(&["--host", "0.0.0.0", "--token", "short-token-15c"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("has 15 characters") && stderr.contains("at least 16"),
        "{stderr}"
    );
}

#[test]
fn a_session_whose_polls_keep_failing_shows_as_degraded_in_health() {
    let dir = tempfile::tempdir().unwrap();
    // A logged-in session whose server is gone: every poll fails.
    let dead = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_base = format!("http://{}/", dead.local_addr().unwrap());
    drop(dead);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        use wxlink::store::{BackendKind, LoginRecord, Secret, SqliteStore, Store};
        let store = SqliteStore::open(&dir.path().join("wxlink.db")).unwrap();
        let login = LoginRecord {
            backend: BackendKind::Ilink,
            bot_id: "b1@im.bot".into(),
            user_id: Some("u1@im.wechat".into()),
            token: Secret::new("t".into()),
            base_url: Some(dead_base.clone()),
        };
        store.save_login("main", &login).await.unwrap();
    });
    let server = Server::start(dir.path(), &["--token", TOKEN, "--ilink-base", &dead_base]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let health = loop {
        let health = request(&server.addr, "GET", "/health", &[], "").json();
        if health["sessions"][0]["degraded"] == true {
            break health;
        }
        assert!(Instant::now() < deadline, "never degraded: {health}");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!(health["sessions"][0]["name"], "main");
    assert_eq!(health["sessions"][0]["connected"], true);
    server.stop();
}
