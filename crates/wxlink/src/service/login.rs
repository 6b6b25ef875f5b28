//! QR logins, for every frontend: which backend and session a login is for, the checks made
//! before anything goes upstream (the session name, an existing session of another backend, an
//! account already logged in), and the login itself — driven by a task of its own until the
//! account is logged in, the flow fails, or its deadline passes.
//!
//! One login is pending per backend and process, shared by every caller: the CLI follows it
//! until it ends; an MCP client calls `login` again and again, each call watching it for a
//! while; an admin page can stream its state. Callers watch [`PendingLogin::watch`] (the phase
//! and the current QR code, with a generation number that grows with each new code) and pass
//! verification codes with [`PendingLogin::submit_code`]. A confirmed login is saved (the name
//! and history of an existing session are kept) and announced even if nobody is watching.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{mpsc, watch, Mutex};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::{AppError, AppResult};
use crate::model::{check_session_name, BackendKind, Secret, SessionStatus};
use crate::service::{Event, Events, Service};
use crate::store::{SessionRecord, Store};
use crate::upstream::{LoginEvent, LoginFlow, LoginParams, QrRenewal};

/// How long a login may take in all, unless the caller says otherwise.
pub const LOGIN_DEADLINE: Duration = Duration::from_secs(480);

/// What a caller asks for.
#[derive(Debug, Clone, Default)]
pub struct LoginRequest {
    /// The backend; inferred when `None` (see [`Service::login`]).
    pub backend: Option<BackendKind>,
    /// The session to log in (default: see [`Service::default_login_name`]).
    pub session: Option<String>,
    /// Log in again even if the session is connected.
    pub force: bool,
    /// The service to log in through (backends that need one: Wechaty).
    pub endpoint: Option<String>,
    /// Its token.
    pub token: Option<Secret<String>>,
    /// How long the whole login may take ([`LOGIN_DEADLINE`] when `None`).
    pub deadline: Option<Duration>,
}

/// Where a login stands.
#[derive(Debug, Clone, PartialEq)]
pub enum LoginPhase {
    /// Starting (Wechaty: connected, no QR code yet).
    Starting,
    /// A QR code is waiting to be scanned.
    WaitingForScan,
    /// Scanned; waiting for the phone to confirm.
    Scanned,
    /// The phone shows a number to type in; `wrong` when the last one was refused.
    NeedVerifyCode {
        /// The last code was wrong.
        wrong: bool,
    },
    /// Logged in and saved.
    Confirmed(SessionRecord),
    /// The account is already logged in here; nothing changed.
    AlreadyBound,
    /// The login ended without success.
    Failed(String),
}

impl LoginPhase {
    /// Whether the login has ended.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            LoginPhase::Confirmed(_) | LoginPhase::AlreadyBound | LoginPhase::Failed(_)
        )
    }
}

/// The QR code to show.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginQr {
    /// What the phone scans (a URL or a text).
    pub content: String,
    /// 1 for the first code, then one more for each replacement.
    pub generation: u32,
    /// Why the last one was replaced.
    pub renewal: Option<QrRenewal>,
}

/// A snapshot of a login.
#[derive(Debug, Clone, PartialEq)]
pub struct LoginState {
    /// Where it stands.
    pub phase: LoginPhase,
    /// The current QR code, once there is one.
    pub qr: Option<LoginQr>,
    /// Grows with every change (a caller waits for it to move).
    pub version: u64,
}

/// A login in progress (or just ended).
#[derive(Debug)]
pub struct PendingLogin {
    /// The backend.
    pub backend: BackendKind,
    /// The session it logs in.
    pub session: String,
    /// The service it logs in through (Wechaty).
    pub endpoint: Option<String>,
    /// When it started.
    pub started: Instant,
    /// How long it may take in all.
    pub deadline: Duration,
    state: watch::Receiver<LoginState>,
    codes: mpsc::UnboundedSender<String>,
    shown: AtomicU32,
    cancel: CancellationToken,
    task: JoinHandle<()>,
}

impl Drop for PendingLogin {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl PendingLogin {
    /// Where it stands now.
    pub fn state(&self) -> LoginState {
        self.state.borrow().clone()
    }

