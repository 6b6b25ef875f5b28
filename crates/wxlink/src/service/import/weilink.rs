//! WeiLink 0.6's data folder, read (spec `weilink-parity.md` §9–§10; `weilink/client.py`
//! `_load_session_state`, `_load_session_contexts`, `_load_default_session_name`):
//!
//! ```text
//! <base>/.default_session          the default session's name (plain text)
//! <base>/<session>/token.json      {bot_id, base_url, token, user_id, cursor, created_at (s)}
//! <base>/<session>/contexts.json   {user_id: {t, ts (s), send_ts, sc, first_seen}}
//! <base>/token.json                the pre-0.4 flat layout: the session "default"
//! <base>/messages.db               history (see `weilink_messages`)
//! ```
//!
//! A folder is a session when it holds a `token.json` (WeiLink's own rule); a `token.json`
//! without `bot_id` or `token` is malformed. The folder is only read.

use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};

use serde::Deserialize;
use serde_json::Value;

use super::{
    ilink_login, mtime_ms, secs_to_ms, weilink_messages, Foreign, ForeignSession, HistoryDb,
    ReadError,
};
use crate::store::{ImportedContext, Secret};

/// WeiLink's name for the session of the flat layout and the first login.
const DEFAULT_SESSION: &str = "default";

/// `<session>/token.json`.
#[derive(Debug, Deserialize)]
struct TokenFile {
    bot_id: Option<String>,
    base_url: Option<String>,
    token: Option<String>,
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    cursor: Option<String>,
    #[serde(default)]
    created_at: Option<f64>,
}

/// Reads the folder `base`. With `keep_messages` the history is read into the sessions;
/// without, every row is still read and checked, and [`Foreign::history`] says where to
/// stream it from ([`stream_history`]).
pub fn read(base: &Path, now_ms: i64, keep_messages: bool) -> Result<Foreign, ReadError> {
    if !base.is_dir() {
        return Err(ReadError::Missing {
            path: base.to_path_buf(),
            what: "no WeiLink data folder here (give its path: `wxlink import weilink DIR`)".into(),
        });
    }
    let mut foreign = Foreign::default();
    for (name, dir) in session_dirs(base)? {
        let session = read_session(&name, &dir, now_ms)?;
        foreign.sessions.push(session);
    }
    if foreign.sessions.is_empty() {
        return Err(ReadError::Missing {
            path: base.join(DEFAULT_SESSION).join("token.json"),
            what: format!(
                "no WeiLink session in {} (no <session>/token.json)",
                base.display()
            ),
        });
    }
    foreign.default = default_session(base, &foreign.sessions)?;
    let db = base.join("messages.db");
    if db.is_file() {
        // A bot's messages go to its first session (by name).
        let mut bots = BTreeMap::new();
        for s in &foreign.sessions {
            bots.entry(s.login.bot_id.clone())
                .or_insert_with(|| s.name.clone());
        }
        let history = if keep_messages {
            let mut history = weilink_messages::read(&db, &bots, now_ms)?;
            for session in &mut foreign.sessions {
                if let Some(messages) = history.by_session.remove(&session.name) {
                    session.messages = messages;
                }
            }
            history
        } else {
            // Checked now (a malformed row stops the import before anything is written),
            // streamed into the store later.
            let history = weilink_messages::scan(&db, &bots, now_ms, &mut |_, _| Ok(()))?;
            foreign.history = Some(HistoryDb {
                db: db.clone(),
                bots,
            });
            history
        };
        for (bot, count) in history.orphans {
            foreign.warnings.push(format!(
                "{count} message(s) of bot {bot:?} in {} belong to no session in the folder; \
                 they were not imported",
                db.display()
            ));
        }
        foreign.warnings.extend(history.warnings);
    }
    if poll_lock_held(base) {
        foreign.warnings.push(format!(
            "WeiLink is still running on {} (it holds .poll.lock): stop it, or it and wxlink \
             will poll the same account and each get only part of the messages",
            base.display()
        ));
    }
    Ok(foreign)
}

/// `(name, folder)` of every session, by name; the flat layout's `token.json` as "default"
/// when there is no `default/` folder (WeiLink moves it there itself on its next start).
fn session_dirs(base: &Path) -> Result<Vec<(String, PathBuf)>, ReadError> {
    let mut found = Vec::new();
    let entries = fs::read_dir(base).map_err(ReadError::io(base))?;
    for entry in entries {
        let entry = entry.map_err(ReadError::io(base))?;
        let path = entry.path();
        if !path.is_dir() || !path.join("token.json").is_file() {
            continue;
        }
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            continue; // not UTF-8: WeiLink could not have named it
        };
        found.push((name, path));
    }
    if base.join("token.json").is_file() && !found.iter().any(|(n, _)| n == DEFAULT_SESSION) {
        found.push((DEFAULT_SESSION.to_owned(), base.to_path_buf()));
    }
    found.sort();
    Ok(found)
}

