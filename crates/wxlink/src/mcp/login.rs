//! The `login` tool, WeiLink-style, over the service's pending logins
//! ([`Service::login`]): the first call starts a login and returns its QR code as soon as there
//! is one (link and PNG); later calls watch the same login for up to their `timeout` and report
//! where it stands — scanned, confirmed, expired (a new QR), a verification code needed, already
//! bound. The login runs in the background between calls, so a user who scans and confirms
//! while no call is waiting is logged in all the same.

use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio_util::sync::CancellationToken;

use super::params::{given, wait};
use super::types::{LoginOut, LoginParams};
use crate::error::{AppError, AppResult};
use crate::model::BackendKind;
use crate::qr;
use crate::service::login::{LoginPhase, LoginRequest, LoginStart, LoginState, PendingLogin};
use crate::service::Service;
use crate::store::SessionRecord;
use crate::upstream::QrRenewal;

/// What one `login` call answers: the JSON, and the QR as PNG when a new one is shown.
#[derive(Debug)]
pub struct LoginStep {
    /// The structured result.
    pub out: LoginOut,
    /// The QR code image to show, when there is a new one.
    pub qr_png: Option<Vec<u8>>,
}

/// Sends `notifications/progress` for a request that asked for them.
#[derive(Debug, Clone)]
pub struct Progress {
    peer: Peer<RoleServer>,
    token: ProgressToken,
}

impl Progress {
    /// The request's progress channel, when its `_meta` carries a progress token.
    pub fn of(ctx: &RequestContext<RoleServer>) -> Option<Progress> {
        Some(Progress {
            peer: ctx.peer.clone(),
            token: ctx.meta.get_progress_token()?,
        })
    }

    /// Reports `done` of `total` (failures to deliver are ignored: progress is advisory).
    pub async fn report(&self, done: f64, total: f64, message: &str) {
        let note = ProgressNotificationParam::new(self.token.clone(), done)
            .with_total(total)
            .with_message(message);
        if let Err(e) = self.peer.notify_progress(note).await {
            tracing::debug!(error = %e, "cannot send a progress notification");
        }
    }
}

/// How often a waiting call reports progress when nothing changes.
const PROGRESS_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

const SHOW_QR: &str = "Show this QR code to the user and ask them to scan it with WeChat (or \
                       to open qr_url in WeChat on their phone), then call login again: it waits \
                       up to `timeout` seconds for the scan and the confirmation on the phone.";

fn out(
    status: &str,
    session: &str,
    backend: BackendKind,
    message: String,
    qr_url: Option<String>,
) -> LoginOut {
    LoginOut {
        status: status.into(),
        session: session.into(),
        message,
        qr_url,
        bot_id: None,
        user_id: None,
        backend: Some(backend.as_str().into()),
    }
}

/// The backend asked for (`""` infers it).
fn backend(p: &LoginParams) -> AppResult<Option<BackendKind>> {
    let b = p.backend.trim();
    if b.is_empty() {
        return Ok(None);
    }
    BackendKind::parse(b).map(Some).ok_or_else(|| {
        AppError::Invalid(format!(
            "unknown backend {b:?}: use \"ilink\" (the default) or \"wechaty\""
        ))
    })
}

/// One `login` call. `ct` ends the wait early (the client cancelled the request).
pub async fn step(
    service: &Service,
    p: &LoginParams,
    progress: Option<Progress>,
    ct: CancellationToken,
) -> AppResult<LoginStep> {
    let req = LoginRequest {
        backend: backend(p)?,
        session: given(&p.session_name),
        force: p.force,
        endpoint: given(&p.endpoint),
        token: Some(p.token.clone()).filter(|t| !t.expose_str().trim().is_empty()),
        deadline: None,
    };
    let (pending, note) = match service.login(req).await? {
        LoginStart::AlreadyLoggedIn(s) => {
            let through_service = service
                .upstream(s.backend)
                .capabilities()
                .login_needs_endpoint;
            return Ok(already_logged_in(s, through_service));
        }
        LoginStart::Started(pending) => (pending, String::new()),
        LoginStart::Joined { pending, other } => {
            let note = if other {
                format!(
                    " (A login of session {:?} was already in progress, so no other one was \
                     started; finish this one first.)",
                    pending.session
                )
            } else {
                String::new()
            };
            (pending, note)
        }
    };
    let mut watch = pending.watch();
    // Whatever is pending at the start of this call; a code given now must be answered anew.
    let mut seen = watch.borrow_and_update().version;
    if let Some(code) = given(&p.verify_code) {
        pending.submit_code(&code);
    } else {
        seen = u64::MAX; // the current state counts as news
    }
    let wait = wait(p.timeout);
    let started = tokio::time::Instant::now();
    let deadline = started + wait;
    // Progress goes out on every change and every few seconds while nothing changes, so a
    // client whose timeout resets on progress keeps waiting.
    let mut ticker = tokio::time::interval(PROGRESS_EVERY);
    ticker.tick().await;
    loop {
        let state = watch.borrow_and_update().clone();
        let fresh = seen == u64::MAX || state.version > seen;
        if let Some(step) = report(service, &pending, &state, fresh, &note).await {
            return step;
        }
        if let Some(progress) = &progress {
            progress
                .report(
                    started.elapsed().as_secs_f64(),
                    wait.as_secs_f64(),
                    status_message(&state.phase),
                )
                .await;
        }
        seen = state.version;
        let changed = tokio::select! {
            r = watch.changed() => r.is_ok(),
            _ = ticker.tick() => true,
            _ = tokio::time::sleep_until(deadline) => break,
            _ = ct.cancelled() => break,
        };
        if !changed {
            // The login task ended; its last state is final and reported next round.
            seen = u64::MAX;
        }
    }
    let state = pending.state();
    Ok(waiting(&pending, &state, &note))
}