    /// A receiver of every change.
    pub fn watch(&self) -> watch::Receiver<LoginState> {
        self.state.clone()
    }

    /// Passes the number the phone shows.
    pub fn submit_code(&self, code: &str) {
        let code = code.trim();
        if !code.is_empty() {
            let _ = self.codes.send(code.to_string());
        }
    }

    /// Ends the login (its phase becomes `Failed("… cancelled")`); nothing when it has ended.
    pub fn cancel(&self) {
        self.cancel.cancel();
    }

    /// Waits until the login has ended; its final phase.
    pub async fn finished(&self) -> LoginPhase {
        let mut state = self.watch();
        loop {
            let phase = state.borrow_and_update().phase.clone();
            if phase.is_final() {
                return phase;
            }
            if state.changed().await.is_err() {
                return state.borrow().phase.clone();
            }
        }
    }

    /// Records that QR generation `generation` was shown to someone; returns whether it is
    /// newer than what was shown before (callers that show one QR at a time use this so each
    /// code is shown once).
    pub fn mark_shown(&self, generation: u32) -> bool {
        self.shown.fetch_max(generation, Ordering::SeqCst) < generation
    }
}

/// What [`Service::login`] did.
#[derive(Debug, Clone)]
pub enum LoginStart {
    /// A new login started.
    Started(Arc<PendingLogin>),
    /// A login of this backend was already pending (or just ended and was not reported yet);
    /// `other` says the caller asked for another session or endpoint, which was not started.
    Joined {
        /// The pending login.
        pending: Arc<PendingLogin>,
        /// The request named another session or endpoint.
        other: bool,
    },
    /// The session is connected and `force` was not given: nothing started.
    AlreadyLoggedIn(SessionRecord),
}

/// The pending logins of a process, one per backend.
#[derive(Debug, Default)]
pub struct Logins {
    pending: Mutex<HashMap<BackendKind, Arc<PendingLogin>>>,
}

impl Service {
    /// Starts a login, or joins the one pending for its backend.
    ///
    /// The backend is the one asked for; else the one that takes an endpoint when an endpoint
    /// or token is given; else the backend of the session named; else the backend of the one
    /// pending login (or the one that ended unreported); else [`BackendKind::DEFAULT`] (iLink). The session name is checked before anything goes upstream.
    pub async fn login(&self, req: LoginRequest) -> AppResult<LoginStart> {
        let session = req
            .session
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty());
        if let Some(name) = session {
            check_session_name(name)?;
        }
        let mut slots = self.logins.pending.lock().await;
        let backend = self.login_backend(&req, session, &slots).await?;
        if let Some(pending) = slots.get(&backend).cloned() {
            let phase = pending.state().phase;
            if !matches!(phase, LoginPhase::Failed(_)) {
                let other = session.is_some_and(|s| s != pending.session)
                    || req
                        .endpoint
                        .as_deref()
                        .is_some_and(|e| Some(e.trim()) != pending.endpoint.as_deref());
                return Ok(LoginStart::Joined { pending, other });
            }
            slots.remove(&backend);
        }
        let started = self.start_login(backend, session, &req).await?;
        if let LoginStart::Started(pending) = &started {
            slots.insert(backend, pending.clone());
        }
        Ok(started)
    }

    /// Every login pending (or just ended and not yet reported), iLink first.
    pub async fn pending_logins(&self) -> Vec<Arc<PendingLogin>> {
        let slots = self.logins.pending.lock().await;
        BackendKind::ALL
            .iter()
            .filter_map(|b| slots.get(b).cloned())
            .collect()
    }

    /// Cancels the login pending for `backend` and forgets it; returns it, ended.
    pub async fn cancel_login(&self, backend: BackendKind) -> AppResult<Arc<PendingLogin>> {
        let pending =
            self.logins
                .pending
                .lock()
                .await
                .remove(&backend)
                .ok_or(AppError::NotFound {
                    what: "pending login",
                    name: backend.as_str().to_string(),
                })?;
        pending.cancel();
        let _ = tokio::time::timeout(Duration::from_secs(5), pending.finished()).await;
        Ok(pending)
    }

