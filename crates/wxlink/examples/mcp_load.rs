//! `tools/call` load against any MCP server's Streamable HTTP endpoint: N concurrent clients,
//! each with its own session, calling one tool in a loop for a fixed time. Used by
//! `bench/mcp.sh`, which points it at `wxlink mcp -t http` and at WeiLink 0.6.2's
//! `weilink mcp -t http` in the same run.
//!
//! ```text
//! cargo run --release -p wxlink --example mcp_load -- URL [CLIENTS] [SECS] [TOOL] [ARGS_JSON]
//! #   e.g. http://127.0.0.1:8000/mcp 16 5 sessions '{}'
//! ```
//!
//! Each client opens one keep-alive HTTP/1.1 connection and speaks raw JSON-RPC over it:
//! `initialize` → `notifications/initialized` → `tools/call` …, sending the `Mcp-Session-Id` it
//! was given, `MCP-Protocol-Version` and `Accept: application/json, text/event-stream`, and
//! reading either a JSON body or an SSE stream (plain or chunked). The HTTP client is a few
//! lines over a tokio socket rather than a general-purpose one, so that the load generator, which
//! shares the machine with the server under test, costs as little CPU as possible; it runs on a
//! current-thread runtime (at most one core). The first fifth of the time (at most 1 s) is a
//! warm-up that is not counted.
//!
//! Prints one JSON object: `{url, tool, clients, secs, calls, calls_per_sec, p50_ms, p99_ms,
//! errors}`. A call counts as an error when the answer is a JSON-RPC error or a tool result with
//! `isError: true`; the run fails when nothing but errors came back.
//!
//! REST mode, for the same figures over wxlink's REST API: give the server's base URL and, as
//! TOOL, `"GET /path?query"` or `"POST /path"` (ARGS_JSON is then the body). The bearer token
//! comes from `LOAD_TOKEN`. A call counts as an error when the status is not 2xx.
//!
//! ```text
//! LOAD_TOKEN=T mcp_load http://127.0.0.1:8000 16 5 'GET /api/v1/messages?limit=20'
//! ```
//!
//! In either mode, `{n}` in ARGS_JSON becomes a counter shared by all clients, modulo
//! `LOAD_ROTATE` (default 1): sends spread over many recipients that way (iLink allows ten
//! replies per message a user wrote).

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Protocol revision asked for in `initialize` (both servers under test speak it).
const PROTOCOL: &str = "2025-06-18";

/// Where to connect, from an `http://host:port/path` URL.
#[derive(Clone)]
struct Target {
    /// `host:port` (also the `Host` header).
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Target, Error> {
        let rest = url
            .strip_prefix("http://")
            .ok_or("only http:// URLs are supported")?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let authority = if authority.contains(':') {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        Ok(Target {
            authority,
            path: path.to_string(),
        })
    }
}

/// One HTTP response: status, the headers we care about, the body.
struct Response {
    status: u16,
    content_type: String,
    session_id: Option<String>,
    body: Vec<u8>,
}

/// One keep-alive HTTP/1.1 connection, reopened when the server closes it.
struct Conn {
    target: Target,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(target: Target) -> Conn {
        Conn {
            target,
            stream: None,
        }
    }

    /// POSTs a JSON body to the target's path and reads the whole response.
    async fn post(&mut self, body: &[u8], headers: &[(&str, &str)]) -> Result<Response, Error> {
        let path = self.target.path.clone();
        self.send("POST", &path, body, headers).await
    }

