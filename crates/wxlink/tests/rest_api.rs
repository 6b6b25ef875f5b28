//! The REST API's reads over a real socket against the fake iLink server: authentication on
//! every route, the OpenAPI document, sessions, history with filters and a cursor, and media
//! bytes equal to what the fake sent. Writes and streams: `rest_writes.rs`.

use ilink_fake::{InboundSpec, ItemSpec};
use serde_json::{json, Value};

mod common;
use common::rest::*;
use common::*;

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
    // Unknown routes and methods are problems too.
    assert_problem(&api.get("/api/v1/nothing/here").await, 404, "not_found");
    let r = api
        .client
        .delete(api.url("/api/v1/status"))
        .send()
        .await
        .unwrap();
    assert_problem(&status_json(r).await, 405, "invalid");
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
        "DELETE /logins/{backend}",
        "GET /contacts",
        "GET /conversations",
        "GET /events",
        "GET /logins",
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
    assert_eq!(js.headers()["content-type"], "text/javascript");
    assert!(
        js.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("script-src 'self'"),
        "the page runs under the panel's policy"
    );
    let etag = js.headers()["etag"].clone();
    assert!(js.bytes().await.unwrap().len() > 100_000);
    let again = api
        .client
        .get(api.url("/api/v1/docs/swagger-ui-bundle.js"))
        .header("if-none-match", etag)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), 304, "a browser that has the file keeps it");
    // The page's own script, and Swagger UI's licence, are served; the archive's source maps
    // and other bundles are not in the binary.
    for (path, status) in [
        ("/api/v1/docs/docs.js", 200),
        ("/api/v1/docs/LICENSE", 200),
        ("/api/v1/docs/swagger-ui.css", 200),
        ("/api/v1/docs/swagger-ui-bundle.js.map", 404),
        ("/api/v1/docs/swagger-ui-es-bundle.js", 404),
        ("/api/v1/docs/%2e%2e%2fopenapi.json", 404),
    ] {
        let r = api.client.get(api.url(path)).send().await.unwrap();
        assert_eq!(r.status(), status, "{path}");
    }
    let bare = api
        .client
        .get(api.url("/api/v1/docs"))
        .send()
        .await
        .unwrap();
    assert_eq!(bare.status(), 200, "/api/v1/docs leads to the page");
    assert!(bare.url().path().ends_with("/api/v1/docs/"));
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