    /// The login pending (or just ended and not yet reported) for `backend`, if any.
    pub async fn pending_login(&self, backend: BackendKind) -> Option<Arc<PendingLogin>> {
        self.logins.pending.lock().await.get(&backend).cloned()
    }

    /// Forgets a login that has ended and whose end a caller has reported.
    pub async fn finish_login(&self, pending: &Arc<PendingLogin>) {
        if !pending.state().phase.is_final() {
            return;
        }
        let mut slots = self.logins.pending.lock().await;
        if slots
            .get(&pending.backend)
            .is_some_and(|p| Arc::ptr_eq(p, pending))
        {
            slots.remove(&pending.backend);
        }
    }

    async fn login_backend(
        &self,
        req: &LoginRequest,
        session: Option<&str>,
        slots: &HashMap<BackendKind, Arc<PendingLogin>>,
    ) -> AppResult<BackendKind> {
        let service_args = req.endpoint.is_some() || req.token.is_some();
        let takes_endpoint = |k: BackendKind| self.upstream(k).capabilities().login_needs_endpoint;
        if let Some(b) = req.backend {
            if service_args && !takes_endpoint(b) {
                return Err(AppError::Invalid(format!(
                    "an endpoint and a token are for a login through a service (Wechaty); an {} login needs neither",
                    b.label()
                )));
            }
            return Ok(b);
        }
        if service_args {
            if let Some(b) = BackendKind::ALL.into_iter().find(|k| takes_endpoint(*k)) {
                return Ok(b);
            }
        }
        if let Some(name) = session {
            if let Some(s) = self.store().session(name).await? {
                return Ok(s.backend);
            }
        }
        // A login still going, or one that ended and whose end nobody was told yet.
        let pending: Vec<BackendKind> = slots
            .iter()
            .filter(|(_, p)| !matches!(p.state().phase, LoginPhase::Failed(_)))
            .map(|(k, _)| *k)
            .collect();
        if let [only] = pending.as_slice() {
            return Ok(*only);
        }
        Ok(BackendKind::DEFAULT)
    }

    async fn start_login(
        &self,
        backend: BackendKind,
        session: Option<&str>,
        req: &LoginRequest,
    ) -> AppResult<LoginStart> {
        let upstream = self.upstream(backend).clone();
        let caps = upstream.capabilities();
        let endpoint_asked = req
            .endpoint
            .as_deref()
            .map(str::trim)
            .filter(|e| !e.is_empty());
        let name = match session {
            Some(n) => n.to_string(),
            None => self.default_login_name(backend, endpoint_asked).await?,
        };
        check_session_name(&name)?;
        let existing = self.store().session(&name).await?;
        let mut endpoint = endpoint_asked.map(str::to_string);
        let mut token = req
            .token
            .clone()
            .filter(|t| !t.expose_str().trim().is_empty());
        if let Some(s) = &existing {
            if s.backend != backend {
                return Err(AppError::OtherBackend {
                    session: name,
                    backend: s.backend,
                    wanted: backend,
                });
            }
            if caps.login_needs_endpoint {
                // A session named without endpoint or token logs in again with what it has.
                endpoint = endpoint.or_else(|| s.base_url.clone());
                token = token.or_else(|| s.token.clone());
            }
            let same_endpoint = !caps.login_needs_endpoint || s.base_url == endpoint;
            if s.is_connected() && same_endpoint && !req.force {
                return Ok(LoginStart::AlreadyLoggedIn(s.clone()));
            }
        }
        if caps.login_needs_endpoint && (endpoint.is_none() || token.is_none()) {
            return Err(AppError::LoginNeedsEndpoint { backend });
        }
        let deadline = req.deadline.unwrap_or(LOGIN_DEADLINE);
        let params = LoginParams {
            local_tokens: self.local_tokens().await?,
            endpoint: endpoint.clone(),
            token,
            deadline,
        };
        let flow = upstream.begin_login(&params).await?;
        // A logged-in session holding the upstream's one listener (here or in another process)
        // is retired first, so its listener lets go.
        if caps.exclusive_listener && existing.as_ref().is_some_and(|s| s.is_connected()) {
            self.store()
                .set_status(&name, SessionStatus::Expired)
                .await?;
            self.emit(Event::SessionsChanged);
        }
        let initial = LoginState {
            phase: LoginPhase::Starting,
            qr: None,
            version: 0,
        };
        let (state_tx, state_rx) = watch::channel(initial);
        let (codes_tx, codes_rx) = mpsc::unbounded_channel();
        let cancel = CancellationToken::new();
        let driver = Driver {
            cancel: cancel.clone(),
            flow,
            state: state_tx,
            codes: codes_rx,
            store: self.store.clone(),
            events: self.events.clone(),
            session: name.clone(),
            deadline: tokio::time::Instant::now() + deadline,
        };
        let task = tokio::spawn(driver.run());
        Ok(LoginStart::Started(Arc::new(PendingLogin {
            backend,
            session: name,
            endpoint,
            started: Instant::now(),
            deadline,
            state: state_rx,
            codes: codes_tx,
            shown: AtomicU32::new(0),
            cancel,
            task,
        })))
    }
}

