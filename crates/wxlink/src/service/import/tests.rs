//! The readers against small folders written here in each tool's layout (well-formed and
//! malformed), and [`super::run`] over a real store: idempotence, the source left untouched.

use std::fs;
use std::path::Path;

use rusqlite::{params, Connection};
use serde_json::json;

use super::*;
use crate::store::{Direction, MessageStatus, Secret, SqliteStore};
use crate::upstream::ilink::normalize;

const NOW: i64 = 1_800_000_000_000;

/// message_id, bot_id, msg_type, direction, text, timestamp_ms, data.
type WeilinkRow = (
    Option<i64>,
    &'static str,
    i64,
    i64,
    &'static str,
    i64,
    String,
);

/// WeiLink 0.6.2's schema (`_store.py` `_MIGRATIONS[0]`).
const WEILINK_SCHEMA: &str = "CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT, message_id INTEGER UNIQUE, user_id TEXT NOT NULL,
    bot_id TEXT NOT NULL DEFAULT '', msg_type INTEGER NOT NULL DEFAULT 1,
    direction INTEGER NOT NULL DEFAULT 1, text TEXT, timestamp_ms INTEGER NOT NULL DEFAULT 0,
    context_token TEXT NOT NULL DEFAULT '', data TEXT NOT NULL DEFAULT '{}',
    stored_at REAL NOT NULL);
    PRAGMA user_version = 1;";

fn write(path: &Path, text: &str) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
}

/// A WeiLink folder: sessions `default` (bot a) and `work` (bot b), `work` the saved default,
/// and a messages.db with a text, an image (hex key), a quote, a sent text and a row of a
/// bot without a session.
fn weilink_folder(base: &Path) {
    write(
        &base.join("default/token.json"),
        r#"{"bot_id": "a@im.bot", "base_url": "http://127.0.0.1:1", "token": "tok-a",
            "user_id": "owner@im.wechat", "cursor": "cur-a", "created_at": 1700000000.5}"#,
    );
    write(
        &base.join("default/contexts.json"),
        r#"{"u1@im.wechat": {"t": "ctx-1", "ts": 1700000100.0, "sc": 3, "first_seen": 1},
            "u2@im.wechat": {"send_ts": 1700000200.0}}"#,
    );
    write(
        &base.join("work/token.json"),
        r#"{"bot_id": "b@im.bot", "base_url": "http://127.0.0.1:2", "token": "tok-b"}"#,
    );
    write(&base.join("notasession/readme.txt"), "x");
    write(&base.join(".default_session"), "work\n");
    let conn = Connection::open(base.join("messages.db")).unwrap();
    conn.execute_batch(WEILINK_SCHEMA).unwrap();
    let mut insert = conn
        .prepare(
            "INSERT INTO messages (message_id, user_id, bot_id, msg_type, direction, text, \
             timestamp_ms, context_token, data, stored_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, \
             ?8, ?9, ?10)",
        )
        .unwrap();
    let text = json!({"from_user": "u1@im.wechat", "msg_type": 1, "timestamp": 1700000001000i64,
        "message_id": 7001, "context_token": "ctx-1", "bot_id": "a@im.bot", "text": "你好，下午开会"});
    let image = json!({"from_user": "u1@im.wechat", "msg_type": 2, "timestamp": 1700000002000i64,
        "message_id": 7002, "context_token": "ctx-1", "bot_id": "a@im.bot",
        "image": {"media": {"encrypt_query_param": "PARAM", "aes_key": "00112233445566778899aabbccddeeff",
        "encrypt_type": 1, "full_url": ""}, "url": "", "thumb_width": 10, "thumb_height": 20, "hd_size": 0}});
    let quote = json!({"from_user": "u1@im.wechat", "msg_type": 1, "timestamp": 1700000003000i64,
        "message_id": 7003, "context_token": "ctx-1", "bot_id": "a@im.bot", "text": "yes",
        "ref_msg": {"msg_type": 1, "text": "原文"}});
    let sent = json!({"from_user": "u1@im.wechat", "msg_type": 1, "timestamp": 1700000004000i64,
        "message_id": null, "context_token": "", "bot_id": "a@im.bot", "text": "收到"});
    let rows: [WeilinkRow; 5] = [
        (
            Some(7001),
            "a@im.bot",
            1,
            1,
            "你好，下午开会",
            1700000001000,
            text.to_string(),
        ),
        (
            Some(7002),
            "a@im.bot",
            2,
            1,
            "",
            1700000002000,
            image.to_string(),
        ),
        (
            Some(7003),
            "a@im.bot",
            1,
            1,
            "yes",
            1700000003000,
            quote.to_string(),
        ),
        (
            None,
            "a@im.bot",
            1,
            2,
            "收到",
            1700000004000,
            sent.to_string(),
        ),
        (
            Some(9),
            "gone@im.bot",
            1,
            1,
            "orphan",
            1700000005000,
            "{}".into(),
        ),
    ];
    for (mid, bot, ty, dir, text, ts, data) in rows {
        insert
            .execute(params![
                mid,
                "u1@im.wechat",
                bot,
                ty,
                dir,
                text,
                ts,
                "ctx-1",
                data,
                1.7e9
            ])
            .unwrap();
    }
}

