//! `wxlink mcp -t http` as a separate process over real sockets: `/health` without a token,
//! bearer-token, Origin and Host checks on `/mcp`, `/sse` and `/messages`, the refusal to listen
//! on a wildcard address without a token, a Streamable HTTP session (initialize → session id →
//! tools/list), a legacy SSE session (endpoint event, 202 on POST, the answer on the stream), and
//! a clean exit on SIGTERM. (The end-to-end suite with the official MCP client is
//! `tests/mcp/test_http.py`.)

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

mod common;
use common::http::*;

#[test]
fn health_needs_no_token_and_reports_state() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    let reply = request(&server.addr, "GET", "/health", &[], "");
    assert_eq!(reply.status, 200, "{}", reply.body);
    let health = reply.json();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["version"], env!("CARGO_PKG_VERSION"));
    // Seconds with a fraction, as Wechaty-MCP-SSE's process.uptime().
    assert!(health["uptime"].is_f64(), "{health}");
    assert_eq!(health["logged_in"], false, "{health}");
    assert!(
        health["timestamp"].as_str().unwrap().ends_with('Z'),
        "{health}"
    );
    assert_eq!(health["connections"], 0);
    assert_eq!(health["sessions"], json!([]));
    server.stop();
}

#[test]
fn bearer_origin_and_host_checks() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    let addr = server.addr.as_str();
    let bearer = format!("Bearer {TOKEN}");
    let auth = ("Authorization", bearer.as_str());
    let init = initialize_body();

    for path in ["/mcp", "/messages?sessionId=x", "/anything-else"] {
        let missing = request(addr, "POST", path, &[MCP_ACCEPT], &init);
        assert_eq!(missing.status, 401, "{path}");
        // It says plainly that a bearer token is needed (and points at no OAuth metadata).
        assert_eq!(
            missing.header("www-authenticate").as_deref(),
            Some("Bearer realm=\"wxlink\"")
        );
        let body: Value = serde_json::from_str(&missing.body).unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("needs a bearer token") && message.contains("not use OAuth"),
            "{body}"
        );
        let wrong = request(
            addr,
            "POST",
            path,
            &[MCP_ACCEPT, ("Authorization", "Bearer nope")],
            &init,
        );
        assert_eq!(wrong.status, 401, "{path}");
        assert!(wrong
            .header("www-authenticate")
            .unwrap_or_default()
            .contains("error=\"invalid_token\""));
    }
    // OAuth discovery and registration: 404 with or without a token, so clients stop there.
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
    ] {
        assert_eq!(request(addr, "GET", path, &[], "").status, 404, "{path}");
        assert_eq!(
            request(addr, "GET", path, &[auth], "").status,
            404,
            "{path}"
        );
    }
    let register = request(addr, "POST", "/register", &[], "{}");
    assert_eq!(register.status, 404);
    let body: Value = serde_json::from_str(&register.body).unwrap();
    assert_eq!(body["error"], "invalid_request", "{body}");
    let sse = request(addr, "GET", "/sse", &[], "");
    assert_eq!(sse.status, 401);

    let ok = request(addr, "POST", "/mcp", &[MCP_ACCEPT, auth], &init);
    assert_eq!(ok.status, 200, "{}", ok.body);
    // Closing the session: 204 (the Python SDK logs anything but 200/204 as a failure).
    let session = ok.header("mcp-session-id").expect("a session id");
    let closed = request(
        addr,
        "DELETE",
        "/mcp",
        &[auth, ("Mcp-Session-Id", session.as_str())],
        "",
    );
    assert_eq!(closed.status, 204, "{}", closed.body);

    // Origin: loopback origins with any port pass, others are refused.
    let local_origin = request(
        addr,
        "POST",
        "/mcp",
        &[MCP_ACCEPT, auth, ("Origin", "http://localhost:5173")],
        &init,
    );
    assert_eq!(local_origin.status, 200, "{}", local_origin.body);
    for path in ["/mcp", "/sse", "/messages?sessionId=x"] {
        let method = if path == "/sse" { "GET" } else { "POST" };
        let foreign = request(
            addr,
            method,
            path,
            &[MCP_ACCEPT, auth, ("Origin", "https://evil.example")],
            &init,
        );
        assert_eq!(foreign.status, 403, "{path}");
    }
    // Host: DNS rebinding protection.
    for path in ["/mcp", "/sse", "/messages?sessionId=x"] {
        let method = if path == "/sse" { "GET" } else { "POST" };
        let foreign = request(
            addr,
            method,
            path,
            &[MCP_ACCEPT, auth, ("Host", "evil.example:8000")],
            &init,
        );
        assert_eq!(foreign.status, 421, "{path}");
    }
    let localhost = request(addr, "GET", "/health", &[("Host", "evil.example")], "");
    assert_eq!(localhost.status, 200, "/health is not guarded");
    server.stop();
}

