//! Sessions (logged-in accounts): listing them with whether some process listens to them,
//! resolving a name (or the default), rename, default, logout, and expiry — each change
//! announced with [`Event::SessionsChanged`] so pollers and watchers react at once.

use crate::error::{AppError, AppResult};
use crate::model::{BackendKind, Secret, SessionStatus};
use crate::service::{Event, Service};
use crate::store::SessionRecord;

/// A session and whether some process (this one included) listens to it right now.
#[derive(Debug, Clone)]
pub struct SessionView {
    /// The session.
    pub record: SessionRecord,
    /// Whether its listener lock is held; `None` when it cannot be told.
    pub polling: Option<bool>,
}

/// Of the sessions that pass `fits`, the default one (`default` names it) if it does, else
/// the first connected one, else the first.
pub fn preferred<'a>(
    sessions: &'a [SessionRecord],
    default: Option<&str>,
    fits: impl Fn(&SessionRecord) -> bool,
) -> Option<&'a SessionRecord> {
    sessions
        .iter()
        .find(|s| Some(s.name.as_str()) == default && fits(s))
        .or_else(|| {
            sessions
                .iter()
                .filter(|s| fits(s))
                .min_by_key(|s| !s.is_connected())
        })
}

impl Service {
    /// Every session, the default first.
    pub async fn sessions(&self) -> AppResult<Vec<SessionRecord>> {
        Ok(self.store().sessions().await?)
    }

    /// Every session, the default first, with who polls it.
    pub async fn list_sessions(&self) -> AppResult<Vec<SessionView>> {
        let sessions = self.store().sessions().await?;
        // A lease this process holds is known without I/O; the others are asked (a file open
        // each, or one query), and only if there are any.
        let leases = self.leases();
        let mut polling: Vec<Option<bool>> = Vec::with_capacity(sessions.len());
        for s in &sessions {
            polling.push(match self.upstream(s.backend).listener_lock(s) {
                None => None,
                Some(name) if leases.held_here(&name) => Some(true),
                Some(name) => leases.is_held(&name).await,
            });
        }
        Ok(sessions
            .into_iter()
            .zip(polling)
            .map(|(record, polling)| SessionView { record, polling })
            .collect())
    }

    /// How many sessions have an address book (Wechaty): while there are none, frontends
    /// leave out what needs one.
    pub async fn address_book_sessions(&self) -> AppResult<usize> {
        let sessions = self.store().sessions().await?;
        Ok(sessions
            .iter()
            .filter(|s| self.upstream(s.backend).capabilities().directory)
            .count())
    }

    /// A session by name, or the default one when `name` is `None`.
    pub async fn resolve_session(&self, name: Option<&str>) -> AppResult<SessionRecord> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self
                .store()
                .default_session()
                .await?
                .ok_or(AppError::NoSessions)?,
        };
        self.store()
            .session(&name)
            .await?
            .ok_or(AppError::UnknownSession(name))
    }

    /// A session that must be connected to be used.
    pub async fn connected_session(&self, name: Option<&str>) -> AppResult<SessionRecord> {
        let session = self.resolve_session(name).await?;
        if !session.is_connected() {
            return Err(AppError::NotConnected {
                name: session.name,
                status: session.status,
            });
        }
        Ok(session)
    }

    /// Renames a session; its history, tokens and default flag follow it.
    pub async fn rename_session(&self, old: &str, new: &str) -> AppResult<()> {
        let (old, new) = (old.trim(), new.trim());
        if old.is_empty() || new.is_empty() {
            return Err(AppError::Invalid(
                "give both the old and the new session name".into(),
            ));
        }
        self.store().rename_session(old, new).await?;
        self.emit(Event::SessionsChanged);
        Ok(())
    }

    /// Makes a session the default one.
    pub async fn set_default(&self, name: &str) -> AppResult<()> {
        let name = name.trim();
        if name.is_empty() {
            return Err(AppError::Invalid("give the session's name".into()));
        }
        self.store().set_default(name).await?;
        self.emit(Event::SessionsChanged);
        Ok(())
    }

    /// Logs a session (default: the default one) out: its credentials go, its history stays.
    pub async fn logout(&self, name: Option<&str>) -> AppResult<SessionRecord> {
        let session = self.resolve_session(name).await?;
        self.store().logout(&session.name).await?;
        self.emit(Event::SessionsChanged);
        Ok(session)
    }

    /// Marks a session expired (its credentials died upstream) and tells everyone. A store
    /// failure is logged: the listener ends either way and the next use reports the expiry.
    pub async fn expire_session(&self, name: &str) {
        tracing::warn!(session = %name, "session expired upstream; log in again with `wxlink login {name}`");
        if let Err(e) = self.store().set_status(name, SessionStatus::Expired).await {
            tracing::warn!(session = %name, error = %e, "cannot mark the session expired");
        }
        self.emit(Event::SessionExpired {
            session: name.to_string(),
        });
    }

    /// Tokens this installation holds, newest first, at most 10 (a login offers them, so the
    /// server can answer "already bound").
    pub async fn local_tokens(&self) -> AppResult<Vec<Secret<String>>> {
        let mut sessions = self.store().sessions().await?;
        sessions.sort_by_key(|s| std::cmp::Reverse(s.updated_at_ms));
        Ok(sessions
            .into_iter()
            .filter_map(|s| s.token)
            .take(10)
            .collect())
    }

    /// The session a login of `backend` without a name uses: the default session when it is of
    /// that backend; else the session of that backend on `endpoint`, else its first session;
    /// else the backend's own default name (`default`, `wechaty`), numbered (`-2`, `-3`, …)
    /// when a session of another backend has it. Never a session of another backend.
    pub async fn default_login_name(
        &self,
        backend: BackendKind,
        endpoint: Option<&str>,
    ) -> AppResult<String> {
        let sessions = self.store().sessions().await?;
        let default = self.store().default_session().await?;
        if let Some(d) = sessions
            .iter()
            .find(|s| Some(&s.name) == default.as_ref() && s.backend == backend)
        {
            return Ok(d.name.clone());
        }
        let same: Vec<&SessionRecord> = sessions.iter().filter(|s| s.backend == backend).collect();
        if let Some(s) = same
            .iter()
            .find(|s| endpoint.is_some() && s.base_url.as_deref() == endpoint)
            .or_else(|| same.first())
        {
            return Ok(s.name.clone());
        }
        let base = self.upstream(backend).default_session_name();
        let taken = |n: &str| sessions.iter().any(|s| s.name == n);
        let mut name = base.to_string();
        let mut n = 2;
        while taken(&name) {
            name = format!("{base}-{n}");
            n += 1;
        }
        Ok(name)
    }
}