#[test]
fn weilink_sessions_contexts_default_and_messages() {
    let dir = tempfile::tempdir().unwrap();
    weilink_folder(dir.path());
    let f = weilink::read(dir.path(), NOW, true).unwrap();
    let names: Vec<_> = f.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["default", "work"]);
    // `default/` wins over `.default_session`, as in WeiLink.
    assert_eq!(f.default.as_deref(), Some("default"));
    let a = &f.sessions[0];
    assert_eq!(a.login.bot_id, "a@im.bot");
    assert_eq!(a.login.token.expose_str(), "tok-a");
    assert_eq!(a.login.user_id.as_deref(), Some("owner@im.wechat"));
    assert_eq!(a.login.base_url.as_deref(), Some("http://127.0.0.1:1"));
    assert_eq!(
        (a.cursor.as_str(), a.created_at_ms),
        ("cur-a", Some(1_700_000_000_500))
    );
    assert_eq!(a.contexts.len(), 1, "entries without a token are skipped");
    assert_eq!(
        (
            a.contexts[0].user_id.as_str(),
            a.contexts[0].token.expose_str()
        ),
        ("u1@im.wechat", "ctx-1")
    );
    assert_eq!(
        (a.contexts[0].received_at_ms, a.contexts[0].send_count),
        (1_700_000_100_000, 3)
    );

    let m = &a.messages;
    assert_eq!(m.len(), 4);
    assert_eq!(
        (m[0].dedupe_key.as_str(), m[0].kind.as_str()),
        ("7001", "text")
    );
    assert_eq!(m[0].text.as_deref(), Some("你好，下午开会"));
    assert_eq!(
        (m[0].direction, m[0].peer.as_str()),
        (Direction::In, "u1@im.wechat")
    );
    assert_eq!(m[0].created_at_ms, 1_700_000_001_000);
    assert_eq!(
        m[0].context_token.as_ref().map(Secret::expose_str),
        Some("ctx-1")
    );
    // The image keeps what a download needs, where the iLink download looks for it.
    assert_eq!(m[1].kind, "image");
    let items = normalize::upstream_items(m[1].raw.as_ref());
    let image = items[0].image_item.as_ref().unwrap();
    assert_eq!(
        image.aeskey.as_deref(),
        Some("00112233445566778899aabbccddeeff")
    );
    let media = image.media.as_ref().unwrap();
    assert_eq!(media.encrypt_query_param.as_deref(), Some("PARAM"));
    assert!(!m[1].items.json().contains("PARAM"), "no secrets in items");
    assert_eq!(m[2].items.value()[0]["quote"]["item"]["text"], "原文");
    assert_eq!(
        (m[3].direction, m[3].status),
        (Direction::Out, MessageStatus::Sent)
    );
    assert_eq!(m[3].dedupe_key, "client:weilink-row:4");
    assert_eq!(m[3].text.as_deref(), Some("收到"));
    assert!(f.sessions[1].messages.is_empty());
    let shown = format!("{f:?}");
    for secret in [
        "tok-a",
        "tok-b",
        "ctx-1",
        "00112233445566778899aabbccddeeff",
    ] {
        assert!(!shown.contains(secret), "{secret} printed");
    }
    assert_eq!(f.warnings.len(), 1, "{:?}", f.warnings);
    assert!(f.warnings[0].contains("gone@im.bot"), "{:?}", f.warnings);
}

