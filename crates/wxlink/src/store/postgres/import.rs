//! [`Store::import_session`](crate::store::Store::import_session) in SQL: a session from
//! another tool merged in one transaction — the session row (credentials, sealed, and cursor
//! only where nothing here is logged in), context tokens by age, messages through
//! [`insert_messages`], and the consumers that had read everything moved past the imported
//! rows. A dry run does all of it and rolls back (its notices are never sent).

use deadpool_postgres::{Client, Transaction};

use super::crypt::Sealer;
use super::messages::lock_ids;
use super::notify::{messages_stored, sessions_changed};
use super::rows::{insert_messages, nul_free, seal_token};
use super::sessions::{lock_sessions, make_default, SQL_BUMP_LAST_MESSAGE, SQL_SET_CURSOR};
use crate::model::check_session_name;
use crate::store::{
    ImportOutcome, ImportedContext, ImportedCredentials, ImportedSession, NewMessage,
    SessionStatus, StoreError, StoreResult, DEFAULT_CONSUMER,
};
use crate::timefmt::now_ms;

/// A context token is stored when the user has none; the same token keeps the newest time and
/// the highest send count; another token replaces it only when strictly newer. Changes a row
/// only when something changes, so the row count says what was new.
const SQL_MERGE_CONTEXT: &str = "INSERT INTO contexts (session, user_id, token, received_at, \
     send_count) VALUES ($1, $2, $3, $4, $5) \
     ON CONFLICT (session, user_id) DO UPDATE SET \
         send_count  = CASE WHEN excluded.token = contexts.token \
                            THEN greatest(contexts.send_count, excluded.send_count) \
                            ELSE excluded.send_count END, \
         token       = excluded.token, \
         received_at = greatest(contexts.received_at, excluded.received_at) \
     WHERE (excluded.token = contexts.token \
            AND (excluded.received_at > contexts.received_at \
                 OR excluded.send_count > contexts.send_count)) \
        OR (excluded.token <> contexts.token AND excluded.received_at > contexts.received_at)";