    /// Sends a request (a JSON body unless empty) and reads the whole response.
    async fn send(
        &mut self,
        method: &str,
        path: &str,
        body: &[u8],
        headers: &[(&str, &str)],
    ) -> Result<Response, Error> {
        if self.stream.is_none() {
            let tcp = TcpStream::connect(&self.target.authority).await?;
            tcp.set_nodelay(true)?;
            self.stream = Some(BufReader::new(tcp));
        }
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n\
             Accept: application/json, text/event-stream\r\n",
            self.target.authority,
        );
        if !body.is_empty() || method == "POST" {
            head.push_str(&format!(
                "Content-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            ));
        }
        for (k, v) in headers {
            head.push_str(k);
            head.push_str(": ");
            head.push_str(v);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let mut request = head.into_bytes();
        request.extend_from_slice(body);
        let result = self.exchange(&request).await;
        if result.as_ref().map_or(true, |(_, keep)| !keep) {
            self.stream = None;
        }
        result.map(|(r, _)| r)
    }

    /// Writes a request and reads its response; also says whether the connection stays open.
    async fn exchange(&mut self, request: &[u8]) -> Result<(Response, bool), Error> {
        let stream = self.stream.as_mut().ok_or("not connected")?;
        stream.get_mut().write_all(request).await?;
        let mut line = String::new();
        read_line(stream, &mut line).await?;
        let status: u16 = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut length, mut chunked, mut keep) = (None, false, true);
        let (mut content_type, mut session_id) = (String::new(), None);
        loop {
            read_line(stream, &mut line).await?;
            let header = line.trim_end();
            if header.is_empty() {
                break;
            }
            let Some((name, value)) = header.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = Some(value.parse::<usize>()?),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                "connection" => keep = !value.eq_ignore_ascii_case("close"),
                "content-type" => content_type = value.to_ascii_lowercase(),
                "mcp-session-id" => session_id = Some(value.to_string()),
                _ => {}
            }
        }
        let mut body = Vec::new();
        if chunked {
            loop {
                read_line(stream, &mut line).await?;
                let size = line.trim().split(';').next().unwrap_or("");
                let size = usize::from_str_radix(size, 16)
                    .map_err(|_| format!("bad chunk size {line:?}"))?;
                if size == 0 {
                    // Trailers, then the empty line.
                    loop {
                        read_line(stream, &mut line).await?;
                        if line.trim_end().is_empty() {
                            break;
                        }
                    }
                    break;
                }
                let start = body.len();
                body.resize(start + size, 0);
                stream.read_exact(&mut body[start..]).await?;
                read_line(stream, &mut line).await?;
            }
        } else if let Some(n) = length {
            body.resize(n, 0);
            stream.read_exact(&mut body).await?;
        } else if status != 204 && status != 304 {
            stream.read_to_end(&mut body).await?;
            keep = false;
        }
        Ok((
            Response {
                status,
                content_type,
                session_id,
                body,
            },
            keep,
        ))
    }
}

/// Reads one line (with its `\n`) into `line`; an EOF is an error.
async fn read_line(stream: &mut BufReader<TcpStream>, line: &mut String) -> Result<(), Error> {
    line.clear();
    if stream.read_line(line).await? == 0 {
        return Err("connection closed by the server".into());
    }
    Ok(())
}

/// The JSON-RPC response with this id in a JSON body or an SSE stream.
fn rpc_answer(resp: &Response, id: u64) -> Result<Value, Error> {
    if !(200..300).contains(&resp.status) {
        return Err(format!(
            "HTTP {}: {}",
            resp.status,
            String::from_utf8_lossy(&resp.body)
        )
        .into());
    }
    let matches = |v: &Value| v.get("id").and_then(Value::as_u64) == Some(id);
    if resp.content_type.starts_with("text/event-stream") {
        let text = std::str::from_utf8(&resp.body)?.replace("\r\n", "\n");
        for event in text.split("\n\n") {
            let data: Vec<&str> = event
                .lines()
                .filter_map(|l| l.strip_prefix("data:"))
                .map(|d| d.strip_prefix(' ').unwrap_or(d))
                .collect();
            if data.is_empty() {
                continue;
            }
            if let Ok(v) = serde_json::from_str::<Value>(&data.join("\n")) {
                if matches(&v) {
                    return Ok(v);
                }
            }
        }
        Err(format!("no answer to request {id} in the SSE stream").into())
    } else {
        let v: Value = serde_json::from_slice(&resp.body)?;
        if matches(&v) {
            Ok(v)
        } else {
            Err(format!("answer without id {id}: {v}").into())
        }
    }
}

/// One MCP client: a connection, a session id, the next request id.
struct Client {
    conn: Conn,
    session: Option<String>,
    next_id: u64,
}

impl Client {
    async fn connect(target: Target) -> Result<Client, Error> {
        let mut client = Client {
            conn: Conn::new(target),
            session: None,
            next_id: 1,
        };
        let init = client
            .request(
                "initialize",
                json!({"protocolVersion": PROTOCOL, "capabilities": {},
                       "clientInfo": {"name": "mcp_load", "version": "0"}}),
            )
            .await?;
        if init.get("result").is_none() {
            return Err(format!("initialize failed: {init}").into());
        }
        client.notify("notifications/initialized").await?;
        Ok(client)
    }

