//! The client against the project's Wechaty test peer (a real `wechaty-puppet-service` gRPC
//! server over PuppetMock, `tests/wechaty-peer/`) over real sockets.
//!
//! Needs `npm ci --prefix tests/wechaty-peer` first; without it every test fails saying so.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::{logged_in, wait_for, Peer};
use serde_json::json;
use wechaty::{
    Client, ContactField, ContactType, Error, FileBox, Gender, LoginState, MatchMode, MessageType,
    PayloadType, PuppetEvent, TlsConfig,
};

fn ids<T>(items: &[T], id: impl Fn(&T) -> &str) -> Vec<String> {
    let mut v: Vec<String> = items.iter().map(|i| id(i).to_owned()).collect();
    v.sort();
    v
}

#[tokio::test]
async fn token_rejected() {
    let peer = Peer::start();
    let mut config = common::config(&peer);
    config.token = "insecure_not-the-token".into();
    match Client::connect(config.clone()).await {
        Err(Error::Unauthenticated { message }) => {
            assert!(message.contains("Invalid Wechaty TOKEN"), "{message}")
        }
        other => panic!("expected Unauthenticated, got {other:?}"),
    }

    // the event stream gives up on a rejected token instead of retrying forever
    let client = Client::connect_lazy(config).expect("lazy client");
    let mut events = client.events().expect("events");
    let (error, retry) = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Disconnected {
            error,
            reconnect_in,
        } => Some((error.clone(), *reconnect_in)),
        _ => None,
    })
    .await;
    assert!(matches!(error, Error::Unauthenticated { .. }), "{error:?}");
    assert!(error.is_fatal());
    assert_eq!(retry, None);
    assert!(
        events.recv().await.is_none(),
        "the stream ends after a fatal error"
    );

    // an empty token never leaves the process
    let mut config = common::config(&peer);
    config.token = " ".into();
    assert!(matches!(
        Client::connect(config).await,
        Err(Error::Config(_))
    ));
}

#[tokio::test]
async fn unreachable_service_is_unavailable_and_retried() {
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port");
    let mut config = wechaty::Config::new(format!("127.0.0.1:{port}"), "insecure_x");
    config.connect_timeout = Duration::from_secs(2);
    config.reconnect.initial = Duration::from_millis(50);
    config.reconnect.max_attempts = Some(2);
    match Client::connect(config.clone()).await {
        Err(e @ Error::Unavailable { .. }) => assert!(e.is_transient()),
        other => panic!("expected Unavailable, got {other:?}"),
    }
    let client = Client::connect_lazy(config).expect("lazy");
    let mut events = client.events().expect("events");
    let mut retries = Vec::new();
    while let Some(ev) = events.recv().await {
        if let PuppetEvent::Disconnected {
            error,
            reconnect_in,
        } = ev
        {
            assert!(matches!(error, Error::Unavailable { .. }), "{error:?}");
            retries.push(reconnect_in);
        }
    }
    assert_eq!(
        retries,
        vec![
            Some(Duration::from_millis(50)),
            Some(Duration::from_millis(100)),
            None
        ]
    );
    // the slot is free again once the stream has ended
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(client.events().is_ok());
}