#[test]
fn weilink_flat_layout_and_saved_default() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("token.json"),
        r#"{"bot_id": "flat@im.bot", "base_url": "u", "token": "t"}"#,
    );
    let f = weilink::read(dir.path(), NOW, true).unwrap();
    assert_eq!(f.sessions[0].name, "default");
    assert_eq!(f.default.as_deref(), Some("default"));

    let dir = tempfile::tempdir().unwrap();
    for (name, created) in [("x", 2.0), ("y", 1.0)] {
        write(
            &dir.path().join(name).join("token.json"),
            &json!({"bot_id": name, "base_url": "u", "token": "t", "created_at": created})
                .to_string(),
        );
    }
    assert_eq!(
        weilink::read(dir.path(), NOW, true)
            .unwrap()
            .default
            .as_deref(),
        Some("y")
    );
    write(&dir.path().join(".default_session"), "x");
    assert_eq!(
        weilink::read(dir.path(), NOW, true)
            .unwrap()
            .default
            .as_deref(),
        Some("x")
    );
}

#[test]
fn malformed_weilink_files_are_errors_naming_the_file() {
    let cases: [(&str, &str); 4] = [
        ("s/token.json", "{not json"),
        ("s/token.json", r#"{"base_url": "u", "token": "t"}"#),
        ("s/contexts.json", "[1, 2]"),
        ("messages.db", "this is not a database"),
    ];
    for (file, content) in cases {
        let dir = tempfile::tempdir().unwrap();
        write(
            &dir.path().join("s/token.json"),
            r#"{"bot_id": "b", "base_url": "u", "token": "t"}"#,
        );
        write(&dir.path().join(file), content);
        let err = weilink::read(dir.path(), NOW, true).unwrap_err();
        let shown = err.to_string();
        assert!(
            matches!(err, ReadError::Malformed { .. }),
            "{file}: {shown}"
        );
        assert!(shown.contains(file.rsplit('/').next().unwrap()), "{shown}");
        assert!(shown.contains("nothing was imported"), "{shown}");
    }
    let empty = tempfile::tempdir().unwrap();
    assert!(matches!(
        weilink::read(empty.path(), NOW, true).unwrap_err(),
        ReadError::Missing { .. }
    ));
    assert!(matches!(
        weilink::read(&empty.path().join("nope"), NOW, true).unwrap_err(),
        ReadError::Missing { .. }
    ));
}

/// An OpenClaw state dir in 2.4.9's layout (`src/auth/accounts.ts` `saveWeixinAccount`,
/// `src/storage/sync-buf.ts` `saveGetUpdatesBuf`, `src/messaging/inbound.ts`
/// `persistContextTokens`), one account under its normalized id and one under a raw id.
fn openclaw_folder(state: &Path) {
    let w = state.join("openclaw-weixin");
    write(
        &w.join("accounts.json"),
        r#"["b0f5860fdecb-im-bot", "c1c1-im-bot", "nologin-im-bot"]"#,
    );
    write(
        &w.join("accounts/b0f5860fdecb-im-bot.json"),
        r#"{"token": "tok-oc", "savedAt": "2026-03-01T08:00:00.000Z",
            "baseUrl": "http://127.0.0.1:3", "userId": "owner@im.wechat"}"#,
    );
    write(
        &w.join("accounts/b0f5860fdecb-im-bot.sync.json"),
        r#"{"get_updates_buf":"buf-123"}"#,
    );
    write(
        &w.join("accounts/b0f5860fdecb-im-bot.context-tokens.json"),
        r#"{"u1@im.wechat":"ctx-oc","u2@im.wechat":""}"#,
    );
    write(
        &w.join("accounts/c1c1@im.bot.json"),
        r#"{"token": "tok-raw"}"#,
    );
    write(
        &w.join("accounts/nologin-im-bot.json"),
        r#"{"baseUrl": "x"}"#,
    );
}

