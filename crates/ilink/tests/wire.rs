//! `ilink` against the fake iLink server, over real sockets: every endpoint, every item type,
//! every error path and fault, large ids, all three key encodings, and a 20 MB round trip.

use std::time::Duration;

use ilink::wire::ItemType;
use ilink::{
    AesKey, Bot, Client, Config, Credentials, Error, LoginEvent, LoginFlow, LoginOptions,
    MediaKind, QrRenewal, TypingStatus,
};
use ilink_fake::{BotAccount, FakeIlink, FaultSpec, InboundSpec, ItemSpec, QrStep, QuoteSpec};

/// A fake tuned for fast tests: short holds.
async fn fake() -> FakeIlink {
    let fake = FakeIlink::start().await.expect("fake starts");
    fake.configure(|c| {
        c.hold_ms = 200;
        c.qr_hold_ms = 50;
    });
    fake
}

fn client_for(fake: &FakeIlink) -> Client {
    Client::new(Config::for_base(&fake.base_url())).expect("client builds")
}

fn bot_for(client: &Client, fake: &FakeIlink, account: &BotAccount) -> Bot {
    client.bot(Credentials {
        token: account.token.clone(),
        bot_id: account.bot_id.clone(),
        user_id: Some(account.user_id.clone()),
        base_url: Some(fake.base_url()),
    })
}

async fn logged_in() -> (FakeIlink, Client, Bot, BotAccount) {
    let fake = fake().await;
    let client = client_for(&fake);
    let account = fake.create_bot(Some("o9cq80owner@im.wechat"));
    let bot = bot_for(&client, &fake, &account);
    (fake, client, bot, account)
}

fn fast_login() -> LoginOptions {
    LoginOptions {
        poll_pause: Duration::ZERO,
        error_pause: Duration::from_millis(10),
        ..LoginOptions::default()
    }
}

async fn drive_to_end(flow: &mut LoginFlow) -> Vec<LoginEvent> {
    let mut events = Vec::new();
    for _ in 0..20 {
        let e = flow.poll().await.expect("poll succeeds");
        let done = matches!(e, LoginEvent::Confirmed(_) | LoginEvent::AlreadyBound);
        events.push(e);
        if done {
            return events;
        }
    }
    panic!("login did not finish: {events:?}");
}

