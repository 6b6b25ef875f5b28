//! The iLink JSON API of the fake (spec §16.1): QR login, long-poll `getupdates`,
//! `sendmessage`, `getuploadurl`, `getconfig`, `sendtyping` and the notify calls. Every answer is
//! HTTP 200 with JSON, errors included, as the real server does.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Query, State as AxState};
use axum::http::{header, HeaderMap, Method, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ilink::crypto::{md5_hex, padded_size, AesKey};
use ilink::encode_uri_component;
use serde_json::{json, Value};

use crate::control::{fresh_user_id, QrStep};
use crate::state::{
    now_ms, opaque_param, QrLogin, RecordedRequest, SentMessage, State, TypingEvent, UploadSlot,
};
use crate::Shared;

type Shd = AxState<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route(
            "/ilink/bot/get_bot_qrcode",
            get(get_qrcode).post(get_qrcode),
        )
        .route("/ilink/bot/get_qrcode_status", get(qrcode_status))
        .route("/ilink/bot/getupdates", post(getupdates))
        .route("/ilink/bot/sendmessage", bot_endpoint(sendmessage))
        .route("/ilink/bot/getuploadurl", bot_endpoint(getuploadurl))
        .route("/ilink/bot/getconfig", bot_endpoint(getconfig))
        .route("/ilink/bot/sendtyping", bot_endpoint(sendtyping))
        .route("/ilink/bot/msg/notifystart", bot_endpoint(notify))
        .route("/ilink/bot/msg/notifystop", bot_endpoint(notify))
        .route("/q/{id}", get(scan_page))
        .with_state(shared)
}

/// The handler of an authenticated bot endpoint: runs under the state lock with the caller's
/// bot id and JSON body, after [`authed`] has recorded and checked the request.
type BotHandler = fn(&mut State, &Shared, String, Value) -> Response;

/// Routes `POST` to `handler` behind the shared record-and-authenticate prelude.
fn bot_endpoint(handler: BotHandler) -> axum::routing::MethodRouter<Arc<Shared>> {
    post(
        move |AxState(shared): Shd, method: Method, uri: Uri, headers: HeaderMap, body: Bytes| async move {
            let mut guard = shared.lock();
            match authed(&mut guard, &method, &uri, &headers, &body) {
                Ok((bot_id, req)) => handler(&mut guard, &shared, bot_id, req),
                Err(r) => *r,
            }
        },
    )
}

/// Short endpoint name for a request path (`getupdates`, `notifystart`, `cdn_upload`, …).
pub(crate) fn endpoint_name(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("/ilink/bot/") {
        rest.trim_start_matches("msg/").to_string()
    } else if let Some(rest) = path.strip_prefix("/c2c/") {
        format!("cdn_{rest}")
    } else {
        path.trim_start_matches('/').to_string()
    }
}

fn reply(v: Value) -> Response {
    Json(v).into_response()
}

fn fail(ret: i64, errmsg: &str) -> Response {
    reply(json!({"ret": ret, "errmsg": errmsg}))
}

/// Deviations from the modern request conventions (spec §3.2), recorded for every request and
/// enforced in strict mode.
fn header_problems(h: &HeaderMap, post: bool) -> Vec<String> {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok());
    let mut p = Vec::new();
    if post {
        if !get("content-type").is_some_and(|c| c.starts_with("application/json")) {
            p.push("Content-Type is not application/json".to_string());
        }
        if get("authorizationtype") != Some("ilink_bot_token") {
            p.push("AuthorizationType is not ilink_bot_token".to_string());
        }
        let uin_ok = get("x-wechat-uin")
            .and_then(|u| B64.decode(u).ok())
            .and_then(|d| String::from_utf8(d).ok())
            .is_some_and(|s| s.parse::<u32>().is_ok());
        if !uin_ok {
            p.push("X-WECHAT-UIN is not base64 of a decimal uint32".to_string());
        }
    }
    if get("ilink-app-id") != Some("bot") {
        p.push("iLink-App-Id is not bot".to_string());
    }
    if get("ilink-app-clientversion").is_none_or(|v| v.parse::<u32>().is_err()) {
        p.push("iLink-App-ClientVersion is not a decimal number".to_string());
    }
    p
}