#[test]
fn a_port_in_use_is_a_failure_not_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port().to_string();
    let out = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["--json", "mcp", "-t", "http", "-p", &port])
        .env_remove("WXLINK_TOKEN")
        .env_remove("WXLINK_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "exit 2 is for usage errors");
    let error: Value = serde_json::from_slice(&out.stdout).expect("a JSON error");
    assert_eq!(error["error"]["kind"], "io", "{error}");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("cannot listen on 127.0.0.1"), "{message}");
}

#[test]
fn refuses_a_wildcard_address_without_a_token() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["mcp", "-t", "http", "--host", "0.0.0.0", "-p", "0"])
        .env_remove("WXLINK_TOKEN")
        .env_remove("WXLINK_HOME")
        .stdin(Stdio::null())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("refusing to listen on 0.0.0.0"), "{stderr}");
    assert!(stderr.contains("--token"), "{stderr}");
    assert!(out.stdout.is_empty());

    // With a token (here from the environment) it starts.
    let mut child = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["mcp", "-t", "sse", "--host", "0.0.0.0", "-p", "0"])
        .env("WXLINK_TOKEN", TOKEN)
        .env_remove("WXLINK_HOME")
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    // The banner (a warning about the data directory's mode may come first).
    let line = BufReader::new(child.stderr.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find(|l| l.contains("listening on"))
        .expect("banner");
    assert!(line.contains("listening on http://0.0.0.0:"), "{line}");
    assert!(line.contains("bearer token required"), "{line}");
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn streamable_http_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.as_str();
    let init = request(addr, "POST", "/mcp", &[MCP_ACCEPT], &initialize_body());
    assert_eq!(init.status, 200, "{}", init.body);
    let session = init.header("mcp-session-id").expect("Mcp-Session-Id");
    let result = init.json();
    assert_eq!(result["id"], 1);
    assert_eq!(result["result"]["serverInfo"]["name"], "wxlink");

    let headers = [
        MCP_ACCEPT,
        ("Mcp-Session-Id", session.as_str()),
        ("Mcp-Protocol-Version", "2025-06-18"),
    ];
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let ack = request(addr, "POST", "/mcp", &headers, &initialized.to_string());
    assert_eq!(ack.status, 202, "{}", ack.body);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let tools = request(addr, "POST", "/mcp", &headers, &list.to_string());
    assert_eq!(tools.status, 200, "{}", tools.body);
    let names: Vec<String> = tools.json()["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_string())
        .collect();
    for name in ["recv", "send", "login", "sessions"] {
        assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
    }

    // Utilities of the 2025 protocol: logging/setLevel, completion; no prompts; an unknown
    // resource is -32002 with its URI in `data`.
    let call = |id: u64, method: &str, params: Value| {
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let reply = request(addr, "POST", "/mcp", &headers, &body.to_string());
        assert_eq!(reply.status, 200, "{method}: {}", reply.body);
        reply.json()
    };
    let level = call(3, "logging/setLevel", json!({"level": "info"}));
    assert_eq!(level["result"], json!({}), "{level}");
    let completion = call(
        4,
        "completion/complete",
        json!({"ref": {"type": "ref/resource", "uri": "wxlink://conversation/{user_id}"},
               "argument": {"name": "user_id", "value": "o9"}}),
    );
    assert_eq!(
        completion["result"]["completion"]["values"],
        json!([]),
        "{completion}"
    );
    let prompts = call(5, "prompts/list", json!({}));
    assert_eq!(prompts["error"]["code"], -32601, "{prompts}");
    let missing = call(6, "resources/read", json!({"uri": "wxlink://nope"}));
    assert_eq!(missing["error"]["code"], -32002, "{missing}");
    assert_eq!(
        missing["error"]["data"]["uri"], "wxlink://nope",
        "{missing}"
    );

    let health = request(addr, "GET", "/health", &[], "").json();
    assert_eq!(health["connections"], 1, "{health}");
    server.stop();
}

/// 2026-07-28 requests are stateless: capabilities in `server/discover`, resource-not-found is
/// -32602 with the URI, and the removed `logging/setLevel` (and the absent prompts) are 404.
#[test]
fn stateless_2026_requests() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let addr = server.addr.as_str();
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "mcp_http.rs", "version": "1"}
    });
    let call = |method: &str, name: Option<&str>, mut params: Value| {
        params["_meta"] = meta.clone();
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
        let mut headers = vec![
            MCP_ACCEPT,
            ("Mcp-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", method),
        ];
        if let Some(name) = name {
            headers.push(("Mcp-Name", name));
        }
        request(addr, "POST", "/mcp", &headers, &body.to_string())
    };

    let discover = call("server/discover", None, json!({}));
    assert_eq!(discover.status, 200, "{}", discover.body);
    assert!(discover.header("mcp-session-id").is_none());
    let caps = &discover.json()["result"]["capabilities"];
    assert!(caps["completions"].is_object(), "{caps}");
    assert!(caps["resources"].is_object(), "{caps}");
    assert!(caps.get("prompts").is_none(), "{caps}");

    let missing = call(
        "resources/read",
        Some("wxlink://nope"),
        json!({"uri": "wxlink://nope"}),
    );
    let error = &missing.json()["error"];
    assert_eq!(error["code"], -32602, "{}", missing.body);
    assert_eq!(error["data"]["uri"], "wxlink://nope", "{}", missing.body);

    for method in ["logging/setLevel", "prompts/list"] {
        let params = if method == "logging/setLevel" {
            json!({"level": "info"})
        } else {
            json!({})
        };
        let reply = call(method, None, params);
        assert_eq!(reply.status, 404, "{method}: {}", reply.body);
        assert_eq!(
            reply.json()["error"]["code"],
            -32601,
            "{method}: {}",
            reply.body
        );
    }
    server.stop();
}