// ---------------------------------------------------------------------------------------------
// QR login
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn qr_login_confirms_and_credentials_work() {
    let fake = fake().await;
    fake.script_qr(vec![
        QrStep::named("wait"),
        QrStep::named("scaned"),
        QrStep::confirmed_as("o9cq80scanner@im.wechat"),
    ]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    assert_eq!(flow.qr().qrcode.len(), 32);
    assert!(flow.qr().content.contains(&flow.qr().qrcode));
    let events = drive_to_end(&mut flow).await;
    assert_eq!(events[0], LoginEvent::Waiting);
    assert_eq!(events[1], LoginEvent::Scanned);
    let LoginEvent::Confirmed(creds) = events.last().unwrap().clone() else {
        panic!("{events:?}")
    };
    let bots = fake.bots();
    assert_eq!(bots.len(), 1);
    assert_eq!(creds.bot_id, bots[0].bot_id);
    assert_eq!(creds.token, bots[0].token);
    assert_eq!(creds.user_id.as_deref(), Some("o9cq80scanner@im.wechat"));
    assert_eq!(
        creds.base_url.as_ref().map(|u| u.port()),
        Some(fake.base_url().port())
    );
    // The QR call was a POST with local_token_list and no Authorization.
    let qr = fake.requests(Some("get_bot_qrcode"));
    assert_eq!(qr[0].method, "POST");
    assert_eq!(qr[0].body["local_token_list"], serde_json::json!([]));
    assert!(!qr[0].headers.contains_key("authorization"));
    assert!(qr[0].problems.is_empty(), "{:?}", qr[0].problems);
    // And the credentials work.
    let bot = client.bot(creds);
    bot.notify_start().await.unwrap();
    assert_eq!(fake.requests(Some("notifystart")).len(), 1);
}

#[tokio::test]
async fn qr_fetch_falls_back_to_get_when_post_is_refused() {
    let fake = fake().await;
    fake.fault("get_bot_qrcode", FaultSpec::Status(405), 1);
    let client = client_for(&fake);
    let flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    assert_eq!(flow.qr().qrcode.len(), 32);
    let qr = fake.requests(Some("get_bot_qrcode"));
    assert_eq!(qr.len(), 1, "the refused POST never reached the handler");
    assert_eq!(qr[0].method, "GET");
}

#[tokio::test]
async fn qr_redirect_moves_polling_to_the_new_host() {
    let fake = fake().await;
    fake.script_qr(vec![
        QrStep::named("scaned_but_redirect"),
        QrStep::named("scaned"),
        QrStep::named("confirmed"),
    ]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    let events = drive_to_end(&mut flow).await;
    let port = fake.base_url().port().unwrap();
    assert_eq!(
        events[0],
        LoginEvent::Redirected(format!("http://localhost:{port}/").parse().unwrap())
    );
    assert!(matches!(events.last(), Some(LoginEvent::Confirmed(_))));
    let polls = fake.requests(Some("get_qrcode_status"));
    assert_eq!(
        polls.first().unwrap().headers["host"],
        format!("127.0.0.1:{port}")
    );
    assert_eq!(
        polls.last().unwrap().headers["host"],
        format!("localhost:{port}")
    );
}

#[tokio::test]
async fn qr_verify_code_wrong_then_right() {
    let fake = fake().await;
    fake.script_qr(vec![
        QrStep {
            status: "need_verifycode".into(),
            verify_code: Some("4321".into()),
            ..Default::default()
        },
        QrStep::named("confirmed"),
    ]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    assert_eq!(
        flow.poll().await.unwrap(),
        LoginEvent::NeedVerifyCode { wrong_code: false }
    );
    flow.submit_verify_code("0000");
    assert_eq!(
        flow.poll().await.unwrap(),
        LoginEvent::NeedVerifyCode { wrong_code: true }
    );
    flow.submit_verify_code(" 4321 ");
    assert_eq!(flow.poll().await.unwrap(), LoginEvent::Scanned);
    assert!(matches!(
        flow.poll().await.unwrap(),
        LoginEvent::Confirmed(_)
    ));
    let polls = fake.requests(Some("get_qrcode_status"));
    assert!(polls[1].query.contains("verify_code=0000"));
    assert!(polls[2].query.contains("verify_code=4321"));
}

#[tokio::test]
async fn qr_verify_code_blocked_gets_a_new_qr() {
    let fake = fake().await;
    fake.script_qr(vec![QrStep::named("need_verifycode")]);
    fake.script_qr(vec![QrStep::named("confirmed")]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    let first = flow.qr().clone();
    for _ in 0..2 {
        flow.submit_verify_code("9");
        assert_eq!(
            flow.poll().await.unwrap(),
            LoginEvent::NeedVerifyCode { wrong_code: true }
        );
    }
    flow.submit_verify_code("9");
    let LoginEvent::NewQr(qr, why) = flow.poll().await.unwrap() else {
        panic!("expected a new QR")
    };
    assert_eq!(why, QrRenewal::VerifyCodeBlocked);
    assert_ne!(qr.qrcode, first.qrcode);
    assert!(matches!(
        flow.poll().await.unwrap(),
        LoginEvent::Confirmed(_)
    ));
}

#[tokio::test]
async fn qr_expiry_renews_until_the_limit() {
    let fake = fake().await;
    fake.script_qr(vec![QrStep::named("expired")]);
    fake.script_qr(vec![QrStep::named("confirmed")]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    assert!(matches!(
        flow.poll().await.unwrap(),
        LoginEvent::NewQr(_, QrRenewal::Expired)
    ));
    assert_eq!(flow.qr_count(), 2);
    assert!(matches!(
        flow.poll().await.unwrap(),
        LoginEvent::Confirmed(_)
    ));

    // With a limit of two QR codes, a second expiry ends the flow with a clear error.
    fake.script_qr(vec![QrStep::named("expired")]);
    fake.script_qr(vec![QrStep::named("expired")]);
    let opts = LoginOptions {
        max_qr_codes: 2,
        ..fast_login()
    };
    let mut flow = LoginFlow::start(&client, opts).await.unwrap();
    assert!(matches!(flow.poll().await.unwrap(), LoginEvent::NewQr(..)));
    let err = flow.poll().await.unwrap_err();
    assert!(err.to_string().contains("expired 2 times"), "{err}");
}

#[tokio::test]
async fn qr_already_bound_when_a_local_token_belongs_to_the_scanner() {
    let fake = fake().await;
    let existing = fake.create_bot(Some("o9cq80same@im.wechat"));
    fake.script_qr(vec![QrStep::confirmed_as("o9cq80same@im.wechat")]);
    let client = client_for(&fake);
    let opts = LoginOptions {
        local_tokens: vec![existing.token.clone()],
        ..fast_login()
    };
    let mut flow = LoginFlow::start(&client, opts).await.unwrap();
    assert_eq!(flow.poll().await.unwrap(), LoginEvent::AlreadyBound);
    assert!(
        flow.poll().await.is_err(),
        "a finished flow does not poll again"
    );
    assert_eq!(
        fake.requests(Some("get_bot_qrcode"))[0].body["local_token_list"][0],
        existing.token.as_str()
    );
    assert_eq!(fake.bots().len(), 1, "no second bot minted");
}

#[tokio::test]
async fn qr_confirmed_without_bot_id_is_an_error() {
    let fake = fake().await;
    fake.script_qr(vec![QrStep::named("confirmed_without_bot_id")]);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    let err = flow.poll().await.unwrap_err();
    assert!(
        matches!(err, Error::Login(ref m) if m.contains("ilink_bot_id")),
        "{err}"
    );
}

#[tokio::test]
async fn qr_poll_survives_server_errors() {
    let fake = fake().await;
    fake.script_qr(vec![QrStep::named("confirmed")]);
    fake.fault("get_qrcode_status", FaultSpec::Status(524), 1);
    fake.fault("get_qrcode_status", FaultSpec::Malformed, 1);
    let client = client_for(&fake);
    let mut flow = LoginFlow::start(&client, fast_login()).await.unwrap();
    assert_eq!(flow.poll().await.unwrap(), LoginEvent::Waiting);
    assert_eq!(flow.poll().await.unwrap(), LoginEvent::Waiting);
    assert!(matches!(
        flow.poll().await.unwrap(),
        LoginEvent::Confirmed(_)
    ));
}

// ---------------------------------------------------------------------------------------------
// Receiving
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_item_type_arrives_typed_with_large_ids_intact() {
    let (fake, _client, bot, account) = logged_in().await;
    let quoted = ItemSpec {
        quote: Some(QuoteSpec {
            svr_id: Some("7462500638282099720".into()),
            title: Some("earlier".into()),
            item: Some(Box::new(ItemSpec::text("原文"))),
            partial: Some(("hel".into(), "llo".into())),
        }),
        ..ItemSpec::text("yes, that one")
    };
    let voice = ItemSpec {
        transcript: Some("几点开会".into()),
        ..ItemSpec::media("voice", b"#!SILK_V3 fake")
    };
    let file = ItemSpec {
        file_name: Some("报告.pdf".into()),
        ..ItemSpec::media("file", b"%PDF-1.4 fake")
    };
    let specs = [
        InboundSpec::text("你好，世界 hello"),
        InboundSpec::item(ItemSpec::media("image", b"\x89PNG fake")),
        InboundSpec::item(voice),
        InboundSpec::item(file),
        InboundSpec::item(ItemSpec::media("video", b"fake mp4")),
        InboundSpec::item(quoted),
        InboundSpec {
            items: vec![ItemSpec::text("caption"), ItemSpec::media("image", b"img")],
            ..Default::default()
        },
    ];
    let mut injected = Vec::new();
    for s in &specs {
        injected.push(fake.inject(s).unwrap());
    }
    let updates = bot.get_updates("", None).await.unwrap();
    assert_eq!(updates.messages.len(), specs.len());
    assert!(!updates.cursor.is_empty());
    assert_eq!(updates.next_timeout, Some(Duration::from_millis(35_000)));
    let msgs: Vec<_> = updates
        .messages
        .iter()
        .map(|r| r.message.clone().expect("typed"))
        .collect();
    for (m, raw) in msgs.iter().zip(&injected) {
        assert_eq!(m.message_id, raw["message_id"].as_u64());
        assert!(m.message_id.unwrap() > 1 << 53);
        assert_eq!(m.from_user_id.as_deref(), Some(account.user_id.as_str()));
        assert_eq!(m.to_user_id.as_deref(), Some(account.bot_id.as_str()));
        assert_eq!(m.message_type, Some(1));
        assert!(m.context_token.as_deref().is_some_and(|t| !t.is_empty()));
    }
    let kinds: Vec<_> = msgs.iter().map(|m| m.item_list[0].kind()).collect();
    assert_eq!(kinds, [1, 2, 3, 4, 5, 1, 1].map(ItemType::from_code));
    assert_eq!(
        msgs[0].item_list[0]
            .text_item
            .as_ref()
            .unwrap()
            .text
            .as_deref(),
        Some("你好，世界 hello")
    );
    let img = msgs[1].item_list[0].image_item.as_ref().unwrap();
    assert_eq!(img.aeskey.as_ref().map(String::len), Some(32));
    assert_eq!(img.mid_size, Some(16));
    let v = msgs[2].item_list[0].voice_item.as_ref().unwrap();
    assert_eq!(v.text.as_deref(), Some("几点开会"));
    assert_eq!(v.encode_type, Some(6));
    let f = msgs[3].item_list[0].file_item.as_ref().unwrap();
    assert_eq!(f.file_name.as_deref(), Some("报告.pdf"));
    assert_eq!(f.len.as_deref(), Some("13"));
    assert!(msgs[4].item_list[0]
        .video_item
        .as_ref()
        .unwrap()
        .video_size
        .is_some());
    let r = msgs[5].item_list[0].ref_msg.as_ref().unwrap();
    assert_eq!(r.svr_id.as_deref(), Some("7462500638282099720"));
    assert_eq!(
        r.message_item
            .as_ref()
            .unwrap()
            .text_item
            .as_ref()
            .unwrap()
            .text
            .as_deref(),
        Some("原文")
    );
    assert_eq!(
        r.partial_text.as_ref().unwrap().start.as_deref(),
        Some("hel")
    );
    assert_eq!(
        msgs[6].item_list.len(),
        2,
        "multi-item messages keep every item"
    );
    assert_eq!(msgs[6].item_list[1].kind(), Some(ItemType::Image));

    // The cursor acknowledges: nothing is delivered twice.
    let again = bot.get_updates(&updates.cursor, None).await.unwrap();
    assert!(again.messages.is_empty());
    assert_eq!(again.cursor, updates.cursor);
    assert!(
        !again.timed_out,
        "the server ended the hold, not the client"
    );
}

#[tokio::test]
async fn long_poll_returns_as_soon_as_a_message_arrives() {
    let (fake, _client, bot, _) = logged_in().await;
    fake.configure(|c| c.hold_ms = 10_000);
    let poll = tokio::spawn(async move { bot.get_updates("", None).await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    fake.inject(&InboundSpec::text("ping")).unwrap();
    let updates = tokio::time::timeout(Duration::from_secs(5), poll)
        .await
        .expect("answered long before the 10 s hold")
        .unwrap()
        .unwrap();
    assert_eq!(updates.messages.len(), 1);
}

#[tokio::test]
async fn a_client_timeout_is_an_empty_batch_with_the_old_cursor() {
    let fake = fake().await;
    fake.configure(|c| c.hold_ms = 5_000);
    let mut config = Config::for_base(&fake.base_url());
    config.timeouts.long_poll = Duration::from_millis(200);
    config.timeouts.long_poll_margin = Duration::from_millis(100);
    let client = Client::new(config).unwrap();
    let account = fake.create_bot(None);
    let bot = bot_for(&client, &fake, &account);
    let updates = bot.get_updates("old-cursor", None).await.unwrap();
    assert!(updates.timed_out);
    assert!(updates.messages.is_empty());
    assert_eq!(updates.cursor, "old-cursor");
}

#[tokio::test]
async fn wrong_typed_fields_are_left_empty_and_the_raw_json_is_kept() {
    let (fake, _client, bot, _) = logged_in().await;
    fake.inject(&InboundSpec::text("before")).unwrap();
    fake.inject(&InboundSpec {
        raw: Some(
            serde_json::json!({"message_id": {"nested": true}, "item_list": "oops",
            "from_user_id": "u@im.wechat"}),
        ),
        ..Default::default()
    })
    .unwrap();
    fake.inject(&InboundSpec::text("after")).unwrap();
    let updates = bot.get_updates("", None).await.unwrap();
    assert_eq!(updates.messages.len(), 3);
    assert!(updates.messages[0].message.is_ok());
    let bad = &updates.messages[1];
    let read = bad.message.as_ref().unwrap();
    assert_eq!(read.message_id, None);
    assert!(read.item_list.is_empty());
    assert_eq!(read.from_user_id.as_deref(), Some("u@im.wechat"));
    assert_eq!(bad.raw["item_list"], "oops");
    assert!(updates.messages[2].message.is_ok());
}

#[tokio::test]
async fn duplicate_delivery_reaches_the_client_twice() {
    let (fake, _client, bot, _) = logged_in().await;
    let spec = InboundSpec {
        duplicate: Some(ilink_fake::DuplicateSpec {
            after_ms: 10,
            new_id: false,
        }),
        ..InboundSpec::text("twice")
    };
    let original = fake.inject(&spec).unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    let updates = bot.get_updates("", None).await.unwrap();
    let ids: Vec<_> = updates
        .messages
        .iter()
        .map(|r| r.message.as_ref().unwrap().message_id)
        .collect();
    assert_eq!(ids, vec![original["message_id"].as_u64(); 2]);
}

// ---------------------------------------------------------------------------------------------
// Headers and envelope
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn every_post_carries_the_modern_header_set_and_base_info() {
    let fake = fake().await;
    fake.configure(|c| c.strict_headers = true);
    let mut config = Config::for_base(&fake.base_url());
    config.route_tag = Some("1001".into());
    let client = Client::new(config).unwrap();
    let account = fake.create_bot(None);
    let bot = bot_for(&client, &fake, &account);
    fake.inject(&InboundSpec::text("hi")).unwrap();
    let m = bot.get_updates("", None).await.unwrap().messages[0]
        .message
        .clone()
        .unwrap();
    bot.send_text(&account.user_id, "reply", m.context_token.as_deref())
        .await
        .expect("strict mode accepts our requests");
    let reqs = fake.requests(None);
    assert_eq!(reqs.len(), 2);
    let uins: Vec<_> = reqs
        .iter()
        .map(|r| r.headers["x-wechat-uin"].clone())
        .collect();
    assert_ne!(uins[0], uins[1], "a fresh UIN per request");
    for r in &reqs {
        assert!(r.problems.is_empty(), "{}: {:?}", r.endpoint, r.problems);
        assert_eq!(r.headers["authorizationtype"], "ilink_bot_token");
        assert_eq!(
            r.headers["authorization"],
            format!("Bearer {}", account.token)
        );
        assert_eq!(r.headers["ilink-app-id"], "bot");
        assert_eq!(r.headers["ilink-app-clientversion"], "256"); // 0.1.0
        assert_eq!(r.headers["skroutetag"], "1001");
        assert_eq!(
            r.body["base_info"]["channel_version"],
            env!("CARGO_PKG_VERSION")
        );
        assert_eq!(
            r.body["base_info"]["bot_agent"],
            format!("wxlink/{}", env!("CARGO_PKG_VERSION"))
        );
    }
    let msg = &fake.sent()[0].msg;
    assert_eq!(msg["from_user_id"], "");
    assert_eq!(msg["message_type"], 2);
    assert_eq!(msg["message_state"], 2);
    assert!(msg["client_id"].as_str().unwrap().starts_with("wxlink:"));
}

// ---------------------------------------------------------------------------------------------
// Sending
// ---------------------------------------------------------------------------------------------

async fn inbound_token(fake: &FakeIlink, bot: &Bot, from: Option<&str>) -> String {
    let mut spec = InboundSpec::text("hello bot");
    if let Some(f) = from {
        spec = spec.from(f);
    }
    fake.inject(&spec).unwrap();
    let updates = bot.get_updates("", None).await.unwrap();
    updates
        .messages
        .last()
        .unwrap()
        .message
        .as_ref()
        .unwrap()
        .context_token
        .clone()
        .unwrap()
}

#[tokio::test]
async fn quota_of_ten_sends_per_context_token_then_rejected() {
    let (fake, _client, bot, account) = logged_in().await;
    let token = inbound_token(&fake, &bot, None).await;
    for i in 0..10 {
        let r = bot
            .send_text(&account.user_id, &format!("#{i}"), Some(&token))
            .await
            .unwrap();
        assert!(r.message_id.unwrap() > 1 << 53);
    }
    let err = bot
        .send_text(&account.user_id, "#10", Some(&token))
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Rejected { ref errmsg, .. } if errmsg == "prepare failed"),
        "{err}"
    );
    assert!(!err.is_transient());
    assert_eq!(fake.sent().len(), 10);
    assert_eq!(fake.sent()[9].text.as_deref(), Some("#9"));
}

#[tokio::test]
async fn rate_limit_and_invalid_requests_are_classified() {
    let (fake, _client, bot, account) = logged_in().await;
    let token = inbound_token(&fake, &bot, None).await;
    fake.configure(|c| c.rate_limited = true);
    let err = bot
        .send_text(&account.user_id, "x", Some(&token))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { ref errmsg, .. } if errmsg == "rate limited"));
    fake.configure(|c| c.rate_limited = false);
    let err = bot
        .send_text("o9cq80stranger@im.wechat", "x", None)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Api { ret: Some(-1), .. }), "{err}");
    let err = bot.send_text("", "x", None).await.unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
}

#[tokio::test]
async fn media_of_every_kind_uploads_encrypted_and_sends() {
    let (fake, _client, bot, account) = logged_in().await;
    let token = inbound_token(&fake, &bot, None).await;
    let cases = [
        (MediaKind::Image, 2, b"\x89PNG image bytes".to_vec()),
        (MediaKind::File, 4, vec![7u8; 4096]),
        (MediaKind::Video, 5, b"mp4 video bytes".to_vec()),
        (MediaKind::Voice, 3, b"#!SILK_V3 voice".to_vec()),
    ];
    for (kind, item_type, data) in &cases {
        let (up, receipt) = bot
            .send_media(&account.user_id, *kind, data, "notes.bin", Some(&token))
            .await
            .unwrap();
        assert_eq!(up.plain_size, data.len() as u64);
        assert_eq!(
            up.cipher_size,
            ilink::crypto::padded_size(data.len() as u64)
        );
        let sent = fake.sent().pop().unwrap();
        assert_eq!(sent.message_id, receipt.message_id.unwrap().to_string());
        assert_eq!(sent.item_type, *item_type);
        assert_eq!(sent.media_decrypts, Some(true));
        assert_eq!(sent.aes_key_form.as_deref(), Some("D"));
        assert_eq!(
            sent.media_md5.as_deref(),
            Some(ilink::crypto::md5_hex(data).as_str())
        );
        let upload = fake.uploads().pop().unwrap();
        assert_eq!(upload.plain.as_ref(), data.as_slice());
        assert_eq!(upload.slot.media_type, kind.upload_type());
        assert_eq!(upload.slot.to_user_id, account.user_id);
    }
    let file = &fake.sent()[1].msg["item_list"][0]["file_item"];
    assert_eq!(file["file_name"], "notes.bin");
    assert_eq!(file["len"], "4096");
    // Upload URLs were taken from upload_full_url and the CDN saw an octet-stream POST.
    let cdn = fake.requests(Some("cdn_upload"));
    assert_eq!(cdn.len(), 4);
    assert!(cdn
        .iter()
        .all(|r| r.method == "POST" && r.headers["content-type"] == "application/octet-stream"));
}

#[tokio::test]
async fn cdn_upload_retries_5xx_but_not_4xx() {
    let (fake, _client, bot, account) = logged_in().await;
    let token = inbound_token(&fake, &bot, None).await;
    fake.fault("cdn_upload", FaultSpec::Status(500), 2);
    bot.send_media(
        &account.user_id,
        MediaKind::File,
        b"retry me",
        "r.txt",
        Some(&token),
    )
    .await
    .expect("third attempt succeeds");
    assert_eq!(
        fake.requests(Some("cdn_upload")).len(),
        1,
        "faulted attempts never reach the handler"
    );
    assert_eq!(fake.uploads().len(), 1);

    fake.fault(
        "cdn_upload",
        FaultSpec::CdnError {
            status: 400,
            message: "probe preview error".into(),
        },
        1,
    );
    let err = bot
        .send_media(
            &account.user_id,
            MediaKind::File,
            b"nope",
            "n.txt",
            Some(&token),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Cdn { status: 400, ref message, .. } if message == "probe preview error"),
        "{err}"
    );

    fake.fault("cdn_upload", FaultSpec::NoParam, 3);
    let err = bot
        .send_media(
            &account.user_id,
            MediaKind::File,
            b"x",
            "x.txt",
            Some(&token),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::CdnMissingParam { attempts: 3 }),
        "{err}"
    );
    assert_eq!(fake.sent().len(), 1, "failed uploads send nothing");
}

