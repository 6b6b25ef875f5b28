//! Replicas on one PostgreSQL database, as separate `wxlink mcp -t http` processes against the
//! fake iLink server and a real PostgreSQL the test starts: exactly one replica polls each of
//! 20 accounts; SIGKILL the replica that polls them while numbered messages stream in → another
//! takes over, with nothing lost and nothing stored twice; a message one replica stores wakes a
//! `recv` waiting on another and reaches its event stream (LISTEN/NOTIFY, not a timer); a cut
//! lease connection makes its replica let go; any replica answers REST and MCP
//! (2026-07-28, stateless) requests; credentials are encrypted in the table; and HAProxy with
//! compose.replicas.yaml's configuration keeps each pre-2026 MCP session on its replica.

mod common;

use std::collections::{BTreeMap, HashSet};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::http::{self, Server, MCP_ACCEPT, TOKEN};
use ilink_fake::{BotAccount, FakeIlink, InboundSpec};
use pg_testserver::PgServer;
use serde_json::{json, Value};
use wxlink::model::BackendKind;
use wxlink::store::postgres::{CredentialKey, PgStore};
use wxlink::store::{Direction, HistoryQuery, LoginRecord, Store};

const ACCOUNTS: usize = 20;
const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct Cluster {
    pg: PgServer,
    url: String,
    key_file: tempfile::NamedTempFile,
    store: PgStore,
}

async fn cluster(fake: &FakeIlink) -> (Cluster, Vec<BotAccount>) {
    let pg = PgServer::start().expect("PostgreSQL (tests/postgres/install.sh installs it)");
    let url = pg.create_database("replicas").unwrap();
    let key_file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(key_file.path(), format!("{KEY}\n")).unwrap();
    let store = PgStore::connect(&url, CredentialKey::parse(KEY).unwrap())
        .await
        .unwrap();
    let mut bots = Vec::new();
    for i in 0..ACCOUNTS {
        let bot = fake.create_bot(Some(&format!("owner{i}@im.wechat")));
        store
            .save_login(
                &format!("acct{i:02}"),
                &LoginRecord {
                    backend: BackendKind::Ilink,
                    bot_id: bot.bot_id.clone(),
                    user_id: Some(bot.user_id.clone()),
                    token: bot.token.clone().into(),
                    base_url: Some(fake.base_url().to_string()),
                },
            )
            .await
            .unwrap();
        bots.push(bot);
    }
    (
        Cluster {
            pg,
            url,
            key_file,
            store,
        },
        bots,
    )
}

/// A replica: `wxlink mcp -t http` on its own data directory (another host), on the database.
fn replica(c: &Cluster, dir: &Path) -> Server {
    Server::start(
        dir,
        &[
            "--token",
            TOKEN,
            "--database",
            &c.url,
            "--database-key-file",
            c.key_file.path().to_str().unwrap(),
        ],
    )
}

/// getupdates calls so far, per bot token.
fn polls(fake: &FakeIlink) -> BTreeMap<String, usize> {
    let mut n = BTreeMap::new();
    for r in fake.requests(Some("getupdates")) {
        let token = r
            .headers
            .get("authorization")
            .map(|a| a.trim_start_matches("Bearer ").to_owned())
            .unwrap_or_default();
        *n.entry(token).or_default() += 1;
    }
    n
}

/// Waits until every bot has been polled `more` more times than in `before`.
async fn all_polled(
    fake: &FakeIlink,
    bots: &[BotAccount],
    before: &BTreeMap<String, usize>,
    more: usize,
) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let now = polls(fake);
        let waiting: Vec<&str> = bots
            .iter()
            .filter(|b| {
                now.get(&b.token).copied().unwrap_or(0)
                    < before.get(&b.token).copied().unwrap_or(0) + more
            })
            .map(|b| b.bot_id.as_str())
            .collect();
        if waiting.is_empty() {
            return;
        }
        assert!(Instant::now() < deadline, "never polled: {waiting:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn inbound_upstream_ids(store: &PgStore) -> Vec<String> {
    let mut ids = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .history(&HistoryQuery {
                direction: Some(Direction::In),
                before_id: before,
                limit: 200,
                ..Default::default()
            })
            .await
            .unwrap();
        let Some(last) = page.messages.last() else {
            return ids;
        };
        before = Some(last.id);
        ids.extend(
            page.messages
                .iter()
                .map(|m| m.message.upstream_id.clone().unwrap()),
        );
    }
}

