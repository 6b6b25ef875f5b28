//! The REST API with a Wechaty session, against the project's real Wechaty Puppet Service test
//! peer: a QR login started and followed over REST, contacts and rooms by name, room members,
//! a group message with its speaker in history and the conversation list, and a send to a room.

use std::time::Duration;

use serde_json::json;
use wechaty_peer::Peer;

mod common;
use common::rest::*;
use common::wechaty_app as open_app;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wechaty_login_lookups_groups_and_sends_over_rest() {
    let peer = Peer::start();
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path());
    let api = serve(&app).await;

    // Lookups before any Wechaty session say what is missing.
    let got = api.get("/api/v1/rooms?query=team").await;
    assert_problem(&got, 409, "no_wechaty_session");

    let (status, started) = api
        .post(
            "/api/v1/logins",
            json!({"backend": "wechaty", "session": "wc", "endpoint": peer.endpoint(),
                   "token": peer.token, "force": true}),
        )
        .await;
    assert_eq!(status, 202, "{started}");
    let mut version = started["version"].as_u64().unwrap();
    let confirmed = loop {
        let (status, s) = api
            .get(&format!(
                "/api/v1/logins/wechaty?after_version={version}&wait=20"
            ))
            .await;
        assert_eq!(status, 200, "{s}");
        match s["phase"].as_str().unwrap() {
            "confirmed" => break s,
            "failed" => panic!("login failed: {s}"),
            _ => version = s["version"].as_u64().unwrap(),
        }
    };
    assert_eq!(confirmed["confirmed"]["bot_id"], "wxid_bot");
    assert_eq!(confirmed["confirmed"]["backend"], "wechaty");

    // Contacts by name (remarks too), rooms by topic, members with their room names.
    let (status, found) = api.get("/api/v1/contacts?query=%E8%80%81%E5%BC%A0").await;
    assert_eq!(status, 200, "{found}");
    assert!(found["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "wxid_zhangsan" && c["session"] == "wc"));
    let (status, rooms) = api
        .get("/api/v1/rooms?query=%E8%AF%BB%E4%B9%A6%E4%BC%9A")
        .await;
    assert_eq!(status, 200, "{rooms}");
    assert_eq!(rooms["rooms"].as_array().unwrap().len(), 2);
    let (status, members) = api.get("/api/v1/rooms/r_team@chatroom/members").await;
    assert_eq!(status, 200, "{members}");
    assert_eq!(members["members"].as_array().unwrap().len(), 4);
    assert!(members["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["id"] == "wxid_zhangsan" && m["room_alias"] == "张工"));
    let got = api.get("/api/v1/rooms/r_nowhere@chatroom/members").await;
    assert_problem(&got, 404, "not_found");
    assert_problem(&api.get("/api/v1/rooms").await, 400, "invalid");

    // A group message shows its room and speaker; the listener may need a moment.
    let mut page = json!(null);
    for _ in 0..100 {
        peer.post(
            "/inject",
            json!({"from": "wxid_zhangsan", "room": "r_team@chatroom", "text": "明天下午开会"}),
        )
        .await;
        tokio::time::sleep(Duration::from_millis(200)).await;
        let (_, p) = api.get("/api/v1/messages?text=%E5%BC%80%E4%BC%9A").await;
        if p["total"].as_u64().unwrap_or(0) > 0 {
            page = p;
            break;
        }
    }
    let m = &page["messages"][0];
    assert_eq!(m["room_id"], "r_team@chatroom", "{page}");
    assert_eq!(m["speaker"], "wxid_zhangsan");
    assert_eq!(m["user"], "r_team@chatroom");
    let (_, convs) = api.get("/api/v1/conversations?session=wc").await;
    assert_eq!(
        convs["conversations"][0]["user"], "r_team@chatroom",
        "{convs}"
    );

    // A reply to the room over REST reaches the peer.
    let (status, sent) = api
        .post(
            "/api/v1/messages",
            json!({"to": "r_team@chatroom", "text": "收到，明天见"}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["session"], "wc");
    let log = peer.get("/sent").await;
    assert!(log.to_string().contains("收到，明天见"), "{log}");
    api.stop().await;
}