// ---------------------------------------------------------------------------------------------
// Downloading
// ---------------------------------------------------------------------------------------------

async fn receive_item(fake: &FakeIlink, bot: &Bot, spec: ItemSpec) -> ilink::MessageItem {
    fake.inject(&InboundSpec::item(spec)).unwrap();
    let updates = bot.get_updates("", None).await.unwrap();
    updates
        .messages
        .last()
        .unwrap()
        .message
        .as_ref()
        .unwrap()
        .item_list[0]
        .clone()
}

#[tokio::test]
async fn downloads_decrypt_with_every_key_form() {
    let (fake, client, bot, _) = logged_in().await;
    let data = b"the quick brown fox \xe4\xbd\xa0\xe5\xa5\xbd".to_vec();
    for (kind, form) in [
        ("image", "D"),
        ("image", "B"),
        ("file", "D"),
        ("file", "B"),
        ("file", "H"),
        ("voice", "D"),
        ("video", "D"),
    ] {
        let spec = ItemSpec {
            key_form: Some(form.into()),
            ..ItemSpec::media(kind, &data)
        };
        let item = receive_item(&fake, &bot, spec).await;
        assert_eq!(
            client.download_item(&item).await.unwrap(),
            data,
            "{kind} form {form}"
        );
    }
}

