//! The engine with a Wechaty session, against the project's real Wechaty Puppet Service test
//! peer (`tests/wechaty-peer`, started per test over loopback gRPC): login (and a refused
//! token), one-to-one and group messages reaching the inbox and history, sends routed to the
//! Wechaty backend, file transfer both ways, lookups by nickname, alias and topic, a peer
//! restart, and logout expiring the session.

use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use wechaty_peer::Peer;
use wxlink::error::{AppError, ErrorKind};
use wxlink::model::{BackendKind, Secret};
use wxlink::service::contacts::Source;
use wxlink::service::login::{LoginPhase, LoginRequest, LoginStart};
use wxlink::service::pollers::Pollers;
use wxlink::service::send::SendRequest;
use wxlink::service::Service as App;
use wxlink::store::{Direction, HistoryQuery, LoginRecord, SessionStatus, StoredMessage};
use wxlink::transfer::Unobserved;
use wxlink::upstream::{FileKind, Matching};
use wxlink::views;

mod common;
use common::wechaty_app as open_app;

/// A Wechaty login of session "wc" through the service, as every frontend starts one.
fn wechaty_login(peer: &Peer, token: &str) -> LoginRequest {
    LoginRequest {
        backend: Some(BackendKind::Wechaty),
        session: Some("wc".into()),
        force: true,
        endpoint: Some(peer.endpoint()),
        token: Some(Secret::new(token.to_string())),
        deadline: Some(Duration::from_secs(30)),
    }
}

async fn log_in(app: &App, peer: &Peer) {
    let pending = match app.login(wechaty_login(peer, &peer.token)).await.unwrap() {
        LoginStart::Started(p) | LoginStart::Joined { pending: p, .. } => p,
        LoginStart::AlreadyLoggedIn(_) => panic!("force logs in again"),
    };
    let LoginPhase::Confirmed(record) = pending.finished().await else {
        panic!("the login did not complete: {:?}", pending.state());
    };
    app.finish_login(&pending).await;
    assert_eq!(record.backend, BackendKind::Wechaty);
    assert_eq!(record.bot_id.as_deref(), Some("wxid_bot"));
}

/// Waits until the session's listener holds the event stream: probes with messages from Bob
/// until one comes through, and reads them all.
async fn wait_listening(app: &App, peer: &Peer) {
    for _ in 0..60 {
        peer.post("/inject", json!({"from": "wxid_bob", "text": "probe"}))
            .await;
        let got = app
            .recv("default", Duration::from_millis(500))
            .await
            .unwrap();
        if !got.is_empty() {
            // Probes sent before the stream was up are lost upstream; later ones may trail.
            while !app
                .recv("default", Duration::from_millis(300))
                .await
                .unwrap()
                .is_empty()
            {}
            return;
        }
    }
    panic!("the Wechaty listener never delivered a message");
}

