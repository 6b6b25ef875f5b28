//! `wxlink mcp --channel --permission-relay` as Claude Code runs it, over raw JSON-RPC on
//! stdio, with the fake iLink server playing WeChat: the declared capabilities, a stranger's
//! message never pushed but answered with a pairing code, `wxlink access pair` in a terminal,
//! one notification per allowed message with clean meta (a sender id and a file name holding
//! `">` cannot break the tag) and media already on disk, a tool-approval prompt relayed to
//! WeChat and answered there, sends to strangers refused, `recv` held to the gate too, and a
//! prompt exit when stdin closes or the client process dies.

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::stdio::{wxlink_command, Server, BIN};
use common::{env, login_bot};
use ilink_fake::{FakeIlink, InboundSpec, ItemSpec};
use serde_json::{json, Value};

const CHANNEL: &str = "notifications/claude/channel";
const PERMISSION: &str = "notifications/claude/channel/permission";

fn wxlink(fake: &FakeIlink, dir: &Path, args: &[&str]) -> std::process::Output {
    wxlink_command(fake, dir)
        .args(args)
        .output()
        .expect("run wxlink")
}

/// Waits until the fake got a message for `to` containing `needle`; its text.
fn sent_to(fake: &FakeIlink, to: &str, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(m) = fake
            .sent()
            .into_iter()
            .find(|m| m.to_user_id == to && m.text.as_deref().is_some_and(|t| t.contains(needle)))
        {
            return m.text.unwrap_or_default();
        }
        assert!(
            Instant::now() < deadline,
            "nothing with {needle:?} sent to {to}: {:?}",
            fake.sent()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn meta(n: &Value) -> &serde_json::Map<String, Value> {
    n["params"]["meta"].as_object().expect("meta object")
}

fn assert_clean(n: &Value) {
    for (k, v) in meta(n) {
        assert!(
            k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "key {k}"
        );
        let v = v
            .as_str()
            .unwrap_or_else(|| panic!("{k} is not a string: {n}"));
        for bad in ['<', '>', '"', '[', ']', ';', '\n', '\r'] {
            assert!(!v.contains(bad), "{k}={v:?} holds {bad:?}");
        }
    }
}

fn drive(fake: Arc<FakeIlink>, dir: &Path, owner: &str) {
    let mut s = Server::start_with(&fake, dir, &["--channel", "--permission-relay"]);
    let init = s.initialize();
    let experimental = &init["capabilities"]["experimental"];
    assert_eq!(experimental["claude/channel"], json!({}), "{init}");
    assert_eq!(
        experimental["claude/channel/permission"],
        json!({}),
        "{init}"
    );
    let instructions = init["instructions"].as_str().unwrap_or_default();
    assert!(instructions.contains("WeChat channel"), "{instructions}");
    assert!(instructions.contains("wxlink access"), "{instructions}");

    // A stranger: nothing pushed, a pairing code sent back to them.
    let stranger = "stranger@im.wechat";
    fake.inject(&InboundSpec::text("let me in").from(stranger))
        .expect("inject");
    let code_text = sent_to(&fake, stranger, "wxlink access pair");
    let code = code_text
        .split("wxlink access pair ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("a code")
        .to_string();
    assert_eq!(code.len(), 6, "{code_text}");
    assert!(s
        .notification(CHANNEL, Duration::from_millis(500))
        .is_none());

    // The owner approves it in a terminal; the sender is told.
    let out = wxlink(&fake, dir, &["access", "pair", &code]);
    assert!(out.status.success(), "{out:?}");
    sent_to(&fake, stranger, "Paired");
    let list = wxlink(&fake, dir, &["--json", "access", "list"]);
    let list: Value = serde_json::from_slice(&list.stdout).expect("json");
    assert!(list["allow"][stranger].is_object(), "{list}");
    assert_eq!(list["pending"], json!({}), "{list}");

    // Now their messages arrive by themselves, one notification each.
    let sent = Instant::now();
    fake.inject(&InboundSpec::text("今天下午三点开会").from(stranger))
        .expect("inject");
    let n = s
        .notification(CHANNEL, Duration::from_secs(10))
        .expect("pushed");
    eprintln!(
        "inject → channel notification: {:?} (not a benchmark)",
        sent.elapsed()
    );
    assert_eq!(n["params"]["content"], "今天下午三点开会", "{n}");
    let m = meta(&n);
    assert_eq!(m["chat_id"], stranger);
    assert_eq!(m["user"], stranger);
    assert_eq!(m["kind"], "text");
    assert!(m["message_id"]
        .as_str()
        .is_some_and(|id| id.parse::<i64>().is_ok()));
    assert!(m["ts"].as_str().is_some_and(|t| t.ends_with('Z')));
    assert_clean(&n);
    assert!(
        s.notification(CHANNEL, Duration::from_millis(300))
            .is_none(),
        "exactly one"
    );

    // A sender id and a file name made to break out of the tag; the file is on disk already.
    let evil = "evil\"><x y=\"1@im.wechat";
    let out = wxlink(&fake, dir, &["access", "allow", evil]);
    assert!(out.status.success(), "{out:?}");
    let body = b"quarterly numbers".to_vec();
    let mut file = ItemSpec::media("file", &body);
    file.file_name = Some("report\"><b>;[1].txt".into());
    fake.inject(&InboundSpec::item(file).from(evil))
        .expect("inject");
    let n = s
        .notification(CHANNEL, Duration::from_secs(10))
        .expect("pushed");
    assert_clean(&n);
    let m = meta(&n);
    assert_eq!(m["kind"], "file");
    let path = m["file_path"].as_str().expect("file_path");
    assert_eq!(std::fs::read(path).expect("file on disk"), body);
    assert!(
        path.starts_with(dir.join("inbox").to_str().unwrap()),
        "{path}"
    );
    assert!(
        n["params"]["content"]
            .as_str()
            .unwrap()
            .starts_with("(file: "),
        "{n}"
    );

    // An image: its path.
    let png = vec![0x89, b'P', b'N', b'G', 1, 2, 3];
    fake.inject(&InboundSpec::item(ItemSpec::media("image", &png)).from(stranger))
        .expect("inject");
    let n = s
        .notification(CHANNEL, Duration::from_secs(10))
        .expect("pushed");
    let img = meta(&n)["image_path"]
        .as_str()
        .expect("image_path")
        .to_string();
    assert_eq!(std::fs::read(&img).expect("image on disk"), png);
    assert_eq!(n["params"]["content"], "(image)");

    // A tool approval relayed to the allowed users and answered from WeChat.
    s.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/claude/channel/permission_request",
                   "params": {"request_id": "abcde", "tool_name": "Bash",
                              "description": "Push to the remote",
                              "input_preview": "git push origin main"}}),
    );
    let prompt = sent_to(&fake, stranger, "yes abcde");
    assert!(
        prompt.contains("Bash") && prompt.contains("git push origin main"),
        "{prompt}"
    );
    fake.inject(&InboundSpec::text("YES abcde").from(stranger))
        .expect("inject");
    let p = s
        .notification(PERMISSION, Duration::from_secs(10))
        .expect("verdict");
    assert_eq!(
        p["params"],
        json!({"request_id": "abcde", "behavior": "allow"})
    );
    s.send(
        &json!({"jsonrpc": "2.0", "method": "notifications/claude/channel/permission_request",
                   "params": {"request_id": "fghij", "tool_name": "Write",
                              "description": "d", "input_preview": "p"}}),
    );
    sent_to(&fake, stranger, "no fghij");
    fake.inject(&InboundSpec::text("no fghij").from(stranger))
        .expect("inject");
    let p = s
        .notification(PERMISSION, Duration::from_secs(10))
        .expect("verdict");
    assert_eq!(p["params"]["behavior"], "deny");
    assert!(
        s.notification(CHANNEL, Duration::from_millis(300))
            .is_none(),
        "answers are not chat messages"
    );

    // The send tool writes only where the gate delivers from.
    let refused = s.request(
        "tools/call",
        json!({"name": "send", "arguments": {"to": owner, "text": "hi"}}),
    );
    assert_eq!(refused["isError"], true, "{refused}");
    assert!(refused.to_string().contains("not_allowed"), "{refused}");
    let ok = s.call("send", json!({"to": stranger, "text": "收到"}));
    assert_eq!(ok["structuredContent"]["success"], true, "{ok}");

    // Strangers never get pushed; the owner's message (not allowed either) neither.
    fake.inject(&InboundSpec::text("owner here"))
        .expect("inject");
    assert!(s
        .notification(CHANNEL, Duration::from_millis(500))
        .is_none());

    // `recv` on a channel is held to the gate too: strangers cannot reach the agent that way.
    let got = s.call("recv", json!({"timeout": 0}));
    let texts: Vec<&str> = got["structuredContent"]["messages"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str())
        .collect();
    assert!(texts.contains(&"今天下午三点开会"), "{texts:?}");
    // (The first stranger is allowed by now, so their messages pass; the owner never was.)
    assert!(!texts.iter().any(|t| t.contains("owner here")), "{texts:?}");

    let status = s.close_and_wait(Duration::from_secs(2));
    assert!(status.success(), "{status}");
    for n in s.notifications.iter() {
        assert_ne!(
            n["method"], CHANNEL,
            "a channel message nobody expected: {n}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_pushes_allowed_messages_pairs_strangers_and_relays_permissions() {
    let env = env().await;
    let bot = login_bot(&env, "work", "owner@im.wechat").await;
    let fake = env.fake.clone();
    let dir = env.dir.path().to_path_buf();
    let owner = bot.user_id.clone();
    tokio::task::spawn_blocking(move || drive(fake, &dir, &owner))
        .await
        .expect("driver");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_channel_whose_client_died_exits_without_stdin_closing() {
    let env = env().await;
    login_bot(&env, "work", "owner@im.wechat").await;
    let dir = env.dir.path().to_path_buf();
    let base = env.fake.base_url().to_string();
    tokio::task::spawn_blocking(move || {
        // A shell starts the server in the background with our pipe as its stdin and exits:
        // the server is reparented while its stdin stays open.
        let mut shell = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "\"{BIN}\" -d \"{}\" --ilink-base {base} mcp --channel --no-banner <&0 >/dev/null & echo $!",
                dir.display()
            ))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .expect("sh");
        let stdin = shell.stdin.take();
        let out = shell.wait_with_output().expect("sh output");
        let pid: i32 = String::from_utf8_lossy(&out.stdout).trim().parse().expect("pid");
        let alive = |pid: i32| {
            std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .map(|s| !s.contains(") Z "))
                .unwrap_or(false)
        };
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) {
            assert!(Instant::now() < deadline, "the orphaned server {pid} is still running");
            std::thread::sleep(Duration::from_millis(50));
        }
        drop(stdin);
    })
    .await
    .expect("driver");
}