#[tokio::test]
async fn downloads_without_full_url_build_the_cdn_url() {
    let (fake, client, bot, _) = logged_in().await;
    let spec = ItemSpec {
        no_full_url: true,
        ..ItemSpec::media("file", b"built url")
    };
    let item = receive_item(&fake, &bot, spec).await;
    assert!(item.media().unwrap().full_url.is_none());
    assert_eq!(client.download_item(&item).await.unwrap(), b"built url");
    let dl = fake.requests(Some("cdn_download"));
    assert!(
        dl[0].query.contains("%2B") && dl[0].query.contains("%2F"),
        "{}",
        dl[0].query
    );
}

#[tokio::test]
async fn keyless_images_are_plaintext_and_stale_file_keys_fail_clearly() {
    let (fake, client, bot, _) = logged_in().await;
    let spec = ItemSpec {
        key_form: Some("none".into()),
        ..ItemSpec::media("image", b"plain image")
    };
    let item = receive_item(&fake, &bot, spec).await;
    assert_eq!(client.download_item(&item).await.unwrap(), b"plain image");

    // The CDN de-dup bug: the file item's key does not decrypt the blob.
    let spec = ItemSpec {
        stale_key: true,
        ..ItemSpec::media("file", b"deduplicated file")
    };
    let item = receive_item(&fake, &bot, spec).await;
    let err = client.download_item(&item).await.unwrap_err();
    assert!(
        matches!(err, Error::Crypto(ilink::CryptoError::BadPadding)),
        "{err}"
    );
    // Images are immune: image_item.aeskey keeps the original key.
    let spec = ItemSpec {
        stale_key: true,
        ..ItemSpec::media("image", b"deduplicated image")
    };
    let item = receive_item(&fake, &bot, spec).await;
    assert_eq!(
        client.download_item(&item).await.unwrap(),
        b"deduplicated image"
    );
}