/// Why a cancelled login ended.
pub const CANCELLED: &str = "the login was cancelled";

/// The task behind a pending login.
struct Driver {
    cancel: CancellationToken,
    flow: Box<dyn LoginFlow>,
    state: watch::Sender<LoginState>,
    codes: mpsc::UnboundedReceiver<String>,
    store: Arc<dyn Store>,
    events: Events,
    session: String,
    deadline: tokio::time::Instant,
}

impl Driver {
    fn set(&self, phase: LoginPhase) {
        self.state.send_modify(|s| {
            s.phase = phase;
            s.version += 1;
        });
    }

    async fn run(mut self) {
        let mut waiting_for_code = false;
        loop {
            if waiting_for_code {
                // Polling now would only hear "need a code" again: wait for one.
                tokio::select! {
                    code = self.codes.recv() => match code {
                        Some(code) => {
                            self.flow.submit_verify_code(&code);
                            waiting_for_code = false;
                        }
                        None => break self.fail("the login was abandoned"),
                    },
                    _ = tokio::time::sleep_until(self.deadline) => break self.timed_out(),
                    _ = self.cancel.cancelled() => break self.fail(CANCELLED),
                }
                continue;
            }
            let event = tokio::select! {
                e = self.flow.next() => e,
                Some(code) = self.codes.recv() => {
                    // The poll in flight is dropped; the next one sends the code.
                    self.flow.submit_verify_code(&code);
                    continue;
                }
                _ = tokio::time::sleep_until(self.deadline) => break self.timed_out(),
                _ = self.cancel.cancelled() => break self.fail(CANCELLED),
            };
            match event {
                Ok(LoginEvent::Waiting) => {}
                Ok(LoginEvent::Qr { content, renewal }) => self.state.send_modify(|s| {
                    let generation = s.qr.as_ref().map_or(1, |q| q.generation + 1);
                    s.qr = Some(LoginQr {
                        content,
                        generation,
                        renewal,
                    });
                    s.phase = LoginPhase::WaitingForScan;
                    s.version += 1;
                }),
                Ok(LoginEvent::Scanned) => self.set(LoginPhase::Scanned),
                Ok(LoginEvent::NeedVerifyCode { wrong }) => {
                    self.set(LoginPhase::NeedVerifyCode { wrong });
                    waiting_for_code = true;
                }
                Ok(LoginEvent::AlreadyBound) => break self.set(LoginPhase::AlreadyBound),
                Ok(LoginEvent::Confirmed(record)) => {
                    match self.store.save_login(&self.session, &record).await {
                        Ok(saved) => {
                            self.events.emit(Event::SessionsChanged);
                            tracing::info!(session = %saved.name, "logged in");
                            break self.set(LoginPhase::Confirmed(saved));
                        }
                        Err(e) => break self.fail(&format!("cannot save the login: {e}")),
                    }
                }
                Err(e) => break self.fail(&e.to_string()),
            }
        }
        self.flow.close().await;
    }

    fn fail(&self, why: &str) {
        tracing::debug!(session = %self.session, why, "login ended");
        self.set(LoginPhase::Failed(why.to_string()));
    }

    fn timed_out(&self) {
        self.fail("the QR code was not scanned and confirmed in time; start the login again");
    }
}
