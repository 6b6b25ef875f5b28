//! Sessions, cursors and context tokens in SQL: logins (tokens sealed), statuses, renames,
//! the default, logouts, and the reads routing needs. Every change to a session sends the
//! sessions notice in its own transaction ([`super::notify::sessions_changed`]).
//!
//! Transactions that create sessions or move the default take the sessions lock
//! ([`lock_sessions`]) first: two replicas logging in their first session at once still make
//! exactly one the default.

use deadpool_postgres::{Client, GenericClient, Transaction};
use tokio_postgres::types::ToSql;

use super::crypt::Sealer;
use super::error::is_unique_violation;
use super::notify::sessions_changed;
use super::rows::{
    context_from_row, nul_free, seal_token, session_from_row, CONTEXT_SELECT, SESSION_SELECT,
};
use crate::model::check_session_name;
use crate::store::{
    BackendKind, ContextRecord, LoginRecord, SessionPresence, SessionRecord, SessionStatus,
    StoreError, StoreResult,
};
use crate::timefmt::now_ms;

/// Advisory lock key (transaction level) of changes that create sessions or move the default.
const SESSIONS_LOCK: i64 = 0x7778_6c69_6e6b_0002;

/// Takes the sessions lock for the rest of the transaction. Taken before any row lock, and
/// after the id lock when a transaction takes both ([`super::messages::lock_ids`]).
pub(super) async fn lock_sessions(tx: &Transaction<'_>) -> StoreResult<()> {
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SESSIONS_LOCK])
        .await?;
    Ok(())
}

pub(super) const SQL_BUMP_LAST_MESSAGE: &str = "UPDATE sessions \
     SET last_message_at = greatest(coalesce(last_message_at, $2), $2) WHERE name = $1";

pub(super) const SQL_SET_CURSOR: &str = "INSERT INTO cursors (session, cursor) VALUES ($1, $2) \
     ON CONFLICT (session) DO UPDATE SET cursor = excluded.cursor";

/// The order of every list of sessions: the default first, then by name.
const SESSION_ORDER: &str = "ORDER BY s.is_default DESC, s.name";

/// The sessions `filter` keeps (a `WHERE` clause with `params`, or nothing), in
/// [`SESSION_ORDER`]; only their tokens are unsealed.
async fn listed_sessions(
    c: &impl GenericClient,
    sealer: &Sealer,
    filter: &str,
    params: &[&(dyn ToSql + Sync)],
) -> StoreResult<Vec<SessionRecord>> {
    let sql = format!("{SESSION_SELECT} {filter} {SESSION_ORDER}");
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, params).await?;
    rows.iter().map(|r| session_from_row(r, sealer)).collect()
}

pub(super) async fn sessions(
    c: &impl GenericClient,
    sealer: &Sealer,
) -> StoreResult<Vec<SessionRecord>> {
    listed_sessions(c, sealer, "", &[]).await
}

/// The sessions of one bot ([`crate::store::Store::sessions_with_bot`]).
pub(super) async fn sessions_with_bot(
    c: &impl GenericClient,
    sealer: &Sealer,
    bot_id: &str,
) -> StoreResult<Vec<SessionRecord>> {
    listed_sessions(c, sealer, "WHERE s.bot_id = $1", &[&bot_id]).await
}

/// The sessions holding a context token of `user_id` and those of the `open` backends
/// ([`crate::store::Store::route_candidates`]), default first then by name; only their tokens
/// are unsealed.
pub(super) async fn route_sessions(
    c: &impl GenericClient,
    sealer: &Sealer,
    user_id: &str,
    open: &[BackendKind],
) -> StoreResult<Vec<SessionRecord>> {
    let open: Vec<&str> = open.iter().map(|b| b.as_str()).collect();
    let filter = "WHERE s.name IN (SELECT session FROM contexts WHERE user_id = $1) \
                  OR s.backend = ANY($2)";
    listed_sessions(c, sealer, filter, &[&user_id, &open]).await
}

pub(super) async fn session(
    c: &impl GenericClient,
    sealer: &Sealer,
    name: &str,
) -> StoreResult<Option<SessionRecord>> {
    let sql = format!("{SESSION_SELECT} WHERE s.name = $1");
    let row = c.query_opt(sql.as_str(), &[&name]).await?;
    row.map(|r| session_from_row(&r, sealer)).transpose()
}