#[tokio::test]
async fn cdn_download_errors_are_reported() {
    let (fake, client, bot, _) = logged_in().await;
    let item = receive_item(&fake, &bot, ItemSpec::media("file", b"x")).await;
    fake.fault(
        "cdn_download",
        FaultSpec::CdnError {
            status: 404,
            message: "gone".into(),
        },
        1,
    );
    let err = client.download_item(&item).await.unwrap_err();
    assert!(matches!(err, Error::Cdn { status: 404, .. }), "{err}");
    let text = receive_item(&fake, &bot, ItemSpec::text("no media")).await;
    assert!(matches!(
        client.download_item(&text).await,
        Err(Error::InvalidInput(_))
    ));
}

#[tokio::test]
async fn twenty_megabytes_round_trip_both_ways() {
    let (fake, client, bot, account) = logged_in().await;
    let token = inbound_token(&fake, &bot, None).await;
    let big: Vec<u8> = (0..20 * 1024 * 1024u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 24) as u8)
        .collect();
    // Out: upload and send; the fake decrypts and checks size and MD5.
    let (up, _) = bot
        .send_media(
            &account.user_id,
            MediaKind::File,
            &big,
            "big.bin",
            Some(&token),
        )
        .await
        .unwrap();
    assert_eq!(fake.uploads()[0].plain_md5, ilink::crypto::md5_hex(&big));
    // The uploaded reference downloads back to the same bytes.
    let item = up.to_item("big.bin");
    assert_eq!(client.download_item(&item).await.unwrap(), big);
    // In: a 20 MB inbound file.
    let item = receive_item(&fake, &bot, ItemSpec::media("file", &big)).await;
    assert_eq!(client.download_item(&item).await.unwrap(), big);
}

