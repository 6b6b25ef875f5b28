//! The `login` tool with `backend="wechaty"`: a login through a Wechaty Puppet Service, shown
//! the way the iLink login is. The first call connects (a refused token or an unreachable
//! endpoint is an error at once) and returns the puppet's QR code as an image and `qr_url`, or
//! `confirmed` when the account is already logged in on the service; later calls wait up to
//! their `timeout` for `scanned`, a new QR code (`expired`), or `confirmed` (the session is
//! saved and its listener starts).
//!
//! The engine's [`crate::login::login_wechaty`] runs in a background task for up to
//! [`LOGIN_DEADLINE`], reporting QR codes and scans through a watch channel, so that no call
//! has to stay open for the whole login. One Wechaty login is pending per process, shared by
//! every client (like the iLink one).

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{watch, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::login::{LoginStep, Progress};
use super::params::{given, wait};
use super::qr;
use super::types::{LoginOut, LoginParams};
use crate::app::App;
use crate::backend::wechaty::BACKEND;
use crate::error::{AppError, AppResult};
use crate::login::{self, WechatyLoginProgress};
use crate::store::{SessionRecord, SessionStatus};

/// How long a pending Wechaty login may wait for the scan in all (as `wxlink login`).
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(480);

/// The session name a Wechaty login uses when none is given and no Wechaty session exists.
pub const DEFAULT_NAME: &str = "wechaty";

/// What the background login has reported so far.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reported {
    /// Connected; no QR code yet.
    Waiting,
    /// The puppet's QR code (its content).
    Qr(String),
    /// The QR code was scanned.
    Scanned(Option<String>),
}

/// A Wechaty login in progress.
pub struct WechatyPending {
    session: String,
    endpoint: String,
    reported: watch::Receiver<Reported>,
    /// Taken once it has finished.
    task: Option<JoinHandle<AppResult<SessionRecord>>>,
    /// The QR code last returned to a client.
    shown: Option<String>,
    started: Instant,
}