    async fn request(&mut self, method: &str, params: Value) -> Result<Value, Error> {
        let id = self.next_id;
        self.next_id += 1;
        let body = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        let body = serde_json::to_vec(&body)?;
        let resp = self.conn.post(&body, &headers(&self.session)).await?;
        if self.session.is_none() {
            self.session = resp.session_id.clone();
        }
        rpc_answer(&resp, id)
    }

    async fn notify(&mut self, method: &str) -> Result<(), Error> {
        let body = serde_json::to_vec(&json!({"jsonrpc": "2.0", "method": method}))?;
        let resp = self.conn.post(&body, &headers(&self.session)).await?;
        if !(200..300).contains(&resp.status) {
            return Err(format!("{method}: HTTP {}", resp.status).into());
        }
        Ok(())
    }
}

/// ARGS_JSON with `{n}` replaced by the next value of the shared counter.
fn rotate(args: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    static MODULO: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    if !args.contains("{n}") {
        return args.to_string();
    }
    let modulo = *MODULO.get_or_init(|| {
        std::env::var("LOAD_ROTATE")
            .ok()
            .and_then(|v| v.parse().ok())
            .filter(|&m| m > 0)
            .unwrap_or(1)
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % modulo;
    args.replace("{n}", &n.to_string())
}

/// `Authorization: Bearer $LOAD_TOKEN` when the variable is set.
fn auth() -> Option<&'static str> {
    static AUTH: std::sync::OnceLock<Option<String>> = std::sync::OnceLock::new();
    AUTH.get_or_init(|| {
        std::env::var("LOAD_TOKEN")
            .ok()
            .filter(|t| !t.is_empty())
            .map(|t| format!("Bearer {t}"))
    })
    .as_deref()
}

/// The MCP headers of every request after `initialize`'s answer gave a session id.
fn headers(session: &Option<String>) -> Vec<(&'static str, &str)> {
    let mut h = vec![("MCP-Protocol-Version", PROTOCOL)];
    if let Some(s) = session {
        h.push(("Mcp-Session-Id", s.as_str()));
    }
    if let Some(a) = auth() {
        h.push(("Authorization", a));
    }
    h
}

/// Whether a `tools/call` answer is a failure.
fn is_error(answer: &Value) -> bool {
    answer.get("error").is_some()
        || answer["result"]["isError"].as_bool() == Some(true)
        || answer.get("result").is_none()
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let usage = "usage: mcp_load URL [CLIENTS] [SECS] [TOOL] [ARGS_JSON]";
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or(usage)?;
    let target = Target::parse(&url)?;
    let clients: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1);
    let secs: f64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5.0);
    let tool = args.next().unwrap_or_else(|| "sessions".to_string());
    let arguments = args.next().unwrap_or_else(|| "{}".to_string());
    serde_json::from_str::<Value>(&arguments)?;
    let warmup = Duration::from_secs_f64((secs / 5.0).min(1.0));
    if let Some((method, path)) = tool
        .split_once(' ')
        .filter(|(m, _)| *m == "GET" || *m == "POST")
    {
        return rest(
            &url,
            target,
            clients,
            (warmup, Duration::from_secs_f64(secs)),
            (method.to_string(), path.to_string()),
            arguments,
        )
        .await;
    }
    let window = Duration::from_secs_f64(secs);