/// Collects every progress report.
fn recording() -> (
    ilink::Progress,
    std::sync::Arc<std::sync::Mutex<Vec<ilink::Transfer>>>,
) {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink = seen.clone();
    let progress = ilink::Progress::new(move |t| sink.lock().unwrap().push(t));
    (progress, seen)
}

/// Reports start at zero, never go back, never pass the total, and end at it.
fn assert_complete(reports: &[ilink::Transfer], total: u64, what: &str) {
    assert!(reports.len() >= 3, "{what}: only {} reports", reports.len());
    assert_eq!(reports[0].done, 0, "{what} starts at 0");
    assert!(
        reports.windows(2).all(|w| w[0].done <= w[1].done),
        "{what} goes back"
    );
    assert!(
        reports.iter().all(|t| t.total == Some(total)),
        "{what} total"
    );
    assert_eq!(
        reports.last().unwrap().done,
        total,
        "{what} ends at the total"
    );
}

#[tokio::test]
async fn uploads_and_downloads_report_byte_progress() {
    let (fake, client, bot, account) = logged_in().await;
    let data: Vec<u8> = (0..1_000_000u32).map(|i| (i % 251) as u8).collect();
    let (progress, seen) = recording();
    let up = bot
        .upload_with_progress(&account.user_id, MediaKind::File, &data, &progress)
        .await
        .unwrap();
    assert_eq!(fake.uploads()[0].plain_md5, ilink::crypto::md5_hex(&data));
    assert_complete(&seen.lock().unwrap(), up.cipher_size, "upload");

    let (progress, seen) = recording();
    let item = up.to_item("big.bin");
    let back = client
        .download_item_with_progress(&item, &progress)
        .await
        .unwrap();
    assert_eq!(back, data);
    assert_complete(&seen.lock().unwrap(), up.cipher_size, "download");
}