#[tokio::test]
async fn event_stream_login_ready_and_injected_message() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    assert!(!client.version().await.expect("version").is_empty());
    let mut events = client.events().expect("events");
    assert!(matches!(
        client.events(),
        Err(Error::EventStreamBusy { .. })
    ));
    wait_for(&mut events, 10, |e| {
        matches!(e, PuppetEvent::Connected).then_some(())
    })
    .await;
    let qrcode = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Scan { qrcode, .. } => Some(qrcode.clone()),
        _ => None,
    })
    .await;
    assert!(qrcode.is_some_and(|q| q.starts_with("https://")));
    let me = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Login { contact_id } => Some(contact_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(me, "wxid_bot");
    wait_for(&mut events, 20, |e| {
        matches!(e, PuppetEvent::Ready).then_some(())
    })
    .await;
    assert_eq!(
        client.login_state(),
        LoginState::LoggedIn {
            user_id: "wxid_bot".into()
        }
    );
    assert_eq!(client.current_user_id().as_deref(), Some("wxid_bot"));
    let myself = client
        .current_user()
        .await
        .expect("self")
        .expect("logged in");
    assert_eq!(myself.name, "小助手Bot");

    // the service refuses a second stream (from another client): transient, retried
    let other = Client::connect(common::config(&peer))
        .await
        .expect("second client");
    let mut second = other.events().expect("events of the second client");
    let error = wait_for(&mut second, 20, |e| match e {
        PuppetEvent::Disconnected {
            error,
            reconnect_in: Some(_),
        } => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(matches!(error, Error::EventStreamBusy { .. }), "{error:?}");
    second.shutdown().await;

    // an incoming one-to-one message
    let injected = peer
        .post(
            "/inject",
            json!({"from": "wxid_bob", "text": "在吗？ ping from Bob"}),
        )
        .await;
    let want = injected["id"].as_str().expect("id").to_owned();
    let got = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Message { message_id } if *message_id == want => Some(message_id.clone()),
        _ => None,
    })
    .await;
    let m = client.message(&got).await.expect("message payload");
    assert_eq!(m.kind, MessageType::Text);
    assert_eq!(m.kind.to_wire(), 7, "wechaty-puppet numbering");
    assert_eq!(m.text, "在吗？ ping from Bob");
    assert_eq!(m.talker_id.as_deref(), Some("wxid_bob"));
    assert_eq!(m.listener_id.as_deref(), Some("wxid_bot"));
    assert_eq!(m.room_id, None);
    assert_eq!(m.conversation_id(Some("wxid_bot")), Some("wxid_bob"));
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or_default();
    let ts = m.timestamp_ms.expect("timestamp");
    assert!((now_ms - ts).abs() < 60_000, "{ts} vs {now_ms}");

    assert!(matches!(
        client.message("msg_does_not_exist").await,
        Err(Error::NotFound {
            what: "message",
            ..
        })
    ));

    // Ding → Dong
    client.ding("hello").await.expect("ding");
    let data = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Dong { data } => Some(data.clone()),
        _ => None,
    })
    .await;
    assert_eq!(data.as_deref(), Some("hello"));

    events.shutdown().await;
    assert_eq!(client.login_state(), LoginState::Unknown);
    assert!(client.events().is_ok(), "the slot is free after shutdown");
}

#[tokio::test]
async fn contacts_and_payloads_with_chinese_names() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;

    let contacts = client.contacts().await.expect("contacts");
    assert_eq!(
        ids(&contacts, |c| &c.id),
        vec![
            "gh_news",
            "wxid_alice",
            "wxid_bob",
            "wxid_bot",
            "wxid_lisi",
            "wxid_wangwu_1",
            "wxid_wangwu_2",
            "wxid_zhangsan"
        ]
    );
    let zhangsan = client.contact("wxid_zhangsan").await.expect("张三");
    assert_eq!(zhangsan.name, "张三");
    assert_eq!(zhangsan.alias.as_deref(), Some("老张"));
    assert_eq!(zhangsan.gender, Gender::Male);
    assert_eq!(zhangsan.city.as_deref(), Some("北京"));
    assert_eq!(zhangsan.kind, ContactType::Individual);
    assert!(zhangsan.friend);
    assert_eq!(zhangsan.handle.as_deref(), Some("wxid_zhangsan"));
    let news = client.contact("gh_news").await.expect("official account");
    assert_eq!(news.name, "新闻早报");
    assert_eq!(news.kind, ContactType::Official);
    assert!(!news.friend);
    let alice = client.contact("wxid_alice").await.expect("alice");
    assert_eq!(alice.gender, Gender::Female);
    assert_eq!(
        client.contact_alias("wxid_alice").await.expect("alias"),
        Some("Alice (work)".into())
    );
    assert_eq!(client.contact_alias("wxid_bob").await.expect("alias"), None);

    match client.contact("wxid_nobody").await {
        Err(Error::NotFound { what, id, .. }) => {
            assert_eq!((what, id.as_str()), ("contact", "wxid_nobody"))
        }
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        client.contact("").await,
        Err(Error::InvalidArgument(_))
    ));

    // served from the cache while the stream is connected
    let stats = client.cache_stats();
    assert!(
        stats.live && stats.contact_list && stats.contacts >= 8,
        "{stats:?}"
    );
}