fn read_session(name: &str, dir: &Path, now_ms: i64) -> Result<ForeignSession, ReadError> {
    let token_path = dir.join("token.json");
    let file: TokenFile = read_json(&token_path)?;
    let required = |field: Option<String>, key: &str| {
        field
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| ReadError::malformed(&token_path, format!("no {key:?}")))
    };
    let bot_id = required(file.bot_id, "bot_id")?;
    let token = required(file.token, "token")?;
    let created_at_ms = file
        .created_at
        .and_then(secs_to_ms)
        .or_else(|| mtime_ms(&token_path));
    let contexts = read_contexts(&dir.join("contexts.json"), now_ms)?;
    Ok(ForeignSession {
        name: name.to_owned(),
        login: ilink_login(bot_id, token, file.base_url, file.user_id),
        cursor: file.cursor.unwrap_or_default(),
        created_at_ms,
        contexts,
        messages: Vec::new(),
    })
}

/// `contexts.json`: entries with a token (`t`); `ts` (seconds) is when it arrived, `sc` how
/// many sends were made with it. Entries without a token (only send times) are skipped.
fn read_contexts(path: &Path, now_ms: i64) -> Result<Vec<ImportedContext>, ReadError> {
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let value: Value = read_json(path)?;
    let Value::Object(entries) = value else {
        return Err(ReadError::malformed(path, "not a JSON object"));
    };
    let fallback = mtime_ms(path).unwrap_or(now_ms);
    let mut out = Vec::new();
    for (user_id, entry) in entries {
        let Some(entry) = entry.as_object() else {
            return Err(ReadError::malformed(
                path,
                format!("the entry of {user_id:?} is not an object"),
            ));
        };
        let Some(token) = entry
            .get("t")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
        else {
            continue;
        };
        let received_at_ms = entry
            .get("ts")
            .and_then(Value::as_f64)
            .and_then(secs_to_ms)
            .unwrap_or(fallback);
        let send_count = entry
            .get("sc")
            .and_then(Value::as_u64)
            .map_or(0, |n| u32::try_from(n).unwrap_or(u32::MAX));
        out.push(ImportedContext {
            user_id,
            token: Secret::new(token.to_owned()),
            received_at_ms,
            send_count,
        });
    }
    Ok(out)
}

/// WeiLink's default: `default/` if present, else `.default_session` when it names a session,
/// else the earliest created one.
fn default_session(base: &Path, sessions: &[ForeignSession]) -> Result<Option<String>, ReadError> {
    if sessions.iter().any(|s| s.name == DEFAULT_SESSION) {
        return Ok(Some(DEFAULT_SESSION.to_owned()));
    }
    let saved_path = base.join(".default_session");
    if saved_path.is_file() {
        let saved = fs::read_to_string(&saved_path).map_err(ReadError::io(&saved_path))?;
        let saved = saved.trim();
        if sessions.iter().any(|s| s.name == saved) {
            return Ok(Some(saved.to_owned()));
        }
    }
    Ok(sessions
        .iter()
        .min_by_key(|s| (s.created_at_ms.unwrap_or(i64::MAX), s.name.clone()))
        .map(|s| s.name.clone()))
}

/// Whether a WeiLink process holds `<base>/.poll.lock` (flock) right now. Opens the file
/// read-only and never creates it.
fn poll_lock_held(base: &Path) -> bool {
    let path = base.join(".poll.lock");
    let Ok(file) = OpenOptions::new().read(true).open(&path) else {
        return false;
    };
    matches!(
        File::try_lock(&file),
        Err(std::fs::TryLockError::WouldBlock)
    )
}

/// A JSON file into `T`; unreadable or malformed files are errors naming the file.
pub(super) fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, ReadError> {
    let text = fs::read_to_string(path).map_err(ReadError::io(path))?;
    serde_json::from_str(&text).map_err(|e| ReadError::malformed(path, e))
}

/// Streams the history of a folder read without its messages (blocking): each message goes to
/// `sink` as it is read.
pub(super) fn stream_history(
    history: &HistoryDb,
    now_ms: i64,
    sink: &mut weilink_messages::Sink<'_>,
) -> Result<(), ReadError> {
    weilink_messages::scan(&history.db, &history.bots, now_ms, sink).map(|_| ())
}
