//! The REST API over a real socket against the fake iLink server: every route's status codes,
//! shapes and errors; history with filters and a cursor; media bytes equal to what the fake
//! sent; text and multipart sends arriving decrypted at the fake; logins by QR; the inbox; the
//! event stream (live and after a reconnect); the OpenAPI document.

use std::time::Duration;

use futures_util::StreamExt;
use ilink_fake::{InboundSpec, ItemSpec};
use serde_json::{json, Value};

mod common;
use common::rest::*;
use common::*;

/// Waits until history holds `n` messages matching `query`.
async fn wait_history(api: &Api, query: &str, n: usize) -> Value {
    for _ in 0..200 {
        let (status, page) = api.get(&format!("/api/v1/messages?{query}")).await;
        assert_eq!(status, 200, "{page}");
        if page["messages"].as_array().unwrap().len() >= n {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("history never held {n} messages for {query}");
}

#[tokio::test]
async fn without_the_token_every_route_is_401_problem_but_health() {
    let env = env().await;
    let api = serve(&env.app).await;
    let doc: Value = api
        .client
        .get(api.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        let concrete = path
            .replace("{name}", "default")
            .replace("{backend}", "ilink")
            .replace("{id}", "1")
            .replace("{consumer}", "c");
        for method in item.as_object().unwrap().keys() {
            let m = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let r = api
                .anonymous
                .request(m, api.url(&format!("/api/v1{concrete}")))
                .send()
                .await
                .unwrap();
            let ct = r.headers()["content-type"].to_str().unwrap().to_string();
            let got = status_json(r).await;
            assert_problem(&got, 401, "unauthorized");
            assert_eq!(ct, "application/problem+json", "{method} {path}");
            checked += 1;
        }
    }
    assert!(checked >= 22, "only {checked} operations");
    // A wrong token is refused the same way; /health needs none.
    let r = api
        .anonymous
        .get(api.url("/api/v1/sessions"))
        .bearer_auth("wrong-token-wrong-token")
        .send()
        .await
        .unwrap();
    assert!(r.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .contains("invalid_token"));
    assert_problem(&status_json(r).await, 401, "unauthorized");
    let health = api.anonymous.get(api.url("/health")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    // A page of another site cannot call the API (DNS rebinding and CSRF protection).
    let r = api
        .client
        .get(api.url("/api/v1/sessions"))
        .header("Origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    api.stop().await;
}

#[tokio::test]
async fn openapi_document_is_3_1_and_lists_every_route() {
    let env = env().await;
    let api = serve(&env.app).await;
    let (status, doc) = api.get("/api/v1/openapi.json").await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    assert_eq!(doc["servers"][0]["url"], "/api/v1");
    let mut ops: Vec<String> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {p}", m.to_uppercase()))
        })
        .collect();
    ops.sort();
    let want = [
        "GET /contacts",
        "GET /conversations",
        "GET /events",
        "GET /logins/{backend}",
        "GET /logins/{backend}/events",
        "GET /logins/{backend}/qr.png",
        "GET /logins/{backend}/qr.svg",
        "GET /messages",
        "GET /messages/{id}",
        "GET /messages/{id}/media",
        "GET /rooms",
        "GET /rooms/{id}/members",
        "GET /sessions",
        "GET /sessions/{name}",
        "GET /sessions/{name}/users",
        "GET /status",
        "PATCH /sessions/{name}",
        "POST /inbox/{consumer}",
        "POST /logins",
        "POST /logins/{backend}/code",
        "POST /messages",
        "POST /sessions/{name}/logout",
        "POST /typing",
    ];
    assert_eq!(ops, want);
    // Every operation documents its answers, and every schema it refers to exists.
    let text = doc.to_string();
    for r in text.split("\"$ref\":\"#/components/schemas/").skip(1) {
        let name = &r[..r.find('"').unwrap()];
        assert!(
            doc["components"]["schemas"][name].is_object(),
            "missing schema {name}"
        );
    }
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            assert!(
                op["responses"].as_object().is_some_and(|r| !r.is_empty()),
                "{method} {path} documents no response"
            );
        }
    }
    // Ids are strings in the schemas.
    assert_eq!(
        doc["components"]["schemas"]["MessageOut"]["properties"]["id"]["type"],
        "string"
    );
    // The interactive page and its assets are served by the binary itself.
    let page = api
        .client
        .get(api.url("/api/v1/docs/"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(html.contains("swagger"), "{html}");
    assert!(
        !html.contains("https://"),
        "the docs page loads nothing remote"
    );
    let js = api
        .client
        .get(api.url("/api/v1/docs/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(js.status(), 200);
    api.stop().await;
}

#[tokio::test]
async fn sessions_rename_default_logout_and_users() {
    let env = env().await;
    let bot = login_bot(&env, "work", "o9cq80work@im.wechat").await;
    login_bot(&env, "home", "o9cq80home@im.wechat").await;
    let api = serve(&env.app).await;
    inject(
        &env.fake,
        &bot,
        InboundSpec::text("hello").from("o9cq80alice@im.wechat"),
    );
    wait_history(&api, "session=work", 1).await;

    let (status, list) = api.get("/api/v1/sessions").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list["sessions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 2, "{list}");
    let (status, one) = api.get("/api/v1/sessions/work").await;
    assert_eq!(status, 200);
    assert_eq!(one["bot_id"], bot.bot_id);
    assert_eq!(one["connected"], true);
    assert_problem(
        &api.get("/api/v1/sessions/nobody").await,
        404,
        "unknown_session",
    );

    let (status, users) = api.get("/api/v1/sessions/work/users").await;
    assert_eq!(status, 200);
    assert_eq!(
        users["users"][0]["user"], "o9cq80alice@im.wechat",
        "{users}"
    );
    assert_eq!(users["users"][0]["sends_left"], 10);
    assert_eq!(users["users"][0]["stale"], false);

    let (status, renamed) = api
        .patch(
            "/api/v1/sessions/work",
            json!({"name": "office", "default": true}),
        )
        .await;
    assert_eq!(status, 200, "{renamed}");
    assert_eq!(renamed["name"], "office");
    assert_eq!(renamed["default"], true);
    assert_problem(
        &api.get("/api/v1/sessions/work").await,
        404,
        "unknown_session",
    );
    assert_problem(
        &api.patch("/api/v1/sessions/office", json!({"colour": "red"}))
            .await,
        422,
        "invalid",
    );
    assert_problem(
        &api.patch("/api/v1/sessions/office", json!({"name": "../evil"}))
            .await,
        400,
        "invalid",
    );
    let r = api
        .client
        .patch(api.url("/api/v1/sessions/office"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 400, "invalid");

    let (status, out) = api.post("/api/v1/sessions/home/logout", json!({})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["connected"], false);
    assert_eq!(out["status"], "logged_out");
    let (_, status_now) = api.get("/api/v1/status").await;
    assert_eq!(status_now["sessions"], 2);
    assert_eq!(status_now["connected"], 1);
    assert_eq!(status_now["users"], 1);
    assert_eq!(status_now["messages_today"], 1);
    api.stop().await;
}

#[tokio::test]
async fn history_filters_and_cursor_pages_with_ids_as_strings() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    for i in 0..45 {
        let text = if i % 3 == 0 {
            format!("第{i}条：今天天气很好")
        } else {
            format!("message {i}")
        };
        inject(
            &env.fake,
            &bot,
            InboundSpec::text(text).from("o9cq80bob@im.wechat"),
        );
    }
    wait_history(&api, "limit=200", 45).await;

    // Pages of 20 by cursor: newest first, no overlap, all 45, then no cursor.
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let q = match &cursor {
            Some(c) => format!("/api/v1/messages?limit=20&cursor={c}"),
            None => "/api/v1/messages?limit=20".to_string(),
        };
        let (status, page) = api.get(&q).await;
        assert_eq!(status, 200, "{page}");
        pages += 1;
        for m in page["messages"].as_array().unwrap() {
            assert!(m["id"].is_string() && m["message_id"].is_string(), "{m}");
            seen.push(m["id"].as_str().unwrap().parse::<i64>().unwrap());
        }
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen.len(), 45);
    assert!(
        seen.windows(2).all(|w| w[0] > w[1]),
        "newest first, no repeats"
    );
    // The upstream ids exceed 2^53 and survive as strings.
    let (_, page) = api.get("/api/v1/messages?limit=1").await;
    let upstream: u64 = page["messages"][0]["message_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(upstream > (1u64 << 53), "{upstream}");

    // Chinese inside sentences, with the other filters.
    let (_, found) = api
        .get("/api/v1/messages?text=%E5%A4%A9%E6%B0%94&direction=in&type=text&user=o9cq80bob%40im.wechat")
        .await;
    assert_eq!(found["total"], 15, "{found}");
    assert!(found["messages"][0]["text"]
        .as_str()
        .unwrap()
        .contains("天气"));
    let (_, none) = api.get("/api/v1/messages?direction=out").await;
    assert_eq!(none["total"], 0);
    assert!(none["next_cursor"].is_null());
    assert_problem(&api.get("/api/v1/messages?limit=0").await, 400, "invalid");
    assert_problem(&api.get("/api/v1/messages?limit=500").await, 400, "invalid");
    assert_problem(
        &api.get("/api/v1/messages?cursor=abc").await,
        400,
        "invalid",
    );
    assert_problem(
        &api.get("/api/v1/messages?type=sticker").await,
        400,
        "invalid",
    );
    assert_problem(
        &api.get("/api/v1/messages?since=tomorrow").await,
        400,
        "invalid",
    );
    assert_problem(&api.get("/api/v1/messages?limit=x").await, 400, "invalid");

    // One message, by our id and by the upstream id.
    let id = seen[0].to_string();
    let (status, one) = api.get(&format!("/api/v1/messages/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(one["id"], id);
    let (_, by_upstream) = api
        .get(&format!(
            "/api/v1/messages/{}",
            one["message_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(by_upstream["id"], id);
    assert_problem(
        &api.get("/api/v1/messages/999999").await,
        404,
        "message_not_found",
    );

    // Conversations: the latest message of each.
    let (_, convs) = api.get("/api/v1/conversations").await;
    assert_eq!(convs["conversations"].as_array().unwrap().len(), 1);
    assert_eq!(convs["conversations"][0]["user"], "o9cq80bob@im.wechat");
    assert_eq!(convs["conversations"][0]["last"]["id"], id);
    api.stop().await;
}

#[tokio::test]
async fn media_bytes_are_what_the_fake_sent_with_a_safe_disposition() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80own@im.wechat").await;
    let api = serve(&env.app).await;
    let image: Vec<u8> = (0..70_000u32).map(|i| (i % 251) as u8).collect();
    let doc = b"%PDF-1.4 pretend".to_vec();
    let mut file = ItemSpec::media("file", &doc);
    file.file_name = Some("报告 \"final\"/../x.pdf".into());
    inject(
        &env.fake,
        &bot,
        InboundSpec::item(ItemSpec::media("image", &image)),
    );
    inject(&env.fake, &bot, InboundSpec::item(file));
    inject(&env.fake, &bot, InboundSpec::text("no media"));
    let page = wait_history(&api, "", 3).await;
    let ids: Vec<&str> = page["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    let (text_id, file_id, image_id) = (ids[0], ids[1], ids[2]);

    let r = api
        .client
        .get(api.url(&format!("/api/v1/messages/{image_id}/media")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("image/"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert!(r.headers()["content-security-policy"]
        .to_str()
        .unwrap()
        .contains("sandbox"));
    assert_eq!(r.bytes().await.unwrap().to_vec(), image);

    let r = api
        .client
        .get(api.url(&format!("/api/v1/messages/{file_id}/media?index=0")))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "application/pdf");
    let disposition = r.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\""),
        "{disposition}"
    );
    assert!(!disposition.contains('/'), "{disposition}");
    assert!(disposition.contains("filename*=UTF-8''"), "{disposition}");
    assert!(disposition.ends_with(".pdf"), "{disposition}");
    assert_eq!(r.bytes().await.unwrap().to_vec(), doc);

    assert_problem(
        &api.get(&format!("/api/v1/messages/{file_id}/media?index=1"))
            .await,
        404,
        "not_found",
    );
    assert_problem(
        &api.get(&format!("/api/v1/messages/{text_id}/media")).await,
        404,
        "no_media",
    );
    api.stop().await;
}

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
    let env = Env { fake, app, dir };
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
    // Reported, so it is over: a new start with the session connected does nothing.
    let (status, again) = api
        .post("/api/v1/logins", json!({"session": "phone"}))
        .await;
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["already_logged_in"]["name"], "phone");
    assert_problem(&api.get("/api/v1/logins/ilink").await, 404, "not_found");
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
