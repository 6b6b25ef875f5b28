//! The REST API's writes and streams over a real socket against the fake iLink server: text
//! and multipart sends arriving decrypted at the fake, the upload limit, QR logins (long poll
//! and SSE), the inbox, and the event stream (live and after a reconnect).

use std::time::Duration;

use futures_util::StreamExt;
use ilink_fake::InboundSpec;
use serde_json::json;

mod common;
use common::rest::*;
use common::*;

#[tokio::test]
async fn text_and_multipart_sends_arrive_at_the_fake() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("hi").from("o9cq80carol@im.wechat"),
    );
    wait_history(&api, "", 1).await;

    let (status, sent) = api
        .post(
            "/api/v1/messages",
            json!({"to": "o9cq80carol@im.wechat", "text": "你好，卡罗尔"}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["success"], true);
    assert_eq!(sent["sent"][0]["type"], "text");
    assert!(sent["sent"][0]["id"].is_string());
    assert_eq!(sent["quota_left"], 9);
    let fake_sent = env.fake.sent();
    assert_eq!(
        fake_sent.last().unwrap().text.as_deref(),
        Some("你好，卡罗尔")
    );

    // An image and a file, streamed as multipart, arrive decrypted and byte for byte.
    let png: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let notes = b"line one\nline two\n".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("to", "o9cq80carol@im.wechat")
        .text("text", "two files")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png.clone())
                .file_name("photo.png")
                .mime_str("image/png")
                .unwrap(),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(notes.clone())
                .file_name("笔记.txt")
                .mime_str("text/plain")
                .unwrap(),
        );
    let r = api
        .client
        .post(api.url("/api/v1/messages"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let (status, sent) = status_json(r).await;
    assert_eq!(status, 200, "{sent}");
    let kinds: Vec<&str> = sent["sent"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["type"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["text", "image", "file"]);
    let uploads = env.fake.uploads();
    assert!(uploads.iter().any(|u| u.plain.as_ref() == png.as_slice()));
    assert!(uploads.iter().any(|u| u.plain.as_ref() == notes.as_slice()));
    let last = env.fake.sent();
    assert_eq!(
        last.last().unwrap().msg["item_list"][0]["file_item"]["file_name"],
        "笔记.txt"
    );
    // The temporary upload files are gone.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let left = std::fs::read_dir(env.dir.path().join("uploads"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(left, 0);
    // The sends are in history as sent.
    let (_, out) = api.get("/api/v1/messages?direction=out").await;
    assert_eq!(out["total"], 4, "{out}");
    assert!(out["messages"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["status"] == "sent"));

    // Refusals, each with its kind.
    assert_problem(
        &api.post(
            "/api/v1/messages",
            json!({"to": "o9cq80nobody@im.wechat", "text": "x"}),
        )
        .await,
        422,
        "no_context_token",
    );
    assert_problem(
        &api.post("/api/v1/messages", json!({"to": "o9cq80carol@im.wechat"}))
            .await,
        400,
        "nothing_to_send",
    );
    assert_problem(
        &api.post("/api/v1/messages", json!({"text": "no recipient"}))
            .await,
        422,
        "invalid",
    );
    let r = api
        .client
        .post(api.url("/api/v1/messages"))
        .header("content-type", "text/plain")
        .body("to=x")
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 415, "invalid");
    let (status, typing) = api
        .post("/api/v1/typing", json!({"to": "o9cq80carol@im.wechat"}))
        .await;
    assert_eq!(status, 200, "{typing}");
    assert_eq!(typing["on"], true);
    assert_eq!(env.fake.typing().len(), 1);
    api.stop().await;
}

#[tokio::test]
async fn uploads_over_the_limit_are_413_before_they_are_sent() {
    let fake = ilink_fake::FakeIlink::start().await.unwrap();
    fake.configure(|c| c.hold_ms = 300);
    let dir = tempfile::tempdir().unwrap();
    let app = open_app_with(&fake, dir.path(), |o| {
        o.upstream.max_upload_bytes = Some(1024 * 1024)
    });
    let env = Env {
        fake: fake.into(),
        app,
        dir,
    };
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("hi").from("o9cq80dan@im.wechat"),
    );
    wait_history(&api, "", 1).await;
    let big = vec![7u8; 3 * 1024 * 1024];
    let form = reqwest::multipart::Form::new()
        .text("to", "o9cq80dan@im.wechat")
        .part(
            "file",
            reqwest::multipart::Part::bytes(big).file_name("big.bin"),
        );
    let r = api
        .client
        .post(api.url("/api/v1/messages"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let got = status_json(r).await;
    assert_problem(&got, 413, "too_large");
    assert!(got.1["detail"].as_str().unwrap().contains("big.bin"));
    assert!(env.fake.uploads().is_empty());
    assert!(env.fake.sent().is_empty());
    api.stop().await;
}

#[tokio::test]
async fn qr_login_over_rest_from_start_to_confirmed() {
    let env = env().await;
    env.fake.configure(|c| c.qr_auto_confirm = false);
    let api = serve(&env.app).await;
    let (status, started) = api
        .post("/api/v1/logins", json!({"session": "phone"}))
        .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(started["backend"], "ilink");
    assert_eq!(started["session"], "phone");
    // Wait for the QR code.
    let mut version = started["version"].as_u64().unwrap();
    let mut state = started;
    while state["qr"].is_null() {
        let (status, s) = api
            .get(&format!(
                "/api/v1/logins/ilink?after_version={version}&wait=10"
            ))
            .await;
        assert_eq!(status, 200, "{s}");
        version = s["version"].as_u64().unwrap();
        state = s;
    }
    assert_eq!(state["phase"], "waiting_for_scan");
    let svg = api
        .client
        .get(api.url("/api/v1/logins/ilink/qr.svg"))
        .send()
        .await
        .unwrap();
    assert_eq!(svg.headers()["content-type"], "image/svg+xml");
    assert!(svg.text().await.unwrap().starts_with("<svg"));
    let png = api
        .client
        .get(api.url("/api/v1/logins/ilink/qr.png"))
        .send()
        .await
        .unwrap();
    assert_eq!(png.headers()["content-type"], "image/png");
    assert_eq!(&png.bytes().await.unwrap()[..4], b"\x89PNG");
    // Follow it as SSE while the phone scans and confirms (opening the QR link does both).
    let events = api
        .client
        .get(api.url("/api/v1/logins/ilink/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(events.status(), 200);
    let link = state["qr"]["content"].as_str().unwrap().to_string();
    reqwest::get(&link).await.unwrap();
    let mut body = events.bytes_stream();
    let mut seen = String::new();
    while !seen.contains("\"phase\":\"confirmed\"") {
        let chunk = tokio::time::timeout(Duration::from_secs(20), body.next())
            .await
            .expect("a login event")
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: state"), "{seen}");
    let (_, session) = api.get("/api/v1/sessions/phone").await;
    assert_eq!(session["connected"], true);
    // Another watcher still sees how it ended.
    let (status, ended) = api.get("/api/v1/logins/ilink").await;
    assert_eq!(status, 200, "{ended}");
    assert_eq!(ended["phase"], "confirmed");
    // A new start replaces it at once: the session is connected, so nothing starts.
    let (status, again) = api
        .post("/api/v1/logins", json!({"session": "phone"}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["already_logged_in"]["name"], "phone");
    assert_problem(&api.get("/api/v1/logins/ilink").await, 404, "not_found");

    // A start for another session while one is under way is a conflict; cancelling ends it.
    let (status, first) = api
        .post("/api/v1/logins", json!({"session": "tablet"}))
        .await;
    assert_eq!(status, 202, "{first}");
    assert_problem(
        &api.post("/api/v1/logins", json!({"session": "laptop"}))
            .await,
        409,
        "conflict",
    );
    let (status, listed) = api.get("/api/v1/logins").await;
    assert_eq!(status, 200);
    assert_eq!(listed["logins"][0]["session"], "tablet", "{listed}");
    let r = api
        .client
        .delete(api.url("/api/v1/logins/ilink"))
        .send()
        .await
        .unwrap();
    let (status, cancelled) = status_json(r).await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["phase"], "failed");
    assert!(cancelled["error"].as_str().unwrap().contains("cancelled"));
    let (_, listed) = api.get("/api/v1/logins").await;
    assert!(listed["logins"].as_array().unwrap().is_empty());
    let (status, next) = api
        .post("/api/v1/logins", json!({"session": "laptop"}))
        .await;
    assert_eq!(status, 202, "{next}");
    assert_eq!(next["session"], "laptop");
    assert_problem(&api.get("/api/v1/logins/fax").await, 400, "invalid");
    assert_problem(
        &api.post("/api/v1/logins", json!({"session": "../evil"}))
            .await,
        400,
        "invalid",
    );
    assert_problem(
        &api.post("/api/v1/logins/ilink/code", json!({"code": "12;34"}))
            .await,
        400,
        "invalid",
    );
    api.stop().await;
}

#[tokio::test]
async fn inbox_claims_each_message_once_per_consumer() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    // A named consumer starts at the newest message when it first reads.
    for consumer in ["agent", "other"] {
        let (status, empty) = api
            .post(&format!("/api/v1/inbox/{consumer}"), json!({}))
            .await;
        assert_eq!(status, 200, "{empty}");
        assert!(empty["messages"].as_array().unwrap().is_empty());
        assert!(empty["cursor"].is_null());
    }
    for i in 0..3 {
        inject(&env.fake, &bot, InboundSpec::text(format!("m{i}")));
    }
    wait_history(&api, "", 3).await;
    let (status, first) = api
        .post("/api/v1/inbox/agent", json!({"timeout_secs": 1}))
        .await;
    assert_eq!(status, 200, "{first}");
    let texts: Vec<&str> = first["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2"]);
    let cursor = first["cursor"].as_str().unwrap().to_string();
    let (_, again) = api.post("/api/v1/inbox/agent", json!({})).await;
    assert!(again["messages"].as_array().unwrap().is_empty());
    // An answer lost on the way: pass back the cursor before it and get it again.
    let before_last = (cursor.parse::<i64>().unwrap() - 1).to_string();
    let (_, replay) = api
        .post("/api/v1/inbox/agent", json!({"after": before_last}))
        .await;
    assert_eq!(replay["messages"][0]["text"], "m2");
    // Another consumer has its own position; no body means the defaults.
    let r = api
        .client
        .post(api.url("/api/v1/inbox/other"))
        .send()
        .await
        .unwrap();
    let (_, other) = status_json(r).await;
    assert_eq!(other["messages"].as_array().unwrap().len(), 3);
    assert_problem(
        &api.post("/api/v1/inbox/agent", json!({"timeout_secs": 999}))
            .await,
        400,
        "invalid",
    );
    api.stop().await;
}

/// Reads SSE chunks until `needle` shows up.
async fn read_sse(
    stream: &mut (impl futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Unpin),
    seen: &mut String,
    needle: &str,
) {
    while !seen.contains(needle) {
        let chunk = tokio::time::timeout(Duration::from_secs(10), stream.next())
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen}"))
            .expect("stream open")
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn event_stream_is_live_and_catches_up_after_a_reconnect() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    let r = api
        .client
        .get(api.url("/api/v1/events"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut stream = r.bytes_stream();
    let mut seen = String::new();
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("实时消息").from("o9cq80eve@im.wechat"),
    );
    read_sse(&mut stream, &mut seen, "实时消息").await;
    assert!(seen.contains("event: message"), "{seen}");
    let id_line = seen
        .lines()
        .find(|l| l.starts_with("id: "))
        .expect("an id")
        .to_string();
    let last_id = id_line.trim_start_matches("id: ").to_string();
    // A reply's status change is an event too.
    api.post(
        "/api/v1/messages",
        json!({"to": "o9cq80eve@im.wechat", "text": "收到"}),
    )
    .await;
    read_sse(&mut stream, &mut seen, "event: message_status").await;
    assert!(seen.contains("\"status\":\"sent\""), "{seen}");
    drop(stream);

    // While disconnected, two more arrive; a reconnect with Last-Event-ID gets them in order.
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("missed one").from("o9cq80eve@im.wechat"),
    );
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("missed two").from("o9cq80eve@im.wechat"),
    );
    wait_history(&api, "text=missed", 2).await;
    let r = api
        .client
        .get(api.url("/api/v1/events"))
        .header("Last-Event-ID", &last_id)
        .send()
        .await
        .unwrap();
    let mut stream = r.bytes_stream();
    let mut again = String::new();
    read_sse(&mut stream, &mut again, "missed two").await;
    let one = again.find("missed one").expect("the first missed message");
    let two = again.find("missed two").unwrap();
    assert!(one < two, "{again}");
    assert!(
        again.contains("收到"),
        "the reply stored meanwhile: {again}"
    );
    assert!(
        !again.contains("实时消息"),
        "nothing before the id: {again}"
    );
    api.stop().await;
}