#[tokio::test]
async fn find_contacts_by_nickname_and_alias() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;
    use ContactField::*;
    use MatchMode::*;

    let wangwu = client
        .find_contacts("王五", Name, Exact)
        .await
        .expect("find");
    assert_eq!(
        ids(&wangwu, |c| &c.id),
        vec!["wxid_wangwu_1", "wxid_wangwu_2"]
    );
    let wangwu = client
        .find_contacts("王五", NameOrAlias, Exact)
        .await
        .expect("find");
    assert_eq!(
        wangwu.len(),
        2,
        "the remark 王五（同事） is not an exact match"
    );
    let wangwu = client
        .find_contacts("王五", NameOrAlias, Fuzzy)
        .await
        .expect("find");
    assert_eq!(wangwu.len(), 2);

    let laozhang = client
        .find_contacts("老张", Alias, Exact)
        .await
        .expect("find");
    assert_eq!(ids(&laozhang, |c| &c.id), vec!["wxid_zhangsan"]);
    assert_eq!(
        client
            .find_contacts("老张", NameOrAlias, Exact)
            .await
            .expect("find")
            .len(),
        1
    );
    assert!(client
        .find_contacts("老张", Name, Exact)
        .await
        .expect("find")
        .is_empty());
    let colleague = client
        .find_contacts("王五（同事）", Alias, Exact)
        .await
        .expect("find");
    assert_eq!(ids(&colleague, |c| &c.id), vec!["wxid_wangwu_1"]);

    assert!(client
        .find_contacts("alice", NameOrAlias, Exact)
        .await
        .expect("find")
        .is_empty());
    let alice = client
        .find_contacts("alice", NameOrAlias, Fuzzy)
        .await
        .expect("find");
    assert_eq!(ids(&alice, |c| &c.id), vec!["wxid_alice"]);
    let work = client
        .find_contacts("(WORK)", Alias, Fuzzy)
        .await
        .expect("find");
    assert_eq!(ids(&work, |c| &c.id), vec!["wxid_alice"]);
    assert!(client
        .find_contacts("nobody", NameOrAlias, Fuzzy)
        .await
        .expect("find")
        .is_empty());
    assert!(matches!(
        client.find_contacts("", Name, Fuzzy).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn rooms_by_topic_and_members() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;

    let rooms = client.rooms().await.expect("rooms");
    assert_eq!(rooms.len(), 5);
    let books = client
        .find_rooms("读书会", MatchMode::Exact)
        .await
        .expect("find");
    assert_eq!(
        ids(&books, |r| &r.id),
        vec!["r_book_1@chatroom", "r_book_2@chatroom"]
    );
    let family = client
        .find_rooms("家庭群", MatchMode::Exact)
        .await
        .expect("find");
    assert_eq!(ids(&family, |r| &r.id), vec!["r_family@chatroom"]);
    assert!(client
        .find_rooms("hiking", MatchMode::Exact)
        .await
        .expect("find")
        .is_empty());
    let hiking = client
        .find_rooms("hiking", MatchMode::Fuzzy)
        .await
        .expect("find");
    assert_eq!(ids(&hiking, |r| &r.id), vec!["r_hiking@chatroom"]);

    let team = client.room("r_team@chatroom").await.expect("room");
    assert_eq!(team.topic, "项目组");
    assert_eq!(team.owner_id.as_deref(), Some("wxid_alice"));
    assert_eq!(team.member_ids.len(), 4);

    let member_ids = client
        .room_member_ids("r_team@chatroom")
        .await
        .expect("member ids");
    assert_eq!(
        member_ids,
        vec!["wxid_bot", "wxid_alice", "wxid_bob", "wxid_zhangsan"]
    );
    let members = client
        .room_members("r_team@chatroom")
        .await
        .expect("members");
    assert_eq!(members.len(), 4);
    let zhang = members
        .iter()
        .find(|m| m.id == "wxid_zhangsan")
        .expect("张三 in 项目组");
    assert_eq!(zhang.name, "张三");
    assert_eq!(zhang.room_alias.as_deref(), Some("张工"));
    assert_eq!(zhang.inviter_id.as_deref(), Some("wxid_alice"));
    assert_eq!(zhang.display_name(), "张工");
    let bob = client
        .room_member("r_team@chatroom", "wxid_bob")
        .await
        .expect("bob");
    assert_eq!(
        (bob.room_alias.as_deref(), bob.display_name()),
        (None, "Bob")
    );

    assert!(matches!(
        client.room("r_nowhere@chatroom").await,
        Err(Error::NotFound { what: "room", .. })
    ));
    assert!(matches!(
        client.room_member("r_family@chatroom", "wxid_bob").await,
        Err(Error::NotFound { .. })
    ));
}

#[tokio::test]
async fn group_and_file_messages() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let mut events = logged_in(&client).await;

    // a group message mentioning the bot
    let injected = peer
        .post(
            "/inject",
            json!({"from": "wxid_alice", "room": "项目组", "text": "@小助手Bot 周报发一下", "mentions": ["wxid_bot"]}),
        )
        .await;
    let want = injected["id"].as_str().expect("id").to_owned();
    let id = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Message { message_id } if *message_id == want => Some(message_id.clone()),
        _ => None,
    })
    .await;
    let m = client.message(&id).await.expect("payload");
    assert_eq!(m.kind, MessageType::Text);
    assert_eq!(m.room_id.as_deref(), Some("r_team@chatroom"));
    assert_eq!(m.talker_id.as_deref(), Some("wxid_alice"));
    assert_eq!(m.text, "@小助手Bot 周报发一下");
    assert!(m.is_room() && m.mentions("wxid_bot"));
    assert_eq!(m.conversation_id(Some("wxid_bot")), Some("r_team@chatroom"));

    // an image (small: comes back inline as Base64)
    let png: Vec<u8> = (0..200u32).map(|i| (i * 7 % 256) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&png);
    let injected = peer
        .post(
            "/inject",
            json!({"from": "张三", "file": {"name": "截图.png", "base64": b64}}),
        )
        .await;
    let id = injected["id"].as_str().expect("id").to_owned();
    let m = client.message(&id).await.expect("payload");
    assert_eq!(m.kind, MessageType::Image);
    assert_eq!(m.kind.to_wire(), 6);
    assert_eq!(m.filename.as_deref(), Some("截图.png"));
    let fb = client.message_file(&id).await.expect("file box");
    assert!(matches!(fb, FileBox::Base64 { .. }), "{fb:?}");
    let file = client.download_message_file(&id).await.expect("download");
    assert_eq!(file.name, "截图.png");
    assert_eq!(file.bytes, png);

    // an attachment over 20 KiB: a UUID box, fetched with the Download stream
    let big: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&big);
    let injected = peer
        .post(
            "/inject",
            json!({"from": "wxid_lisi", "room": "家庭群", "file": {"name": "家谱.pdf", "base64": b64}}),
        )
        .await;
    let id = injected["id"].as_str().expect("id").to_owned();
    let m = client.message(&id).await.expect("payload");
    assert_eq!(m.kind, MessageType::Attachment);
    assert_eq!(m.room_id.as_deref(), Some("r_family@chatroom"));
    let fb = client.message_file(&id).await.expect("file box");
    assert!(matches!(fb, FileBox::Uuid { .. }), "{fb:?}");
    let file = client.download_message_file(&id).await.expect("download");
    assert_eq!(file.bytes.len(), big.len());
    assert_eq!(file.bytes, big);

    // a text message has no file
    let text_id = peer
        .post("/inject", json!({"from": "wxid_bob", "text": "no file"}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    assert!(client.message_file(&text_id).await.is_err());
}

#[tokio::test]
async fn send_text_to_contact_and_room() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;
    peer.post("/reset-log", json!({})).await;

    let id1 = client
        .send_text("wxid_zhangsan", "你好，张三！")
        .await
        .expect("send");
    let id2 = client
        .send_text_mentioning("r_team@chatroom", "@Alice 请看周报", &["wxid_alice".into()])
        .await
        .expect("send to room");
    let sent = peer.get("/sent").await;
    let sent = sent.as_array().expect("list");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert_eq!(sent[0]["conversationId"], "wxid_zhangsan");
    assert_eq!(sent[0]["text"], "你好，张三！");
    assert_eq!(sent[0]["talkerId"], "wxid_bot");
    assert_eq!(sent[0]["type"], 7);
    assert_eq!(id1.as_deref(), sent[0]["id"].as_str());
    assert_eq!(sent[1]["conversationId"], "r_team@chatroom");
    assert_eq!(sent[1]["text"], "@Alice 请看周报");
    assert_eq!(sent[1]["mentionIds"], json!(["wxid_alice"]));
    assert_eq!(id2.as_deref(), sent[1]["id"].as_str());

    // what we sent is a message too
    let m = client
        .message(id2.as_deref().expect("id"))
        .await
        .expect("payload");
    assert_eq!(m.talker_id.as_deref(), Some("wxid_bot"));
    assert_eq!(m.room_id.as_deref(), Some("r_team@chatroom"));

    match client.send_text("wxid_nobody", "hi").await {
        Err(Error::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(matches!(
        client.send_text(" ", "hi").await,
        Err(Error::InvalidArgument(_))
    ));
    assert_eq!(peer.get("/sent").await.as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn send_files_inline_and_uploaded() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;
    peer.post("/reset-log", json!({})).await;

    let png: Vec<u8> = (0..5000u32).map(|i| (i % 256) as u8).collect();
    let id = client
        .send_file("wxid_alice", "图表.png", png.clone())
        .await
        .expect("send image");
    // over inline_file_limit (1 MiB): Upload stream + UUID FileBox
    let pdf: Vec<u8> = (0..(2 * 1024 * 1024 + 17))
        .map(|i: u32| (i % 253) as u8)
        .collect();
    let id2 = client
        .send_file("r_book_1@chatroom", "读书笔记.pdf", pdf.clone())
        .await
        .expect("send pdf");

    let sent = peer.get("/sent").await;
    let sent = sent.as_array().expect("list");
    assert_eq!(sent.len(), 2);
    let decode = |v: &serde_json::Value| {
        base64::engine::general_purpose::STANDARD
            .decode(v.as_str().expect("base64"))
            .expect("valid base64")
    };
    assert_eq!(sent[0]["conversationId"], "wxid_alice");
    assert_eq!(sent[0]["filename"], "图表.png");
    assert_eq!(sent[0]["type"], 6, "image");
    assert_eq!(decode(&sent[0]["fileBase64"]), png);
    assert_eq!(id.as_deref(), sent[0]["id"].as_str());
    assert_eq!(sent[1]["conversationId"], "r_book_1@chatroom");
    assert_eq!(sent[1]["filename"], "读书笔记.pdf");
    assert_eq!(sent[1]["type"], 1, "attachment");
    assert_eq!(sent[1]["fileSize"], pdf.len());
    assert_eq!(decode(&sent[1]["fileBase64"]), pdf);

    // and it can be read back from the message
    let back = client
        .download_message_file(id2.as_deref().expect("id"))
        .await
        .expect("read back");
    assert_eq!(back.bytes, pdf);

    assert!(matches!(
        client.send_file("wxid_alice", "", vec![1]).await,
        Err(Error::InvalidArgument(_))
    ));
}

#[tokio::test]
async fn reconnects_after_the_grpc_side_restarts() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let mut events = logged_in(&client).await;
    client.contacts().await.expect("fill the cache");
    assert!(client.cache_stats().contacts > 0);

    peer.post("/grpc/restart", json!({"downMs": 1500})).await;
    let retry = wait_for(&mut events, 30, |e| match e {
        PuppetEvent::Disconnected { reconnect_in, .. } => Some(*reconnect_in),
        _ => None,
    })
    .await;
    assert!(retry.is_some(), "a lost stream is retried");
    assert_eq!(client.login_state(), LoginState::Unknown);
    assert!(!client.cache_stats().live);
    wait_for(&mut events, 30, |e| {
        matches!(e, PuppetEvent::Connected).then_some(())
    })
    .await;
    let stats = client.cache_stats();
    assert!(
        stats.live && stats.contacts == 0,
        "emptied on reconnect: {stats:?}"
    );
    let me = wait_for(&mut events, 30, |e| match e {
        PuppetEvent::Login { contact_id } => Some(contact_id.clone()),
        _ => None,
    })
    .await;
    assert_eq!(me, "wxid_bot");
    assert_eq!(client.current_user_id().as_deref(), Some("wxid_bot"));

    // messages flow again, calls work again
    let want = peer
        .post("/inject", json!({"from": "wxid_bob", "text": "back?"}))
        .await["id"]
        .as_str()
        .expect("id")
        .to_owned();
    wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Message { message_id } if *message_id == want => Some(()),
        _ => None,
    })
    .await;
    assert!(client.send_text("wxid_bob", "yes").await.is_ok());

    // a longer outage: several failed attempts, then back
    peer.post("/grpc/stop", json!({})).await;
    wait_for(&mut events, 30, |e| match e {
        PuppetEvent::Disconnected {
            reconnect_in: Some(_),
            ..
        } => Some(()),
        _ => None,
    })
    .await;
    let error = wait_for(&mut events, 30, |e| match e {
        PuppetEvent::Disconnected {
            error,
            reconnect_in: Some(_),
        } => Some(error.clone()),
        _ => None,
    })
    .await;
    assert!(error.is_transient(), "{error:?}");
    assert!(matches!(
        client.contact("wxid_bob").await,
        Err(Error::Unavailable { .. })
    ));
    peer.post("/grpc/start", json!({})).await;
    wait_for(&mut events, 30, |e| {
        matches!(e, PuppetEvent::Login { .. }).then_some(())
    })
    .await;
    assert_eq!(client.contact("wxid_bob").await.expect("bob").name, "Bob");
}