/// Receives exactly the next message (probes excluded).
async fn next_message(app: &App) -> StoredMessage {
    let got = app.recv("default", Duration::from_secs(10)).await.unwrap();
    assert_eq!(got.len(), 1, "{got:?}");
    got.into_iter().next().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wechaty_session_receives_sends_and_finds() {
    let peer = Peer::start();
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path());

    // A refused token fails clearly and saves nothing.
    let err = app
        .login(wechaty_login(&peer, "wrong-token"))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TokenRejected, "{err}");
    assert!(app.store().session("wc").await.unwrap().is_none());

    log_in(&app, &peer).await;
    let pollers = Pollers::start(app.clone());
    wait_listening(&app, &peer).await;
    let sessions = app.list_sessions().await.unwrap();
    assert_eq!(
        sessions
            .iter()
            .find(|s| s.record.name == "wc")
            .map(|s| s.polling),
        Some(Some(true)),
        "`sessions` shows the listener"
    );

    // One-to-one.
    peer.post(
        "/inject",
        json!({"from": "wxid_alice", "text": "你好 wxlink"}),
    )
    .await;
    let m = next_message(&app).await;
    assert_eq!(m.message.direction, Direction::In);
    assert_eq!(m.message.peer, "wxid_alice");
    assert_eq!(m.message.speaker, None);
    assert_eq!(m.message.text.as_deref(), Some("你好 wxlink"));

    // A group message: stored under the room, with who said it.
    peer.post(
        "/inject",
        json!({"from": "wxid_zhangsan", "room": "r_team@chatroom", "text": "明天下午开会"}),
    )
    .await;
    let m = next_message(&app).await;
    assert_eq!(m.message.peer, "r_team@chatroom");
    assert_eq!(m.message.speaker.as_deref(), Some("wxid_zhangsan"));
    let view = views::message(&m);
    assert_eq!(view["room_id"], "r_team@chatroom");
    assert_eq!(view["from"], "wxid_zhangsan");
    let found = app
        .store()
        .history(&HistoryQuery {
            text: Some("下午开会".into()),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 1, "the group message is searchable");

    // Sends go through the Wechaty session: to the room, and a file to Alice.
    let report = app
        .send(
            &SendRequest::to("r_team@chatroom").text("收到"),
            &Unobserved,
        )
        .await
        .unwrap();
    assert_eq!(report.session, "wc");
    assert_eq!(report.quota_left, None, "Wechaty has no reply quota");
    let pdf = dir.path().join("季度报告.pdf");
    std::fs::write(&pdf, b"%PDF-1.7 quarterly").unwrap();
    let report = app
        .send(
            &SendRequest::to("wxid_alice").attach(FileKind::File, pdf.clone()),
            &Unobserved,
        )
        .await
        .unwrap();
    assert!(report.success);
    let sent = peer.get("/sent").await;
    let sent = sent.as_array().cloned().unwrap_or_default();
    assert!(
        sent.iter()
            .any(|s| s["conversationId"] == "r_team@chatroom" && s["text"] == "收到"),
        "{sent:?}"
    );
    let file = sent
        .iter()
        .find(|s| s["conversationId"] == "wxid_alice" && s["filename"] == "季度报告.pdf")
        .unwrap_or_else(|| panic!("file not sent: {sent:?}"));
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(file["fileBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, b"%PDF-1.7 quarterly");
    // Over the inline limit (1 MiB): streamed through Upload from the file, piece by piece.
    let big_content: Vec<u8> = (0..(3 * 1024 * 1024 + 5))
        .map(|i: u32| (i % 251) as u8)
        .collect();
    let big = dir.path().join("big.bin");
    std::fs::write(&big, &big_content).unwrap();
    let report = app
        .send(
            &SendRequest::to("wxid_alice").attach(FileKind::File, big.clone()),
            &Unobserved,
        )
        .await
        .unwrap();
    assert!(report.success, "{report:?}");
    let sent = peer.get("/sent").await;
    let streamed = sent
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["filename"] == "big.bin")
        .unwrap_or_else(|| panic!("big.bin not sent: {sent:?}"))
        .clone();
    assert_eq!(streamed["fileSize"], big_content.len());
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(streamed["fileBase64"].as_str().unwrap())
        .unwrap();
    assert_eq!(bytes, big_content);
    let out = app
        .store()
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    let peers: Vec<_> = out
        .messages
        .iter()
        .map(|m| m.message.peer.as_str())
        .collect();
    assert!(peers.contains(&"r_team@chatroom") && peers.contains(&"wxid_alice"));

    // An inbound file downloads from the puppet service.
    let content = b"inbound attachment".to_vec();
    peer.post(
        "/inject",
        json!({"from": "wxid_lisi", "file": {"name": "notes.txt",
            "base64": base64::engine::general_purpose::STANDARD.encode(&content)}}),
    )
    .await;
    let m = next_message(&app).await;
    assert_eq!(m.message.kind, "file");
    let files = app
        .download(&m.id.to_string(), Some(&dir.path().join("dl")), &Unobserved)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&files[0].path).unwrap(), content);
    assert!(files[0].path.ends_with("notes.txt"));

    // Lookups: duplicate nicknames, remarks, fuzzy, duplicate topics, members, ids.
    let wangwu = app
        .find_contacts(None, "王五", Matching::Exact)
        .await
        .unwrap()
        .contacts;
    assert_eq!(wangwu.len(), 2);
    let laozhang = app
        .find_contacts(None, "老张", Matching::Exact)
        .await
        .unwrap()
        .contacts;
    assert_eq!(ids(&laozhang, |c| &c.id), ["wxid_zhangsan"]);
    let alice = app
        .find_contacts(None, "alice", Matching::Fuzzy)
        .await
        .unwrap()
        .contacts;
    assert_eq!(ids(&alice, |c| &c.id), ["wxid_alice"]);
    let none = app
        .find_contacts(None, "alice", Matching::Exact)
        .await
        .unwrap()
        .contacts;
    assert!(
        none.is_empty(),
        "exact matching is case-sensitive and whole"
    );
    let (_, books) = app
        .find_rooms(None, "读书会", Matching::Exact)
        .await
        .unwrap();
    assert_eq!(books.len(), 2);
    let (_, _, members) = app.room_members(None, "r_team@chatroom").await.unwrap();
    assert_eq!(members.len(), 4);
    assert!(members
        .iter()
        .any(|m| m.id == "wxid_zhangsan" && m.room_alias.as_deref() == Some("张工")));
    assert!(matches!(
        app.contact_by_id(None, "wxid_nobody").await,
        Err(AppError::NotFound { .. })
    ));

    // The peer's gRPC side restarts: the listener reconnects and messages flow again.
    peer.post("/grpc/restart", json!({"downMs": 500})).await;
    wait_listening(&app, &peer).await;
    peer.post(
        "/inject",
        json!({"from": "wxid_alice", "text": "after restart"}),
    )
    .await;
    assert_eq!(
        next_message(&app).await.message.text.as_deref(),
        Some("after restart")
    );

    // A forced re-login while the listener holds the service's one event stream: the listener
    // lets go, the login completes, and listening resumes.
    tokio::time::timeout(Duration::from_secs(30), log_in(&app, &peer))
        .await
        .expect("a re-login does not wait for the listener's stream");
    wait_listening(&app, &peer).await;

    // The account logs out upstream: the session expires.
    peer.post("/logout", json!({})).await;
    let mut status = None;
    for _ in 0..100 {
        status = app.store().session("wc").await.unwrap().map(|s| s.status);
        if status == Some(SessionStatus::Expired) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(status, Some(SessionStatus::Expired));
    pollers.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_lookups_on_an_ilink_session_say_ilink_has_no_groups() {
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(dir.path());
    app.store()
        .save_login(
            "il",
            &LoginRecord {
                backend: BackendKind::Ilink,
                bot_id: "b@im.bot".into(),
                user_id: None,
                token: "t".into(),
                base_url: None,
            },
        )
        .await
        .unwrap();
    let err = app
        .find_rooms(Some("il"), "项目组", Matching::Exact)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NeedsWechaty { .. }), "{err}");
    assert!(err.to_string().contains("iLink does not carry group chats"));
    // Unnamed, rooms need a session that carries groups: this iLink one does not.
    let err = app
        .find_rooms(None, "项目组", Matching::Exact)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NeedsWechaty { .. }), "{err}");
    // A contact search without an address book looks at the users who wrote to the bot
    // (iLink knows no names): nobody here.
    let found = app
        .find_contacts(None, "张三", Matching::Exact)
        .await
        .unwrap();
    assert_eq!(found.source, Source::KnownUsers);
    assert!(found.contacts.is_empty());
}

