//! `/api/v1/logins`: QR logins from a browser or a script — start one, follow it (long poll or
//! SSE), fetch its QR code as SVG or PNG, pass the verification code the phone shows. The
//! login itself runs in the service ([`Service::login`]); this only shows it.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::Stream;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiError, ApiResult, Body, Params, Problem, Segment};
use crate::error::AppError;
use crate::model::{BackendKind, Secret};
use crate::service::login::{LoginPhase, LoginRequest, LoginStart, LoginState, PendingLogin};
use crate::service::Service;
use crate::upstream::QrRenewal;
use crate::views::SessionOut;

/// Longest wait of a long poll.
const MAX_WAIT: Duration = Duration::from_secs(60);

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new()
        .routes(routes!(start, list))
        .routes(routes!(get_state, cancel))
        .routes(routes!(events))
        .routes(routes!(qr_svg))
        .routes(routes!(qr_png))
        .routes(routes!(code))
}

/// What to log in.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginBody {
    /// `ilink` (the default) or `wechaty`.
    pub backend: Option<String>,
    /// The session name (default: a new or the default session).
    pub session: Option<String>,
    /// Log in again even if the session is connected.
    #[serde(default)]
    pub force: bool,
    /// Wechaty: the puppet service, `HOST:PORT` (or `https://HOST:PORT`).
    pub endpoint: Option<String>,
    /// Wechaty: its token.
    #[schema(value_type = Option<String>)]
    pub token: Option<Secret<String>>,
}

/// The QR code of a login.
#[derive(Debug, Serialize, ToSchema)]
pub struct QrOut {
    /// What the phone scans (open it in WeChat on the phone itself).
    pub content: String,
    /// 1 for the first code, one more for each replacement.
    pub generation: u32,
    /// Why the last code was replaced: `expired` or `verify_code_blocked`.
    pub renewal: Option<String>,
    /// The code as SVG.
    pub svg_url: String,
    /// The code as PNG.
    pub png_url: String,
}

/// Where a login stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginOut {
    /// `ilink` or `wechaty`.
    pub backend: String,
    /// The session it logs in.
    pub session: String,
    /// `starting`, `waiting_for_scan`, `scanned`, `need_verify_code`, `confirmed`,
    /// `already_bound` or `failed`.
    pub phase: String,
    /// `need_verify_code`: the last code was wrong.
    pub wrong_code: bool,
    /// `failed`: why.
    pub error: Option<String>,
    /// The current QR code.
    pub qr: Option<QrOut>,
    /// Grows with every change: pass it as `after_version` to wait for the next.
    pub version: u64,
    /// `confirmed`: the session, logged in.
    pub confirmed: Option<SessionOut>,
}

/// The answer to starting a login.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum StartOut {
    /// A login started (202) or was already running (200).
    Login(Box<LoginOut>),
    /// The session is connected and `force` was not given: nothing started.
    AlreadyLoggedIn {
        /// The session.
        already_logged_in: Box<SessionOut>,
    },
}

fn phase_name(phase: &LoginPhase) -> &'static str {
    match phase {
        LoginPhase::Starting => "starting",
        LoginPhase::WaitingForScan => "waiting_for_scan",
        LoginPhase::Scanned => "scanned",
        LoginPhase::NeedVerifyCode { .. } => "need_verify_code",
        LoginPhase::Confirmed(_) => "confirmed",
        LoginPhase::AlreadyBound => "already_bound",
        LoginPhase::Failed(_) => "failed",
    }
}

fn view(pending: &PendingLogin, state: &LoginState) -> LoginOut {
    let backend = pending.backend.as_str();
    LoginOut {
        backend: backend.to_string(),
        session: pending.session.clone(),
        phase: phase_name(&state.phase).to_string(),
        wrong_code: matches!(state.phase, LoginPhase::NeedVerifyCode { wrong: true }),
        error: match &state.phase {
            LoginPhase::Failed(e) => Some(e.clone()),
            _ => None,
        },
        qr: state.qr.as_ref().map(|qr| QrOut {
            content: qr.content.clone(),
            generation: qr.generation,
            renewal: qr.renewal.map(|r| {
                match r {
                    QrRenewal::Expired => "expired",
                    QrRenewal::VerifyCodeBlocked => "verify_code_blocked",
                }
                .to_string()
            }),
            svg_url: format!("/api/v1/logins/{backend}/qr.svg?g={}", qr.generation),
            png_url: format!("/api/v1/logins/{backend}/qr.png?g={}", qr.generation),
        }),
        version: state.version,
        confirmed: match &state.phase {
            LoginPhase::Confirmed(record) => SessionOut::from_record(record, None).ok(),
            _ => None,
        },
    }
}