#[tokio::test]
async fn cache_is_invalidated_by_dirty_events() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let mut events = logged_in(&client).await;

    let lisi = client.contact("wxid_lisi").await.expect("李四");
    assert_eq!(lisi.alias.as_deref(), Some("四哥"));
    assert_eq!(
        client
            .find_contacts("四哥", ContactField::Alias, MatchMode::Exact)
            .await
            .expect("find")
            .len(),
        1
    );

    // the service's data changes without telling: we keep serving the cached payload
    peer.post(
        "/contact",
        json!({"id": "wxid_lisi", "alias": "老四", "dirty": false}),
    )
    .await;
    assert_eq!(
        client
            .contact("wxid_lisi")
            .await
            .expect("cached")
            .alias
            .as_deref(),
        Some("四哥")
    );
    // ... until the dirty event
    peer.post("/dirty", json!({"type": 2, "id": "wxid_lisi"}))
        .await;
    let (kind, id) = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Dirty {
            payload_type,
            payload_id,
        } => Some((*payload_type, payload_id.clone())),
        _ => None,
    })
    .await;
    assert_eq!((kind, id.as_str()), (PayloadType::Contact, "wxid_lisi"));
    assert_eq!(
        client
            .contact("wxid_lisi")
            .await
            .expect("fresh")
            .alias
            .as_deref(),
        Some("老四")
    );
    assert!(client
        .find_contacts("四哥", ContactField::Alias, MatchMode::Exact)
        .await
        .expect("find")
        .is_empty());
    assert_eq!(
        client
            .find_contacts("老四", ContactField::Alias, MatchMode::Exact)
            .await
            .expect("find")
            .len(),
        1
    );

    // a room renamed, with the puppet's own dirty event
    assert_eq!(
        client
            .find_rooms("读书会", MatchMode::Exact)
            .await
            .expect("find")
            .len(),
        2
    );
    let before = client.cache_stats().invalidations;
    peer.post(
        "/room",
        json!({"id": "r_book_2@chatroom", "topic": "读书会（二群）"}),
    )
    .await;
    wait_for(&mut events, 20, |e| match e {
        PuppetEvent::Dirty {
            payload_type: PayloadType::Room,
            payload_id,
        } if payload_id == "r_book_2@chatroom" => Some(()),
        _ => None,
    })
    .await;
    assert!(client.cache_stats().invalidations > before);
    let books = client
        .find_rooms("读书会", MatchMode::Exact)
        .await
        .expect("find");
    assert_eq!(ids(&books, |r| &r.id), vec!["r_book_1@chatroom"]);
    assert_eq!(
        client
            .find_rooms("读书会", MatchMode::Fuzzy)
            .await
            .expect("find")
            .len(),
        2
    );

    // room membership events drop the member lists
    assert_eq!(
        client
            .room_member_ids("r_hiking@chatroom")
            .await
            .expect("ids")
            .len(),
        3
    );
    peer.post(
        "/room",
        json!({"id": "r_hiking@chatroom", "memberIdList": ["wxid_bot", "wxid_alice", "wxid_bob", "wxid_lisi"], "dirty": false}),
    )
    .await;
    assert_eq!(
        client
            .room_member_ids("r_hiking@chatroom")
            .await
            .expect("cached")
            .len(),
        3
    );
    peer.post(
        "/emit",
        json!({"event": "room-join", "payload": {"roomId": "r_hiking@chatroom", "inviteeIdList": ["wxid_lisi"], "inviterId": "wxid_bob", "timestamp": 1_700_000_000}}),
    )
    .await;
    let invitees = wait_for(&mut events, 20, |e| match e {
        PuppetEvent::RoomJoin {
            room_id,
            invitee_ids,
            ..
        } if room_id == "r_hiking@chatroom" => Some(invitee_ids.clone()),
        _ => None,
    })
    .await;
    assert_eq!(invitees, vec!["wxid_lisi"]);
    assert_eq!(
        client
            .room_member_ids("r_hiking@chatroom")
            .await
            .expect("fresh")
            .len(),
        4
    );

    // dirty_payload asks the service and drops ours at once
    client.contacts().await.expect("list");
    client
        .dirty_payload(PayloadType::Contact, "wxid_bob")
        .await
        .expect("dirty");
    assert!(!client.cache_stats().contact_list);
}