    // Every client starts its session first; the clock starts when all are ready.
    let mut ready = Vec::with_capacity(clients);
    for _ in 0..clients {
        ready.push(Client::connect(target.clone()).await?);
    }
    let start = Instant::now();
    let (measure_from, deadline) = (start + warmup, start + warmup + window);
    let mut tasks = Vec::with_capacity(clients);
    for mut client in ready {
        let (tool, arguments) = (tool.clone(), arguments.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            loop {
                let t = Instant::now();
                if t >= deadline {
                    break;
                }
                let arguments: Value = serde_json::from_str(&rotate(&arguments))?;
                let params = json!({"name": tool, "arguments": arguments});
                let answer = client.request("tools/call", params).await?;
                if t >= measure_from {
                    latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if is_error(&answer) {
                        errors += 1;
                        if errors == 1 {
                            eprintln!("mcp_load: first failed call: {answer}");
                        }
                    }
                }
            }
            Ok::<_, Error>((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    report(&url, &tool, clients, measure_from, latencies, errors)
}

/// Prints the figures of a run.
fn report(
    url: &str,
    tool: &str,
    clients: usize,
    measure_from: Instant,
    mut latencies: Vec<u32>,
    errors: u64,
) -> Result<(), Error> {
    // Calls still in flight at the deadline finished after it: measure up to the last one.
    let elapsed = (Instant::now() - measure_from).as_secs_f64();
    if latencies.is_empty() {
        return Err("no call completed in the measured window".into());
    }
    if errors as usize == latencies.len() {
        return Err(format!("all {errors} calls failed").into());
    }
    latencies.sort_unstable();
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p) as usize).min(latencies.len() - 1);
        latencies[i] as f64 / 1000.0
    };
    println!(
        "{}",
        json!({
            "url": url, "tool": tool, "clients": clients, "secs": elapsed,
            "calls": latencies.len(), "calls_per_sec": latencies.len() as f64 / elapsed,
            "p50_ms": pct(0.50), "p99_ms": pct(0.99), "errors": errors,
        })
    );
    Ok(())
}

/// REST mode: `clients` keep-alive connections each repeating one request.
async fn rest(
    url: &str,
    target: Target,
    clients: usize,
    (warmup, window): (Duration, Duration),
    (method, path): (String, String),
    body: String,
) -> Result<(), Error> {
    let auth = auth().unwrap_or_default().to_string();
    let start = Instant::now();
    let (measure_from, deadline) = (start + warmup, start + warmup + window);
    let mut tasks = Vec::with_capacity(clients);
    for _ in 0..clients {
        let mut conn = Conn::new(target.clone());
        let (method, path, body, auth) = (method.clone(), path.clone(), body.clone(), auth.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies: Vec<u32> = Vec::new();
            let mut errors = 0u64;
            loop {
                let t = Instant::now();
                if t >= deadline {
                    break;
                }
                let body = if method == "GET" {
                    String::new()
                } else {
                    rotate(&body)
                };
                let resp = conn
                    .send(
                        &method,
                        &path,
                        body.as_bytes(),
                        &[("Authorization", auth.as_str())],
                    )
                    .await?;
                if t >= measure_from {
                    latencies.push(t.elapsed().as_micros().min(u32::MAX as u128) as u32);
                    if !(200..300).contains(&resp.status) {
                        errors += 1;
                        if errors == 1 {
                            eprintln!(
                                "mcp_load: first failed request: HTTP {} {}",
                                resp.status,
                                String::from_utf8_lossy(&resp.body)
                            );
                        }
                    }
                }
            }
            Ok::<_, Error>((latencies, errors))
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (l, e) = task.await??;
        latencies.extend(l);
        errors += e;
    }
    report(
        url,
        &format!("{method} {path}"),
        clients,
        measure_from,
        latencies,
        errors,
    )
}
