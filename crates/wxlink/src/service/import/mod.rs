//! `wxlink import`: switching from another tool without logging in again or losing history.
//! The readers turn a foreign data folder into [`Foreign`] — [`weilink`] (WeiLink 0.6's
//! `~/.weilink`: sessions, context tokens, `messages.db`) and [`openclaw`] (the OpenClaw
//! Weixin plugin's state dir: accounts, sync cursors, context tokens) — and [`run`] merges it
//! into the store: each session in one transaction ([`Store::import_session`]), then the
//! history streamed from the foreign database in chunks of [`CHUNK`] messages, each a
//! transaction ([`Store::import_messages`]), so memory stays flat whatever its size.
//!
//! Rules (README "Switching from WeiLink or OpenClaw"):
//! - Everything is read (and checked) before anything is written: a malformed file stops
//!   the import with an error naming it, and nothing is written. The source folder is only
//!   read (WeiLink's database is read from a private copy).
//! - A foreign session goes into the session here with the same bot id, else into the one of
//!   its name, else a new one of its name. Credentials and the cursor are taken only where
//!   nothing is logged in here (a login made here is never overwritten; its history and
//!   context tokens are still merged); a name held by another account is skipped and said so.
//! - Importing again adds nothing (messages are de-duplicated on the upstream id, sent ones
//!   on WeiLink's row id; context tokens only when newer).
//! - The other tool's default session becomes the default only in a store without sessions.
//! - Imported messages are history, not news: readers that had read everything (and `recv`
//!   in a new data directory) start after them.

pub mod openclaw;
#[cfg(test)]
mod tests;
pub mod weilink;
mod weilink_messages;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::store::{
    BackendKind, ImportOutcome, ImportedContext, ImportedCredentials, ImportedSession, LoginRecord,
    NewMessage, Store, StoreError,
};

/// The tools wxlink imports from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// WeiLink (PyPI `weilink`).
    Weilink,
    /// The OpenClaw Weixin plugin (npm `@tencent-weixin/openclaw-weixin`).
    Openclaw,
}

impl Source {
    /// The tool's name as users know it.
    pub fn label(self) -> &'static str {
        match self {
            Source::Weilink => "WeiLink",
            Source::Openclaw => "OpenClaw",
        }
    }

    /// The tool's default data folder: WeiLink `~/.weilink`; OpenClaw `$OPENCLAW_STATE_DIR`,
    /// else `$CLAWDBOT_STATE_DIR`, else `~/.openclaw` (its `resolveStateDir`).
    pub fn default_dir(self) -> PathBuf {
        let home = || std::env::home_dir().unwrap_or_else(|| PathBuf::from("."));
        match self {
            Source::Weilink => home().join(".weilink"),
            Source::Openclaw => ["OPENCLAW_STATE_DIR", "CLAWDBOT_STATE_DIR"]
                .iter()
                .find_map(|var| {
                    std::env::var(var)
                        .ok()
                        .map(|v| v.trim().to_owned())
                        .filter(|v| !v.is_empty())
                })
                .map(PathBuf::from)
                .unwrap_or_else(|| home().join(".openclaw")),
        }
    }
}

/// A foreign data folder, read.
#[derive(Debug, Default)]
pub struct Foreign {
    /// Its sessions.
    pub sessions: Vec<ForeignSession>,
    /// The session the tool treats as its default.
    pub default: Option<String>,
    /// What could not be brought over, in words.
    pub warnings: Vec<String>,
    /// Where the history is, when it was checked but not kept (see [`scan`]).
    pub history: Option<HistoryDb>,
}

/// A foreign message database to stream into the store.
#[derive(Debug, Clone)]
pub struct HistoryDb {
    /// The database.
    pub db: PathBuf,
    /// Which session's messages each bot's are, by bot id.
    pub bots: BTreeMap<String, String>,
}

/// Messages written per transaction when history is streamed: memory stays at a few of
/// these whatever the size of the foreign database.
const CHUNK: usize = 2_000;

/// One foreign session, read.
#[derive(Debug, Clone)]
pub struct ForeignSession {
    /// Its name there (a WeiLink session folder, an OpenClaw account id shortened).
    pub name: String,
    /// Bot id, token, base URL, user.
    pub login: LoginRecord,
    /// The getupdates cursor (`""` when none).
    pub cursor: String,
    /// First login, ms.
    pub created_at_ms: Option<i64>,
    /// Context tokens.
    pub contexts: Vec<ImportedContext>,
    /// History.
    pub messages: Vec<NewMessage>,
}