fn record(
    st: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: Value,
    problems: Vec<String>,
) {
    if !st.config.record_requests {
        return;
    }
    st.record(RecordedRequest {
        endpoint: endpoint_name(uri.path()),
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: headers
            .iter()
            .map(|(k, v)| {
                (
                    k.as_str().to_string(),
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                )
            })
            .collect(),
        body,
        problems,
        at_ms: now_ms(),
    });
}

fn expired(st: &State) -> Response {
    if st.config.expired_ret_only {
        reply(json!({"ret": -14, "errmsg": "session timeout"}))
    } else if st.config.expired_with_ret {
        reply(json!({"ret": -14, "errcode": -14, "errmsg": "session timeout"}))
    } else {
        reply(json!({"errcode": -14, "errmsg": "session timeout"}))
    }
}

/// Records an authenticated POST and checks it: JSON body, strict headers, live token.
/// Returns the bot id and the body, or the answer to give instead.
fn authed(
    st: &mut State,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
) -> Result<(String, Value), Box<Response>> {
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let mut problems = header_problems(headers, true);
    if json
        .pointer("/base_info/channel_version")
        .and_then(Value::as_str)
        .is_none()
    {
        problems.push("base_info.channel_version missing".to_string());
    }
    let strict = st.config.strict_headers && !problems.is_empty();
    let why = problems.join("; ");
    record(st, method, uri, headers, json.clone(), problems);
    if !json.is_object() {
        return Err(Box::new(fail(-1, "invalid json body")));
    }
    if strict {
        return Err(Box::new(fail(-1, &format!("strict mode: {why}"))));
    }
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    match token.and_then(|t| st.live_bot(t)) {
        Some(bot) => Ok((bot.bot_id.clone(), json)),
        None => Err(Box::new(expired(st))),
    }
}

