//! The OpenClaw Weixin plugin's state, read (npm `@tencent-weixin/openclaw-weixin` 2.4.9:
//! `src/storage/state-dir.ts`, `src/auth/accounts.ts`, `src/storage/sync-buf.ts`,
//! `src/messaging/inbound.ts`):
//!
//! ```text
//! <state>/openclaw-weixin/accounts.json                      ["<accountId>", …]
//! <state>/openclaw-weixin/accounts/<accountId>.json          {token, savedAt (ISO), baseUrl, userId}
//! <state>/openclaw-weixin/accounts/<accountId>.sync.json     {get_updates_buf}
//! <state>/openclaw-weixin/accounts/<accountId>.context-tokens.json   {userId: token}
//! ```
//!
//! `<state>` is `$OPENCLAW_STATE_DIR`, else `$CLAWDBOT_STATE_DIR`, else `~/.openclaw`. Account
//! ids are the bot id made file-safe (`b0f5…@im.bot` → `b0f5…-im-bot`, `normalizeAccountId`);
//! files of installs before that are named by the raw id, which is tried too, as the plugin
//! does. The session name is the id without its suffix (`b0f5…`), as WeiLink's `migrate
//! openclaw` names it. OpenClaw keeps no message history, and no times for its context
//! tokens: they count as received when their file was last written. The folder is only read.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::weilink::read_json;
use super::{ilink_login, mtime_ms, Foreign, ForeignSession, ReadError};
use crate::store::{ImportedContext, Secret};

/// iLink's host, which OpenClaw uses when an account has no `baseUrl`.
const DEFAULT_BASE_URL: &str = "https://ilinkai.weixin.qq.com";

/// `accounts/<id>.json`.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct AccountFile {
    token: Option<String>,
    saved_at: Option<String>,
    base_url: Option<String>,
    user_id: Option<String>,
}

/// `accounts/<id>.sync.json`.
#[derive(Debug, Deserialize)]
struct SyncFile {
    get_updates_buf: Option<String>,
}

/// Reads the state dir `state` (or its `openclaw-weixin` folder itself).
pub fn read(state: &Path, now_ms: i64) -> Result<Foreign, ReadError> {
    let weixin = if state.join("accounts.json").is_file() {
        state.to_path_buf()
    } else {
        state.join("openclaw-weixin")
    };
    let index = weixin.join("accounts.json");
    if !index.is_file() {
        return Err(ReadError::Missing {
            path: index,
            what: "no OpenClaw Weixin accounts here (give the state dir: `wxlink import \
                   openclaw DIR`, or set OPENCLAW_STATE_DIR)"
                .into(),
        });
    }
    let ids: Vec<serde_json::Value> = read_json(&index)?;
    let accounts = weixin.join("accounts");
    let mut foreign = Foreign::default();
    for id in ids.iter().filter_map(|v| v.as_str()).map(str::trim) {
        if id.is_empty() {
            continue;
        }
        match read_account(&accounts, id, now_ms)? {
            Some(session) => foreign.sessions.push(session),
            None => foreign.warnings.push(format!(
                "account {id:?} has no token in {} (not logged in); skipped",
                accounts.display()
            )),
        }
    }
    if foreign.sessions.is_empty() && foreign.warnings.is_empty() {
        return Err(ReadError::Missing {
            path: index,
            what: "no OpenClaw Weixin account is listed".into(),
        });
    }
    // The first account listed is the one OpenClaw set up first.
    foreign.default = foreign.sessions.first().map(|s| s.name.clone());
    Ok(foreign)
}

/// One account; `None` when it has no credentials file or no token.
fn read_account(dir: &Path, id: &str, now_ms: i64) -> Result<Option<ForeignSession>, ReadError> {
    let Some(account_path) = existing(dir, id, "json") else {
        return Ok(None);
    };
    let account: AccountFile = read_json(&account_path)?;
    let Some(token) = account.token.filter(|t| !t.trim().is_empty()) else {
        return Ok(None);
    };
    let cursor = match existing(dir, id, "sync.json") {
        Some(path) => read_json::<SyncFile>(&path)?
            .get_updates_buf
            .unwrap_or_default(),
        None => String::new(),
    };
    let contexts = match existing(dir, id, "context-tokens.json") {
        Some(path) => {
            let tokens: BTreeMap<String, serde_json::Value> = read_json(&path)?;
            let at = mtime_ms(&path).unwrap_or(now_ms);
            tokens
                .into_iter()
                .filter_map(|(user_id, token)| {
                    let token = token.as_str().filter(|t| !t.is_empty())?.to_owned();
                    Some(ImportedContext {
                        user_id,
                        token: Secret::new(token),
                        received_at_ms: at,
                        send_count: 0,
                    })
                })
                .collect()
        }
        None => Vec::new(),
    };
    let created_at_ms = account
        .saved_at
        .as_deref()
        .and_then(|s| chrono::DateTime::parse_from_rfc3339(s).ok())
        .map(|t| t.timestamp_millis())
        .or_else(|| mtime_ms(&account_path));
    let base_url = account
        .base_url
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_BASE_URL.to_owned());
    Ok(Some(ForeignSession {
        name: session_name(id),
        login: ilink_login(raw_id(id), token, Some(base_url), account.user_id),
        cursor,
        created_at_ms,
        contexts,
        messages: Vec::new(),
    }))
}

/// `<dir>/<id>.<ext>`, else the same under the raw id (installs before ids were normalized).
fn existing(dir: &Path, id: &str, ext: &str) -> Option<PathBuf> {
    [id.to_owned(), raw_id(id)]
        .into_iter()
        .map(|i| dir.join(format!("{i}.{ext}")))
        .find(|p| p.is_file())
}

/// The bot id of an account id (`deriveRawAccountId`): `x-im-bot` → `x@im.bot`.
pub fn raw_id(id: &str) -> String {
    if let Some(stem) = id.strip_suffix("-im-bot") {
        format!("{stem}@im.bot")
    } else if let Some(stem) = id.strip_suffix("-im-wechat") {
        format!("{stem}@im.wechat")
    } else {
        id.to_owned()
    }
}

/// The session name of an account id: without its `@im.bot` / `-im-bot` suffix.
pub fn session_name(id: &str) -> String {
    ["@im.bot", "-im-bot"]
        .iter()
        .find_map(|s| id.strip_suffix(s))
        .filter(|s| !s.is_empty())
        .unwrap_or(id)
        .to_owned()
}