/// Why reading a foreign folder failed.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The folder (or a file it must have) is not there.
    #[error("{} not found: {what}", path.display())]
    Missing {
        /// The path.
        path: PathBuf,
        /// What was expected there.
        what: String,
    },
    /// A file could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The error.
        #[source]
        source: std::io::Error,
    },
    /// A file is not what the tool writes; nothing was imported.
    #[error("{} is malformed: {reason}; nothing was imported", path.display())]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

impl ReadError {
    pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> ReadError + '_ {
        move |source| ReadError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    pub(crate) fn malformed(path: &Path, reason: impl std::fmt::Display) -> ReadError {
        ReadError::Malformed {
            path: path.to_path_buf(),
            reason: reason.to_string(),
        }
    }
}

impl From<ReadError> for AppError {
    fn from(e: ReadError) -> Self {
        match e {
            ReadError::Io { path, source } => AppError::Io { path, source },
            other => AppError::Invalid(other.to_string()),
        }
    }
}

/// Reads a foreign folder with its history (blocking).
pub fn read(source: Source, dir: &Path, now_ms: i64) -> Result<Foreign, ReadError> {
    match source {
        Source::Weilink => weilink::read(dir, now_ms, true),
        Source::Openclaw => openclaw::read(dir, now_ms),
    }
}

/// Reads a foreign folder and checks its history without keeping it (blocking): what
/// [`run`] does before it writes, then streams the history in ([`Foreign::history`]).
pub fn scan(source: Source, dir: &Path, now_ms: i64) -> Result<Foreign, ReadError> {
    match source {
        Source::Weilink => weilink::read(dir, now_ms, false),
        Source::Openclaw => openclaw::read(dir, now_ms),
    }
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Serialize)]
pub struct ImportReport {
    /// The tool.
    pub source: Source,
    /// The folder read.
    pub dir: PathBuf,
    /// Nothing was written.
    pub dry_run: bool,
    /// Per foreign session.
    pub sessions: Vec<SessionReport>,
    /// The default session here afterwards.
    pub default_session: Option<String>,
    /// What could not be brought over.
    pub warnings: Vec<String>,
}

impl ImportReport {
    /// Messages stored by this import, all sessions.
    pub fn messages_new(&self) -> u64 {
        self.sessions.iter().map(|s| s.messages_new).sum()
    }
}

/// What happened to one foreign session.
#[derive(Debug, Clone, Serialize)]
pub struct SessionReport {
    /// Its name there.
    pub name: String,
    /// The session it went into here (`None`: skipped).
    pub session: Option<String>,
    /// Bot id.
    pub bot_id: String,
    /// The session here is new.
    pub created: bool,
    /// `imported`, `kept_existing` (logged in here already) or `none`.
    pub credentials: &'static str,
    /// The getupdates cursor was taken (polling goes on where the other tool stopped).
    pub cursor: bool,
    /// Context tokens read.
    pub context_tokens: usize,
    /// Of those, stored or refreshed.
    pub context_tokens_new: u64,
    /// Messages stored.
    pub messages_new: u64,
    /// Messages that were here already.
    pub messages_existing: u64,
    /// Why it was skipped.
    pub skipped: Option<String>,
}

/// Reads `dir` as `source` and merges it into `store` (with `dry_run`, computes the same
/// report and writes nothing).
pub async fn run(
    store: &dyn Store,
    source: Source,
    dir: &Path,
    dry_run: bool,
) -> AppResult<ImportReport> {
    let now = chrono::Utc::now().timestamp_millis();
    let path = dir.to_path_buf();
    let foreign = tokio::task::spawn_blocking(move || scan(source, &path, now))
        .await
        .map_err(|e| AppError::System(format!("the import's reader stopped: {e}")))??;
    let existing = store.sessions().await?;
    let store_was_empty = existing.is_empty();
    let mut sessions = Vec::with_capacity(foreign.sessions.len());
    for s in foreign.sessions {
        let target = existing
            .iter()
            .find(|e| {
                e.backend == s.login.backend && e.bot_id.as_deref() == Some(s.login.bot_id.as_str())
            })
            .map_or_else(|| s.name.clone(), |e| e.name.clone());
        let make_default = store_was_empty && foreign.default.as_deref() == Some(s.name.as_str());
        let mut report = SessionReport {
            name: s.name.clone(),
            session: Some(target.clone()),
            bot_id: s.login.bot_id.clone(),
            created: false,
            credentials: "none",
            cursor: false,
            context_tokens: s.contexts.len(),
            context_tokens_new: 0,
            messages_new: 0,
            messages_existing: 0,
            skipped: None,
        };
        let has_cursor = !s.cursor.is_empty();
        let imported = ImportedSession {
            name: target.clone(),
            login: Some(s.login),
            cursor: s.cursor,
            created_at_ms: s.created_at_ms,
            contexts: s.contexts,
            messages: s.messages,
            make_default,
        };
        match store.import_session(imported, dry_run).await {
            Ok(outcome) => fill(&mut report, &outcome, has_cursor),
            Err(StoreError::SessionExists(_)) => {
                report.session = None;
                report.skipped = Some(format!(
                    "a session named {target:?} here belongs to another account; rename it \
                     (`wxlink sessions rename {target} NEW`) and import again"
                ));
            }
            Err(StoreError::InvalidName(bad)) => {
                report.session = None;
                report.skipped = Some(format!(
                    "{bad}; rename the session in {} and import again",
                    source.label()
                ));
            }
            Err(e) => return Err(e.into()),
        }
        sessions.push(report);
    }
    if let Some(history) = foreign.history.clone() {
        stream_history(store, history, &mut sessions, now, dry_run).await?;
    }
    let default_session = if dry_run && store_was_empty {
        foreign
            .default
            .clone()
            .or_else(|| sessions.iter().find_map(|s| s.session.clone()))
    } else {
        store.default_session().await?
    };
    Ok(ImportReport {
        source,
        dir: dir.to_path_buf(),
        dry_run,
        sessions,
        default_session,
        warnings: foreign.warnings,
    })
}