fn encode_cursor(seq: i64) -> String {
    B64.encode(format!(r#"{{"v":1,"seq":{seq}}}"#))
}

fn decode_cursor(cursor: &str) -> Option<i64> {
    let bytes = B64.decode(cursor.trim()).ok()?;
    let v: Value = serde_json::from_slice(&bytes).ok()?;
    (v.get("v")?.as_i64()? == 1).then_some(())?;
    v.get("seq")?.as_i64()
}

async fn getupdates(
    AxState(shared): Shd,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (bot_id, start, mut rx, hold) = {
        let mut st = shared.lock();
        let (bot_id, req) = match authed(&mut st, &method, &uri, &headers, &body) {
            Ok(x) => x,
            Err(r) => return *r,
        };
        let Some(inbox) = st.inboxes.get(&bot_id) else {
            return fail(-1, "no inbox");
        };
        let tail = inbox.messages.len() as i64;
        let cursor = req
            .get("get_updates_buf")
            .and_then(Value::as_str)
            .unwrap_or("");
        let start = match decode_cursor(cursor) {
            Some(seq) => seq.clamp(0, tail),
            None if st.config.empty_cursor_replays => 0,
            None => tail,
        };
        let rx = inbox.last_seq.subscribe();
        let hold = Duration::from_millis(st.config.hold_ms);
        let n = st.polls_in_flight.entry(bot_id.clone()).or_insert(0);
        *n += 1;
        let n = *n;
        let max = st.max_polls_in_flight.entry(bot_id.clone()).or_insert(0);
        *max = (*max).max(n);
        (bot_id, start, rx, hold)
    };
    // Counted out however this handler ends (including the client hanging up mid-hold).
    let _in_flight = InFlight {
        shared: shared.clone(),
        bot_id: bot_id.clone(),
    };
    if *rx.borrow_and_update() <= start && !hold.is_zero() {
        let _ = tokio::time::timeout(hold, rx.wait_for(|&seq| seq > start)).await;
    }
    let st = shared.lock();
    if st.bots.get(&bot_id).is_none_or(|b| b.expired) {
        return expired(&st);
    }
    let msgs: Vec<Value> = st
        .inboxes
        .get(&bot_id)
        .map(|inbox| {
            let from = start as usize;
            let to = inbox.messages.len().min(from + st.config.batch_max.max(1));
            inbox
                .messages
                .get(from..to)
                .map(<[Value]>::to_vec)
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let next = start + msgs.len() as i64;
    if !msgs.is_empty() {
        // Where an inbound message's path starts (bench/channel.py reads it).
        tracing::trace!(target: "ilink_fake::timing", bot = %bot_id, count = msgs.len(), "replied");
    }
    // Written by hand so that verbatim injections (`raw_text`) go out byte for byte.
    let msgs: Vec<String> = msgs.iter().map(crate::inject::wire_text).collect();
    let body = format!(
        r#"{{"ret":0,"msgs":[{}],"get_updates_buf":{},"longpolling_timeout_ms":{}}}"#,
        msgs.join(","),
        Value::from(encode_cursor(next)),
        st.config.longpolling_timeout_ms,
    );
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Decrements a bot's in-flight poll count when dropped.
struct InFlight {
    shared: Arc<Shared>,
    bot_id: String,
}

impl Drop for InFlight {
    fn drop(&mut self) {
        if let Some(n) = self.shared.lock().polls_in_flight.get_mut(&self.bot_id) {
            *n = n.saturating_sub(1);
        }
    }
}

fn item_type_ok(t: i64) -> bool {
    matches!(t, 1..=5 | 11 | 12)
}

fn sendmessage(st: &mut State, _: &Shared, bot_id: String, req: Value) -> Response {
    let msg = req.get("msg").cloned().unwrap_or(Value::Null);
    let to = msg
        .get("to_user_id")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if to.is_empty() {
        return fail(-1, "invalid arguments: msg.to_user_id is required");
    }
    if msg.get("message_type").and_then(Value::as_i64) != Some(2) {
        return fail(-1, "invalid arguments: message_type must be 2 (BOT)");
    }
    let items = msg
        .get("item_list")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if items.len() != 1 {
        return fail(-1, "invalid arguments: exactly one item per message");
    }
    let item = &items[0];
    let item_type = item.get("type").and_then(Value::as_i64).unwrap_or(0);
    if !item_type_ok(item_type) {
        return fail(-1, "invalid arguments: unknown item type");
    }
    let known = st
        .bots
        .get(&bot_id)
        .is_some_and(|b| b.known_users.contains(&to));
    if !known {
        return fail(-1, "invalid arguments: unknown to_user_id");
    }
    let text = item
        .pointer("/text_item/text")
        .and_then(Value::as_str)
        .map(str::to_string);
    if item_type == 1 && text.as_deref().unwrap_or("").len() > st.config.max_text_bytes {
        return fail(-2, "text too long");
    }
    let (mut media_decrypts, mut media_md5, mut key_form) = (None, None, None);
    if matches!(item_type, 2..=5) {
        let kind = [
            "",
            "",
            "image_item",
            "voice_item",
            "file_item",
            "video_item",
        ][item_type as usize];
        let media = item.get(kind).and_then(|i| i.get("media"));
        let param = media
            .and_then(|m| m.get("encrypt_query_param"))
            .and_then(Value::as_str);
        let Some(blob) = param.and_then(|p| st.blobs.get(p)) else {
            return fail(-1, "invalid arguments: media not found on the CDN");
        };
        let key_text = media
            .and_then(|m| m.get("aes_key"))
            .and_then(Value::as_str)
            .unwrap_or("");
        key_form = Some(key_form_of(key_text).to_string());
        let plain = AesKey::parse(key_text)
            .ok()
            .and_then(|k| k.decrypt(&blob.bytes).ok());
        media_decrypts = Some(plain.is_some());
        media_md5 = plain.map(|p| md5_hex(&p));
    }
    if st.config.rate_limited {
        return fail(-2, "rate limited");
    }
    let ctx = msg
        .get("context_token")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty());
    match ctx {
        Some(token) => {
            let (quota, ttl) = (st.config.quota_per_token, st.config.token_ttl_ms);
            let Some(c) = st.contexts.get_mut(token) else {
                return fail(-2, "prepare failed");
            };
            if c.bot_id != bot_id || c.user_id != to {
                return fail(-2, "prepare failed");
            }
            if ttl > 0 && now_ms() - c.created_ms > ttl as i64 {
                return fail(-2, "prepare failed");
            }
            if c.sends >= quota {
                return fail(-2, "prepare failed");
            }
            c.sends += 1;
        }
        None if st.config.require_context_token => return fail(-2, "prepare failed"),
        None => {}
    }
    let id = st.mint_message_id();
    st.sent.push(SentMessage {
        bot_id,
        msg,
        message_id: id.to_string(),
        to_user_id: to,
        item_type,
        text,
        media_decrypts,
        media_md5,
        aes_key_form: key_form,
        at_ms: now_ms(),
    });
    reply(json!({"ret": 0, "message_id": id}))
}

/// Which of the three key forms (spec §10.2) a text is.
fn key_form_of(text: &str) -> &'static str {
    if text.len() == 32 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        return "H";
    }
    match B64.decode(text).map(|b| b.len()) {
        Ok(16) => "B",
        Ok(32) => "D",
        _ => "?",
    }
}

fn is_hex32(v: Option<&str>) -> bool {
    v.is_some_and(|s| s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn getuploadurl(st: &mut State, shared: &Shared, bot_id: String, req: Value) -> Response {
    let s = |k: &str| req.get(k).and_then(Value::as_str);
    let n = |k: &str| req.get(k).and_then(Value::as_u64);
    if !is_hex32(s("filekey")) {
        return fail(-1, "filekey must be 32 hex chars");
    }
    if !is_hex32(s("aeskey")) {
        return fail(-1, "aeskey must be 32 hex chars");
    }
    let media_type = req.get("media_type").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=4).contains(&media_type) {
        return fail(-1, "media_type must be 1..4");
    }
    let (Some(rawsize), Some(filesize)) = (n("rawsize"), n("filesize")) else {
        return fail(-1, "rawsize and filesize are required");
    };
    if filesize != padded_size(rawsize) {
        return fail(-1, "filesize does not match rawsize");
    }
    if !is_hex32(s("rawfilemd5")) {
        return fail(-1, "rawfilemd5 must be 32 hex chars");
    }
    let to = s("to_user_id").unwrap_or("").to_string();
    if !st
        .bots
        .get(&bot_id)
        .is_some_and(|b| b.known_users.contains(&to))
    {
        return fail(-1, "invalid to_user_id");
    }
    let param = opaque_param("up");
    let filekey = s("filekey").unwrap_or_default().to_string();
    let full_url = format!(
        "{}upload?encrypted_query_param={}&filekey={}",
        shared.cdn,
        encode_uri_component(&param),
        encode_uri_component(&filekey)
    );
    st.slots.insert(
        param.clone(),
        UploadSlot {
            bot_id,
            filekey,
            aeskey: s("aeskey").unwrap_or_default().to_lowercase(),
            media_type,
            to_user_id: to,
            rawsize,
            rawfilemd5: s("rawfilemd5").unwrap_or_default().to_lowercase(),
            filesize,
        },
    );
    reply(
        json!({"ret": 0, "upload_full_url": full_url, "upload_param": param, "thumb_upload_param": ""}),
    )
}

fn getconfig(st: &mut State, _: &Shared, bot_id: String, req: Value) -> Response {
    let Some(user) = req
        .get("ilink_user_id")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    else {
        return fail(-2, "ilink_user_id required");
    };
    let ticket = format!("AARTBK8F{}", B64.encode(rand::random::<[u8; 18]>()));
    st.tickets
        .insert(ticket.clone(), (bot_id, user.to_string()));
    reply(json!({"ret": 0, "errmsg": "", "typing_ticket": ticket}))
}

fn sendtyping(st: &mut State, _: &Shared, bot_id: String, req: Value) -> Response {
    let Some(user) = req
        .get("ilink_user_id")
        .and_then(Value::as_str)
        .filter(|u| !u.is_empty())
    else {
        return fail(-2, "ilink_user_id required");
    };
    let ticket = req
        .get("typing_ticket")
        .and_then(Value::as_str)
        .unwrap_or("");
    if st.tickets.get(ticket) != Some(&(bot_id.clone(), user.to_string())) {
        return fail(-2, "invalid typing_ticket");
    }
    let status = req.get("status").and_then(Value::as_i64).unwrap_or(0);
    if !matches!(status, 1 | 2) {
        return fail(-1, "status must be 1 or 2");
    }
    st.typing.push(TypingEvent {
        bot_id,
        user_id: user.to_string(),
        status,
        at_ms: now_ms(),
    });
    reply(json!({"ret": 0}))
}

fn notify(_: &mut State, _: &Shared, _: String, _: Value) -> Response {
    reply(json!({"ret": 0, "errmsg": ""}))
}

async fn get_qrcode(
    AxState(shared): Shd,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut st = shared.lock();
    let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let problems = header_problems(&headers, method == Method::POST);
    record(&mut st, &method, &uri, &headers, json.clone(), problems);
    let local_tokens: Vec<String> = json
        .get("local_token_list")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    let qrcode = hex::encode(rand::random::<[u8; 16]>());
    let steps = match st.qr_scripts.pop_front() {
        Some(script) => script.into(),
        None if st.config.qr_auto_confirm => {
            vec![QrStep::named("scaned"), QrStep::named("confirmed")].into()
        }
        None => Default::default(),
    };
    st.qr.insert(
        qrcode.clone(),
        QrLogin {
            steps,
            local_tokens,
            scanned: false,
            redirected_to: None,
            wrong_codes: 0,
            done: false,
        },
    );
    let content = format!(
        "{}q/{}?qrcode={qrcode}&bot_type=3",
        shared.base,
        &qrcode[..6]
    );
    reply(json!({"ret": 0, "qrcode": qrcode, "qrcode_img_content": content}))
}

/// What a status poll should do.
enum Decision {
    Reply(Value),
    /// Hold for the QR hold time (a scripted `wait`), then answer `wait`.
    HoldThenWait,
    /// Nothing scripted and not scanned yet: hold until scanned or the hold time ends.
    HoldForScan,
}

fn status(s: &str) -> Value {
    json!({"ret": 0, "status": s})
}

fn decide(
    st: &mut State,
    shared: &Shared,
    qrcode: &str,
    code: Option<&str>,
    host: Option<&str>,
) -> Decision {
    let verify_attempts = st.config.verify_attempts;
    let Some(login) = st.qr.get_mut(qrcode) else {
        return Decision::Reply(status("expired"));
    };
    if login.done {
        return Decision::Reply(status("expired"));
    }
    if let Some(target) = &login.redirected_to {
        if host != Some(target.as_str()) {
            return Decision::Reply(
                json!({"ret": 0, "status": "scaned_but_redirect", "redirect_host": target}),
            );
        }
    }
    let Some(step) = login.steps.front().cloned() else {
        return Decision::HoldForScan;
    };
    let st_name = step.status.as_str();
    if st_name != "need_verifycode" {
        login.steps.pop_front();
    }
    match st_name {
        "wait" => Decision::HoldThenWait,
        "expired" | "verify_code_blocked" | "binded_redirect" => {
            login.done = true;
            Decision::Reply(status(st_name))
        }
        "scaned_but_redirect" => {
            let target = step
                .redirect_host
                .unwrap_or_else(|| format!("localhost:{}", shared.base.port().unwrap_or(80)));
            login.redirected_to = Some(target.clone());
            Decision::Reply(
                json!({"ret": 0, "status": "scaned_but_redirect", "redirect_host": target}),
            )
        }
        "need_verifycode" => {
            let want = step.verify_code.as_deref().unwrap_or("123456");
            match code {
                Some(c) if c == want => {
                    login.steps.pop_front();
                    Decision::Reply(status("scaned"))
                }
                Some(_) => {
                    login.wrong_codes += 1;
                    if login.wrong_codes >= verify_attempts {
                        login.done = true;
                        Decision::Reply(status("verify_code_blocked"))
                    } else {
                        Decision::Reply(status("need_verifycode"))
                    }
                }
                None => Decision::Reply(status("need_verifycode")),
            }
        }
        "confirmed" | "confirmed_without_bot_id" => {
            login.done = true;
            let local = login.local_tokens.clone();
            let user = step.user_id.clone().unwrap_or_else(fresh_user_id);
            if local
                .iter()
                .any(|t| st.live_bot(t).is_some_and(|b| b.user_id == user))
            {
                return Decision::Reply(status("binded_redirect"));
            }
            // Binding the user to a new bot unbinds it from the old ones (spec §5.6).
            for b in st.bots.values_mut() {
                if b.user_id == user {
                    b.expired = true;
                }
            }
            let bot = st.mint_bot(&user);
            let mut v = json!({"ret": 0, "status": "confirmed", "bot_token": bot.token,
                "ilink_user_id": user, "baseurl": shared.base.as_str().trim_end_matches('/')});
            if st_name == "confirmed" {
                v["ilink_bot_id"] = json!(bot.bot_id);
            }
            Decision::Reply(v)
        }
        other => Decision::Reply(status(other)),
    }
}

async fn qrcode_status(
    AxState(shared): Shd,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let qrcode = q.get("qrcode").cloned().unwrap_or_default();
    let code = q.get("verify_code").cloned();
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .map(str::to_string);
    let (decision, hold) = {
        let mut st = shared.lock();
        let problems = header_problems(&headers, false);
        record(&mut st, &method, &uri, &headers, Value::Null, problems);
        let d = decide(&mut st, &shared, &qrcode, code.as_deref(), host.as_deref());
        (d, Duration::from_millis(st.config.qr_hold_ms))
    };
    match decision {
        Decision::Reply(v) => reply(v),
        Decision::HoldThenWait => {
            tokio::time::sleep(hold).await;
            reply(status("wait"))
        }
        Decision::HoldForScan => {
            let _ = tokio::time::timeout(hold, shared.qr_changed.notified()).await;
            let mut st = shared.lock();
            match decide(&mut st, &shared, &qrcode, code.as_deref(), host.as_deref()) {
                Decision::Reply(v) => reply(v),
                _ => reply(status("wait")),
            }
        }
    }
}

/// What a phone does when it scans the QR: the sandbox's way to confirm a login by hand.
async fn scan_page(AxState(shared): Shd, Query(q): Query<HashMap<String, String>>) -> Response {
    let qrcode = q.get("qrcode").cloned().unwrap_or_default();
    let scanned = {
        let mut st = shared.lock();
        match st.qr.get_mut(&qrcode) {
            Some(login) if !login.done => {
                if login.steps.is_empty() {
                    login.steps = vec![QrStep::named("scaned"), QrStep::named("confirmed")].into();
                }
                login.scanned = true;
                true
            }
            _ => false,
        }
    };
    shared.qr_changed.notify_waiters();
    let text = if scanned {
        "Scanned and confirmed on the fake phone. Your login completes in a moment."
    } else {
        "This QR code is unknown or already used. Start the login again."
    };
    Html(format!(
        "<!doctype html><meta charset=utf-8><title>wxlink sandbox</title><p>{text}</p>"
    ))
    .into_response()
}