#[test]
fn legacy_sse_session() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    let addr = server.addr.clone();
    let bearer = format!("Bearer {TOKEN}");
    let auth = ("Authorization", bearer.as_str());

    let mut sse = raw_request(&addr, "GET", "/sse", &[auth], "");
    let mut seen = String::new();
    read_until(&mut sse, &mut seen, "sessionId=");
    read_until(&mut sse, &mut seen, "\n\n");
    assert!(seen.starts_with("HTTP/1.1 200"), "{seen}");
    assert!(seen.contains("text/event-stream"), "{seen}");
    assert!(seen.contains("event: endpoint"), "{seen}");
    let endpoint = seen
        .lines()
        .find_map(|l| l.strip_prefix("data: /messages"))
        .map(|rest| format!("/messages{}", rest.trim()))
        .expect("endpoint data");

    let health = request(&addr, "GET", "/health", &[], "").json();
    assert_eq!(health["connections"], 1, "{health}");

    let missing = request(&addr, "POST", "/messages", &[auth], &initialize_body());
    assert_eq!(missing.status, 400);
    let unknown = request(
        &addr,
        "POST",
        "/messages?sessionId=nope",
        &[auth],
        &initialize_body(),
    );
    assert_eq!(unknown.status, 404);
    let bad = request(&addr, "POST", &endpoint, &[auth], "{not json");
    assert_eq!(bad.status, 400);

    let posted = request(&addr, "POST", &endpoint, &[auth], &initialize_body());
    assert_eq!(posted.status, 202, "{}", posted.body);
    read_until(&mut sse, &mut seen, "serverInfo");
    assert!(seen.contains("event: message"), "{seen}");

    // The client goes away: the session is removed.
    drop(sse);
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let health = request(&addr, "GET", "/health", &[], "").json();
        if health["connections"] == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "SSE session not cleaned up: {health}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let gone = request(&addr, "POST", &endpoint, &[auth], &initialize_body());
    assert_eq!(gone.status, 404);
    server.stop();
}

/// `resources/subscribe` is not a 2026-07-28 method: "method not found" (-32601) on stdio and on
/// HTTP alike, whatever headers came with it (rmcp asked for an `Mcp-Name` header on HTTP).
#[test]
fn subscribe_is_not_a_2026_method_on_any_transport() {
    let meta = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
        "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
    });
    let subscribe = json!({"jsonrpc": "2.0", "id": 7, "method": "resources/subscribe",
        "params": {"uri": "wxlink://inbox", "_meta": meta}})
    .to_string();

    let dir = tempfile::tempdir().unwrap();
    let mut stdio = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["mcp", "--no-banner"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    writeln!(stdio.stdin.as_mut().unwrap(), "{subscribe}").unwrap();
    let stdout = stdio.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(15));
    drop(stdio.stdin.take());
    if line.is_err() {
        let _ = stdio.kill();
    }
    let _ = stdio.wait();
    let line = line.expect("stdio answers within 15 s");
    let answer: Value = serde_json::from_str(&line).unwrap();
    assert_eq!(answer["error"]["code"], -32601, "{answer}");

    let server = Server::start(dir.path(), &[]);
    let reply = request(
        server.addr.as_str(),
        "POST",
        "/mcp",
        &[
            MCP_ACCEPT,
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Mcp-Method", "resources/subscribe"),
        ],
        &subscribe,
    );
    assert_eq!(reply.status, 404, "{}", reply.body);
    let answer = reply.json();
    assert_eq!(answer["error"]["code"], -32601, "{answer}");
    assert_eq!(answer["id"], 7);
    server.stop();
}
