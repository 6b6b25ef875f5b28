//! The `login` tool's state machine, WeiLink-style: the first call starts a QR login and
//! returns the QR at once (link and PNG); later calls keep polling the same login for up to
//! their `timeout` and report where it stands — scanned, confirmed (saved, so the pollers
//! start on it), expired (a new QR), a verification code needed, already bound. One login is
//! pending per process, shared by every client.

use std::time::Instant;

use ilink::{LoginEvent, LoginFlow, LoginOptions, QrRenewal};
use rmcp::model::{ProgressNotificationParam, ProgressToken};
use rmcp::service::RequestContext;
use rmcp::{Peer, RoleServer};
use tokio::sync::Mutex;
use tokio_util::sync::CancellationToken;

use super::params::{given, wait};
use super::qr;
use super::types::{LoginOut, LoginParams};
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::login;
use crate::store::SessionStatus;

/// A QR login in progress.
pub struct PendingLogin {
    flow: LoginFlow,
    session: String,
    status: &'static str,
    /// A verify code sent with a poll that was interrupted (sent again with the next poll).
    code_in_flight: Option<String>,
}

impl std::fmt::Debug for PendingLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PendingLogin")
            .field("session", &self.session)
            .field("status", &self.status)
            .finish_non_exhaustive()
    }
}

/// The shared slot holding the pending login of this process.
pub type LoginSlot = Mutex<Option<PendingLogin>>;

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

fn pending_message(url_hint: bool) -> String {
    let mut m = String::from("Show this QR code to the user and ask them to scan it with WeChat");
    if url_hint {
        m.push_str(" (or to open qr_url in WeChat on their phone)");
    }
    m.push_str(
        ", then call login again: it waits up to `timeout` seconds for the scan and the \
         confirmation on the phone.",
    );
    m
}

fn waiting_message(status: &str) -> &'static str {
    match status {
        "scanned" => {
            "Scanned; waiting for the user to confirm the login on the phone. Call login again to \
             keep waiting."
        }
        "need_verifycode" => {
            "The phone shows a number: ask the user for it and call login with verify_code."
        }
        _ => {
            "Still waiting for the QR code to be scanned. Call login again to keep waiting (the \
             QR code is the one shown before; qr_url is its link)."
        }
    }
}

