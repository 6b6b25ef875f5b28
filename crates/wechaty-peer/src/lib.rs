//! Test harness for the project's Wechaty test peer (`tests/wechaty-peer/server.mjs`: a real
//! `wechaty-puppet-service` PuppetServer over PuppetMock, with seed contacts and rooms): starts
//! it on free loopback ports, waits for its ready line, talks to its JSON control API, and kills
//! it on drop. Used by the tests and benchmarks of `wechaty` and `wxlink`; it knows nothing of
//! either.
//!
//! The peer needs Node.js >= 18 and `npm ci --prefix tests/wechaty-peer`; without them
//! [`Peer::start`] fails the test with a message saying so (it never skips).

use std::io::{BufRead, BufReader, Read};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// The peer's folder in the repository. `cargo test` also sets `CARGO_MANIFEST_DIR` at run
/// time; prefer that over the compile-time value, which goes stale when a target directory is
/// shared between checkouts.
pub fn peer_dir() -> PathBuf {
    let manifest_dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    PathBuf::from(manifest_dir).join("../../tests/wechaty-peer")
}

/// A running test peer; killed when dropped (its stderr is printed if a test panicked).
pub struct Peer {
    child: Child,
    /// The gRPC port (the puppet service).
    pub grpc_port: u16,
    /// The JSON control API's port.
    pub control_port: u16,
    /// The token clients must send.
    pub token: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Peer {
    /// Starts the peer with the default settings.
    pub fn start() -> Peer {
        Peer::start_with(&[])
    }

    /// Starts the peer with extra environment variables; panics (fails the test) with a clear
    /// message if Node or the peer's node_modules are missing.
    pub fn start_with(env: &[(&str, &str)]) -> Peer {
        let dir = peer_dir();
        if !dir
            .join("node_modules/wechaty-puppet-service/package.json")
            .exists()
        {
            panic!(
                "the Wechaty test peer is not installed: {} has no node_modules.\n\
                 Run `npm ci --prefix tests/wechaty-peer` in the repository root (Node >= 18, \
                 uses the npm registry), then run the tests again.",
                dir.display()
            );
        }
        let mut cmd = Command::new(std::env::var("NODE").unwrap_or_else(|_| "node".into()));
        cmd.arg("server.mjs")
            .current_dir(&dir)
            .env("WECHATY_PEER_GRPC_PORT", "0")
            .env("WECHATY_PEER_CONTROL_PORT", "0")
            .env("WECHATY_PEER_LOGIN_DELAY_MS", "100")
            .env("WECHATY_PEER_HEARTBEAT_MS", "2000")
            .env("WECHATY_PEER_EXIT_WITH_STDIN", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = match cmd.spawn() {
            Ok(child) => child,
            Err(e) => panic!(
                "cannot run `node` for the Wechaty test peer ({e}); install Node.js >= 18 \
                 and run `npm ci --prefix tests/wechaty-peer`"
            ),
        };
        let log = Arc::new(Mutex::new(Vec::new()));
        if let Some(stderr) = child.stderr.take() {
            let log = log.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                    if let Ok(mut l) = log.lock() {
                        l.push(line);
                    }
                }
            });
        }
        let (tx, rx) = std::sync::mpsc::channel();
        let Some(stdout) = child.stdout.take() else {
            panic!("no stdout from the peer")
        };
        std::thread::spawn(move || {
            let mut reader = BufReader::new(stdout);
            let mut line = String::new();
            loop {
                line.clear();
                match reader.read_line(&mut line) {
                    Ok(0) | Err(_) => {
                        let _ = tx.send(None);
                        return;
                    }
                    Ok(_) => {
                        if line.starts_with("{\"ready\"") {
                            let _ = tx.send(Some(line.clone()));
                        }
                    }
                }
            }
        });
        let ready = rx.recv_timeout(Duration::from_secs(90)).ok().flatten();
        let Some(ready) = ready else {
            let _ = child.kill();
            let _ = child.wait();
            let mut rest = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut rest);
            }
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "the Wechaty test peer did not print its ready line within 90 s; its stderr:\n{}",
                log.lock().map(|l| l.join("\n")).unwrap_or_default()
            );
        };
        let v: Value = serde_json::from_str(ready.trim()).expect("ready line is JSON");
        Peer {
            child,
            grpc_port: v["grpcPort"].as_u64().expect("grpcPort") as u16,
            control_port: v["controlPort"].as_u64().expect("controlPort") as u16,
            token: v["token"].as_str().expect("token").to_owned(),
            log,
        }
    }

    /// `127.0.0.1:<grpc port>`.
    pub fn endpoint(&self) -> String {
        format!("127.0.0.1:{}", self.grpc_port)
    }

    /// GET on the control API; panics unless 200 with JSON.
    pub async fn get(&self, path: &str) -> Value {
        self.http("GET", path, None).await
    }

    /// POST JSON on the control API; panics unless 200 with JSON.
    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.http("POST", path, Some(body)).await
    }

    /// GET on the control API, the body as text whatever the status.
    pub async fn get_text(&self, path: &str) -> String {
        self.request("GET", path, None).await.1
    }

    async fn http(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, text) = self.request(method, path, body).await;
        assert!(status == 200, "{method} {path}: HTTP {status}: {text}");
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{method} {path}: {e}: {text}"))
    }

    async fn request(&self, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let mut s = tokio::net::TcpStream::connect(("127.0.0.1", self.control_port))
            .await
            .expect("connect to the peer's control API");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        );
        s.write_all(req.as_bytes()).await.expect("write request");
        let mut resp = Vec::new();
        s.read_to_end(&mut resp).await.expect("read response");
        let resp = String::from_utf8(resp).expect("UTF-8 response");
        let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((&resp, ""));
        let status = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        (status, body.to_owned())
    }

    /// The peer's stderr so far (for failure messages).
    pub fn log(&self) -> String {
        self.log.lock().map(|l| l.join("\n")).unwrap_or_default()
    }
}

impl Drop for Peer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log = self.log();
            let tail: Vec<&str> = log.lines().rev().take(60).collect();
            eprintln!(
                "--- last lines of the Wechaty test peer's stderr ---\n{}",
                tail.into_iter().rev().collect::<Vec<_>>().join("\n")
            );
        }
    }
}
