//! `wxlink mcp` as a separate process speaking raw JSON-RPC over its stdin and stdout: requests
//! and their results, notifications kept in arrival order while waiting for a result, and raw
//! lines. Every line it prints must be JSON-RPC.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{self, Receiver};
use std::time::{Duration, Instant};

use ilink_fake::FakeIlink;
use serde_json::{json, Value};

pub const BIN: &str = env!("CARGO_BIN_EXE_wxlink");

/// `wxlink -d DIR --ilink-base … --cdn-base …` against `fake`, without `WXLINK_HOME`.
pub fn wxlink_command(fake: &FakeIlink, dir: &Path) -> Command {
    let mut command = Command::new(BIN);
    command
        .arg("-d")
        .arg(dir)
        .arg("--ilink-base")
        .arg(fake.base_url().as_str())
        .arg("--cdn-base")
        .arg(fake.cdn_url().as_str())
        .env_remove("WXLINK_HOME");
    command
}

/// One `wxlink mcp` process and its stdout, line by line.
pub struct Server {
    pub child: Child,
    pub stdin: Option<ChildStdin>,
    pub lines: Receiver<String>,
    next_id: u64,
    /// Notifications read while waiting for a result.
    pub notifications: VecDeque<Value>,
}

impl Server {
    /// `wxlink -d DIR --ilink-base … --cdn-base … mcp --no-banner`.
    pub fn start(fake: &FakeIlink, dir: &Path) -> Server {
        Self::start_with(fake, dir, &[])
    }

    /// [`Server::start`] with more `mcp` arguments.
    pub fn start_with(fake: &FakeIlink, dir: &Path, extra: &[&str]) -> Server {
        let mut child = wxlink_command(fake, dir)
            .args(["mcp", "--no-banner"])
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn wxlink mcp");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            stdin: child.stdin.take(),
            child,
            lines: rx,
            next_id: 1,
            notifications: VecDeque::new(),
        }
    }

    pub fn send(&mut self, msg: &Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        writeln!(stdin, "{msg}").expect("write request");
        stdin.flush().expect("flush");
    }

    /// The next line as JSON-RPC, within `timeout`.
    fn read(&mut self, timeout: Duration) -> Option<Value> {
        let line = self.lines.recv_timeout(timeout).ok()?;
        let msg: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {line}"));
        assert_eq!(msg["jsonrpc"], "2.0", "{line}");
        Some(msg)
    }

    /// Sends a request and returns its result (which must not be an error).
    pub fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        loop {
            let msg = self
                .read(Duration::from_secs(30))
                .unwrap_or_else(|| panic!("no answer to {method}"));
            if msg["id"] == json!(id) {
                assert!(msg.get("error").is_none(), "{method} failed: {msg}");
                return msg["result"].clone();
            }
            if msg.get("id").is_none() {
                self.notifications.push_back(msg);
            }
        }
    }

    /// Calls a tool that must succeed; returns the whole result.
    pub fn call(&mut self, tool: &str, args: Value) -> Value {
        let r = self.request("tools/call", json!({"name": tool, "arguments": args}));
        assert_ne!(r["isError"], json!(true), "{tool} failed: {r}");
        r
    }

    /// The next notification named `method` within `timeout` (others are kept).
    pub fn notification(&mut self, method: &str, timeout: Duration) -> Option<Value> {
        if let Some(i) = self
            .notifications
            .iter()
            .position(|n| n["method"] == method)
        {
            return self.notifications.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let msg = self.read(left)?;
            if msg["method"] == method {
                return Some(msg);
            }
            self.notifications.push_back(msg);
        }
    }

    /// `initialize` (spec 2025-11-25) and `notifications/initialized`; the result.
    pub fn initialize(&mut self) -> Value {
        let init = self.request(
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                   "clientInfo": {"name": "cargo-test", "version": "0"}}),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        init
    }

    /// Writes a raw line and returns the next line the server prints.
    pub fn raw(&mut self, line: &[u8]) -> Value {
        let stdin = self.stdin.as_mut().expect("stdin open");
        stdin.write_all(line).expect("write");
        stdin.write_all(b"\n").expect("write");
        stdin.flush().expect("flush");
        self.read(Duration::from_secs(10))
            .unwrap_or_else(|| panic!("no answer to {:?}", String::from_utf8_lossy(line)))
    }

    /// Closes stdin and waits up to `within` for the exit; its status.
    pub fn close_and_wait(&mut self, within: Duration) -> std::process::ExitStatus {
        drop(self.stdin.take());
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(
                Instant::now() < deadline,
                "wxlink mcp did not exit within {within:?} of EOF"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
