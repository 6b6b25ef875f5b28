//! The `wxlink` binary as separate processes against the fake iLink server: QR login flows from
//! the CLI, JSON shapes and exit codes, a poller killed with SIGKILL mid-stream and restarted
//! (no loss, no duplicate), and two processes on one data directory with exactly one polling.

use std::collections::HashSet;
use std::io::Write;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use ilink_fake::{FakeIlink, InboundSpec, QrStep};
use serde_json::Value;
use wxlink::store::{Direction, HistoryQuery, SqliteStore, Store};

const BIN: &str = env!("CARGO_BIN_EXE_wxlink");

async fn fake() -> FakeIlink {
    let fake = FakeIlink::start().await.unwrap();
    fake.configure(|c| {
        c.hold_ms = 300;
        c.qr_hold_ms = 50;
    });
    fake
}

fn cmd(fake: &FakeIlink, dir: &Path) -> Command {
    let mut c = Command::new(BIN);
    c.arg("-d")
        .arg(dir)
        .arg("--ilink-base")
        .arg(fake.base_url().as_str())
        .arg("--cdn-base")
        .arg(fake.cdn_url().as_str())
        .env_remove("WXLINK_HOME")
        .stdin(Stdio::null());
    c
}

/// Runs a command to completion off the async runtime (the fake keeps serving meanwhile).
async fn run(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn json_out(o: &Output) -> Value {
    let text = String::from_utf8_lossy(&o.stdout);
    serde_json::from_str(text.trim()).unwrap_or_else(|e| {
        panic!(
            "stdout is not one JSON document ({e}): {text}\nstderr: {}",
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

/// Runs `wxlink --json ARGS`, which must fail with exit code `code` and error kind `kind`;
/// returns the error object.
async fn json_error(fake: &FakeIlink, dir: &Path, args: &[&str], code: i32, kind: &str) -> Value {
    let mut c = cmd(fake, dir);
    c.arg("--json").args(args);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(code), "{args:?}");
    let error = json_out(&o)["error"].clone();
    assert_eq!(error["kind"], kind, "{args:?}");
    error
}

async fn login(fake: &FakeIlink, dir: &Path, name: &str, steps: Vec<QrStep>) -> Value {
    fake.script_qr(steps);
    let mut c = cmd(fake, dir);
    c.args(["--json", "login", name]);
    let o = run(c).await;
    assert!(
        o.status.success(),
        "login failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    json_out(&o)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_login_through_redirect_expiry_and_verify_code() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let v = login(
        &fake,
        dir.path(),
        "work",
        vec![
            QrStep::named("scaned_but_redirect"),
            QrStep::named("scaned"),
            QrStep::confirmed_as("o9cq80cli@im.wechat"),
        ],
    )
    .await;
    assert_eq!(v["success"], true);
    assert_eq!(v["session"], "work");
    assert_eq!(v["user_id"], "o9cq80cli@im.wechat");
    assert_eq!(v["bot_id"], fake.bots()[0].bot_id.as_str());

    // Expiry: a second QR is fetched and confirmed.
    fake.script_qr(vec![QrStep::named("expired")]);
    let v = login(&fake, dir.path(), "home", vec![QrStep::named("confirmed")]).await;
    assert_eq!(v["session"], "home");
    assert_eq!(fake.requests(Some("get_bot_qrcode")).len(), 3);

    // A verify code typed on stdin.
    fake.script_qr(vec![
        QrStep {
            status: "need_verifycode".into(),
            verify_code: Some("2468".into()),
            ..Default::default()
        },
        QrStep::named("confirmed"),
    ]);
    let mut c = cmd(&fake, dir.path());
    c.args(["--json", "login", "third"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let o = tokio::task::spawn_blocking(move || {
        let mut child = c.spawn().unwrap();
        child.stdin.take().unwrap().write_all(b"2468\n").unwrap();
        child.wait_with_output().unwrap()
    })
    .await
    .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("number shown on your phone"));
    assert_eq!(json_out(&o)["session"], "third");

    // Already logged in: nothing to do without --force.
    let mut c = cmd(&fake, dir.path());
    c.args(["--json", "login", "work"]);
    let v = json_out(&run(c).await);
    assert_eq!(v["already_logged_in"], true);

    // status --json lists all three, the first one default.
    let mut c = cmd(&fake, dir.path());
    c.args(["--json", "status"]);
    let v = json_out(&run(c).await);
    let names: Vec<_> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), 3);
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "work" && s["default"] == true));
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .all(|s| s["status"] == "connected" && s["polling"] == false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cli_errors_have_clear_messages_and_exit_codes() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    json_error(&fake, dir, &["recv", "--timeout", "0"], 3, "not_logged_in").await;
    // A send before any login: log in first (not "no context for this user").
    let send = ["send", "o9cq80stranger@im.wechat", "--text", "hi"];
    json_error(&fake, dir, &send, 3, "not_logged_in").await;

    login(&fake, dir, "default", vec![QrStep::named("confirmed")]).await;
    let mut c = cmd(&fake, dir);
    c.args(send);
    let o = run(c).await;
    assert_eq!(o.status.code(), Some(5));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("has not written to"), "{err}");
    assert!(o.stdout.is_empty(), "errors go to stderr in human mode");

    json_error(&fake, dir, &["download", "12345"], 6, "message_not_found").await;

    // An invalid argument is a usage error.
    let since = ["history", "--since", "last tuesday"];
    let error = json_error(&fake, dir, &since, 2, "invalid").await;
    assert!(error["message"].as_str().unwrap().contains("ISO 8601"));

    let mut c = cmd(&fake, dir);
    c.args(["sessions", "rename", "nope", "other"]);
    assert_eq!(run(c).await.status.code(), Some(3));
}

fn spawn_recv(fake: &FakeIlink, dir: &Path, consumer: &str, timeout: u32) -> Child {
    let mut c = cmd(fake, dir);
    c.args([
        "--json",
        "recv",
        "--timeout",
        &timeout.to_string(),
        "--consumer",
        consumer,
    ])
    .stdout(Stdio::piped())
    .stderr(Stdio::null());
    c.spawn().unwrap()
}

async fn inbound_ids(dir: &Path) -> Vec<String> {
    let store = SqliteStore::open(&dir.join("wxlink.db")).unwrap();
    store
        .history(&HistoryQuery {
            direction: Some(Direction::In),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.message.upstream_id.unwrap())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_while_messages_stream_in_loses_nothing_and_duplicates_nothing() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    login(
        &fake,
        dir.path(),
        "default",
        vec![QrStep::named("confirmed")],
    )
    .await;
    let bot = fake.bots()[0].bot_id.clone();
    let spawn_poll = || {
        let mut c = cmd(&fake, dir.path());
        c.arg("poll").stdout(Stdio::null()).stderr(Stdio::null());
        c.spawn().unwrap()
    };
    let mut poller = spawn_poll();
    let mut sent = HashSet::new();
    let started = Instant::now();
    for i in 0..150 {
        let m = fake
            .inject(&InboundSpec::text(format!("stream {i}")).to_bot(bot.clone()))
            .unwrap();
        sent.insert(m["message_id"].as_u64().unwrap().to_string());
        if i == 75 {
            // Make sure the first poller really is storing, then kill it mid-stream with no
            // chance to clean up.
            while inbound_ids(dir.path()).await.is_empty() {
                assert!(
                    started.elapsed() < Duration::from_secs(10),
                    "the poller never stored anything"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            poller.kill().unwrap();
            poller.wait().unwrap();
            poller = spawn_poll();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // Wait until the restarted poller has stored everything.
    loop {
        let ids = inbound_ids(dir.path()).await;
        if ids.len() >= sent.len() || started.elapsed() > Duration::from_secs(20) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    poller.kill().unwrap();
    poller.wait().unwrap();
    let ids = inbound_ids(dir.path()).await;
    let unique: HashSet<_> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a message was stored twice");
    assert_eq!(
        unique, sent,
        "stored messages differ from what the fake delivered"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_processes_share_one_data_directory_with_exactly_one_poller() {
    let fake = fake().await;
    let dir = tempfile::tempdir().unwrap();
    login(
        &fake,
        dir.path(),
        "default",
        vec![QrStep::named("confirmed")],
    )
    .await;
    let bot = fake.bots()[0].clone();
    let a = spawn_recv(&fake, dir.path(), "a", 5);
    let b = spawn_recv(&fake, dir.path(), "b", 5);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // status sees the account polled (by one of them).
    let mut c = cmd(&fake, dir.path());
    c.args(["--json", "status"]);
    let v = json_out(&run(c).await);
    assert_eq!(v[0]["polling"], true);
    fake.inject(&InboundSpec::text("for both").to_bot(bot.bot_id.clone()))
        .unwrap();
    let outs: Vec<Output> = tokio::task::spawn_blocking(move || {
        vec![a.wait_with_output().unwrap(), b.wait_with_output().unwrap()]
    })
    .await
    .unwrap();
    for o in &outs {
        assert!(o.status.success());
        let v = json_out(o);
        assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
        assert_eq!(v[0]["text"], "for both");
        assert_eq!(v[0]["type"], "text");
        assert!(v[0]["message_id"].is_string(), "ids are strings in JSON");
    }
    assert_eq!(
        fake.max_concurrent_polls(&bot.bot_id),
        1,
        "two processes polled at once"
    );
    assert!(!fake.requests(Some("getupdates")).is_empty());

    // The process that did not poll can still send.
    let user = bot.user_id.clone();
    let mut c = cmd(&fake, dir.path());
    c.args(["--json", "send", &user, "--text", "reply from the CLI"]);
    let o = run(c).await;
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let v = json_out(&o);
    assert_eq!(v["success"], true);
    assert_eq!(v["quota_left"], 9);
    assert_eq!(fake.sent()[0].text.as_deref(), Some("reply from the CLI"));
}

/// Every account needs a connection and a lock file: with a soft open-file limit below that
/// (1024 is a common default; here 48 for 40 accounts) the process raises its own soft limit
/// to the hard one, and every account is polled. When the hard limit itself is too low, the
/// log says so and how to raise it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn many_accounts_are_polled_under_a_low_open_file_limit() {
    const ACCOUNTS: usize = 40;
    let fake = fake().await;
    fake.configure(|c| {
        c.hold_ms = 20_000;
        c.qr_hold_ms = 5;
    });
    let dir = tempfile::tempdir().unwrap();
    let names: Vec<String> = (0..ACCOUNTS).map(|i| format!("acct-{i}")).collect();
    for chunk in names.chunks(8) {
        let logins = chunk.iter().map(|name| {
            let mut c = cmd(&fake, dir.path());
            c.args(["--json", "login", name]);
            run(c)
        });
        for o in futures_util::future::join_all(logins).await {
            // With --json the error is on stdout.
            assert!(
                o.status.success(),
                "{}\nstdout: {}\nstderr: {}",
                o.status,
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    let poll_under = |ulimit: &str| {
        let mut c = Command::new("sh");
        c.arg("-c")
            .arg(format!(r#"ulimit {ulimit} 48 && exec "$0" "$@""#))
            .arg(BIN)
            .args(["-d"])
            .arg(dir.path())
            .args(["--ilink-base", fake.base_url().as_str()])
            .args(["--cdn-base", fake.cdn_url().as_str(), "poll"])
            .env_remove("WXLINK_HOME")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        c.spawn().unwrap()
    };

    // The hard limit too: cannot be raised, and the log says what to do.
    let mut child = poll_under("-n");
    tokio::time::sleep(Duration::from_secs(2)).await;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("40 accounts need about 144 open files but this process may open 48")
            && stderr.contains("ulimit -n"),
        "{stderr}"
    );

    // Its polls end with it (the fake counts them out when their connections close).
    let deadline = Instant::now() + Duration::from_secs(25);
    while fake.polls_in_flight() > 0 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(fake.polls_in_flight(), 0);

    // Only the soft limit (`ulimit -Sn`): raised, every account polled.
    let child = poll_under("-Sn");
    let deadline = Instant::now() + Duration::from_secs(20);
    while fake.polls_in_flight() < ACCOUNTS as u32 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let held = fake.polls_in_flight();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", child.id())).unwrap();
    let mut child = child;
    let _ = child.kill();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(held, ACCOUNTS as u32, "polls held; stderr:\n{stderr}");
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .unwrap()
        .split_whitespace()
        .skip(3)
        .take(2)
        .collect::<Vec<_>>();
    assert_eq!(
        open_files[0], open_files[1],
        "soft limit raised to the hard one: {limits}"
    );
    assert!(!stderr.contains("Too many open files"), "{stderr}");
    assert!(!stderr.contains("open files but"), "{stderr}");
}