#[tokio::test]
async fn many_contacts() {
    let peer = Peer::start();
    let client = Client::connect(common::config(&peer))
        .await
        .expect("connect");
    let _events = logged_in(&client).await;
    let added = peer
        .post(
            "/contacts/synthetic",
            json!({"count": 2000, "prefix": "联系人"}),
        )
        .await;
    assert_eq!(added["added"], 2000);
    let t = std::time::Instant::now();
    let all = client.contacts().await.expect("contacts");
    let cold = t.elapsed();
    assert_eq!(all.len(), 2008);
    let t = std::time::Instant::now();
    let hits = client
        .find_contacts("联系人1999", ContactField::Name, MatchMode::Exact)
        .await
        .expect("find");
    let warm = t.elapsed();
    assert_eq!(hits.len(), 1);
    let remarks = client
        .find_contacts("备注", ContactField::Alias, MatchMode::Fuzzy)
        .await
        .expect("find");
    // ids wxid_synth_8 ..= wxid_synth_2007; every third has a remark 备注<n>
    assert_eq!(remarks.len(), 667);
    eprintln!("2008 contacts: cold list {cold:?}, cached search {warm:?}");
    assert!(warm < cold);
    assert!(client.cache_stats().contacts >= 2008);
}

#[tokio::test]
async fn builtin_insecure_certificate_is_reported() {
    let peer = Peer::start_with(&[("WECHATY_PEER_TLS", "1")]);
    let ca = peer.get_text("/tls/ca.pem").await;
    assert!(ca.contains("BEGIN CERTIFICATE"));
    let config = common::config(&peer).with_tls(TlsConfig::Tls {
        ca_pem: Some(ca),
        server_name: wechaty::token_server_name(&peer.token),
    });
    match Client::connect(config).await {
        Err(e @ Error::InsecureBuiltinCertificate { .. }) => {
            eprintln!("{e}");
            assert!(e.is_fatal());
            let text = e.to_string();
            assert!(text.contains("NO_TLS_INSECURE_SERVER"), "{text}");
        }
        other => panic!("expected InsecureBuiltinCertificate, got {other:?}"),
    }
    // a plaintext client against a TLS server does not get through either
    let err = Client::connect(common::config(&peer))
        .await
        .expect_err("plaintext vs TLS");
    eprintln!("plaintext client, TLS server: {err}");
    assert!(!matches!(err, Error::Unauthenticated { .. }), "{err:?}");
}