fn backend_of(name: &str) -> Result<BackendKind, ApiError> {
    BackendKind::parse(name.trim()).ok_or_else(|| {
        ApiError::invalid(format!(
            "unknown backend {name:?}: use \"ilink\" or \"wechaty\""
        ))
    })
}

async fn pending(service: &Service, backend: &str) -> Result<Arc<PendingLogin>, ApiError> {
    let kind = backend_of(backend)?;
    service.pending_login(kind).await.ok_or_else(|| {
        ApiError::App(AppError::NotFound {
            what: "pending login",
            name: kind.as_str().into(),
        })
    })
}

/// How long a login that has ended stays visible to other watchers (another tab, a script)
/// after it was first reported; a new start replaces it at once.
const LINGER: Duration = Duration::from_secs(30);

/// Reports `state`; a final one is forgotten a little later (see [`LINGER`]).
async fn report(
    service: &Arc<Service>,
    pending: &Arc<PendingLogin>,
    state: &LoginState,
) -> LoginOut {
    if state.phase.is_final() {
        let (service, pending) = (service.clone(), pending.clone());
        tokio::spawn(async move {
            tokio::time::sleep(LINGER).await;
            service.finish_login(&pending).await;
        });
    }
    view(pending, state)
}

/// The logins under way.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginsOut {
    /// One per backend at most, iLink first; ended ones stay listed for a short while.
    pub logins: Vec<LoginOut>,
}

/// The logins under way (or just ended).
#[utoipa::path(get, path = "/logins", operation_id = "listLogins", tag = "logins",
    responses((status = 200, body = LoginsOut), (status = 401, body = Problem)))]
async fn list(State(service): State<Arc<Service>>) -> Json<LoginsOut> {
    let logins = service
        .pending_logins()
        .await
        .iter()
        .map(|p| view(p, &p.state()))
        .collect();
    Json(LoginsOut { logins })
}

/// Cancels the backend's login.
#[utoipa::path(delete, path = "/logins/{backend}", operation_id = "cancelLogin", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty")),
    responses((status = 200, description = "The login, ended", body = LoginOut),
        (status = 404, body = Problem)))]
async fn cancel(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
) -> ApiResult<Json<LoginOut>> {
    let pending = service.cancel_login(backend_of(&backend)?).await?;
    Ok(Json(view(&pending, &pending.state())))
}

/// Starts a QR login (or joins the one running for the backend).
#[utoipa::path(post, path = "/logins", operation_id = "startLogin", tag = "logins", request_body = LoginBody,
    responses((status = 202, description = "Started", body = LoginOut),
        (status = 200, description = "Already running, or already logged in", body = StartOut),
        (status = 400, body = Problem)))]
async fn start(
    State(service): State<Arc<Service>>,
    Body(body): Body<LoginBody>,
) -> ApiResult<Response> {
    let backend = match body.backend.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(b) => Some(backend_of(b)?),
    };
    let blank = |s: Option<String>| s.map(|v| v.trim().to_string()).filter(|v| !v.is_empty());
    let req = LoginRequest {
        backend,
        session: blank(body.session),
        force: body.force,
        endpoint: blank(body.endpoint),
        token: body.token.filter(|t| !t.expose_str().trim().is_empty()),
        deadline: None,
    };
    // A login that ended but was never reported is forgotten first: this start is a new one.
    let mut started = service.login(req.clone()).await?;
    if let LoginStart::Joined { pending, .. } = &started {
        if pending.state().phase.is_final() {
            service.finish_login(pending).await;
            started = service.login(req).await?;
        }
    }
    Ok(match started {
        LoginStart::AlreadyLoggedIn(record) => Json(StartOut::AlreadyLoggedIn {
            already_logged_in: Box::new(SessionOut::from_record(&record, None)?),
        })
        .into_response(),
        LoginStart::Started(pending) => {
            (StatusCode::ACCEPTED, Json(view(&pending, &pending.state()))).into_response()
        }
        LoginStart::Joined {
            pending,
            other: true,
        } => {
            return Err(Problem::new(
                StatusCode::CONFLICT,
                "conflict",
                format!(
                    "a {} login of session {:?} is under way: finish it, or cancel it with \
                     DELETE {}/logins/{}, then start this one",
                    pending.backend.label(),
                    pending.session,
                    super::BASE,
                    pending.backend.as_str()
                ),
            )
            .into())
        }
        LoginStart::Joined { pending, .. } => {
            Json(view(&pending, &pending.state())).into_response()
        }
    })
}

/// How long to wait for a change.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Answer once the version is past this one.
    pub after_version: Option<u64>,
    /// Wait at most this many seconds for that (default 0, at most 60).
    pub wait: Option<f64>,
}

