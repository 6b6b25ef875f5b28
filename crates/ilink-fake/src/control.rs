//! The control API under `/__fake/` — how tests in any language steer the fake — and the types
//! it speaks. Every route answers JSON; errors are HTTP 4xx with `{"error": "…"}`.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /__fake/health` | `{"ok": true, "base_url", "cdn_url", "polls_in_flight"}` (getupdates calls being held or answered now) |
//! | `GET /__fake/config`, `POST /__fake/config` | read / merge [`FakeConfig`] switches |
//! | `POST /__fake/bots` `{"user_id"?}` | create a logged-in bot without a QR flow |
//! | `GET /__fake/bots` | all bots (id, token, user, expired) |
//! | `POST /__fake/bots/{bot_id}/expire` | the bot's token answers `-14` everywhere from now on |
//! | `POST /__fake/inbound` [`InboundSpec`] | queue an inbound message; answers it as delivered |
//! | `POST /__fake/inbound/bulk` `{"messages": [InboundSpec…]}` | queue many (load tests, ≤ 100,000, every bot checked first); answers `{"count", "message_ids"}` |
//! | `GET /__fake/delivered/{bot_id}` | every message queued for a bot |
//! | `POST /__fake/qr/script` `{"steps": [QrStep…]}` | status sequence of the next QR code |
//! | `POST /__fake/faults` `{"endpoint", "fault", "times", "bot_id"?}` | arm a [`FaultSpec`] (only for one bot's requests when `bot_id` is given) |
//! | `GET /__fake/requests?endpoint=` | recorded requests |
//! | `GET /__fake/sent` | accepted `sendmessage` calls, media checked |
//! | `GET /__fake/uploads`, `GET /__fake/uploads/{n}/plain` | uploads, and one's decrypted bytes |
//! | `GET /__fake/typing` | `sendtyping` calls |
//! | `POST /__fake/reset` | forget everything but the switches |

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{DefaultBodyLimit, Path, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::inject::{inject, queue, InboundSpec, InjectError};
use crate::state::FakeConfig;
use crate::Shared;

/// One scripted answer of `get_qrcode_status`. Written as a bare status string (`"scaned"`) or
/// an object with options.
///
/// Statuses: `wait` (hold, then answer wait), `scaned`, `confirmed`, `confirmed_without_bot_id`,
/// `expired`, `scaned_but_redirect` (later polls must arrive at `redirect_host`, default
/// `localhost:PORT`), `need_verifycode` (answered until the right `verify_code`, default
/// `123456`, is sent; wrong codes count toward `verify_code_blocked`), `verify_code_blocked`,
/// `binded_redirect`; anything else is answered verbatim.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(from = "QrStepRepr")]
pub struct QrStep {
    /// The status.
    pub status: String,
    /// For `confirmed`: the WeChat user who scans (default: a fresh one).
    pub user_id: Option<String>,
    /// For `need_verifycode`: the code the phone shows.
    pub verify_code: Option<String>,
    /// For `scaned_but_redirect`: where to continue.
    pub redirect_host: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum QrStepRepr {
    Name(String),
    Full {
        status: String,
        #[serde(default)]
        user_id: Option<String>,
        #[serde(default)]
        verify_code: Option<String>,
        #[serde(default)]
        redirect_host: Option<String>,
    },
}

impl From<QrStepRepr> for QrStep {
    fn from(r: QrStepRepr) -> Self {
        match r {
            QrStepRepr::Name(status) => QrStep::named(&status),
            QrStepRepr::Full {
                status,
                user_id,
                verify_code,
                redirect_host,
            } => QrStep {
                status,
                user_id,
                verify_code,
                redirect_host,
            },
        }
    }
}

impl QrStep {
    /// A step with just a status.
    pub fn named(status: &str) -> Self {
        QrStep {
            status: status.to_string(),
            ..Default::default()
        }
    }

    /// `confirmed` for a given user.
    pub fn confirmed_as(user_id: &str) -> Self {
        QrStep {
            status: "confirmed".into(),
            user_id: Some(user_id.into()),
            ..Default::default()
        }
    }
}

/// A transport fault. JSON: `{"status": 500}`, `"malformed"`, `"truncated"`, `"drop"`,
/// `{"delay_ms": 3000}`, `"no_param"`, `{"cdn_error": {"status": 400, "message": "…"}}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultSpec {
    /// Answer with this HTTP status and an HTML body.
    Status(u16),
    /// HTTP 200 whose body is not JSON.
    Malformed,
    /// HTTP 200 with JSON cut off in the middle.
    Truncated,
    /// Send the headers and part of the body, then drop the connection.
    Drop,
    /// Hold the request this long before handling it.
    DelayMs(u64),
    /// Handle the CDN upload but leave `x-encrypted-param` out of the answer.
    NoParam,
    /// Answer a CDN request with this status and `x-error-message`.
    CdnError {
        /// HTTP status.
        status: u16,
        /// `x-error-message`.
        message: String,
    },
}

/// A fresh user id of the observed shape (`o9cq80…@im.wechat`).
pub fn fresh_user_id() -> String {
    format!(
        "o9cq80{}@im.wechat",
        hex::encode(rand::random::<[u8; 11]>())
    )
}

/// Injects a message and schedules its duplicate, if asked for.
pub(crate) fn inject_and_schedule(
    shared: &Arc<Shared>,
    spec: &InboundSpec,
) -> Result<Value, InjectError> {
    let message = {
        let mut st = shared.lock();
        inject(&mut st, &shared.cdn, spec)?
    };
    if let Some(dup) = &spec.duplicate {
        let shared = shared.clone();
        let dup = dup.clone();
        let mut copy = message.clone();
        let bot_id = message["to_user_id"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(dup.after_ms)).await;
            let mut st = shared.lock();
            if let Value::Object(m) = &mut copy {
                m.remove("seq");
                if dup.new_id {
                    let id = st.mint_message_id();
                    m.insert("message_id".into(), json!(id));
                }
            }
            queue(&mut st, &bot_id, &mut copy);
        });
    }
    Ok(message)
}