// ---------------------------------------------------------------------------------------------
// Typing and notify
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn typing_on_and_off() {
    let (fake, _client, bot, account) = logged_in().await;
    let ticket = bot.get_config(&account.user_id, None).await.unwrap();
    bot.send_typing(&account.user_id, &ticket, TypingStatus::Typing)
        .await
        .unwrap();
    bot.send_typing(&account.user_id, &ticket, TypingStatus::Cancel)
        .await
        .unwrap();
    let events: Vec<_> = fake
        .typing()
        .iter()
        .map(|t| (t.user_id.clone(), t.status))
        .collect();
    assert_eq!(
        events,
        vec![(account.user_id.clone(), 1), (account.user_id.clone(), 2)]
    );
    let err = bot.get_config("", None).await.unwrap_err();
    assert!(
        matches!(err, Error::Rejected { ref errmsg, .. } if errmsg == "ilink_user_id required")
    );
    let err = bot
        .send_typing(&account.user_id, "forged", TypingStatus::Typing)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Rejected { .. }));
}

#[tokio::test]
async fn notify_start_and_stop_reach_the_server() {
    let (fake, _client, bot, _) = logged_in().await;
    bot.notify_start().await.unwrap();
    bot.notify_stop().await.unwrap();
    let paths: Vec<_> = fake.requests(None).iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/ilink/bot/msg/notifystart", "/ilink/bot/msg/notifystop"]
    );
}