pub(super) async fn import_session(
    c: &mut Client,
    sealer: &Sealer,
    session: &ImportedSession,
    dry_run: bool,
) -> StoreResult<ImportOutcome> {
    let name = session.name.as_str();
    check_session_name(name)?;
    let now = now_ms();
    let tx = c.transaction().await?;
    lock_ids(&tx).await?;
    lock_sessions(&tx).await?;
    let existing = tx
        .query_opt(
            "SELECT backend, bot_id, status FROM sessions WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?;
    let created = existing.is_none();
    let credentials = match existing {
        None => create(&tx, sealer, session, now).await?,
        Some(row) => {
            let existing = (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
            merge_credentials(&tx, sealer, session, existing, now).await?
        }
    };
    let contexts_new = merge_contexts(&tx, name, &session.contexts).await?;
    let (messages_new, messages_existing) =
        insert_history(&tx, name, &session.messages, now).await?;
    if session.make_default {
        make_default(&tx, name).await?;
    }
    let is_default: bool = tx
        .query_one("SELECT is_default FROM sessions WHERE name = $1", &[&name])
        .await?
        .try_get(0)?;
    let outcome = ImportOutcome {
        created,
        credentials,
        contexts_new,
        messages_new,
        messages_existing,
        is_default,
    };
    sessions_changed(&tx).await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(outcome)
}

/// [`Store::import_messages`](crate::store::Store::import_messages): one chunk of an imported
/// session's history in a transaction of its own.
pub(super) async fn import_messages(
    c: &mut Client,
    session: &str,
    messages: &[NewMessage],
    dry_run: bool,
) -> StoreResult<(u64, u64)> {
    check_session_name(session)?;
    let now = now_ms();
    let tx = c.transaction().await?;
    lock_ids(&tx).await?;
    let counts = insert_history(&tx, session, messages, now).await?;
    if dry_run {
        tx.rollback().await?;
    } else {
        tx.commit().await?;
    }
    Ok(counts)
}

/// A new session: logged in with the credentials (and cursor) when there are some.
async fn create(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    s: &ImportedSession,
    now: i64,
) -> StoreResult<ImportedCredentials> {
    let first: bool = tx
        .query_one("SELECT NOT EXISTS (SELECT 1 FROM sessions)", &[])
        .await?
        .try_get(0)?;
    let login = s.login.as_ref();
    let status = if login.is_some() {
        SessionStatus::Connected
    } else {
        SessionStatus::LoggedOut
    };
    let created_at = s.created_at_ms.filter(|&t| t > 0).unwrap_or(now);
    let token = login.map(|l| seal_token(sealer, &l.token));
    tx.execute(
        "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, status, \
         is_default, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            &s.name,
            &login.map_or("ilink", |l| l.backend.as_str()),
            &login.map(|l| nul_free(&l.bot_id)),
            &login.and_then(|l| l.user_id.as_deref()).map(nul_free),
            &token,
            &login.and_then(|l| l.base_url.as_deref()).map(nul_free),
            &status.as_str(),
            &first,
            &created_at,
            &now,
        ],
    )
    .await?;
    if login.is_none() {
        return Ok(ImportedCredentials::None);
    }
    if !s.cursor.is_empty() {
        tx.execute(SQL_SET_CURSOR, &[&s.name, &nul_free(&s.cursor)])
            .await?;
    }
    Ok(ImportedCredentials::Imported)
}

/// The existing session's backend, bot and status.
type Existing = (String, Option<String>, String);

/// An existing session: refused when it is another account; credentials and cursor taken
/// only when it is not logged in here.
async fn merge_credentials(
    tx: &Transaction<'_>,
    sealer: &Sealer,
    s: &ImportedSession,
    (backend, bot_id, status): Existing,
    now: i64,
) -> StoreResult<ImportedCredentials> {
    let Some(login) = s.login.as_ref() else {
        return Ok(ImportedCredentials::None);
    };
    let login_bot = nul_free(&login.bot_id);
    let other_bot = bot_id.as_deref().is_some_and(|b| b != login_bot);
    if backend != login.backend.as_str() || other_bot {
        return Err(StoreError::SessionExists(s.name.clone()));
    }
    if status == SessionStatus::Connected.as_str() {
        return Ok(ImportedCredentials::KeptExisting);
    }
    tx.execute(
        "UPDATE sessions SET bot_id = $2, user_id = coalesce($3, user_id), token = $4, \
         base_url = $5, status = $6, updated_at = $7, problem = NULL WHERE name = $1",
        &[
            &s.name,
            &login_bot,
            &login.user_id.as_deref().map(nul_free),
            &seal_token(sealer, &login.token),
            &login.base_url.as_deref().map(nul_free),
            &SessionStatus::Connected.as_str(),
            &now,
        ],
    )
    .await?;
    tx.execute(SQL_SET_CURSOR, &[&s.name, &nul_free(&s.cursor)])
        .await?;
    Ok(ImportedCredentials::Imported)
}

/// Returns how many were stored or refreshed.
async fn merge_contexts(
    tx: &Transaction<'_>,
    session: &str,
    contexts: &[ImportedContext],
) -> StoreResult<u64> {
    let merge = tx.prepare_cached(SQL_MERGE_CONTEXT).await?;
    let mut changed = 0u64;
    for c in contexts.iter().filter(|c| !c.token.expose_str().is_empty()) {
        let count = i32::try_from(c.send_count).unwrap_or(i32::MAX);
        changed += tx
            .execute(
                &merge,
                &[
                    &session,
                    &nul_free(&c.user_id),
                    &nul_free(c.token.expose_str()),
                    &c.received_at_ms,
                    &count,
                ],
            )
            .await?;
    }
    Ok(changed)
}

/// Returns (new, already there). Consumers that stood at the newest message before move past
/// the imported ones (a missing [`DEFAULT_CONSUMER`] counts as standing at 0). Runs under the
/// id lock.
async fn insert_history(
    tx: &Transaction<'_>,
    session: &str,
    messages: &[NewMessage],
    now: i64,
) -> StoreResult<(u64, u64)> {
    let before: i64 = tx
        .query_one("SELECT coalesce(max(id), 0) FROM messages", &[])
        .await?
        .try_get(0)?;
    let inserted = insert_messages(tx, session, messages, now).await?;
    let new = inserted.len() as u64;
    if let Some(&after) = inserted.last() {
        if let Some(newest) = messages.iter().map(|m| m.created_at_ms).max() {
            tx.execute(SQL_BUMP_LAST_MESSAGE, &[&session, &newest])
                .await?;
        }
        tx.execute(
            "INSERT INTO consumers (name, last_id) VALUES ($1, 0) ON CONFLICT (name) DO NOTHING",
            &[&DEFAULT_CONSUMER],
        )
        .await?;
        tx.execute(
            "UPDATE consumers SET last_id = $2 WHERE last_id >= $1",
            &[&before, &after],
        )
        .await?;
        messages_stored(tx, after).await?;
    }
    Ok((new, messages.len() as u64 - new))
}
