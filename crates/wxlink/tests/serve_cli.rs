//! `wxlink serve`, `wxlink mcp -t http --admin` / `--admin-port` and `wxlink openapi` as a user
//! runs them: the panel and the REST API where the banner says, the panel's pages with their
//! security headers, and nothing of the panel without `--admin`.

use std::process::Command;

use serde_json::Value;

mod common;
use common::http::*;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

const AUTH: (&str, &str) = ("Authorization", "Bearer s3cret-token-for-tests");

fn assert_panel(addr: &str) {
    let page = request(addr, "GET", "/admin/", &[], "");
    assert_eq!(page.status, 200, "{}", page.head);
    assert!(page.body.contains("<html"), "{}", page.body);
    let csp = page.header("content-security-policy").expect("a CSP");
    assert!(
        csp.contains("script-src 'self'") && !csp.contains("unsafe"),
        "{csp}"
    );
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    let etag = page.header("etag").expect("an ETag");
    let again = request(addr, "GET", "/admin/", &[("If-None-Match", &etag)], "");
    assert_eq!(again.status, 304);
    let js = request(addr, "GET", "/admin/app.js", &[], "");
    assert_eq!(js.status, 200);
    assert!(js.header("content-type").unwrap().contains("javascript"));
    assert_eq!(request(addr, "GET", "/admin/nope.js", &[], "").status, 404);
    assert_eq!(request(addr, "GET", "/admin/.gitkeep", &[], "").status, 404);
    let status = request(addr, "GET", "/api/v1/status", &[AUTH], "");
    assert_eq!(status.status, 200, "{}", status.body);
}

#[test]
fn mcp_with_admin_port_serves_the_panel_on_both_ports() {
    let dir = tempfile::tempdir().unwrap();
    let admin = free_port();
    let server = Server::start(
        dir.path(),
        &["--token", TOKEN, "--admin-port", &admin.to_string()],
    );
    assert_panel(&server.addr);
    assert_panel(&format!("127.0.0.1:{admin}"));
    server.stop();
}

#[test]
fn without_admin_there_is_no_panel_but_the_rest_api() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &["--token", TOKEN]);
    assert_eq!(request(&server.addr, "GET", "/admin/", &[], "").status, 404);
    let status = request(&server.addr, "GET", "/api/v1/status", &[AUTH], "");
    assert_eq!(status.status, 200);
    server.stop();
}

#[test]
fn serve_runs_everything_on_one_port() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["serve", "-p", "0", "--token", TOKEN])
        .env_remove("WXLINK_HOME")
        .stderr(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stderr));
    let mut banner = String::new();
    while !banner.contains("health:") {
        banner.push_str(&lines.next().unwrap().unwrap());
        banner.push('\n');
    }
    let addr = banner
        .split("listening on http://")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(
        banner.contains("/admin/") && banner.contains("/api/v1"),
        "{banner}"
    );
    assert_panel(&addr);
    let init = request(
        &addr,
        "POST",
        "/mcp",
        &[AUTH, MCP_ACCEPT],
        &initialize_body(),
    );
    assert_eq!(init.status, 200);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn openapi_prints_the_document_and_stdio_refuses_the_panel() {
    let out = Command::new(BIN).arg("openapi").output().unwrap();
    assert!(out.status.success());
    let doc: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["paths"]["/messages"]["post"].is_object());
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("-d")
        .arg(dir.path())
        .args(["mcp", "--admin"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("wxlink serve"));
    assert!(out.stdout.is_empty(), "stdio purity: nothing on stdout");
}
