//! The engine against the fake iLink server over real sockets: several sessions polling at once,
//! every message type stored and searchable, sends with their checks, downloads, expiry and
//! recovery, upstream faults with nothing lost and nothing stored twice, durable consumers.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use ilink_fake::{FaultSpec, InboundSpec, ItemSpec, QuoteSpec};
use wxlink::error::AppError;
use wxlink::model::MessageStatus;
use wxlink::service::contacts::Source;
use wxlink::service::pollers::Pollers;
use wxlink::service::send::SendRequest;
use wxlink::service::Event as AppEvent;
use wxlink::store::{Direction, HistoryQuery, SessionStatus};
use wxlink::transfer::Unobserved;
use wxlink::upstream::ilink::MAX_TEXT_BYTES;
use wxlink::upstream::{FileKind, Matching, UpstreamFailure};

mod common;
use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_sessions_poll_at_once_and_everything_is_stored_and_searchable() {
    let env = env().await;
    let a = login_bot(&env, "work", "o9cq80alice@im.wechat").await;
    let b = login_bot(&env, "home", "o9cq80bob@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    let quoted = ItemSpec {
        quote: Some(QuoteSpec {
            svr_id: Some("7462500638282099720".into()),
            item: Some(Box::new(ItemSpec::text("原来的消息"))),
            ..Default::default()
        }),
        ..ItemSpec::text("同意")
    };
    let file = ItemSpec {
        file_name: Some("季度报告.pdf".into()),
        ..ItemSpec::media("file", b"%PDF")
    };
    let voice = ItemSpec {
        transcript: Some("几点开会".into()),
        ..ItemSpec::media("voice", b"silk")
    };
    inject(&env.fake, &a, InboundSpec::text("我们明天下午开会讨论预算"));
    inject(
        &env.fake,
        &a,
        InboundSpec::text("Quarterly BUDGET review at noon"),
    );
    inject(
        &env.fake,
        &a,
        InboundSpec::item(ItemSpec::media("image", b"\x89PNG")),
    );
    inject(&env.fake, &a, InboundSpec::item(voice));
    inject(&env.fake, &b, InboundSpec::item(file));
    inject(
        &env.fake,
        &b,
        InboundSpec::item(ItemSpec::media("video", b"mp4")),
    );
    inject(&env.fake, &b, InboundSpec::item(quoted));
    inject(
        &env.fake,
        &b,
        InboundSpec {
            items: vec![ItemSpec::text("caption"), ItemSpec::media("image", b"img")],
            ..Default::default()
        },
    );
    let got = recv_n(&env.app, "default", 8).await;
    assert_eq!(got.len(), 8);
    let by_session = |s: &str| got.iter().filter(|m| m.message.session == s).count();
    assert_eq!((by_session("work"), by_session("home")), (4, 4));
    let kinds: HashSet<_> = got.iter().map(|m| m.message.kind.as_str()).collect();
    for k in ["text", "image", "voice", "file", "video", "mixed"] {
        assert!(kinds.contains(k), "{k} missing from {kinds:?}");
    }
    assert!(got.iter().all(|m| m
        .message
        .upstream_id
        .as_deref()
        .unwrap()
        .parse::<u64>()
        .unwrap()
        > 1 << 53));
    pollers.shutdown().await;

    let search = async |text: &str, f: &dyn Fn(&mut HistoryQuery)| {
        let mut q = HistoryQuery {
            text: Some(text.into()),
            limit: 50,
            ..Default::default()
        };
        f(&mut q);
        env.app.store().history(&q).await.unwrap()
    };
    let hit = search("下午开会", &|_| {}).await;
    assert_eq!(hit.total, 1);
    assert_eq!(
        hit.messages[0].message.text.as_deref(),
        Some("我们明天下午开会讨论预算")
    );
    assert_eq!(
        search("预算", &|_| {}).await.total,
        1,
        "two-character queries scan"
    );
    assert_eq!(
        search("budget", &|_| {}).await.total,
        1,
        "case-insensitive Latin"
    );
    assert_eq!(
        search("几点开会", &|_| {}).await.total,
        1,
        "voice transcripts are searchable"
    );
    assert_eq!(
        search("季度报告", &|_| {}).await.total,
        1,
        "file names are searchable"
    );
    assert_eq!(
        search("原来的消息", &|_| {}).await.total,
        1,
        "quoted text is searchable"
    );
    assert_eq!(
        search("budget", &|q| q.session = Some("home".into()))
            .await
            .total,
        0
    );
    assert_eq!(
        search("开会", &|q| q.user = Some("o9cq80alice@im.wechat".into()))
            .await
            .total,
        2
    );
    let images = env
        .app
        .store()
        .history(&HistoryQuery {
            kind: Some("image".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(images.total, 1);
    // notifystart went out for both accounts, notifystop on shutdown (a poll task the
    // supervisor restarts announces itself again, so count accounts, not calls).
    let accounts = |endpoint: &str| {
        env.fake
            .requests(Some(endpoint))
            .iter()
            .map(|r| r.headers["authorization"].clone())
            .collect::<HashSet<_>>()
            .len()
    };
    assert_eq!(accounts("notifystart"), 2);
    assert_eq!(accounts("notifystop"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_every_kind_and_refuses_what_would_fail() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80carol@im.wechat").await;
    let user = first_message(&env, &bot, "hi bot").await;
    let dir = env.dir.path();
    for (name, data) in [
        ("a.png", &b"\x89PNGdata"[..]),
        ("r.pdf", b"report"),
        ("v.mp4", b"video"),
        ("s.silk", b"voice"),
    ] {
        std::fs::write(dir.join(name), data).unwrap();
    }
    let req = SendRequest::to(user.clone())
        .text("here you go")
        .attach(FileKind::Image, dir.join("a.png"))
        .attach(FileKind::Voice, dir.join("s.silk"))
        .file_named(dir.join("r.pdf"), "季度报告.pdf")
        .attach(FileKind::Video, dir.join("v.mp4"));
    let report = env.app.send(&req, &Unobserved).await.unwrap();
    assert!(report.success);
    assert_eq!(report.quota_left, Some(5));
    let kinds: Vec<_> = report.sent.iter().map(|s| s.kind.as_str()).collect();
    assert_eq!(kinds, ["text", "image", "voice", "file", "video"]);
    let sent = env.fake.sent();
    assert_eq!(sent.len(), 5);
    assert_eq!(sent[0].text.as_deref(), Some("here you go"));
    assert!(sent[1..].iter().all(|s| s.media_decrypts == Some(true)));
    assert_eq!(
        sent[3].msg["item_list"][0]["file_item"]["file_name"],
        "季度报告.pdf"
    );
    for (s, item) in sent.iter().zip(&report.sent) {
        assert_eq!(Some(s.message_id.clone()), item.message_id);
    }
    // Sent messages, media included, are in the history.
    let out = env
        .app
        .store()
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(out.total, 5);

    // Six more would exceed the quota: refused before anything goes out.
    let mut six = SendRequest::to(user.clone()).text("x");
    for _ in 0..5 {
        six = six.attach(FileKind::Image, dir.join("a.png"));
    }
    let err = env.app.send(&six, &Unobserved).await.unwrap_err();
    assert!(
        matches!(
            err,
            AppError::QuotaExhausted {
                left: 5,
                needed: 6,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(env.fake.sent().len(), 5);

    let too_long = SendRequest {
        to: user.clone(),
        text: Some("长".repeat(MAX_TEXT_BYTES / 3 + 1)),
        ..Default::default()
    };
    assert!(matches!(
        env.app.send(&too_long, &Unobserved).await.unwrap_err(),
        AppError::TextTooLong { .. }
    ));
    let missing = SendRequest {
        to: user.clone(),
        text: Some("with a missing file".into()),
        files: vec![wxlink::service::send::Attachment::new(
            FileKind::File,
            dir.join("nope.txt"),
        )],
        ..Default::default()
    };
    assert!(matches!(
        env.app.send(&missing, &Unobserved).await.unwrap_err(),
        AppError::FileNotFound(_)
    ));
    let stranger = SendRequest {
        to: "o9cq80nobody@im.wechat".into(),
        text: Some("hi".into()),
        ..Default::default()
    };
    let err = env.app.send(&stranger, &Unobserved).await.unwrap_err();
    assert!(matches!(err, AppError::NoContext { .. }), "{err}");
    assert!(err.to_string().contains("messaged them first"));
    assert_eq!(
        env.fake.sent().len(),
        5,
        "nothing went out for refused sends"
    );

    // Five more fit exactly; the sixth is refused.
    for i in 0..5 {
        let r = SendRequest {
            to: user.clone(),
            text: Some(format!("#{i}")),
            ..Default::default()
        };
        env.app.send(&r, &Unobserved).await.unwrap();
    }
    let last = SendRequest {
        to: user.clone(),
        text: Some("one too many".into()),
        ..Default::default()
    };
    assert!(matches!(
        env.app.send(&last, &Unobserved).await.unwrap_err(),
        AppError::QuotaExhausted { left: 0, .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_an_address_book_contacts_are_the_users_who_wrote() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80erin@im.wechat").await;
    let user = first_message(&env, &bot, "hello").await;
    let part = user[..8].to_uppercase();
    let exact = env
        .app
        .find_contacts(None, &user, Matching::Exact)
        .await
        .unwrap();
    assert_eq!(exact.source, Source::KnownUsers);
    assert_eq!(ids(&exact.contacts), vec![user.clone()]);
    assert_eq!(exact.known.len(), 1);
    assert_eq!(exact.known[0].session, "default");
    let partly = env
        .app
        .find_contacts(None, &part, Matching::Exact)
        .await
        .unwrap();
    assert!(
        partly.contacts.is_empty(),
        "part of an id is not an exact match"
    );
    let fuzzy = env
        .app
        .find_contacts(None, &part, Matching::Fuzzy)
        .await
        .unwrap();
    assert_eq!(ids(&fuzzy.contacts), vec![user.clone()]);

    // The CLI shows the same, with the session and the last message.
    let cli = |args: &[&str]| -> serde_json::Value {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_wxlink"))
            .arg("-d")
            .arg(env.dir.path())
            .arg("--json")
            .args(args)
            .env_remove("WXLINK_HOME")
            .output()
            .expect("run wxlink");
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("JSON")
    };
    let v = cli(&["contacts", &part, "--fuzzy"]);
    assert_eq!(v["contacts"][0]["id"], user.as_str(), "{v}");
    assert_eq!(v["contacts"][0]["session"], "default", "{v}");
    let v = cli(&["contacts", &part]);
    assert_eq!(
        v["contacts"],
        serde_json::json!([]),
        "exact without --fuzzy: {v}"
    );
}

fn ids(contacts: &[wxlink::upstream::Contact]) -> Vec<String> {
    contacts.iter().map(|c| c.id.clone()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_rejection_is_an_honest_failure() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80dave@im.wechat").await;
    let user = first_message(&env, &bot, "hello").await;
    env.fake.configure(|c| c.rate_limited = true);
    let req = SendRequest {
        to: user.clone(),
        text: Some("will be refused".into()),
        ..Default::default()
    };
    let err = env.app.send(&req, &Unobserved).await.unwrap_err();
    assert!(
        matches!(&err, AppError::Upstream(e) if e.failure == UpstreamFailure::Rejected),
        "{err}"
    );
    assert_eq!(err.exit_code(), wxlink::error::EXIT_REFUSED);
    let failed = env
        .app
        .store()
        .history(&HistoryQuery {
            direction: Some(Direction::Out),
            limit: 10,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.messages[0].message.status, MessageStatus::Failed);
    assert!(failed.messages[0]
        .message
        .error
        .as_deref()
        .unwrap()
        .contains("rate limited"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn downloads_every_media_kind_safely() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80erin@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    let cases = [
        ("image", b"\x89PNG\r\n\x1a\nimage".to_vec(), None, "png"),
        ("voice", b"#!SILK_V3".to_vec(), None, "silk"),
        ("file", b"evil".to_vec(), Some("../../evil.txt"), "txt"),
        ("video", b"video bytes".to_vec(), None, "mp4"),
    ];
    for (kind, data, name, _) in &cases {
        let mut spec = ItemSpec::media(kind, data);
        spec.file_name = name.map(str::to_string);
        inject(&env.fake, &bot, InboundSpec::item(spec));
    }
    let got = recv_n(&env.app, "default", 4).await;
    pollers.shutdown().await;
    let out_dir = env.dir.path().join("downloads");
    for (m, (kind, data, _, ext)) in got.iter().zip(&cases) {
        let id = m.message.upstream_id.clone().unwrap();
        let files = env
            .app
            .download(&id, Some(&out_dir), &Unobserved)
            .await
            .unwrap();
        assert_eq!(files.len(), 1);
        let path = std::path::PathBuf::from(&files[0].path);
        assert_eq!(
            path.parent().unwrap(),
            out_dir,
            "{kind} stays in the target directory"
        );
        assert_eq!(path.extension().unwrap(), *ext);
        assert_eq!(&std::fs::read(&path).unwrap(), data);
    }
    assert!(out_dir.join("_.._evil.txt").exists() || out_dir.join("evil.txt").exists());
    assert!(!env.dir.path().join("evil.txt").exists());
    // By our own id too, and into the default media directory.
    let files = env
        .app
        .download(&got[0].id.to_string(), None, &Unobserved)
        .await
        .unwrap();
    assert!(files[0]
        .path
        .starts_with(env.dir.path().join("media").to_str().unwrap()));
    // Errors say what is wrong.
    assert!(matches!(
        env.app
            .download("999999", None, &Unobserved)
            .await
            .unwrap_err(),
        AppError::MessageNotFound(_)
    ));
}

/// Each announced transfer: its label and the last byte report of it.
type Announced = Vec<(String, Option<ilink::Transfer>)>;

/// Records what a send or download announces.
#[derive(Default)]
struct Recorder {
    transfers: Arc<std::sync::Mutex<Announced>>,
}

impl wxlink::transfer::TransferObserver for Recorder {
    fn start(&self, label: &str) -> ilink::Progress {
        let mut all = self.transfers.lock().unwrap();
        all.push((label.to_string(), None));
        let slot = all.len() - 1;
        let transfers = self.transfers.clone();
        ilink::Progress::new(move |t| transfers.lock().unwrap()[slot].1 = Some(t))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sent_media_can_be_downloaded_again_with_byte_progress() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80fay@im.wechat").await;
    let user = first_message(&env, &bot, "send me the file").await;
    let path = env.dir.path().join("report.pdf");
    let content: Vec<u8> = b"%PDF-1.7 ".iter().copied().cycle().take(300_000).collect();
    std::fs::write(&path, &content).unwrap();
    let up = Recorder::default();
    let report = env
        .app
        .send(
            &SendRequest::to(user)
                .text("here it is")
                .attach(FileKind::File, path),
            &up,
        )
        .await
        .unwrap();
    // Only the file is a transfer; its last report is the whole (padded) ciphertext.
    let padded = ilink::crypto::padded_size(content.len() as u64);
    let done = ilink::Transfer {
        done: padded,
        total: Some(padded),
    };
    assert_eq!(
        *up.transfers.lock().unwrap(),
        [("Uploading report.pdf".to_string(), Some(done))]
    );

    let down = Recorder::default();
    let files = env
        .app
        .download(&report.sent[1].id, Some(&env.dir.path().join("out")), &down)
        .await
        .unwrap();
    assert_eq!(std::fs::read(&files[0].path).unwrap(), content);
    assert!(files[0].path.ends_with("report.pdf"));
    assert_eq!(
        *down.transfers.lock().unwrap(),
        [("Downloading file".to_string(), Some(done))]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expiry_stops_polling_and_relogin_resumes_it_with_history_kept() {
    let env = env().await;
    let bot = login_bot(&env, "main", "o9cq80gus@im.wechat").await;
    let mut events = env.app.subscribe();
    let pollers = Pollers::start(env.app.clone());
    inject(&env.fake, &bot, InboundSpec::text("before expiry"));
    recv_n(&env.app, "default", 1).await;
    env.fake.expire(&bot.bot_id);
    let expired = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            if let Ok(AppEvent::SessionExpired { session }) = events.recv().await {
                return session;
            }
        }
    })
    .await
    .expect("an expiry event");
    assert_eq!(expired, "main");
    let s = env.app.store().session("main").await.unwrap().unwrap();
    assert_eq!(s.status, SessionStatus::Expired);

    // Log in again (a new bot for the same user): same name, polling resumes by itself.
    let bot2 = login_bot(&env, "main", "o9cq80gus@im.wechat").await;
    assert_ne!(bot2.bot_id, bot.bot_id);
    inject(&env.fake, &bot2, InboundSpec::text("after relogin"));
    let got = recv_n(&env.app, "default", 1).await;
    assert_eq!(got[0].message.text.as_deref(), Some("after relogin"));
    pollers.shutdown().await;
    let all = env
        .app
        .store()
        .history(&HistoryQuery {
            session: Some("main".into()),
            limit: 50,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(all.total, 2, "history from before the expiry is kept");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstream_faults_lose_nothing_and_store_nothing_twice() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80hal@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    let mut expected = HashSet::new();
    for i in 0..20 {
        let spec = InboundSpec {
            duplicate: (i % 5 == 0).then_some(ilink_fake::DuplicateSpec {
                after_ms: 5,
                new_id: false,
            }),
            ..InboundSpec::text(format!("message {i}"))
        };
        let m = inject(&env.fake, &bot, spec);
        expected.insert(m["message_id"].as_u64().unwrap().to_string());
        match i {
            3 => env.fake.fault("getupdates", FaultSpec::Status(500), 2),
            7 => env.fake.fault("getupdates", FaultSpec::Malformed, 1),
            11 => env.fake.fault("getupdates", FaultSpec::Truncated, 1),
            15 => env.fake.fault("getupdates", FaultSpec::Drop, 1),
            17 => env.fake.fault("getupdates", FaultSpec::Status(502), 1),
            _ => {}
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let got = recv_n(&env.app, "default", 20).await;
    // Let any straggling duplicate arrive, then check nothing more comes.
    nothing_more(&env.app, 800).await;
    pollers.shutdown().await;
    let ids = upstream_ids(&got);
    assert_eq!(ids.len(), 20);
    assert_eq!(ids, expected);
    assert!(
        env.fake.delivered(&bot.bot_id).len() >= 24,
        "the fake really redelivered"
    );
    assert_eq!(stored_inbound(&env.app).await.total, 20);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_refetch_and_lose_nothing() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80ivy@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    let mut expected = HashSet::new();
    let mut send = |text: String| {
        let m = inject(&env.fake, &bot, InboundSpec::text(text));
        expected.insert(m["message_id"].as_u64().unwrap().to_string());
    };
    send("before".into());
    let before = recv_n(&env.app, "default", 1).await;
    // Another connection makes every insert into messages fail, as a full disk would.
    let db = rusqlite::Connection::open(env.dir.path().join("wxlink.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER fail_inserts BEFORE INSERT ON messages \
         BEGIN SELECT RAISE(ABORT, 'disk is full'); END;",
    )
    .unwrap();
    for i in 0..10 {
        send(format!("during {i}"));
        tokio::time::sleep(Duration::from_millis(30)).await;
    }
    // Several commits fail meanwhile: nothing is stored, so nothing reaches recv.
    let while_failing = env
        .app
        .recv("default", Duration::from_millis(600))
        .await
        .unwrap();
    assert!(while_failing.is_empty(), "stored despite the failing store");
    // Heal the store: the batches that failed are fetched again from the committed cursor.
    db.execute_batch("DROP TRIGGER fail_inserts").unwrap();
    send("after".into());
    let got = recv_n(&env.app, "default", 11).await;
    nothing_more(&env.app, 500).await;
    pollers.shutdown().await;
    let received = upstream_ids(before.iter().chain(&got));
    assert_eq!(received, expected, "every message reached recv once");
    let stored = stored_inbound(&env.app).await;
    let stored_ids = upstream_ids(&stored.messages);
    assert_eq!(stored.total, 12, "each message stored once");
    assert_eq!(stored_ids, expected, "nothing skipped");
}

/// The listener hands batches to the store while those ahead are still waiting. When one of them
/// fails, the ones queued behind it must not commit a cursor past its messages: they fail on
/// their cursor, and everything is fetched again from the cursor the store holds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_commit_fails_the_batches_queued_behind_it() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80pip@im.wechat").await;
    let pollers = Pollers::start(env.app.clone());
    let mut expected = HashSet::new();
    let mut send = |text: &str| {
        let m = inject(&env.fake, &bot, InboundSpec::text(text));
        expected.insert(m["message_id"].as_u64().unwrap().to_string());
    };
    send("before");
    let before = recv_n(&env.app, "default", 1).await;
    // Another connection: the message "poison" cannot be stored (as with a full disk), and
    // the write lock is held, so that the listener's commits queue up behind it.
    let db = rusqlite::Connection::open(env.dir.path().join("wxlink.db")).unwrap();
    db.execute_batch(
        "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'poison' \
         BEGIN SELECT RAISE(ABORT, 'disk is full'); END; \
         BEGIN IMMEDIATE;",
    )
    .unwrap();
    let polls = || env.fake.requests(Some("getupdates")).len();
    let polls_before = polls();
    for text in ["poison", "clean 1", "clean 2"] {
        send(text);
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // The listener went on fetching past "poison" while its commit waited.
    assert!(
        polls() >= polls_before + 3,
        "the batches were not queued: {} polls",
        polls() - polls_before
    );
    db.execute_batch("COMMIT").unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    db.execute_batch("DROP TRIGGER poison").unwrap();
    let got = recv_n(&env.app, "default", 3).await;
    nothing_more(&env.app, 500).await;
    pollers.shutdown().await;
    let texts: Vec<_> = got
        .iter()
        .map(|m| m.message.text.clone().unwrap_or_default())
        .collect();
    assert_eq!(
        texts,
        ["poison", "clean 1", "clean 2"],
        "in order, none lost"
    );
    let received = upstream_ids(before.iter().chain(&got));
    assert_eq!(received, expected);
    assert_eq!(
        stored_inbound(&env.app).await.total,
        4,
        "each message stored once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumers_are_independent_and_durable() {
    let env = env().await;
    let bot = login_bot(&env, "default", "o9cq80ivy@im.wechat").await;
    // Named consumers start at the tail: create them before the messages arrive.
    assert!(env
        .app
        .recv("agent-a", Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    assert!(env
        .app
        .recv("agent-b", Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    let pollers = Pollers::start(env.app.clone());
    for i in 0..3 {
        inject(&env.fake, &bot, InboundSpec::text(format!("m{i}")));
    }
    let a = recv_n(&env.app, "agent-a", 3).await;
    pollers.shutdown().await;
    assert_eq!(a.len(), 3);
    // A new App on the same directory (a restart): agent-b's messages are still unread.
    let reopened = open_app(&env.fake, env.dir.path());
    let b = reopened.recv("agent-b", Duration::ZERO).await.unwrap();
    assert_eq!(
        a.iter().map(|m| m.id).collect::<Vec<_>>(),
        b.iter().map(|m| m.id).collect::<Vec<_>>()
    );
    assert!(reopened
        .recv("agent-a", Duration::ZERO)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(
        reopened
            .recv("default", Duration::ZERO)
            .await
            .unwrap()
            .len(),
        3
    );
}

/// Waits `ms` for anything more on the default consumer: nothing may come (no duplicate).
async fn nothing_more(app: &wxlink::service::Service, ms: u64) {
    let extra = app
        .recv("default", Duration::from_millis(ms))
        .await
        .unwrap();
    assert!(extra.is_empty(), "duplicates were delivered: {extra:?}");
}

/// The upstream ids of `messages`.
fn upstream_ids<'a>(
    messages: impl IntoIterator<Item = &'a wxlink::store::StoredMessage>,
) -> HashSet<String> {
    messages
        .into_iter()
        .map(|m| m.message.upstream_id.clone().unwrap())
        .collect()
}
