//! [`Store::import_session`](crate::store::Store::import_session) in SQL: a session from
//! another tool merged in one `BEGIN IMMEDIATE` transaction — the session row (credentials and
//! cursor only where nothing here is logged in), context tokens by age, messages through
//! [`MessageInserts`], and the consumers that had read everything moved past the imported
//! rows. A dry run does all of it and rolls back.

use rusqlite::{params, Connection, OptionalExtension, Transaction, TransactionBehavior};

use super::ops::{SQL_BUMP_LAST_MESSAGE, SQL_SET_CURSOR};
use super::rows::MessageInserts;
use crate::model::check_session_name;
use crate::store::{
    ImportOutcome, ImportedContext, ImportedCredentials, ImportedSession, NewMessage,
    SessionStatus, StoreError, StoreResult, DEFAULT_CONSUMER,
};

/// A context token is stored when the user has none; the same token keeps the newest time and
/// the highest send count; another token replaces it only when strictly newer. Changes a row
/// only when something changes, so `changes()` counts what was new.
const SQL_MERGE_CONTEXT: &str = "INSERT INTO contexts (session, user_id, token, received_at, \
     send_count) VALUES (?1, ?2, ?3, ?4, ?5) \
     ON CONFLICT (session, user_id) DO UPDATE SET \
         send_count  = CASE WHEN excluded.token = contexts.token \
                            THEN max(contexts.send_count, excluded.send_count) \
                            ELSE excluded.send_count END, \
         token       = excluded.token, \
         received_at = max(contexts.received_at, excluded.received_at) \
     WHERE (excluded.token = contexts.token \
            AND (excluded.received_at > contexts.received_at \
                 OR excluded.send_count > contexts.send_count)) \
        OR (excluded.token <> contexts.token AND excluded.received_at > contexts.received_at)";

/// The existing session's backend, bot and status.
type Existing = (String, Option<String>, String);

pub(super) fn import_session(
    conn: &mut Connection,
    session: &ImportedSession,
    dry_run: bool,
) -> StoreResult<ImportOutcome> {
    let name = session.name.as_str();
    check_session_name(name)?;
    let now = chrono::Utc::now().timestamp_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<Existing> = tx
        .query_row(
            "SELECT backend, bot_id, status FROM sessions WHERE name = ?1",
            [name],
            |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
        )
        .optional()?;
    let created = existing.is_none();
    let credentials = match existing {
        None => create(&tx, session, now)?,
        Some(existing) => merge_credentials(&tx, session, existing, now)?,
    };
    let contexts_new = merge_contexts(&tx, name, &session.contexts)?;
    let (messages_new, messages_existing) = insert_messages(&tx, name, &session.messages, now)?;
    if session.make_default {
        tx.execute(
            "UPDATE sessions SET is_default = 0 WHERE is_default = 1 AND name <> ?1",
            [name],
        )?;
        tx.execute("UPDATE sessions SET is_default = 1 WHERE name = ?1", [name])?;
    }
    let is_default: bool = tx.query_row(
        "SELECT is_default FROM sessions WHERE name = ?1",
        [name],
        |r| r.get(0),
    )?;
    let outcome = ImportOutcome {
        created,
        credentials,
        contexts_new,
        messages_new,
        messages_existing,
        is_default,
    };
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(outcome)
}

/// [`Store::import_messages`](crate::store::Store::import_messages): one chunk of an imported
/// session's history in a transaction of its own.
pub(super) fn import_messages(
    conn: &mut Connection,
    session: &str,
    messages: &[NewMessage],
    dry_run: bool,
) -> StoreResult<(u64, u64)> {
    check_session_name(session)?;
    let now = chrono::Utc::now().timestamp_millis();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let counts = insert_messages(&tx, session, messages, now)?;
    if dry_run {
        tx.rollback()?;
    } else {
        tx.commit()?;
    }
    Ok(counts)
}