fn bad(status: StatusCode, msg: impl std::fmt::Display) -> Response {
    (status, Json(json!({"error": msg.to_string()}))).into_response()
}

type Shd = AxState<Arc<Shared>>;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/__fake/health", get(health))
        .route("/__fake/config", get(get_config).post(set_config))
        .route("/__fake/bots", get(list_bots).post(create_bot))
        .route("/__fake/bots/{bot_id}/expire", post(expire_bot))
        .route("/__fake/inbound", post(inbound))
        .route(
            "/__fake/inbound/bulk",
            post(inbound_bulk).layer(DefaultBodyLimit::max(MAX_BULK_BYTES)),
        )
        .route("/__fake/delivered/{bot_id}", get(delivered))
        .route("/__fake/qr/script", post(qr_script))
        .route("/__fake/faults", post(arm_fault))
        .route("/__fake/requests", get(requests))
        .route("/__fake/sent", get(sent))
        .route("/__fake/uploads", get(uploads))
        .route("/__fake/uploads/{n}/plain", get(upload_plain))
        .route("/__fake/typing", get(typing))
        .route("/__fake/reset", post(reset))
        .with_state(shared)
}

async fn health(AxState(s): Shd) -> Response {
    let polls: u32 = s.lock().polls_in_flight.values().sum();
    Json(json!({
        "ok": true,
        "base_url": s.base.as_str(),
        "cdn_url": s.cdn.as_str(),
        "polls_in_flight": polls,
    }))
    .into_response()
}

async fn get_config(AxState(s): Shd) -> Response {
    Json(s.lock().config.clone()).into_response()
}