/// Where the backend's login stands; waits for a change when asked.
#[utoipa::path(get, path = "/logins/{backend}", operation_id = "getLogin", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty"), WaitQuery),
    responses((status = 200, body = LoginOut), (status = 404, body = Problem)))]
async fn get_state(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
    Params(q): Params<WaitQuery>,
) -> ApiResult<Json<LoginOut>> {
    let pending = pending(&service, &backend).await?;
    let wait = q.wait.unwrap_or(0.0);
    if !wait.is_finite() || wait < 0.0 {
        return Err(ApiError::invalid("wait: give a number of seconds ≥ 0"));
    }
    let wait = Duration::from_secs_f64(wait).min(MAX_WAIT);
    let mut rx = pending.watch();
    if let Some(after) = q.after_version {
        let _ = tokio::time::timeout(wait, async {
            while rx.borrow_and_update().version <= after && !rx.borrow().phase.is_final() {
                if rx.changed().await.is_err() {
                    break;
                }
            }
        })
        .await;
    }
    let state = rx.borrow().clone();
    Ok(Json(report(&service, &pending, &state).await))
}

/// Every change of the backend's login as server-sent `state` events, until it ends.
#[utoipa::path(get, path = "/logins/{backend}/events", operation_id = "followLogin", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty")),
    responses((status = 200, description = "`text/event-stream` of `state` events (data: a LoginOut)",
        content_type = "text/event-stream", body = String), (status = 404, body = Problem)))]
async fn events(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let pending = pending(&service, &backend).await?;
    let stream = state_stream(service, pending);
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()))
}

fn state_stream(
    service: Arc<Service>,
    pending: Arc<PendingLogin>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    let rx = pending.watch();
    futures_util::stream::unfold(
        (service, pending, rx, false, true),
        |(service, pending, mut rx, done, first)| async move {
            if done {
                return None;
            }
            if !first && rx.changed().await.is_err() {
                return None;
            }
            let state = rx.borrow_and_update().clone();
            let out = report(&service, &pending, &state).await;
            let event = SseEvent::default()
                .event("state")
                .json_data(&out)
                .unwrap_or_else(|_| SseEvent::default().event("state"));
            let end = state.phase.is_final();
            Some((Ok(event), (service, pending, rx, end, false)))
        },
    )
}

async fn qr_content(service: &Service, backend: &str) -> Result<String, ApiError> {
    let pending = pending(service, backend).await?;
    pending.state().qr.map(|q| q.content).ok_or_else(|| {
        ApiError::App(AppError::NotFound {
            what: "QR code of a login",
            name: backend.into(),
        })
    })
}

/// An image response that is never cached (the code changes).
fn image(content_type: &'static str, body: impl IntoResponse) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-store"),
        ],
        body,
    )
        .into_response()
}

/// The current QR code as SVG.
#[utoipa::path(get, path = "/logins/{backend}/qr.svg", operation_id = "getLoginQrSvg", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty")),
    responses((status = 200, content_type = "image/svg+xml", body = String),
        (status = 404, body = Problem)))]
async fn qr_svg(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
) -> ApiResult<Response> {
    let content = qr_content(&service, &backend).await?;
    let svg = crate::qr::svg(&content)
        .ok_or_else(|| ApiError::invalid("the QR content does not fit in a QR code"))?;
    Ok(image("image/svg+xml", svg))
}

/// The current QR code as PNG.
#[utoipa::path(get, path = "/logins/{backend}/qr.png", operation_id = "getLoginQrPng", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty")),
    responses((status = 200, content_type = "image/png", body = Vec<u8>),
        (status = 404, body = Problem)))]
async fn qr_png(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
) -> ApiResult<Response> {
    let content = qr_content(&service, &backend).await?;
    let png = crate::qr::png(&content)
        .ok_or_else(|| ApiError::invalid("the QR content does not fit in a QR code"))?;
    Ok(image("image/png", png))
}

/// The verification code the phone shows.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeBody {
    /// The digits.
    pub code: String,
}

/// Passes the verification code the phone shows (phase `need_verify_code`).
#[utoipa::path(post, path = "/logins/{backend}/code", operation_id = "submitLoginCode", tag = "logins",
    params(("backend" = String, Path, description = "ilink or wechaty")),
    request_body = CodeBody,
    responses((status = 204, description = "Passed on"), (status = 400, body = Problem),
        (status = 404, body = Problem)))]
async fn code(
    State(service): State<Arc<Service>>,
    Segment(backend): Segment<String>,
    Body(body): Body<CodeBody>,
) -> ApiResult<StatusCode> {
    let code = body.code.trim();
    if code.is_empty() || code.len() > 16 || !code.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(ApiError::invalid("code: give the digits the phone shows"));
    }
    pending(&service, &backend).await?.submit_code(code);
    Ok(StatusCode::NO_CONTENT)
}