/// A new session: logged in with the credentials (and cursor) when there are some.
fn create(tx: &Transaction<'_>, s: &ImportedSession, now: i64) -> StoreResult<ImportedCredentials> {
    let first: bool = tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM sessions)", [], |r| {
        r.get(0)
    })?;
    let login = s.login.as_ref();
    let status = if login.is_some() {
        SessionStatus::Connected
    } else {
        SessionStatus::LoggedOut
    };
    let created_at = s.created_at_ms.filter(|&t| t > 0).unwrap_or(now);
    tx.execute(
        "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, status, \
         is_default, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        params![
            s.name,
            login.map_or("ilink", |l| l.backend.as_str()),
            login.map(|l| l.bot_id.as_str()),
            login.and_then(|l| l.user_id.as_deref()),
            login.map(|l| l.token.expose_str()),
            login.and_then(|l| l.base_url.as_deref()),
            status.as_str(),
            first,
            created_at,
            now,
        ],
    )?;
    if login.is_none() {
        return Ok(ImportedCredentials::None);
    }
    if !s.cursor.is_empty() {
        tx.execute(SQL_SET_CURSOR, params![s.name, s.cursor])?;
    }
    Ok(ImportedCredentials::Imported)
}

/// An existing session: refused when it is another account; credentials and cursor taken
/// only when it is not logged in here.
fn merge_credentials(
    tx: &Transaction<'_>,
    s: &ImportedSession,
    (backend, bot_id, status): Existing,
    now: i64,
) -> StoreResult<ImportedCredentials> {
    let Some(login) = s.login.as_ref() else {
        return Ok(ImportedCredentials::None);
    };
    let other_bot = bot_id.as_deref().is_some_and(|b| b != login.bot_id);
    if backend != login.backend.as_str() || other_bot {
        return Err(StoreError::SessionExists(s.name.clone()));
    }
    if status == SessionStatus::Connected.as_str() {
        return Ok(ImportedCredentials::KeptExisting);
    }
    tx.execute(
        "UPDATE sessions SET bot_id = ?2, user_id = coalesce(?3, user_id), token = ?4, \
         base_url = ?5, status = ?6, updated_at = ?7, problem = NULL WHERE name = ?1",
        params![
            s.name,
            login.bot_id,
            login.user_id,
            login.token.expose_str(),
            login.base_url,
            SessionStatus::Connected.as_str(),
            now,
        ],
    )?;
    tx.execute(SQL_SET_CURSOR, params![s.name, s.cursor])?;
    Ok(ImportedCredentials::Imported)
}

/// Returns how many were stored or refreshed.
fn merge_contexts(
    tx: &Transaction<'_>,
    session: &str,
    contexts: &[ImportedContext],
) -> StoreResult<u64> {
    let mut merge = tx.prepare_cached(SQL_MERGE_CONTEXT)?;
    let mut changed = 0u64;
    for c in contexts.iter().filter(|c| !c.token.expose_str().is_empty()) {
        changed += merge.execute(params![
            session,
            c.user_id,
            c.token.expose_str(),
            c.received_at_ms,
            i64::from(c.send_count),
        ])? as u64;
    }
    Ok(changed)
}

/// Returns (new, already there). Consumers that stood at the newest message before move past
/// the imported ones (a missing [`DEFAULT_CONSUMER`] counts as standing at 0).
fn insert_messages(
    tx: &Transaction<'_>,
    session: &str,
    messages: &[NewMessage],
    now: i64,
) -> StoreResult<(u64, u64)> {
    let before: i64 = tx.query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
        r.get(0)
    })?;
    let mut new = 0u64;
    {
        let mut insert = MessageInserts::prepare(tx)?;
        for message in messages {
            if insert.insert(session, message, now)?.is_some() {
                new += 1;
            }
        }
        insert.finish()?;
    }
    if new > 0 {
        if let Some(newest) = messages.iter().map(|m| m.created_at_ms).max() {
            tx.execute(SQL_BUMP_LAST_MESSAGE, params![session, newest])?;
        }
        let after: i64 = tx.query_row("SELECT max(id) FROM messages", [], |r| r.get(0))?;
        tx.execute(
            "INSERT INTO consumers (name, last_id) VALUES (?1, 0) ON CONFLICT (name) DO NOTHING",
            [DEFAULT_CONSUMER],
        )?;
        tx.execute(
            "UPDATE consumers SET last_id = ?2 WHERE last_id >= ?1",
            params![before, after],
        )?;
    }
    Ok((new, messages.len() as u64 - new))
}
