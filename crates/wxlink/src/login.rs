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