fn rest(addr: &str, method: &str, path: &str, body: &str) -> (u16, Value) {
    let auth = format!("Bearer {TOKEN}");
    let reply = http::request(addr, method, path, &[("Authorization", &auth)], body);
    let v = serde_json::from_str(&reply.body).unwrap_or(Value::Null);
    (reply.status, v)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_poller_per_account_failover_without_loss_and_wakeups_across_replicas() {
    let fake = FakeIlink::start().await.unwrap();
    fake.configure(|c| c.hold_ms = 300);
    let (c, bots) = cluster(&fake).await;

    // Credentials are not readable in the table.
    let tokens = c.pg.psql("replicas", "SELECT token FROM sessions").unwrap();
    for bot in &bots {
        assert!(
            !tokens.contains(&bot.token),
            "a bearer token in clear: {tokens}"
        );
    }

    // Replica A polls everything; B, started after, finds every lease taken.
    let (dir_a, dir_b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let mut a = replica(&c, dir_a.path());
    all_polled(&fake, &bots, &BTreeMap::new(), 1).await;
    let b = replica(&c, dir_b.path());
    let before = polls(&fake);
    all_polled(&fake, &bots, &before, 3).await;
    for bot in &bots {
        assert_eq!(
            fake.max_concurrent_polls(&bot.bot_id),
            1,
            "{} polled twice at once",
            bot.bot_id
        );
    }
    // Either replica answers for every account.
    for addr in [&a.addr, &b.addr] {
        let (status, sessions) = rest(addr, "GET", "/api/v1/sessions", "");
        assert_eq!(status, 200, "{sessions}");
        let sessions = sessions["sessions"].as_array().cloned().unwrap_or_default();
        assert_eq!(sessions.len(), ACCOUNTS, "{sessions:?}");
        assert!(
            sessions.iter().all(|s| s["polling"] == true),
            "{sessions:?}"
        );
    }

    // Numbered messages stream in to every account; A dies halfway.
    let mut sent = HashSet::new();
    let mut killed_at = None;
    for i in 0..300 {
        let bot = &bots[i % ACCOUNTS];
        let m = fake
            .inject(&InboundSpec::text(format!("n{i}")).to_bot(bot.bot_id.clone()))
            .unwrap();
        sent.insert(m["message_id"].as_u64().unwrap().to_string());
        if i == 150 {
            a.child.kill().unwrap();
            a.child.wait().unwrap();
            killed_at = Some((Instant::now(), polls(&fake)));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let (killed_at, polls_at_kill) = killed_at.unwrap();
    all_polled(&fake, &bots, &polls_at_kill, 1).await;
    eprintln!(
        "failover: every account polled again {:?} after the SIGKILL",
        killed_at.elapsed()
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    let ids = loop {
        let ids = inbound_upstream_ids(&c.store).await;
        if ids.len() >= sent.len() || Instant::now() > deadline {
            break ids;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let unique: HashSet<String> = ids.iter().cloned().collect();
    assert_eq!(unique.len(), ids.len(), "a message was stored twice");
    assert_eq!(unique, sent, "lost or foreign messages");

    // A comes back (now B polls everything): a recv waiting on A is woken by what B stores.
    let a2 = replica(&c, dir_a.path());
    let (status, _) = rest(
        &a2.addr,
        "POST",
        "/api/v1/inbox/watcher",
        r#"{"timeout_secs": 0}"#,
    );
    assert_eq!(status, 200);
    // The panel's event stream on A follows what B stores too.
    let auth = format!("Bearer {TOKEN}");
    let mut events = http::raw_request(
        &a2.addr,
        "GET",
        "/api/v1/events",
        &[("Authorization", &auth), ("Accept", "text/event-stream")],
        "",
    );
    let mut streamed = String::new();
    http::read_until(&mut events, &mut streamed, "\r\n\r\n");
    for (round, bot) in bots.iter().enumerate().take(5) {
        let addr = a2.addr.clone();
        let waiting = std::thread::spawn(move || {
            let started = Instant::now();
            let got = rest(
                &addr,
                "POST",
                "/api/v1/inbox/watcher",
                r#"{"timeout_secs": 20}"#,
            );
            (got, started)
        });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let injected = Instant::now();
        fake.inject(&InboundSpec::text(format!("wake {round}")).to_bot(bot.bot_id.clone()))
            .unwrap();
        let ((status, v), _) = tokio::task::spawn_blocking(move || waiting.join().unwrap())
            .await
            .unwrap();
        let latency = injected.elapsed();
        assert_eq!(status, 200, "{v}");
        let texts: Vec<&str> = v["messages"]
            .as_array()
            .map(|m| m.iter().filter_map(|m| m["text"].as_str()).collect())
            .unwrap_or_default();
        assert_eq!(texts, vec![format!("wake {round}")], "{v}");
        eprintln!("inject on B's account → recv answered on A: {latency:?}");
        // Woken, not found by a timer: the wait would otherwise run its 20 s.
        assert!(latency < Duration::from_secs(2), "{latency:?}");
    }

    http::read_until(&mut events, &mut streamed, "wake 4");
    assert!(streamed.contains("event: message"), "{streamed}");
    drop(events);

    // The database drops B's lease connection (as it would for a host that stopped answering):
    // B loses every lease and stops polling; the accounts are taken over (by A or by B again)
    // with nothing lost or twice.
    let holders =
        c.pg.psql(
            "replicas",
            "SELECT DISTINCT pid FROM pg_locks WHERE locktype = 'advisory' AND granted",
        )
        .unwrap();
    assert_eq!(
        holders.lines().count(),
        1,
        "one connection holds every lease: {holders}"
    );
    let mut sent = HashSet::new();
    let mut cut_at = None;
    for i in 0..100 {
        let m = fake
            .inject(
                &InboundSpec::text(format!("after {i}")).to_bot(bots[i % ACCOUNTS].bot_id.clone()),
            )
            .unwrap();
        sent.insert(m["message_id"].as_u64().unwrap().to_string());
        if i == 50 {
            c.pg.psql(
                "replicas",
                &format!("SELECT pg_terminate_backend({})", holders.trim()),
            )
            .unwrap();
            cut_at = Some(polls(&fake));
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    all_polled(&fake, &bots, &cut_at.unwrap(), 1).await;
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let ids = inbound_upstream_ids(&c.store).await;
        let stored: HashSet<String> = ids.iter().cloned().collect();
        assert_eq!(stored.len(), ids.len(), "a message was stored twice");
        if sent.is_subset(&stored) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "lost after the lease connection was cut: {:?}",
            sent.difference(&stored).count()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // MCP 2026-07-28 is stateless: a tools/call answered by either replica, no session.
    for addr in [&a2.addr, &b.addr] {
        let auth = format!("Bearer {TOKEN}");
        let body = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call",
        "params": {"name": "sessions", "arguments": {},
                   "_meta": {
                       "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                       "io.modelcontextprotocol/clientCapabilities": {},
                       "io.modelcontextprotocol/clientInfo": {"name": "replicas.rs", "version": "1"}
                   }}});
        let reply = http::request(
            addr,
            "POST",
            "/mcp",
            &[
                ("Authorization", &auth),
                MCP_ACCEPT,
                ("Mcp-Protocol-Version", "2026-07-28"),
                ("Mcp-Method", "tools/call"),
                ("Mcp-Name", "sessions"),
            ],
            &body.to_string(),
        );
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(
            reply.header("mcp-session-id").is_none(),
            "stateless: no session"
        );
        let v = reply.json();
        assert!(
            v["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("acct19"),
            "{v}"
        );
    }
    b.stop();
    a2.stop();
}

/// docker/haproxy.cfg with this test's addresses: its own port, these replicas instead of the
/// Compose DNS template, no Docker resolver.
fn proxy_config(port: u16, replicas: &[&str]) -> String {
    let cfg = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docker/haproxy.cfg"
    ))
    .unwrap();
    let servers: String = replicas
        .iter()
        .enumerate()
        .map(|(i, addr)| format!("    server r{i} {addr} check inter 500ms\n"))
        .collect();
    let mut out = String::new();
    let mut skipping = false;
    for line in cfg.lines() {
        let t = line.trim();
        if t == "# REPLICAS (the test harness replaces this block with its own addresses)"
            || t == "# REPLICAS"
        {
            skipping = true;
            out.push_str(&servers);
        } else if t == "# END REPLICAS" {
            skipping = false;
        } else if t.starts_with("resolvers docker") {
            break; // the last section
        } else if !skipping {
            out.push_str(&line.replace("bind :8000", &format!("bind 127.0.0.1:{port}")));
            out.push('\n');
        }
    }
    assert_eq!(
        out.matches("server r0").count(),
        2,
        "both backends rewritten:\n{out}"
    );
    out
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

struct Proxy(std::process::Child);

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// One JSON-RPC request over the proxy with the given session, if any.
fn mcp(addr: &str, session: Option<&str>, body: Value) -> http::Reply {
    let auth = format!("Bearer {TOKEN}");
    let mut headers = vec![
        ("Authorization", auth.as_str()),
        MCP_ACCEPT,
        ("Mcp-Protocol-Version", "2025-06-18"),
    ];
    if let Some(s) = session {
        headers.push(("Mcp-Session-Id", s));
    }
    http::request(addr, "POST", "/mcp", &headers, &body.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_compose_proxy_keeps_each_mcp_session_on_its_replica() {
    let fake = FakeIlink::start().await.unwrap();
    let (c, _bots) = cluster(&fake).await;
    let dirs: Vec<_> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let replicas: Vec<Server> = dirs.iter().map(|d| replica(&c, d.path())).collect();
    let port = free_port();
    let cfg = tempfile::NamedTempFile::new().unwrap();
    let addrs: Vec<&str> = replicas.iter().map(|r| r.addr.as_str()).collect();
    std::fs::write(cfg.path(), proxy_config(port, &addrs)).unwrap();
    let haproxy = ["/usr/sbin/haproxy", "haproxy"]
        .into_iter()
        .find(|p| Command::new(p).arg("-v").output().is_ok())
        .expect("haproxy (tests/postgres/install.sh installs it)");
    let check = Command::new(haproxy)
        .args(["-c", "-f"])
        .arg(cfg.path())
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "{}",
        String::from_utf8_lossy(&check.stderr)
    );
    let _proxy = Proxy(
        Command::new(haproxy)
            .args(["-db", "-f"])
            .arg(cfg.path())
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let proxy = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(&proxy).is_err() {
        assert!(Instant::now() < deadline, "haproxy never listened");
        std::thread::sleep(Duration::from_millis(50));
    }
    // Sessions of pre-2026 clients, opened through the proxy (round robin: on every replica),
    // each used for several calls: every call must reach the replica that holds the session.
    let mut sessions = Vec::new();
    for i in 0..6 {
        let init = mcp(
            &proxy,
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {"protocolVersion": "2025-06-18", "capabilities": {},
                       "clientInfo": {"name": format!("client{i}"), "version": "1"}}}),
        );
        assert_eq!(init.status, 200, "{}", init.body);
        let id = init.header("mcp-session-id").expect("a session id");
        let note = mcp(
            &proxy,
            Some(&id),
            json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        );
        assert_eq!(note.status, 202, "{}", note.body);
        sessions.push(id);
    }
    for round in 0..4 {
        for id in &sessions {
            let call = mcp(
                &proxy,
                Some(id),
                json!({"jsonrpc": "2.0", "id": 10 + round,
                "method": "tools/call", "params": {"name": "sessions", "arguments": {}}}),
            );
            assert_eq!(
                call.status, 200,
                "session {id}, round {round}: {}",
                call.body
            );
            assert!(call.json()["result"]["content"][0]["text"]
                .as_str()
                .unwrap_or("")
                .contains("acct00"));
        }
    }
    // Each replica holds some of them: the proxy spread the sessions.
    let mut holders = 0;
    for r in &replicas {
        let health = http::request(&r.addr, "GET", "/health", &[], "").json();
        if health["connections"].as_u64().unwrap_or(0) > 0 {
            holders += 1;
        }
    }
    assert_eq!(holders, 3, "sessions spread over the replicas");
    // REST through the proxy, any replica.
    for _ in 0..6 {
        let (status, v) = rest(&proxy, "GET", "/api/v1/sessions", "");
        assert_eq!(status, 200, "{v}");
    }
    drop(replicas);
}