fn ids<T>(items: &[T], id: impl Fn(&T) -> &String) -> Vec<String> {
    items.iter().map(|i| id(i).clone()).collect()
}

/// Runs the `wxlink` binary with `--json` on a data directory; returns (exit code, JSON).
fn wxlink_json(dir: &std::path::Path, args: &[&str]) -> (i32, serde_json::Value) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxlink"))
        .arg("-d")
        .arg(dir)
        .arg("--json")
        .args(args)
        .env_remove("WXLINK_WECHATY_ENDPOINT")
        .env_remove("WXLINK_WECHATY_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let json = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {stdout}\nstderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), json)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_logs_in_finds_and_sends_through_wechaty() {
    let peer = Peer::start();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let endpoint = peer.endpoint();

    let (code, v) = wxlink_json(
        data,
        &[
            "login",
            "wc",
            "--wechaty",
            "--endpoint",
            &endpoint,
            "--token",
            "nope",
        ],
    );
    assert_eq!(code, 1, "{v}");
    assert_eq!(v["error"]["kind"], "token_rejected", "{v}");

    // An iLink session is the default: an unnamed Wechaty login must not take its name.
    open_app(data)
        .store()
        .save_login(
            "default",
            &LoginRecord {
                backend: BackendKind::Ilink,
                bot_id: "b@im.bot".into(),
                user_id: None,
                token: "t".into(),
                base_url: None,
            },
        )
        .await
        .unwrap();
    let login = |name: Option<&str>| {
        let mut args = vec!["login"];
        args.extend(name);
        args.extend(["--wechaty", "--endpoint", &endpoint, "--token", &peer.token]);
        wxlink_json(data, &args)
    };
    let (code, v) = login(Some("default"));
    assert_eq!(code, 2, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap_or("")
            .contains("is an iLink session"),
        "{v}"
    );
    let (code, v) = login(None);
    assert_eq!((code, &v["bot_id"]), (0, &json!("wxid_bot")), "{v}");
    assert_eq!(v["session"], "wechaty", "{v}");
    let (_, v) = wxlink_json(data, &["sessions"]);
    let backends: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap_or("").to_string(),
                s["backend"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        backends.contains(&("default".into(), "ilink".into()))
            && backends.contains(&("wechaty".into(), "wechaty".into())),
        "{v}"
    );

    let (code, v) = wxlink_json(data, &["contacts", "王五"]);
    assert_eq!(code, 0);
    assert_eq!(v["contacts"].as_array().map(Vec::len), Some(2), "{v}");
    let (_, v) = wxlink_json(data, &["contacts", "读书会", "--rooms"]);
    assert_eq!(v["rooms"].as_array().map(Vec::len), Some(2), "{v}");
    let (_, v) = wxlink_json(data, &["contacts", "hiking", "--rooms", "--fuzzy"]);
    assert_eq!(v["rooms"][0]["id"], "r_hiking@chatroom", "{v}");

    let (code, v) = wxlink_json(data, &["send", "r_hiking@chatroom", "--text", "周六见"]);
    assert_eq!(code, 0, "{v}");
    assert_eq!(v["session"], "wechaty");
    assert!(v.get("quota_left").is_none(), "no iLink quota here: {v}");
    let sent = peer.get("/sent").await;
    assert!(
        sent.as_array().is_some_and(|s| s
            .iter()
            .any(|m| m["conversationId"] == "r_hiking@chatroom" && m["text"] == "周六见")),
        "{sent}"
    );
}
