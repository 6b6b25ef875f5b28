//! What the fake iLink server delivers that no strict parser reads: unpaired surrogate escapes,
//! nesting deeper than parsers go, junk entries in `msgs`, fields of the wrong type, replies
//! that are not JSON. Nothing readable is lost, nothing unreadable stops polling, and a session
//! whose replies keep failing shows as degraded.

use std::time::Duration;

use ilink_fake::{FaultSpec, InboundSpec};
use wxlink::service::pollers::Pollers;
use wxlink::service::Event as AppEvent;

mod common;
use common::*;

const USER: &str = "o9cq80jo@im.wechat";

fn raw_text(text: String) -> InboundSpec {
    InboundSpec {
        raw_text: Some(text),
        ..Default::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_messages_are_kept_and_polling_goes_on() {
    let env = env().await;
    let bot = login_bot(&env, "default", USER).await;
    let pollers = Pollers::start(env.app.clone());
    let b = &bot.bot_id;
    inject(&env.fake, &bot, InboundSpec::text("before"));
    inject(
        &env.fake,
        &bot,
        raw_text(format!(
            r#"{{"message_id":9001,"from_user_id":"{USER}","to_user_id":"{b}","message_type":1,
            "item_list":[{{"type":1,"text_item":{{"text":"half \ud83d emoji"}}}}]}}"#
        )),
    );
    let deep = format!("{}0{}", "[".repeat(300), "]".repeat(300));
    inject(
        &env.fake,
        &bot,
        raw_text(format!(
            r#"{{"message_id":9002,"from_user_id":"{USER}","to_user_id":"{b}","x":{deep}}}"#
        )),
    );
    for junk in ["1", r#""x""#, "null", "[]"] {
        inject(&env.fake, &bot, raw_text(junk.to_string()));
    }
    inject(
        &env.fake,
        &bot,
        InboundSpec {
            raw: Some(serde_json::json!({
            "message_id": "not a number", "create_time_ms": "soon", "from_user_id": USER,
            "to_user_id": b, "message_type": 1,
            "item_list": [
                {"type": 1, "text_item": {"text": "typed wrong"}},
                {"type": 3, "voice_item": {"playtime": "long", "text": "spoken words"}},
                {"type": 5, "video_item": {"video_size": -5}},
                7
            ]})),
            ..Default::default()
        },
    );
    inject(&env.fake, &bot, InboundSpec::text("after"));
    let got = recv_n(&env.app, "default", 5).await;
    let texts: Vec<Option<&str>> = got.iter().map(|m| m.message.text.as_deref()).collect();
    assert_eq!(texts[0], Some("before"));
    assert_eq!(texts[1], Some("half \u{FFFD} emoji"));
    let deep_row = &got[2].message;
    assert_eq!(deep_row.kind, "unknown");
    assert_eq!(deep_row.upstream_id.as_deref(), Some("9002"));
    assert_eq!(deep_row.peer, USER);
    assert!(deep_row.error.as_deref().unwrap().contains("JSON"));
    // Lists leave the upstream JSON out; the message itself keeps it, verbatim.
    assert_eq!(deep_row.raw, None);
    let deep_full = env.app.message(&got[2].id.to_string()).await.unwrap();
    assert!(deep_full
        .message
        .raw
        .as_ref()
        .unwrap()
        .as_str()
        .unwrap()
        .contains(&deep));
    let typed = &got[3].message;
    assert_eq!(typed.peer, USER);
    assert_eq!(typed.kind, "mixed");
    let text = typed.text.as_deref().unwrap();
    assert!(
        text.contains("typed wrong") && text.contains("spoken words"),
        "{text}"
    );
    let typed_full = env.app.message(&got[3].id.to_string()).await.unwrap();
    assert_eq!(
        typed_full.message.raw.as_ref().unwrap()["message_id"],
        "not a number"
    );
    assert_eq!(texts[4], Some("after"));

    // The junk is not stored as messages, and a restart fetches nothing again.
    pollers.shutdown().await;
    let pollers = Pollers::start(env.app.clone());
    inject(&env.fake, &bot, InboundSpec::text("later"));
    let later = recv_n(&env.app, "default", 1).await;
    assert_eq!(later[0].message.text.as_deref(), Some("later"));
    pollers.shutdown().await;
    let page = stored_inbound(&env.app).await;
    assert_eq!(
        page.total,
        6,
        "{:?}",
        page.messages
            .iter()
            .map(|m| &m.message.text)
            .collect::<Vec<_>>()
    );
    assert!(page.messages.iter().all(|m| m.message.peer == USER));
    let session = env.app.store().session("default").await.unwrap().unwrap();
    assert_eq!(session.problem, None);
}

/// Waits for the next health event of `session`.
async fn health_event(events: &mut tokio::sync::broadcast::Receiver<AppEvent>) -> Option<String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .expect("no health event within 10 s")
            .unwrap();
        if let AppEvent::SessionHealth { problem, .. } = ev {
            return problem;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_that_keep_failing_mark_the_session_degraded_until_one_is_read() {
    let env = env().await;
    let bot = login_bot(&env, "default", USER).await;
    let mut events = env.app.subscribe();
    env.fake.fault("getupdates", FaultSpec::Malformed, 4);
    let pollers = Pollers::start(env.app.clone());
    let problem = health_event(&mut events).await.expect("degraded");
    assert!(problem.contains("3 polls in a row failed"), "{problem}");
    let session = env.app.store().session("default").await.unwrap().unwrap();
    assert_eq!(session.problem.as_deref(), Some(problem.as_str()));
    let listed = env.app.list_sessions().await.unwrap();
    let view = wxlink::views::session(&listed[0].record, listed[0].polling);
    assert_eq!(view["degraded"], serde_json::json!(problem));

    // The faults run out; the next reply is read and the session works again.
    assert_eq!(health_event(&mut events).await, None);
    inject(&env.fake, &bot, InboundSpec::text("through"));
    let got = recv_n(&env.app, "default", 1).await;
    assert_eq!(got[0].message.text.as_deref(), Some("through"));
    pollers.shutdown().await;
    let session = env.app.store().session("default").await.unwrap().unwrap();
    assert_eq!(session.problem, None);
}