#[test]
fn openclaw_accounts_cursors_and_context_tokens() {
    let dir = tempfile::tempdir().unwrap();
    openclaw_folder(dir.path());
    let f = openclaw::read(dir.path(), NOW).unwrap();
    let names: Vec<_> = f.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["b0f5860fdecb", "c1c1"]);
    let s = &f.sessions[0];
    assert_eq!(s.login.bot_id, "b0f5860fdecb@im.bot");
    assert_eq!(s.login.token.expose_str(), "tok-oc");
    assert_eq!(s.login.base_url.as_deref(), Some("http://127.0.0.1:3"));
    assert_eq!(s.cursor, "buf-123");
    assert_eq!(s.created_at_ms, Some(1_772_352_000_000));
    assert_eq!(s.contexts.len(), 1);
    assert_eq!(s.contexts[0].token.expose_str(), "ctx-oc");
    let raw = &f.sessions[1];
    assert_eq!(raw.login.bot_id, "c1c1@im.bot");
    assert_eq!(
        raw.login.base_url.as_deref(),
        Some("https://ilinkai.weixin.qq.com")
    );
    assert_eq!(f.default.as_deref(), Some("b0f5860fdecb"));
    assert!(f.warnings.iter().any(|w| w.contains("nologin-im-bot")));
    // The state dir's weixin folder itself works too.
    let inner = openclaw::read(&dir.path().join("openclaw-weixin"), NOW).unwrap();
    assert_eq!(inner.sessions.len(), 2);

    write(
        &dir.path()
            .join("openclaw-weixin/accounts/b0f5860fdecb-im-bot.sync.json"),
        "{\"get_updates_buf\": 5",
    );
    let err = openclaw::read(dir.path(), NOW).unwrap_err().to_string();
    assert!(err.contains("b0f5860fdecb-im-bot.sync.json"), "{err}");
    let none = tempfile::tempdir().unwrap();
    assert!(matches!(
        openclaw::read(none.path(), NOW).unwrap_err(),
        ReadError::Missing { .. }
    ));
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push((p.display().to_string(), fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn run_imports_once_and_leaves_the_source_alone() {
    let src = tempfile::tempdir().unwrap();
    weilink_folder(src.path());
    let before = snapshot(src.path());
    let store = SqliteStore::open_in_memory().unwrap();

    let dry = run(&store, Source::Weilink, src.path(), true)
        .await
        .unwrap();
    assert_eq!(dry.messages_new(), 4);
    assert!(store.sessions().await.unwrap().is_empty());

    let report = run(&store, Source::Weilink, src.path(), false)
        .await
        .unwrap();
    assert_eq!(report.messages_new(), 4);
    let a = &report.sessions[0];
    assert_eq!(
        (
            a.session.as_deref(),
            a.credentials,
            a.cursor,
            a.context_tokens_new
        ),
        (Some("default"), "imported", true, 1)
    );
    assert_eq!(report.default_session.as_deref(), Some("default"));
    let sessions = store.sessions().await.unwrap();
    assert_eq!(sessions.len(), 2);
    assert!(sessions.iter().all(|s| s.is_connected()));
    assert_eq!(store.cursor("default").await.unwrap(), "cur-a");
    let found = store.message("7002").await.unwrap().unwrap();
    assert_eq!(found.message.kind, "image");

    let again = run(&store, Source::Weilink, src.path(), false)
        .await
        .unwrap();
    assert_eq!(again.messages_new(), 0);
    assert_eq!(again.sessions[0].messages_existing, 4);
    assert_eq!(again.sessions[0].credentials, "kept_existing");
    assert_eq!(
        snapshot(src.path()),
        before,
        "the source folder is only read"
    );

    // The same bot under another name here: merged into that session.
    let store = SqliteStore::open_in_memory().unwrap();
    store
        .save_login(
            "mine",
            &ilink_login("a@im.bot".into(), "newer".into(), None, None),
        )
        .await
        .unwrap();
    let merged = run(&store, Source::Weilink, src.path(), false)
        .await
        .unwrap();
    assert_eq!(merged.sessions[0].session.as_deref(), Some("mine"));
    assert_eq!(merged.sessions[0].credentials, "kept_existing");
    assert_eq!(merged.default_session.as_deref(), Some("mine"));
    let mine = store.session("mine").await.unwrap().unwrap();
    assert_eq!(mine.token.as_ref().map(Secret::expose_str), Some("newer"));
    assert!(store.session("default").await.unwrap().is_none());
}

#[test]
fn a_running_weilink_is_pointed_out() {
    let dir = tempfile::tempdir().unwrap();
    write(
        &dir.path().join("s/token.json"),
        r#"{"bot_id": "b", "base_url": "u", "token": "t"}"#,
    );
    let running = |f: &Foreign| f.warnings.iter().any(|w| w.contains(".poll.lock"));
    assert!(!running(&weilink::read(dir.path(), NOW, true).unwrap()));
    assert!(!dir.path().join(".poll.lock").exists(), "never created");
    let lock = fs::File::create(dir.path().join(".poll.lock")).unwrap();
    lock.lock().unwrap();
    assert!(running(&weilink::read(dir.path(), NOW, true).unwrap()));
    lock.unlock().unwrap();
    assert!(!running(&weilink::read(dir.path(), NOW, true).unwrap()));
}

#[tokio::test]
async fn a_history_larger_than_a_chunk_streams_in_whole_and_once() {
    let src = tempfile::tempdir().unwrap();
    weilink_folder(src.path());
    let n = 2 * super::CHUNK + 321;
    {
        let conn = Connection::open(src.path().join("messages.db")).unwrap();
        let tx = conn.unchecked_transaction().unwrap();
        for i in 0..n {
            let id = 100_000 + i as i64;
            let data = json!({"from_user": "u9@im.wechat", "msg_type": 1, "timestamp": id,
                "message_id": id, "context_token": "c", "bot_id": "b@im.bot",
                "text": format!("第{i}条")});
            tx.execute(
                "INSERT INTO messages (message_id, user_id, bot_id, msg_type, direction, text, \
                 timestamp_ms, context_token, data, stored_at) \
                 VALUES (?1, 'u9@im.wechat', 'b@im.bot', 1, 1, ?2, ?1, 'c', ?3, 1700000000.0)",
                rusqlite::params![id, format!("第{i}条"), data.to_string()],
            )
            .unwrap();
        }
        tx.commit().unwrap();
    }
    let store = SqliteStore::open_in_memory().unwrap();
    let report = run(&store, Source::Weilink, src.path(), false)
        .await
        .unwrap();
    let work = report
        .sessions
        .iter()
        .find(|s| s.name == "work")
        .expect("work");
    assert_eq!(work.messages_new, n as u64);
    assert_eq!(report.messages_new(), n as u64 + 4);
    let again = run(&store, Source::Weilink, src.path(), false)
        .await
        .unwrap();
    assert_eq!(again.messages_new(), 0);
    let work = again.sessions.iter().find(|s| s.name == "work").unwrap();
    assert_eq!(work.messages_existing, n as u64);
}