/// Merges the given keys into the current switches.
async fn set_config(AxState(s): Shd, Json(patch): Json<Value>) -> Response {
    let mut st = s.lock();
    let mut current = serde_json::to_value(&st.config).unwrap_or_default();
    let (Value::Object(cur), Value::Object(p)) = (&mut current, patch) else {
        return bad(
            StatusCode::BAD_REQUEST,
            "config patch must be a JSON object",
        );
    };
    for (k, v) in p {
        if !cur.contains_key(&k) {
            return bad(StatusCode::BAD_REQUEST, format!("unknown switch {k:?}"));
        }
        cur.insert(k, v);
    }
    match serde_json::from_value::<FakeConfig>(current) {
        Ok(cfg) => {
            st.config = cfg.clone();
            Json(cfg).into_response()
        }
        Err(e) => bad(StatusCode::BAD_REQUEST, e),
    }
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct NewBot {
    user_id: Option<String>,
}

async fn create_bot(AxState(s): Shd, body: Option<Json<NewBot>>) -> Response {
    let user = body.and_then(|b| b.0.user_id).unwrap_or_else(fresh_user_id);
    let bot = s.lock().mint_bot(&user);
    let mut v = serde_json::to_value(&bot).unwrap_or_default();
    v["max_concurrent_polls"] = json!(0);
    v["base_url"] = json!(s.base.as_str());
    v["cdn_url"] = json!(s.cdn.as_str());
    Json(v).into_response()
}

async fn list_bots(AxState(s): Shd) -> Response {
    let st = s.lock();
    let bots: Vec<_> = st
        .bot_order
        .iter()
        .filter_map(|id| st.bots.get(id))
        .collect();
    Json(json!(bots)).into_response()
}

async fn expire_bot(AxState(s): Shd, Path(bot_id): Path<String>) -> Response {
    match s.lock().bots.get_mut(&bot_id) {
        Some(b) => {
            b.expired = true;
            Json(json!({"ok": true})).into_response()
        }
        None => bad(StatusCode::NOT_FOUND, format!("unknown bot {bot_id}")),
    }
}

async fn inbound(AxState(s): Shd, Json(spec): Json<InboundSpec>) -> Response {
    // Where the fake has the message (bench/channel.py splits the inject leg here).
    tracing::trace!(target: "ilink_fake::timing", "received");
    match inject_and_schedule(&s, &spec) {
        Ok(m) => {
            // WeChat delivers a message whatever its sender is told: the held poll the inject
            // woke answers first, before this answer to the injector is built and written.
            tokio::task::yield_now().await;
            let id = m
                .get("message_id")
                .map(|v| v.to_string())
                .unwrap_or_default();
            Json(json!({"message": m, "message_id": id})).into_response()
        }
        Err(e @ InjectError::NoBot(_)) => bad(StatusCode::NOT_FOUND, e),
        Err(e) => bad(StatusCode::BAD_REQUEST, e),
    }
}

/// Most messages one bulk inject takes.
const MAX_BULK: usize = 100_000;
/// Largest bulk inject body (the usual limit is 2 MB).
const MAX_BULK_BYTES: usize = 64 << 20;

#[derive(Deserialize)]
struct Bulk {
    messages: Vec<InboundSpec>,
}

/// Many inbound messages in one request (load tests): all or nothing is checked first (every
/// bot must exist), then each is injected as `/__fake/inbound` would. Answers the count and
/// the `message_id`s in order.
async fn inbound_bulk(AxState(s): Shd, Json(bulk): Json<Bulk>) -> Response {
    if bulk.messages.len() > MAX_BULK {
        return bad(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("at most {MAX_BULK} messages per bulk inject"),
        );
    }
    {
        let st = s.lock();
        if let Some(missing) = bulk
            .messages
            .iter()
            .filter_map(|m| m.bot_id.as_deref())
            .find(|b| !st.bots.contains_key(*b))
        {
            return bad(StatusCode::NOT_FOUND, format!("unknown bot {missing}"));
        }
    }
    let mut ids = Vec::with_capacity(bulk.messages.len());
    for spec in &bulk.messages {
        match inject_and_schedule(&s, spec) {
            Ok(m) => ids.push(m.get("message_id").cloned().unwrap_or(Value::Null)),
            Err(e @ InjectError::NoBot(_)) => return bad(StatusCode::NOT_FOUND, e),
            Err(e) => return bad(StatusCode::BAD_REQUEST, e),
        }
    }
    Json(json!({"count": ids.len(), "message_ids": ids})).into_response()
}

async fn delivered(AxState(s): Shd, Path(bot_id): Path<String>) -> Response {
    let st = s.lock();
    match st.inboxes.get(&bot_id) {
        Some(inbox) => Json(json!(inbox.messages)).into_response(),
        None => bad(StatusCode::NOT_FOUND, format!("unknown bot {bot_id}")),
    }
}

#[derive(Deserialize)]
struct Script {
    steps: Vec<QrStep>,
}

async fn qr_script(AxState(s): Shd, Json(script): Json<Script>) -> Response {
    s.lock().qr_scripts.push_back(script.steps);
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
struct ArmFault {
    #[serde(default = "star")]
    endpoint: String,
    fault: FaultSpec,
    #[serde(default = "one")]
    times: u32,
    #[serde(default)]
    bot_id: Option<String>,
}

fn star() -> String {
    "*".into()
}

fn one() -> u32 {
    1
}

async fn arm_fault(AxState(s): Shd, Json(f): Json<ArmFault>) -> Response {
    s.lock().faults.push(crate::state::ArmedFault {
        endpoint: f.endpoint,
        bot_id: f.bot_id,
        fault: f.fault,
        remaining: f.times,
    });
    Json(json!({"ok": true})).into_response()
}

async fn requests(AxState(s): Shd, Query(q): Query<HashMap<String, String>>) -> Response {
    let st = s.lock();
    let want = q.get("endpoint");
    let list: Vec<_> = st
        .requests
        .iter()
        .filter(|r| want.is_none_or(|e| &r.endpoint == e))
        .collect();
    Json(json!(list)).into_response()
}

async fn sent(AxState(s): Shd) -> Response {
    Json(json!(s.lock().sent)).into_response()
}

async fn uploads(AxState(s): Shd) -> Response {
    Json(json!(s.lock().uploads)).into_response()
}

async fn upload_plain(AxState(s): Shd, Path(n): Path<usize>) -> Response {
    let plain = s.lock().uploads.get(n).map(|u| u.plain.clone());
    match plain {
        Some(bytes) => bytes.into_response(),
        None => bad(StatusCode::NOT_FOUND, format!("no upload #{n}")),
    }
}

async fn typing(AxState(s): Shd) -> Response {
    Json(json!(s.lock().typing)).into_response()
}

async fn reset(AxState(s): Shd) -> Response {
    s.lock().reset();
    Json(json!({"ok": true})).into_response()
}
