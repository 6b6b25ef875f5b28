//! Logging in, shared by every frontend: which tokens to offer the server (so it can answer
//! "already bound"), and saving the credentials a confirmed QR login returns.

use crate::app::{App, AppEvent};
use crate::error::AppResult;
use crate::store::{LoginRecord, SessionRecord};

/// Tokens this installation holds, newest first, for `local_token_list` (at most 10).
pub fn local_tokens(app: &App) -> AppResult<Vec<String>> {
    let mut sessions = app.store().sessions()?;
    sessions.sort_by_key(|s| std::cmp::Reverse(s.updated_at_ms));
    Ok(sessions
        .into_iter()
        .filter_map(|s| s.token)
        .take(10)
        .collect())
}

/// Stores the credentials of a confirmed login under `name` (a re-login keeps the name and the
/// history) and tells running pollers.
pub fn save(app: &App, name: &str, creds: &ilink::Credentials) -> AppResult<SessionRecord> {
    let record = app.store().save_login(
        name,
        &LoginRecord {
            backend: "ilink".into(),
            bot_id: creds.bot_id.clone(),
            user_id: creds.user_id.clone(),
            token: creds.token.clone(),
            base_url: creds.base_url.as_ref().map(|u| u.to_string()),
        },
    )?;
    app.emit(AppEvent::SessionsChanged);
    Ok(record)
}

/// The session a bare `login` means: the default one, or `default` when there is none.
pub fn default_name(app: &App) -> AppResult<String> {
    Ok(app
        .store()
        .default_session()?
        .unwrap_or_else(|| "default".to_string()))
}

/// `base`, or `base-2`, `base-3`, … whichever no session has.
fn free_name(sessions: &[SessionRecord], base: &str) -> String {
    let taken = |n: &str| sessions.iter().any(|s| s.name == n);
    let mut name = base.to_string();
    let mut n = 2;
    while taken(&name) {
        name = format!("{base}-{n}");
        n += 1;
    }
    name
}

/// The session an unnamed iLink login uses: the default session when it is an iLink one (or
/// there is none yet), else the first iLink session, else `default` (`default-2`, … when a
/// session of another backend has that name) — never a Wechaty session.
pub fn default_ilink_name(app: &App) -> AppResult<String> {
    let sessions = app.store().sessions()?;
    let default = default_name(app)?;
    let other_backend = sessions
        .iter()
        .any(|s| s.name == default && s.backend != "ilink");
    if !other_backend {
        return Ok(default);
    }
    if let Some(s) = sessions.iter().find(|s| s.backend == "ilink") {
        return Ok(s.name.clone());
    }
    Ok(free_name(&sessions, "default"))
}

/// The session an unnamed Wechaty login uses: the default session if it is a Wechaty one, else
/// the Wechaty session already on `endpoint`, else the first Wechaty session, else `wechaty`
/// (`wechaty-2`, … if an iLink session has that name) — never an iLink session.
pub fn default_wechaty_name(app: &App, endpoint: &str) -> AppResult<String> {
    let sessions = app.store().sessions()?;
    let wechaty: Vec<&SessionRecord> = sessions
        .iter()
        .filter(|s| s.backend == crate::backend::wechaty::BACKEND)
        .collect();
    if let Some(default) = app.store().default_session()? {
        if wechaty.iter().any(|s| s.name == default) {
            return Ok(default);
        }
    }
    if let Some(s) = wechaty
        .iter()
        .find(|s| s.base_url.as_deref() == Some(endpoint))
        .or_else(|| wechaty.first())
    {
        return Ok(s.name.clone());
    }
    Ok(free_name(&sessions, "wechaty"))
}

/// What a Wechaty login reports while it waits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WechatyLoginProgress {
    /// The account is not logged in on the puppet service: scan this QR code (its content).
    Qr(String),
    /// The QR code was scanned; confirm on the phone.
    Scanned,
}

/// Logs a Wechaty session in: connects to the puppet service at `endpoint` with `token` (a
/// refused token fails at once), then waits up to `timeout` for the account to be logged in —
/// at once when it already is, else after the QR codes reported to `progress` are scanned —
/// and saves the session under `name` (the endpoint as its base URL; a re-login keeps the name
/// and history).
pub async fn login_wechaty(
    app: &App,
    name: &str,
    endpoint: &str,
    token: &str,
    timeout: std::time::Duration,
    mut progress: impl FnMut(WechatyLoginProgress),
) -> AppResult<SessionRecord> {
    use wechaty::{PuppetEvent, ScanStatus};
    let config = crate::app::wechaty_config(endpoint, token)?;
    let client = wechaty::Client::connect(config).await?;
    // A logged-in session of this name holds the service's one event stream (here or in
    // another process): a forced re-login retires it first, so its listener lets go.
    if let Some(existing) = app.store().session(name)? {
        if existing.backend == crate::backend::wechaty::BACKEND
            && existing.status == crate::store::SessionStatus::Connected
        {
            app.store()
                .set_status(name, crate::store::SessionStatus::Expired)?;
            app.emit(AppEvent::SessionsChanged);
        }
    }
    let mut events = client.events()?;
    let deadline = tokio::time::Instant::now() + timeout;
    let mut last_qr = None;
    let outcome = loop {
        let event = match tokio::time::timeout_at(deadline, events.recv()).await {
            Err(_) => {
                break Err(crate::error::AppError::Login(format!(
                    "the Wechaty account was not logged in within {} s",
                    timeout.as_secs()
                )))
            }
            Ok(None) => {
                break Err(crate::error::AppError::Login(
                    "the Wechaty event stream ended".into(),
                ))
            }
            Ok(Some(e)) => e,
        };
        match event {
            PuppetEvent::Login { contact_id } => break Ok(contact_id),
            PuppetEvent::Scan { status, qrcode, .. } => match status {
                ScanStatus::Scanned => progress(WechatyLoginProgress::Scanned),
                _ => {
                    if let Some(qr) = qrcode.filter(|q| !q.is_empty()) {
                        if last_qr.as_ref() != Some(&qr) {
                            last_qr = Some(qr.clone());
                            progress(WechatyLoginProgress::Qr(qr));
                        }
                    }
                }
            },
            PuppetEvent::Disconnected {
                error,
                reconnect_in: None,
            } => break Err(error.into()),
            _ => {}
        }
    };
    events.shutdown().await;
    let contact_id = outcome?;
    let record = app.store().save_login(
        name,
        &LoginRecord {
            backend: crate::backend::wechaty::BACKEND.into(),
            bot_id: contact_id.clone(),
            user_id: Some(contact_id),
            token: token.to_string(),
            base_url: Some(endpoint.to_string()),
        },
    )?;
    app.emit(AppEvent::SessionsChanged);
    Ok(record)
}
