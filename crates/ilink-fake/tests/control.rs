//! The control API over a real socket: routes whose behaviour the Python suites do not cover.

use ilink_fake::FakeIlink;
use serde_json::{json, Value};

async fn post(fake: &FakeIlink, path: &str, body: &Value) -> (u16, Value) {
    let url = fake.base_url().join(path).expect("url");
    let resp = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .body(serde_json::to_vec(body).expect("json"))
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let body = serde_json::from_slice(&resp.bytes().await.expect("body")).expect("json answer");
    (status, body)
}

/// Many messages for many bots in one request, queued in order, each id answered; an unknown
/// bot anywhere refuses the whole request before anything is queued.
#[tokio::test]
async fn bulk_inject_queues_everything_or_nothing() {
    let fake = FakeIlink::start().await.expect("fake");
    let bots: Vec<_> = (0..3).map(|_| fake.create_bot(None)).collect();
    let messages: Vec<Value> = (0..3_000)
        .map(|i| json!({"bot_id": bots[i % 3].bot_id, "text": format!("m{i}")}))
        .collect();
    // Bigger than axum's default 2 MB body limit, which this route lifts.
    let padding = "x".repeat(1_000);
    let mut big = messages.clone();
    for m in &mut big {
        m["text"] = json!(format!(
            "{}{padding}",
            m["text"].as_str().unwrap_or_default()
        ));
    }
    let (status, answer) = post(&fake, "__fake/inbound/bulk", &json!({"messages": big})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["count"], 3_000);
    let ids = answer["message_ids"].as_array().expect("ids");
    assert_eq!(ids.len(), 3_000);
    assert!(ids.iter().all(|id| id.is_u64()), "ids are exact integers");
    for (n, bot) in bots.iter().enumerate() {
        let delivered = fake.delivered(&bot.bot_id);
        assert_eq!(delivered.len(), 1_000);
        let first = delivered[0]["item_list"][0]["text_item"]["text"].as_str();
        assert!(
            first.is_some_and(|t| t.starts_with(&format!("m{n}x"))),
            "{first:?}"
        );
    }

    let mut with_stranger = messages[..10].to_vec();
    with_stranger.push(json!({"bot_id": "nobody@im.bot", "text": "lost?"}));
    let (status, answer) = post(
        &fake,
        "__fake/inbound/bulk",
        &json!({"messages": with_stranger}),
    )
    .await;
    assert_eq!(status, 404, "{answer}");
    assert!(answer["error"]
        .as_str()
        .is_some_and(|e| e.contains("nobody@im.bot")));
    assert_eq!(
        fake.delivered(&bots[0].bot_id).len(),
        1_000,
        "nothing queued"
    );
}

/// `polls_in_flight` counts the getupdates calls being held, for benchmarks that wait until
/// every account is polling.
#[tokio::test]
async fn health_counts_held_polls() {
    let fake = FakeIlink::start().await.expect("fake");
    fake.configure(|c| c.hold_ms = 5_000);
    let bots: Vec<_> = (0..2).map(|_| fake.create_bot(None)).collect();
    let health = || async {
        let url = fake.base_url().join("__fake/health").expect("url");
        let body = reqwest::get(url)
            .await
            .expect("health")
            .bytes()
            .await
            .expect("body");
        serde_json::from_slice::<Value>(&body).expect("json")["polls_in_flight"].clone()
    };
    assert_eq!(health().await, 0);
    let mut held = Vec::new();
    for bot in &bots {
        let url = fake.base_url().join("ilink/bot/getupdates").expect("url");
        let req = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("AuthorizationType", "ilink_bot_token")
            .header("Authorization", format!("Bearer {}", bot.token))
            .body(r#"{"get_updates_buf":""}"#);
        held.push(tokio::spawn(req.send()));
    }
    let mut seen = Value::Null;
    for _ in 0..200 {
        seen = health().await;
        if seen == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(seen, 2);
    for h in held {
        h.abort();
    }
}