pub(super) async fn session_exists(c: &impl GenericClient, name: &str) -> StoreResult<bool> {
    Ok(
        c.query_opt("SELECT 1 FROM sessions WHERE name = $1", &[&name])
            .await?
            .is_some(),
    )
}

pub(super) async fn require_session(c: &impl GenericClient, name: &str) -> StoreResult<()> {
    if session_exists(c, name).await? {
        Ok(())
    } else {
        Err(StoreError::UnknownSession(name.to_owned()))
    }
}

/// Locks session `name`'s row for the rest of the transaction (`FOR NO KEY UPDATE`: foreign
/// key checks still pass); [`StoreError::UnknownSession`] when there is none. Writes to a
/// session's contexts, cursor or messages take it first, as logins and logouts (which lock the
/// row, then change its contexts) do: the same order everywhere, so they never deadlock.
pub(super) async fn lock_session(tx: &Transaction<'_>, name: &str) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("SELECT 1 FROM sessions WHERE name = $1 FOR NO KEY UPDATE")
        .await?;
    if tx.query_opt(&stmt, &[&name]).await?.is_some() {
        Ok(())
    } else {
        Err(StoreError::UnknownSession(name.to_owned()))
    }
}

pub(super) async fn save_login(
    c: &mut Client,
    sealer: &Sealer,
    name: &str,
    login: &LoginRecord,
) -> StoreResult<SessionRecord> {
    check_session_name(name)?;
    let now = now_ms();
    let token = seal_token(sealer, &login.token);
    let (bot_id, user_id, base_url) = (
        nul_free(&login.bot_id),
        login.user_id.as_deref().map(nul_free),
        login.base_url.as_deref().map(nul_free),
    );
    let tx = c.transaction().await?;
    lock_sessions(&tx).await?;
    let existing = tx
        .query_opt(
            "SELECT bot_id FROM sessions WHERE name = $1 FOR UPDATE",
            &[&name],
        )
        .await?;
    match existing {
        None => {
            let first: bool = tx
                .query_one("SELECT NOT EXISTS (SELECT 1 FROM sessions)", &[])
                .await?
                .try_get(0)?;
            tx.execute(
                "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, \
                 status, is_default, created_at, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
                &[
                    &name,
                    &login.backend.as_str(),
                    &bot_id,
                    &user_id,
                    &token,
                    &base_url,
                    &SessionStatus::Connected.as_str(),
                    &first,
                    &now,
                ],
            )
            .await?;
        }
        Some(row) => {
            let old_bot: Option<String> = row.try_get(0)?;
            if old_bot.as_deref() != Some(bot_id.as_ref()) {
                tx.execute("DELETE FROM cursors WHERE session = $1", &[&name])
                    .await?;
                tx.execute("DELETE FROM contexts WHERE session = $1", &[&name])
                    .await?;
            }
            tx.execute(
                "UPDATE sessions SET backend = $2, bot_id = $3, user_id = $4, token = $5, \
                 base_url = $6, status = $7, updated_at = $8, problem = NULL WHERE name = $1",
                &[
                    &name,
                    &login.backend.as_str(),
                    &bot_id,
                    &user_id,
                    &token,
                    &base_url,
                    &SessionStatus::Connected.as_str(),
                    &now,
                ],
            )
            .await?;
        }
    }
    sessions_changed(&tx).await?;
    let record = session(&tx, sealer, name)
        .await?
        .ok_or_else(|| StoreError::UnknownSession(name.to_owned()))?;
    tx.commit().await?;
    Ok(record)
}

