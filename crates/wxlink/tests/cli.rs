//! The `wxlink` binary as a user runs it: `--version`, `--help`, and `wxlink sandbox` serving
//! the fake iLink API on a real port until it is told to stop, and session names refused before
//! anything goes upstream; and how the binary was linked.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_wxlink");

#[test]
fn version_and_help() {
    let out = Command::new(BIN).arg("--version").output().unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        format!("wxlink {}", env!("CARGO_PKG_VERSION"))
    );
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(help.contains("sandbox"), "{help}");
    let out = Command::new(BIN).arg("no-such-command").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");
}

/// On glibc 2.36 or later the binary carries packed relative relocations (`DT_RELR`, see
/// `build.rs`), not 25,000 `RELA` entries the loader reads at every start; and it still runs
/// (`version_and_help`). Elsewhere `build.rs` leaves the option out, and so does this check.
#[test]
fn the_binary_packs_its_relative_relocations_where_glibc_can_load_them() {
    let glibc = Command::new("getconf").arg("GNU_LIBC_VERSION").output();
    let glibc = glibc.map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned());
    let new_enough = glibc
        .as_deref()
        .ok()
        .and_then(|v| v.strip_prefix("glibc 2."))
        .and_then(|minor| minor.split('.').next()?.parse::<u32>().ok())
        .is_some_and(|minor| minor >= 36);
    if !cfg!(all(target_os = "linux", target_env = "gnu")) || !new_enough {
        eprintln!("not checked: {glibc:?} predates DT_RELR");
        return;
    }
    let out = Command::new("readelf")
        .args(["--dynamic", "--wide", BIN])
        .output();
    let dynamic =
        String::from_utf8_lossy(&out.expect("readelf (binutils) runs").stdout).into_owned();
    assert!(dynamic.contains("(RELR)"), "no DT_RELR entry:\n{dynamic}");
    let rela_bytes = dynamic
        .lines()
        .find(|l| l.contains("(RELASZ)"))
        .and_then(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok())
        .unwrap_or(0);
    assert!(rela_bytes < 64 * 1024, "RELA entries left: {rela_bytes} B");
}

/// Where the linker is lld (Rust's default since 1.90), the functions `link-order.txt` names
/// sit side by side in its order (`build/link.rs`): the ones this binary has appear at rising
/// addresses. Laid out as the compiler emits them, about half of the pairs would fall. Built
/// by another compiler than the list's, the names do not match: the check fails and says how
/// to write the list again.
#[test]
fn the_functions_that_run_at_start_up_are_laid_out_together() {
    let run = |program: &str, args: &[&str]| {
        let out = Command::new(program).args(args).output();
        let out = out.unwrap_or_else(|e| panic!("{program} (binutils) runs: {e}"));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    if !run("readelf", &["-p", ".comment", BIN]).contains("LLD") {
        eprintln!("not checked: not linked by lld, which alone takes a symbol order");
        return;
    }
    let symbols = run("nm", &["--defined-only", BIN]);
    let mut addresses: HashMap<&str, u64> = HashMap::new();
    for line in symbols.lines() {
        let mut parts = line.split(' ');
        if let (Some(address), Some("t" | "T"), Some(name)) =
            (parts.next(), parts.next(), parts.next())
        {
            addresses.insert(name, u64::from_str_radix(address, 16).unwrap_or(0));
        }
    }
    let listed: Vec<u64> = include_str!("../link-order.txt")
        .lines()
        .filter_map(|name| addresses.get(name).copied())
        .collect();
    assert!(
        listed.len() >= 100,
        "only {} functions of link-order.txt are in this binary: the list names symbols as \
         the compiler on its first line mangled them; write it again for this compiler with \
         `python3 bench/idle_code.py target/release/wxlink --write-order` (a release build)",
        listed.len()
    );
    let rising = listed.windows(2).filter(|pair| pair[0] < pair[1]).count();
    assert!(
        rising * 100 >= (listed.len() - 1) * 95,
        "{rising} of {} pairs in the listed order",
        listed.len() - 1
    );
}

fn http_get(addr: &str, path: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn sandbox_serves_the_fake_until_terminated() {
    let mut child = Command::new(BIN)
        .args(["sandbox", "--port", "0", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let info: serde_json::Value = serde_json::from_str(&line).expect("one JSON line");
    let base = info["base_url"].as_str().unwrap();
    assert!(base.starts_with("http://127.0.0.1:"), "{base}");
    assert_eq!(info["cdn_url"], format!("{base}c2c/"));
    let addr = base.trim_start_matches("http://").trim_end_matches('/');

    let health = http_get(addr, "/__fake/health");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.contains(r#""ok":true"#), "{health}");
    // The iLink API answers an unknown token the way the real server does.
    let mut s = TcpStream::connect(addr).unwrap();
    let body = r#"{"get_updates_buf":""}"#;
    write!(
        s,
        "POST /ilink/bot/getupdates HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.contains(r#""errcode":-14"#), "{answer}");

    // SIGTERM stops it cleanly.
    let pid = child.id().to_string();
    assert!(Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap()
        .success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut err = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut err)
        .unwrap();
    assert!(err.contains("stopped"), "{err}");
}

#[test]
fn invalid_session_names_are_refused_before_anything_goes_upstream() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let fake = rt.block_on(ilink_fake::FakeIlink::start()).unwrap();
    let dir = tempfile::tempdir().unwrap();
    for name in ["../evil", "a/b", "..", ".", "x\ty", &"x".repeat(65)] {
        let out = Command::new(BIN)
            .arg("-d")
            .arg(dir.path())
            .args([
                "--ilink-base",
                fake.base_url().as_str(),
                "--json",
                "login",
                name,
            ])
            .env_remove("WXLINK_HOME")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{name:?}");
        let answer: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
        assert_eq!(answer["error"]["kind"], "invalid", "{answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("invalid session name"), "{message}");
    }
    assert!(
        fake.requests(None).is_empty(),
        "no QR code was fetched: {:?}",
        fake.requests(None)
            .iter()
            .map(|r| &r.endpoint)
            .collect::<Vec<_>>()
    );
}