/// Streams a history checked by [`scan`] into the sessions it belongs to, [`CHUNK`] messages
/// per transaction: a reader thread hands chunks over a small channel, so at most a few
/// chunks are in memory. (A crash midway leaves part of the history; importing again adds the
/// rest, as messages are de-duplicated.)
async fn stream_history(
    store: &dyn Store,
    history: HistoryDb,
    sessions: &mut [SessionReport],
    now_ms: i64,
    dry_run: bool,
) -> AppResult<()> {
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Vec<NewMessage>)>(2);
    let reader = tokio::task::spawn_blocking(move || {
        let mut pending: BTreeMap<String, Vec<NewMessage>> = BTreeMap::new();
        let gone = || ReadError::Malformed {
            path: history.db.clone(),
            reason: "the import stopped while reading".into(),
        };
        weilink::stream_history(&history, now_ms, &mut |session, m| {
            let chunk = pending.entry(session.to_owned()).or_default();
            chunk.push(m);
            if chunk.len() >= CHUNK {
                let full = std::mem::take(chunk);
                tx.blocking_send((session.to_owned(), full))
                    .map_err(|_| gone())?;
            }
            Ok(())
        })?;
        for (session, rest) in pending {
            if !rest.is_empty() {
                tx.blocking_send((session, rest)).map_err(|_| gone())?;
            }
        }
        Ok::<(), ReadError>(())
    });
    while let Some((name, chunk)) = rx.recv().await {
        let Some(report) = sessions.iter_mut().find(|r| r.name == name) else {
            continue;
        };
        let Some(target) = report.session.clone() else {
            continue; // skipped (its name belongs to another account here)
        };
        let (new, existing) = store.import_messages(&target, chunk, dry_run).await?;
        report.messages_new += new;
        report.messages_existing += existing;
    }
    reader
        .await
        .map_err(|e| AppError::System(format!("the import's reader stopped: {e}")))??;
    Ok(())
}

fn fill(report: &mut SessionReport, outcome: &ImportOutcome, has_cursor: bool) {
    report.created = outcome.created;
    report.credentials = match outcome.credentials {
        ImportedCredentials::Imported => "imported",
        ImportedCredentials::KeptExisting => "kept_existing",
        ImportedCredentials::None => "none",
    };
    report.cursor = has_cursor && outcome.credentials == ImportedCredentials::Imported;
    report.context_tokens_new = outcome.contexts_new;
    report.messages_new = outcome.messages_new;
    report.messages_existing = outcome.messages_existing;
}

/// A login of an iLink bot read from a foreign folder.
pub(crate) fn ilink_login(
    bot_id: String,
    token: String,
    base_url: Option<String>,
    user_id: Option<String>,
) -> LoginRecord {
    LoginRecord {
        backend: BackendKind::Ilink,
        bot_id,
        user_id: user_id.filter(|u| !u.trim().is_empty()),
        token: crate::store::Secret::new(token),
        base_url: base_url.filter(|u| !u.trim().is_empty()),
    }
}

/// Seconds since the epoch (as the Python and JS tools write them) into ms.
pub(crate) fn secs_to_ms(secs: f64) -> Option<i64> {
    (secs.is_finite() && secs > 0.0).then(|| (secs * 1000.0).round() as i64)
}

/// A file's modification time, ms.
pub(crate) fn mtime_ms(path: &Path) -> Option<i64> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    let since = modified.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since.as_millis()).ok()
}