/// One `login` call. `ct` ends the wait early (the client cancelled the request).
pub async fn step(
    app: &App,
    slot: &LoginSlot,
    p: &LoginParams,
    progress: Option<Progress>,
    ct: CancellationToken,
) -> AppResult<LoginStep> {
    let wait = wait(p.timeout);
    let deadline = Instant::now() + wait;
    let mut guard = tokio::select! {
        biased;
        g = slot.lock() => g,
        _ = tokio::time::sleep(wait) => {
            return Err(AppError::Invalid(
                "another `login` call is waiting on this login right now; call login again in a \
                 moment"
                    .into(),
            ))
        }
        _ = ct.cancelled() => return Err(AppError::Login("cancelled".into())),
    };
    if guard.as_ref().is_some_and(|g| g.flow.remaining().is_zero()) {
        *guard = None;
    }
    let Some(pending) = guard.as_mut() else {
        return start(app, &mut guard, p).await;
    };
    let mut note = String::new();
    if let Some(other) = given(&p.session_name).filter(|n| *n != pending.session) {
        note = format!(
            " (A login for session {:?} was already in progress, so {other:?} was not started; \
             finish this one first.)",
            pending.session
        );
    }
    if let Some(code) = given(&p.verify_code) {
        pending.flow.submit_verify_code(&code);
        pending.code_in_flight = Some(code);
    }
    let started = Instant::now();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            break;
        }
        let polled = tokio::select! {
            r = pending.flow.poll() => Some(r),
            _ = tokio::time::sleep(left) => None,
            _ = ct.cancelled() => None,
        };
        let Some(result) = polled else {
            if let Some(code) = &pending.code_in_flight {
                pending.flow.submit_verify_code(code);
            }
            break;
        };
        pending.code_in_flight = None;
        let event = match result {
            Ok(event) => event,
            Err(e) => {
                *guard = None;
                return Err(AppError::Login(format!(
                    "{e}; call login again to start over with a new QR code"
                )));
            }
        };
        match event {
            LoginEvent::Waiting | LoginEvent::Redirected(_) => {}
            LoginEvent::Scanned => pending.status = "scanned",
            LoginEvent::NeedVerifyCode { wrong_code } => {
                pending.status = "need_verifycode";
                let message = if wrong_code {
                    "That code was not accepted. Ask the user for the number shown on the phone \
                     again and call login with verify_code."
                } else {
                    "The phone shows a number: ask the user for it and call login with \
                     verify_code."
                };
                return Ok(LoginStep {
                    out: LoginOut {
                        status: "need_verifycode".into(),
                        session: pending.session.clone(),
                        message: format!("{message}{note}"),
                        qr_url: Some(pending.flow.qr().content.clone()),
                        bot_id: None,
                        user_id: None,
                        backend: Some("ilink".into()),
                    },
                    qr_png: None,
                });
            }
            LoginEvent::NewQr(qr, why) => {
                pending.status = "pending";
                let why = match why {
                    QrRenewal::Expired => "The QR code expired; here is a new one.",
                    QrRenewal::VerifyCodeBlocked => {
                        "Too many wrong verification codes; here is a new QR code."
                    }
                };
                return Ok(LoginStep {
                    out: LoginOut {
                        status: "expired".into(),
                        session: pending.session.clone(),
                        message: format!("{why} {}{note}", pending_message(true)),
                        qr_url: Some(qr.content.clone()),
                        bot_id: None,
                        user_id: None,
                        backend: Some("ilink".into()),
                    },
                    qr_png: qr::png(&qr.content),
                });
            }
            LoginEvent::AlreadyBound => {
                let session = pending.session.clone();
                *guard = None;
                return Ok(LoginStep {
                    out: LoginOut {
                        status: "already_bound".into(),
                        message: "This WeChat account is already logged in here (see the \
                                  `sessions` tool); its credentials are unchanged."
                            .into(),
                        session,
                        qr_url: None,
                        bot_id: None,
                        user_id: None,
                        backend: Some("ilink".into()),
                    },
                    qr_png: None,
                });
            }
            LoginEvent::Confirmed(creds) => {
                let session = pending.session.clone();
                *guard = None;
                let record = login::save(app, &session, &creds)?;
                return Ok(LoginStep {
                    out: LoginOut {
                        status: "confirmed".into(),
                        message: format!(
                            "Logged in as session {:?}. Messages are being received now: call \
                             recv to read them.",
                            record.name
                        ),
                        session: record.name,
                        qr_url: None,
                        bot_id: record.bot_id,
                        user_id: record.user_id,
                        backend: Some("ilink".into()),
                    },
                    qr_png: None,
                });
            }
        }
        if let Some(progress) = &progress {
            progress
                .report(
                    started.elapsed().as_secs_f64(),
                    wait.as_secs_f64(),
                    waiting_message(pending.status),
                )
                .await;
        }
    }
    Ok(LoginStep {
        out: LoginOut {
            status: pending.status.into(),
            session: pending.session.clone(),
            message: format!("{}{note}", waiting_message(pending.status)),
            qr_url: Some(pending.flow.qr().content.clone()),
            bot_id: None,
            user_id: None,
            backend: Some("ilink".into()),
        },
        qr_png: None,
    })
}

/// The backend name of iLink sessions.
const ILINK: &str = "ilink";

/// Starts a login (no other one pending), or says the session is already logged in.
async fn start(
    app: &App,
    slot: &mut Option<PendingLogin>,
    p: &LoginParams,
) -> AppResult<LoginStep> {
    let name = match given(&p.session_name) {
        Some(n) => n,
        None => login::default_ilink_name(app)?,
    };
    if let Some(existing) = app.store().session(&name)? {
        if existing.backend != ILINK {
            return Err(AppError::Invalid(format!(
                "session {name:?} is a {} session; give the iLink login another session_name, \
                 or log {name:?} in again with backend={:?}",
                existing.backend, existing.backend
            )));
        }
        if existing.status == SessionStatus::Connected && !p.force {
            return Ok(LoginStep {
                out: LoginOut {
                    status: "already_logged_in".into(),
                    message: format!(
                        "Session {name:?} is already logged in. Call login with force=true to \
                         log it in again (its name and history are kept)."
                    ),
                    session: name,
                    qr_url: None,
                    bot_id: existing.bot_id,
                    user_id: existing.user_id,
                    backend: Some("ilink".into()),
                },
                qr_png: None,
            });
        }
    }
    let options = LoginOptions {
        local_tokens: login::local_tokens(app)?,
        ..LoginOptions::default()
    };
    let flow = LoginFlow::start(app.ilink()?, options)
        .await
        .map_err(|e| AppError::Login(format!("cannot get a QR code: {e}")))?;
    let url = flow.qr().content.clone();
    *slot = Some(PendingLogin {
        flow,
        session: name.clone(),
        status: "pending",
        code_in_flight: None,
    });
    Ok(LoginStep {
        qr_png: qr::png(&url),
        out: LoginOut {
            status: "pending".into(),
            session: name,
            message: pending_message(true),
            qr_url: Some(url),
            bot_id: None,
            user_id: None,
            backend: Some("ilink".into()),
        },
    })
}