#[tokio::test]
async fn tls_with_a_proper_certificate() {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(DnType::CommonName, "wxlink test CA");
    let ca =
        CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("ca key")).expect("ca");
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["puppet.wxlink.test".to_owned()])
        .expect("params")
        .signed_by(&key, &ca)
        .expect("cert");
    let dir = std::env::temp_dir().join(format!("wechaty-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let (cert_file, key_file) = (dir.join("server.pem"), dir.join("server.key"));
    std::fs::write(&cert_file, cert.pem()).expect("cert file");
    std::fs::write(&key_file, key.serialize_pem()).expect("key file");
    let peer = Peer::start_with(&[
        (
            "WECHATY_PEER_TLS_CERT_FILE",
            cert_file.to_str().expect("path"),
        ),
        (
            "WECHATY_PEER_TLS_KEY_FILE",
            key_file.to_str().expect("path"),
        ),
    ]);
    let _ = std::fs::remove_dir_all(&dir);

    let tls = TlsConfig::Tls {
        ca_pem: Some(ca.pem()),
        server_name: Some("puppet.wxlink.test".into()),
    };
    let client = Client::connect(common::config(&peer).with_tls(tls))
        .await
        .expect("TLS connect");
    let _events = logged_in(&client).await;
    assert_eq!(
        client.contact("wxid_zhangsan").await.expect("张三").name,
        "张三"
    );

    // the wrong name is a TLS error, not something to retry
    let tls = TlsConfig::Tls {
        ca_pem: Some(ca.pem()),
        server_name: Some("other.example".into()),
    };
    match Client::connect(common::config(&peer).with_tls(tls)).await {
        Err(e @ Error::Tls { .. }) => {
            eprintln!("{e}");
            assert!(e.is_fatal())
        }
        other => panic!("expected Tls, got {other:?}"),
    }
    // an untrusted certificate too
    let tls = TlsConfig::Tls {
        ca_pem: None,
        server_name: Some("puppet.wxlink.test".into()),
    };
    assert!(matches!(
        Client::connect(common::config(&peer).with_tls(tls)).await,
        Err(Error::Tls { .. })
    ));
}