// ---------------------------------------------------------------------------------------------
// Errors and faults
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn expired_sessions_fail_every_endpoint_with_session_expired() {
    let (fake, _client, bot, account) = logged_in().await;
    fake.expire(&account.bot_id);
    let e1 = bot.get_updates("", None).await.unwrap_err();
    let e2 = bot
        .send_text(&account.user_id, "x", None)
        .await
        .unwrap_err();
    let e3 = bot.get_config(&account.user_id, None).await.unwrap_err();
    let e4 = bot.notify_start().await.unwrap_err();
    for e in [&e1, &e2, &e3, &e4] {
        assert!(e.is_session_expired(), "{e}");
        assert!(e.to_string().contains("log in again"), "{e}");
    }
    // The ret -14 spelling too.
    fake.configure(|c| c.expired_with_ret = true);
    assert!(bot
        .get_updates("", None)
        .await
        .unwrap_err()
        .is_session_expired());
    // A token the server never issued.
    let stranger = _client.bot(Credentials {
        token: "nobody@im.bot:0600".into(),
        bot_id: "nobody@im.bot".into(),
        user_id: None,
        base_url: Some(fake.base_url()),
    });
    assert!(stranger
        .get_updates("", None)
        .await
        .unwrap_err()
        .is_session_expired());
}

#[tokio::test]
async fn transport_faults_are_classified_and_lose_nothing() {
    let (fake, _client, bot, _) = logged_in().await;
    fake.inject(&InboundSpec::text("survivor")).unwrap();
    let faults = [
        FaultSpec::Status(500),
        FaultSpec::Status(502),
        FaultSpec::Malformed,
        FaultSpec::Truncated,
        FaultSpec::Drop,
    ];
    for f in &faults {
        fake.fault("getupdates", f.clone(), 1);
        let err = bot.get_updates("", None).await.unwrap_err();
        assert!(err.is_transient(), "{f:?} → {err}");
        match f {
            FaultSpec::Status(code) => {
                assert!(matches!(err, Error::HttpStatus { status, .. } if status == *code))
            }
            FaultSpec::Malformed | FaultSpec::Truncated => {
                assert!(matches!(err, Error::Decode { .. }), "{err}")
            }
            _ => assert!(matches!(err, Error::Transport { .. }), "{err}"),
        }
    }
    // The message is still there after all of that.
    let updates = bot.get_updates("", None).await.unwrap();
    assert_eq!(updates.messages.len(), 1);
}

#[tokio::test]
async fn slow_answers_time_out_with_a_clear_error() {
    let fake = fake().await;
    let mut config = Config::for_base(&fake.base_url());
    config.timeouts.api = Duration::from_millis(200);
    let client = Client::new(config).unwrap();
    let account = fake.create_bot(None);
    let bot = bot_for(&client, &fake, &account);
    fake.fault("sendmessage", FaultSpec::DelayMs(1_000), 1);
    let err = bot
        .send_text(&account.user_id, "late", None)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Timeout {
                endpoint: "ilink/bot/sendmessage",
                ..
            }
        ),
        "{err}"
    );
    assert!(err.is_transient());
}

#[tokio::test]
async fn unreachable_servers_are_transport_errors() {
    let fake = fake().await;
    let base = fake.base_url();
    drop(fake);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let client = Client::new(Config::for_base(&base)).unwrap();
    let bot = client.bot(Credentials {
        token: "t".into(),
        bot_id: "b@im.bot".into(),
        user_id: None,
        base_url: None,
    });
    let err = bot.get_updates("", None).await.unwrap_err();
    assert!(matches!(err, Error::Transport { .. }), "{err}");
    assert!(err.to_string().contains("could not reach"), "{err}");
    // And the AES key parser rejects what the network might send.
    assert!(AesKey::parse("%%%").is_err());
}
