//! `wxlink migrate-store` as a process: a SQLite data directory copied into a real PostgreSQL
//! (started by the test) and back into a new SQLite file — every session, credential, cursor,
//! context token, consumer and message the same, ids included; running it again copies
//! nothing; the CLI then works on PostgreSQL; bad spellings and a missing key are refused
//! clearly.

use std::process::{Command, Output, Stdio};

use pg_testserver::PgServer;
use serde_json::Value;
use wxlink::model::BackendKind;
use wxlink::store::postgres::{CredentialKey, PgStore};
use wxlink::store::{
    Direction, LoginRecord, MessageStatus, NewMessage, Secret, SqliteStore, Store,
};

const BIN: &str = env!("CARGO_BIN_EXE_wxlink");
const KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

fn wxlink(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(BIN)
        .arg("-d")
        .arg(dir)
        .args(args)
        .env_remove("WXLINK_HOME")
        .env_remove("WXLINK_DATABASE_URL")
        .env_remove("WXLINK_DATABASE_KEY_FILE")
        .env("WXLINK_DATABASE_KEY", KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn json(o: &Output) -> Value {
    assert!(
        o.status.success(),
        "exit {:?}: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).unwrap()
}

fn message(session: &str, key: &str, direction: Direction, text: &str, at: i64) -> NewMessage {
    NewMessage {
        session: session.into(),
        direction,
        upstream_id: (direction == Direction::In).then(|| key.to_owned()),
        dedupe_key: key.into(),
        peer: "u1@im.wechat".into(),
        bot_id: Some("bot@im.bot".into()),
        kind: "text".into(),
        text: Some(text.into()),
        items: serde_json::json!([{ "type": "text", "text": text }]).into(),
        raw: Some(serde_json::json!({ "k": key })),
        context_token: Some(Secret::new(format!("ctx-{session}"))),
        created_at_ms: at,
        client_id: (direction == Direction::Out).then(|| key.to_owned()),
        status: if direction == Direction::In {
            MessageStatus::Received
        } else {
            MessageStatus::Sent
        },
        error: None,
        speaker: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_to_postgres_and_back_copies_everything_once() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = SqliteStore::open(&dir.path().join("wxlink.db")).unwrap();
    for (i, name) in ["work", "home"].iter().enumerate() {
        sqlite
            .save_login(
                name,
                &LoginRecord {
                    backend: BackendKind::Ilink,
                    bot_id: format!("bot{i}@im.bot"),
                    user_id: Some("owner@im.wechat".into()),
                    token: Secret::new(format!("bearer-{name}-s3cret")),
                    base_url: Some("https://ilinkai.weixin.qq.com".into()),
                },
            )
            .await
            .unwrap();
    }
    let batch: Vec<NewMessage> = (0..4_500)
        .map(|i| {
            message(
                "work",
                &format!("m{i}"),
                Direction::In,
                &format!("第{i}条 消息 hello"),
                1_000 + i,
            )
        })
        .collect();
    sqlite.ingest("work", batch, "cursor-work").await.unwrap();
    sqlite
        .record_outbound(message("home", "out-1", Direction::Out, "回复", 9_000))
        .await
        .unwrap();
    sqlite.claim_inbox("agent", 10).await.unwrap();
    let source_state = sqlite.export_state().await.unwrap();
    let source_messages = sqlite.messages_after(0, 10_000).await.unwrap();
    drop(sqlite);

    let pg = PgServer::start().expect("PostgreSQL (tests/postgres/install.sh installs it)");
    let url = pg.create_database("migrated").unwrap();
    let report = json(&wxlink(
        dir.path(),
        &["--json", "migrate-store", "sqlite", &url],
    ));
    assert_eq!(report["sessions"], 2, "{report}");
    assert_eq!(report["messages_new"], 4_501, "{report}");
    assert_eq!(report["messages_existing"], 0, "{report}");

    let store = PgStore::connect(&url, CredentialKey::parse(KEY).unwrap())
        .await
        .unwrap();
    assert_eq!(store.export_state().await.unwrap(), source_state);
    assert_eq!(
        store.messages_after(0, 10_000).await.unwrap(),
        source_messages
    );
    let tokens = pg.psql("migrated", "SELECT token FROM sessions").unwrap();
    assert!(!tokens.contains("s3cret"), "credentials in clear: {tokens}");

    // Again: nothing new. The URL can come from the environment (`postgres`).
    let again = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["--json", "migrate-store", "sqlite", "postgres"])
        .env("WXLINK_DATABASE_URL", &url)
        .env("WXLINK_DATABASE_KEY", KEY)
        .env_remove("WXLINK_HOME")
        .output()
        .unwrap();
    let again = json(&again);
    assert_eq!(
        (
            again["messages_new"].as_u64(),
            again["messages_existing"].as_u64()
        ),
        (Some(0), Some(4_501))
    );

    // The CLI works on PostgreSQL: status and history (Chinese inside a sentence).
    let status = json(&wxlink(
        dir.path(),
        &["--json", "--database", &url, "status"],
    ));
    assert_eq!(status.as_array().map(Vec::len), Some(2), "{status}");
    let found = json(&wxlink(
        dir.path(),
        &[
            "--json",
            "--database",
            &url,
            "history",
            "--text",
            "条 消息",
            "--limit",
            "5",
        ],
    ));
    assert_eq!(found["total"], 4_500, "{found}");

    // And back, into a new SQLite file.
    let back = dir.path().join("back.db");
    let back_spec = format!("sqlite:{}", back.display());
    let report = json(&wxlink(
        dir.path(),
        &[
            "--json",
            "--database",
            &url,
            "migrate-store",
            "postgres",
            &back_spec,
        ],
    ));
    assert_eq!(report["messages_new"], 4_501, "{report}");
    let back = SqliteStore::open(&back).unwrap();
    assert_eq!(back.export_state().await.unwrap(), source_state);
    assert_eq!(
        back.messages_after(0, 10_000).await.unwrap(),
        source_messages
    );

    // Refusals: same store twice, unknown spelling, no key.
    let same = wxlink(dir.path(), &["migrate-store", "sqlite", "sqlite"]);
    assert_eq!(same.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&same.stderr).contains("both the source and the destination"));
    let bad = wxlink(
        dir.path(),
        &["migrate-store", "sqlite", "mysql://u:pw@h/db"],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        !String::from_utf8_lossy(&bad.stderr).contains("pw@"),
        "password shown"
    );
    let keyless = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["--database", &url, "status"])
        .env_remove("WXLINK_DATABASE_KEY")
        .env_remove("WXLINK_DATABASE_KEY_FILE")
        .env_remove("WXLINK_HOME")
        .output()
        .unwrap();
    assert_eq!(keyless.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&keyless.stderr).contains("wxlink database-key"));
    let wrong = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["--database", &url, "status"])
        .env("WXLINK_DATABASE_KEY", "11".repeat(32))
        .env_remove("WXLINK_HOME")
        .output()
        .unwrap();
    assert_ne!(wrong.status.code(), Some(0), "a wrong key must be refused");
    assert!(!String::from_utf8_lossy(&wrong.stdout).contains("work"));
}