impl std::fmt::Debug for WechatyPending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatyPending")
            .field("session", &self.session)
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl Drop for WechatyPending {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

/// The shared slot holding the pending Wechaty login of this process.
pub type WechatyLoginSlot = Mutex<Option<WechatyPending>>;

fn out(status: &str, session: &str, message: String, qr_url: Option<String>) -> LoginOut {
    LoginOut {
        status: status.into(),
        session: session.into(),
        message,
        qr_url,
        bot_id: None,
        user_id: None,
        backend: Some(BACKEND.into()),
    }
}

const SHOW_QR: &str = "Show this QR code to the user and ask them to scan it with WeChat, then \
                       call login again (backend=\"wechaty\"): it waits up to `timeout` seconds \
                       for the scan and the confirmation on the phone.";

fn confirmed(record: SessionRecord, endpoint: &str) -> LoginStep {
    LoginStep {
        out: LoginOut {
            status: "confirmed".into(),
            message: format!(
                "Logged in: session {:?} is the Wechaty account {} at {endpoint}. Messages \
                 (one-to-one and group chats) are being received now: call recv to read them. \
                 findFriend / findRoomByTopic look up contacts and groups.",
                record.name,
                record.bot_id.as_deref().unwrap_or("?")
            ),
            session: record.name,
            qr_url: None,
            bot_id: record.bot_id,
            user_id: record.user_id,
            backend: Some(BACKEND.into()),
        },
        qr_png: None,
    }
}

/// One `login` call for the Wechaty backend.
pub async fn step(
    app: &Arc<App>,
    slot: &WechatyLoginSlot,
    p: &LoginParams,
    progress: Option<Progress>,
    ct: CancellationToken,
) -> AppResult<LoginStep> {
    let wait = wait(p.timeout);
    let deadline = tokio::time::Instant::now() + wait;
    let mut guard = tokio::select! {
        biased;
        g = slot.lock() => g,
        _ = tokio::time::sleep(wait) => {
            return Err(AppError::Invalid(
                "another `login` call is waiting on this Wechaty login right now; call login \
                 again in a moment"
                    .into(),
            ))
        }
        _ = ct.cancelled() => return Err(AppError::Login("cancelled".into())),
    };
    let mut note = String::new();
    match guard.as_ref() {
        None => {
            if let Some(done) = start(app, &mut guard, p)? {
                return Ok(done);
            }
        }
        Some(pending) => {
            let asked_session = given(&p.session_name).filter(|n| *n != pending.session);
            let asked_endpoint = given(&p.endpoint).filter(|e| *e != pending.endpoint);
            if asked_session.is_some() || asked_endpoint.is_some() {
                note = format!(
                    " (A Wechaty login of session {:?} at {} was already in progress, so no \
                     other one was started; finish this one first.)",
                    pending.session, pending.endpoint
                );
            }
        }
    }
    let Some(pending) = guard.as_mut() else {
        return Err(AppError::Login("the Wechaty login did not start".into()));
    };
    let mut stream_open = true;
    loop {
        let Some(task) = pending.task.as_mut() else {
            *guard = None;
            return Err(AppError::Login(
                "the Wechaty login ended; call login again to start over".into(),
            ));
        };
        tokio::select! {
            biased;
            joined = task => {
                pending.task = None;
                let endpoint = pending.endpoint.clone();
                *guard = None;
                return match joined {
                    Ok(Ok(record)) => {
                        let mut step = confirmed(record, &endpoint);
                        step.out.message.push_str(&note);
                        Ok(step)
                    }
                    Ok(Err(e)) => Err(e),
                    Err(e) => Err(AppError::Login(format!("the Wechaty login task failed: {e}"))),
                };
            }
            changed = pending.reported.changed(), if stream_open => {
                if changed.is_err() {
                    // The task is ending: its result comes next.
                    stream_open = false;
                    continue;
                }
                let now = pending.reported.borrow_and_update().clone();
                match now {
                    Reported::Qr(content) if pending.shown.as_ref() != Some(&content) => {
                        let renewed = pending.shown.is_some();
                        pending.shown = Some(content.clone());
                        let (status, message) = if renewed {
                            ("expired", format!("The QR code expired; here is a new one. {SHOW_QR}{note}"))
                        } else {
                            ("pending", format!("{SHOW_QR}{note}"))
                        };
                        return Ok(LoginStep {
                            qr_png: qr::png(&content),
                            out: out(status, &pending.session, message, Some(content)),
                        });
                    }
                    Reported::Scanned(_) => {
                        if let Some(progress) = &progress {
                            progress
                                .report(
                                    pending.started.elapsed().as_secs_f64(),
                                    LOGIN_DEADLINE.as_secs_f64(),
                                    "Scanned; waiting for the user to confirm on the phone.",
                                )
                                .await;
                        }
                    }
                    _ => {}
                }
            }
            _ = tokio::time::sleep_until(deadline) => break,
            _ = ct.cancelled() => break,
        }
    }
    let (status, message) = match &*pending.reported.borrow() {
        Reported::Scanned(_) => (
            "scanned",
            "Scanned; waiting for the user to confirm the login on the phone. Call login again \
             to keep waiting.",
        ),
        Reported::Qr(_) => (
            "pending",
            "Still waiting for the QR code to be scanned. Call login again to keep waiting (the \
             QR code is the one shown before; qr_url is its content).",
        ),
        Reported::Waiting => (
            "pending",
            "Connected to the puppet service; waiting for it to show a QR code or to report \
             the login. Call login again to keep waiting.",
        ),
    };
    Ok(LoginStep {
        out: out(
            status,
            &pending.session,
            format!("{message}{note}"),
            pending.shown.clone(),
        ),
        qr_png: None,
    })
}

/// Starts a login, or answers at once (`already_logged_in`) — `None` when started.
fn start(
    app: &Arc<App>,
    slot: &mut Option<WechatyPending>,
    p: &LoginParams,
) -> AppResult<Option<LoginStep>> {
    let sessions = app.store().sessions()?;
    let named = given(&p.session_name);
    let existing = |name: &str| sessions.iter().find(|s| s.name == name);
    // A session named without endpoint/token: log it in again with what it has stored.
    let stored = named
        .as_deref()
        .and_then(existing)
        .filter(|s| s.backend == BACKEND);
    let endpoint = given(&p.endpoint).or_else(|| stored.and_then(|s| s.base_url.clone()));
    let token = given(&p.token).or_else(|| stored.and_then(|s| s.token.clone()));
    let (Some(endpoint), Some(token)) = (endpoint, token) else {
        return Err(AppError::Invalid(
            "a Wechaty login needs `endpoint` (the Wechaty Puppet Service: HOST:PORT, or \
             https://HOST:PORT for TLS) and `token` (the service's token, e.g. \
             insecure_<uuid> or puppet_padlocal_<hex>)"
                .into(),
        ));
    };
    let name = match named {
        Some(n) => n,
        None => login::default_wechaty_name(app, &endpoint)?,
    };
    if let Some(s) = existing(&name) {
        if s.backend != BACKEND {
            return Err(AppError::Invalid(format!(
                "session {name:?} is an {} session; give the Wechaty login another \
                 session_name (e.g. {DEFAULT_NAME:?})",
                s.backend
            )));
        }
        let same_endpoint = s.base_url.as_deref() == Some(endpoint.as_str());
        if s.status == SessionStatus::Connected && same_endpoint && !p.force {
            return Ok(Some(LoginStep {
                out: LoginOut {
                    status: "already_logged_in".into(),
                    message: format!(
                        "Session {name:?} is already logged in to {endpoint}. Call login with \
                         force=true to log it in again (its name and history are kept)."
                    ),
                    session: name,
                    qr_url: None,
                    bot_id: s.bot_id.clone(),
                    user_id: s.user_id.clone(),
                    backend: Some(BACKEND.into()),
                },
                qr_png: None,
            }));
        }
    }
    let (tx, rx) = watch::channel(Reported::Waiting);
    let task = {
        let (app, name, endpoint) = (app.clone(), name.clone(), endpoint.clone());
        tokio::spawn(async move {
            login::login_wechaty(
                &app,
                &name,
                &endpoint,
                &token,
                LOGIN_DEADLINE,
                move |event| {
                    tx.send_modify(|r| {
                        *r = match event {
                            WechatyLoginProgress::Qr(content) => Reported::Qr(content),
                            WechatyLoginProgress::Scanned => Reported::Scanned(match r {
                                Reported::Qr(q) | Reported::Scanned(Some(q)) => Some(q.clone()),
                                _ => None,
                            }),
                        }
                    });
                },
            )
            .await
        })
    };
    *slot = Some(WechatyPending {
        session: name,
        endpoint,
        reported: rx,
        task: Some(task),
        shown: None,
        started: Instant::now(),
    });
    Ok(None)
}

/// Whether a `login` call without `backend` continues on the Wechaty side: a Wechaty login is
/// pending, or `session_name` names a Wechaty session.
pub fn hinted(app: &App, slot: &WechatyLoginSlot, p: &LoginParams) -> bool {
    let pending = slot.try_lock().map_or(true, |g| g.is_some());
    let named_wechaty = given(&p.session_name)
        .and_then(|name| app.store().session(&name).ok().flatten())
        .is_some_and(|s| s.backend == BACKEND);
    pending || named_wechaty
}

/// Whether a `login` call is for the Wechaty backend: `backend="wechaty"`, or no backend but
/// an `endpoint` or `token`, or no backend while a Wechaty login is pending or with the
/// `session_name` of a Wechaty session (`wechaty_hint`). `backend="ilink"` with an endpoint or
/// token, or an unknown backend, is an error.
pub fn wants_wechaty(p: &LoginParams, wechaty_hint: bool) -> AppResult<bool> {
    let wechaty_args = given(&p.endpoint).is_some() || given(&p.token).is_some();
    match p.backend.trim().to_ascii_lowercase().as_str() {
        "wechaty" => Ok(true),
        "ilink" if wechaty_args => Err(AppError::Invalid(
            "`endpoint` and `token` are for backend=\"wechaty\"; an iLink login needs neither"
                .into(),
        )),
        "ilink" => Ok(false),
        "" => Ok(wechaty_args || wechaty_hint),
        other => Err(AppError::Invalid(format!(
            "unknown backend {other:?}: use \"ilink\" (the default) or \"wechaty\""
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(backend: &str, endpoint: &str, token: &str) -> LoginParams {
        serde_json::from_value(serde_json::json!({
            "backend": backend, "endpoint": endpoint, "token": token
        }))
        .unwrap()
    }

    #[test]
    fn backend_choice() {
        assert!(!wants_wechaty(&params("", "", ""), false).unwrap());
        // A pending Wechaty login, or a Wechaty session named.
        assert!(wants_wechaty(&params("", "", ""), true).unwrap());
        assert!(wants_wechaty(&params("Wechaty", "", ""), false).unwrap());
        assert!(wants_wechaty(&params("", "127.0.0.1:1", ""), false).unwrap());
        assert!(wants_wechaty(&params("", "", "insecure_x"), false).unwrap());
        assert!(!wants_wechaty(&params("ilink", "", ""), true).unwrap());
        assert!(wants_wechaty(&params("ilink", "h:1", "t"), false).is_err());
        let e = wants_wechaty(&params("padlocal", "", ""), false).unwrap_err();
        assert!(e.to_string().contains("\"ilink\""), "{e}");
    }
}