/// The answer this state calls for now, if any: an ended login, a new QR code, or (when it is
/// news) a verification code to ask for.
async fn report(
    service: &Service,
    pending: &std::sync::Arc<PendingLogin>,
    state: &LoginState,
    fresh: bool,
    note: &str,
) -> Option<AppResult<LoginStep>> {
    let b = pending.backend;
    let session = pending.session.as_str();
    match &state.phase {
        LoginPhase::Confirmed(record) => {
            service.finish_login(pending).await;
            let account = match &pending.endpoint {
                Some(endpoint) => format!(
                    " It is the Wechaty account {} at {endpoint}; findFriend / findRoomByTopic \
                     look up contacts and groups.",
                    record.bot_id.as_deref().unwrap_or("?")
                ),
                None => String::new(),
            };
            let mut o = out(
                "confirmed",
                &record.name,
                b,
                format!(
                    "Logged in as session {:?}. Messages are being received now: call recv to \
                     read them.{account}{note}",
                    record.name
                ),
                None,
            );
            o.bot_id = record.bot_id.clone();
            o.user_id = record.user_id.clone();
            return Some(Ok(LoginStep {
                out: o,
                qr_png: None,
            }));
        }
        LoginPhase::AlreadyBound => {
            service.finish_login(pending).await;
            return Some(Ok(LoginStep {
                out: out(
                    "already_bound",
                    session,
                    b,
                    format!(
                        "This WeChat account is already logged in here (see the `sessions` \
                         tool); its credentials are unchanged.{note}"
                    ),
                    None,
                ),
                qr_png: None,
            }));
        }
        LoginPhase::Failed(why) => {
            service.finish_login(pending).await;
            return Some(Err(AppError::Login(format!(
                "{why}; call login again to start over with a new QR code"
            ))));
        }
        _ => {}
    }
    if let Some(qr) = &state.qr {
        if pending.mark_shown(qr.generation) {
            let (status, why) = match qr.renewal {
                None if qr.generation == 1 => ("pending", ""),
                Some(QrRenewal::VerifyCodeBlocked) => (
                    "expired",
                    "Too many wrong verification codes; here is a new QR code. ",
                ),
                _ => ("expired", "The QR code expired; here is a new one. "),
            };
            return Some(Ok(LoginStep {
                qr_png: qr::png(&qr.content),
                out: out(
                    status,
                    session,
                    b,
                    format!("{why}{SHOW_QR}{note}"),
                    Some(qr.content.clone()),
                ),
            }));
        }
    }
    if let (LoginPhase::NeedVerifyCode { wrong }, true) = (&state.phase, fresh) {
        let message = if *wrong {
            "That code was not accepted. Ask the user for the number shown on the phone again \
             and call login with verify_code."
        } else {
            "The phone shows a number: ask the user for it and call login with verify_code."
        };
        return Some(Ok(LoginStep {
            out: out(
                "need_verifycode",
                session,
                b,
                format!("{message}{note}"),
                state.qr.as_ref().map(|q| q.content.clone()),
            ),
            qr_png: None,
        }));
    }
    None
}

/// What a login in this phase waits for, in words (also the progress messages).
fn status_message(phase: &LoginPhase) -> &'static str {
    match phase {
        LoginPhase::Scanned => {
            "Scanned; waiting for the user to confirm the login on the phone. Call login again \
             to keep waiting."
        }
        LoginPhase::NeedVerifyCode { .. } => {
            "The phone shows a number: ask the user for it and call login with verify_code."
        }
        LoginPhase::Starting => {
            "Connected; waiting for a QR code or for the login to be reported. Call login again \
             to keep waiting."
        }
        _ => {
            "Still waiting for the QR code to be scanned. Call login again to keep waiting (the \
             QR code is the one shown before; qr_url is its link)."
        }
    }
}

/// The answer when the call's time is up and nothing new happened.
fn waiting(pending: &PendingLogin, state: &LoginState, note: &str) -> LoginStep {
    let status = match &state.phase {
        LoginPhase::Scanned => "scanned",
        LoginPhase::NeedVerifyCode { .. } => "need_verifycode",
        _ => "pending",
    };
    let message = status_message(&state.phase);
    LoginStep {
        out: out(
            status,
            &pending.session,
            pending.backend,
            format!("{message}{note}"),
            state.qr.as_ref().map(|q| q.content.clone()),
        ),
        qr_png: None,
    }
}

/// `through_service`: the session logs in through a service (Wechaty), whose endpoint it names.
fn already_logged_in(s: SessionRecord, through_service: bool) -> LoginStep {
    let message = match &s.base_url {
        Some(endpoint) if through_service => format!(
            "Session {:?} is already logged in to {endpoint}. Call login with force=true to log \
             it in again (its name and history are kept).",
            s.name
        ),
        _ => format!(
            "Session {:?} is already logged in. Call login with force=true to log it in again \
             (its name and history are kept).",
            s.name
        ),
    };
    LoginStep {
        out: LoginOut {
            status: "already_logged_in".into(),
            message,
            session: s.name,
            qr_url: None,
            bot_id: s.bot_id,
            user_id: s.user_id,
            backend: Some(s.backend.as_str().into()),
        },
        qr_png: None,
    }
}