/// Runs one `UPDATE sessions … WHERE name = $1` and the sessions notice in one transaction;
/// [`StoreError::UnknownSession`] when no row changed.
async fn update_session(
    c: &mut Client,
    name: &str,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> StoreResult<()> {
    let tx = c.transaction().await?;
    if tx.execute(sql, params).await? == 0 {
        return Err(StoreError::UnknownSession(name.to_owned()));
    }
    sessions_changed(&tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn set_status(
    c: &mut Client,
    name: &str,
    status: SessionStatus,
) -> StoreResult<()> {
    update_session(
        c,
        name,
        "UPDATE sessions SET status = $2, updated_at = $3, problem = NULL WHERE name = $1",
        &[&name, &status.as_str(), &now_ms()],
    )
    .await
}

pub(super) async fn set_problem(
    c: &mut Client,
    name: &str,
    problem: Option<&str>,
) -> StoreResult<()> {
    let problem = problem.map(nul_free);
    update_session(
        c,
        name,
        "UPDATE sessions SET problem = $2 WHERE name = $1",
        &[&name, &problem],
    )
    .await
}

pub(super) async fn logout(c: &mut Client, name: &str) -> StoreResult<()> {
    let tx = c.transaction().await?;
    let changed = tx
        .execute(
            "UPDATE sessions SET token = NULL, status = $2, updated_at = $3, problem = NULL \
             WHERE name = $1",
            &[&name, &SessionStatus::LoggedOut.as_str(), &now_ms()],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::UnknownSession(name.to_owned()));
    }
    tx.execute("DELETE FROM cursors WHERE session = $1", &[&name])
        .await?;
    tx.execute("DELETE FROM contexts WHERE session = $1", &[&name])
        .await?;
    sessions_changed(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// The new name reaches the cursor, the contexts and the messages through `ON UPDATE CASCADE`.
pub(super) async fn rename_session(c: &mut Client, old: &str, new: &str) -> StoreResult<()> {
    check_session_name(new)?;
    let tx = c.transaction().await?;
    lock_sessions(&tx).await?;
    require_session(&tx, old).await?;
    if old == new {
        return Ok(());
    }
    if session_exists(&tx, new).await? {
        return Err(StoreError::SessionExists(new.to_owned()));
    }
    let renamed = tx
        .execute(
            "UPDATE sessions SET name = $2, updated_at = $3 WHERE name = $1",
            &[&old, &new, &now_ms()],
        )
        .await;
    match renamed {
        Err(e) if is_unique_violation(&e) => return Err(StoreError::SessionExists(new.into())),
        other => other?,
    };
    sessions_changed(&tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn set_default(c: &mut Client, name: &str) -> StoreResult<()> {
    let tx = c.transaction().await?;
    lock_sessions(&tx).await?;
    require_session(&tx, name).await?;
    make_default(&tx, name).await?;
    sessions_changed(&tx).await?;
    tx.commit().await?;
    Ok(())
}

/// Moves the default mark to `name` (under the sessions lock).
pub(super) async fn make_default(tx: &Transaction<'_>, name: &str) -> StoreResult<()> {
    tx.execute(
        "UPDATE sessions SET is_default = false WHERE is_default AND name <> $1",
        &[&name],
    )
    .await?;
    tx.execute(
        "UPDATE sessions SET is_default = true WHERE name = $1 AND NOT is_default",
        &[&name],
    )
    .await?;
    Ok(())
}

pub(super) async fn default_session(c: &Client) -> StoreResult<Option<String>> {
    let row = c
        .query_opt(
            "SELECT name FROM sessions \
             ORDER BY is_default DESC, status = 'connected' DESC, created_at, name LIMIT 1",
            &[],
        )
        .await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?)
}

pub(super) async fn session_presence(c: &Client) -> StoreResult<SessionPresence> {
    let row = c
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM sessions), \
                    EXISTS (SELECT 1 FROM sessions WHERE status = 'connected')",
            &[],
        )
        .await?;
    Ok(SessionPresence {
        any: row.try_get(0)?,
        connected: row.try_get(1)?,
    })
}

pub(super) async fn cursor(c: &impl GenericClient, session: &str) -> StoreResult<String> {
    let stmt = c
        .prepare_cached("SELECT cursor FROM cursors WHERE session = $1")
        .await?;
    let row = c.query_opt(&stmt, &[&session]).await?;
    Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or_default())
}

pub(super) async fn contexts_for_user(
    c: &impl GenericClient,
    user_id: &str,
) -> StoreResult<Vec<ContextRecord>> {
    let sql = format!("{CONTEXT_SELECT} WHERE user_id = $1 ORDER BY received_at DESC, session");
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &[&user_id]).await?;
    rows.iter().map(context_from_row).collect()
}

pub(super) async fn contexts(
    c: &impl GenericClient,
    session: Option<&str>,
) -> StoreResult<Vec<ContextRecord>> {
    let sql = format!(
        "{CONTEXT_SELECT} WHERE $1::text IS NULL OR session = $1 \
         ORDER BY received_at DESC, session, user_id"
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &[&session]).await?;
    rows.iter().map(context_from_row).collect()
}
