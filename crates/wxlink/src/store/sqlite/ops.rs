//! The SQL of every [`Store`](crate::store::Store) operation, as plain functions over one
//! connection. [`super::SqliteStore`] runs each on a blocking thread; nothing here knows about
//! the async runtime. Every write runs in a `BEGIN IMMEDIATE` transaction, so two writers never
//! deadlock on a lock upgrade and a failure mid-way leaves nothing half-done.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::history::run_history;
use super::rows::{
    context_from_row, exec, in_read_transaction, in_write_transaction, listed_messages,
    load_session, message_from_row, require_session, session_exists, session_from_row, Encoded,
    MessageInserts, CONTEXT_SELECT, LISTED_COLUMNS, MESSAGE_COLUMNS, MESSAGE_FROM, SESSION_SELECT,
};
use crate::model::check_session_name;
use crate::store::{
    BackendKind, ContextRecord, Direction, HistoryPage, HistoryQuery, LoginRecord, NewMessage,
    Retention, RouteCandidates, SessionPresence, SessionRecord, SessionStatus, StoreError,
    StoreResult, StoredMessage, DEFAULT_CONSUMER,
};

/// A different token replaces the stored one only if it is not older (and resets the send
/// count); the same token again only moves `received_at` forward.
const SQL_UPSERT_CONTEXT: &str = "INSERT INTO contexts (session, user_id, token, received_at, \
     send_count) VALUES (?1, ?2, ?3, ?4, 0) \
     ON CONFLICT (session, user_id) DO UPDATE SET \
         send_count  = CASE WHEN excluded.token = contexts.token \
                            THEN contexts.send_count ELSE 0 END, \
         token       = excluded.token, \
         received_at = max(contexts.received_at, excluded.received_at) \
     WHERE excluded.token = contexts.token OR excluded.received_at >= contexts.received_at";

pub(super) const SQL_BUMP_LAST_MESSAGE: &str = "UPDATE sessions \
     SET last_message_at = max(coalesce(last_message_at, ?2), ?2) WHERE name = ?1";

pub(super) const SQL_SET_CURSOR: &str = "INSERT INTO cursors (session, cursor) VALUES (?1, ?2) \
     ON CONFLICT (session) DO UPDATE SET cursor = excluded.cursor";

/// A new consumer starts at 0 (the default one) or after the newest message (`?2` = 1).
const SQL_CREATE_CONSUMER: &str = "INSERT INTO consumers (name, last_id) \
     VALUES (?1, CASE WHEN ?2 THEN (SELECT coalesce(max(id), 0) FROM messages) ELSE 0 END) \
     ON CONFLICT (name) DO NOTHING";

/// Moves an existing consumer's cursor forward (never backwards).
const SQL_ADVANCE_CONSUMER: &str =
    "UPDATE consumers SET last_id = max(last_id, ?2) WHERE name = ?1";

/// Deletes every message at or below the `(?1 + 1)`-th newest id.
const SQL_PRUNE_ROWS: &str = "DELETE FROM messages WHERE id <= \
     (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET ?1)";

/// Drops the `message_days` entries whose messages are all gone.
const SQL_PRUNE_DAYS: &str = "DELETE FROM message_days \
     WHERE max_id < (SELECT coalesce(min(id), 9223372036854775807) FROM messages)";

/// The order of every list of sessions: the default first, then by name.
const SESSION_ORDER: &str = "ORDER BY s.is_default DESC, s.name";

/// The statement listing the sessions `filter` keeps (a `WHERE` clause, or nothing).
fn sessions_sql(filter: &str) -> String {
    format!("{SESSION_SELECT} {filter} {SESSION_ORDER}")
}

/// The sessions `filter` keeps (a `WHERE` clause with `params`, or nothing), in
/// [`SESSION_ORDER`].
fn listed_sessions(
    conn: &Connection,
    filter: &str,
    params: impl rusqlite::Params,
) -> StoreResult<Vec<SessionRecord>> {
    let mut stmt = conn.prepare_cached(&sessions_sql(filter))?;
    let rows = stmt.query_and_then(params, session_from_row)?;
    rows.collect()
}

pub(super) fn sessions(conn: &mut Connection) -> StoreResult<Vec<SessionRecord>> {
    listed_sessions(conn, "", [])
}

pub(super) fn sessions_with_bot(
    conn: &mut Connection,
    bot_id: &str,
) -> StoreResult<Vec<SessionRecord>> {
    listed_sessions(conn, BOT_SESSIONS, [bot_id])
}

/// Which sessions [`sessions_with_bot`] reads (`?1` the bot id): found by `sessions_bot`.
const BOT_SESSIONS: &str = "WHERE s.bot_id = ?1";

/// The statement [`sessions_with_bot`] reads with, for the test of its plan.
#[cfg(test)]
pub(super) fn bot_sessions_sql() -> String {
    sessions_sql(BOT_SESSIONS)
}

pub(super) fn session(conn: &mut Connection, name: &str) -> StoreResult<Option<SessionRecord>> {
    load_session(conn, name)
}

pub(super) fn save_login(
    conn: &mut Connection,
    name: &str,
    login: &LoginRecord,
) -> StoreResult<SessionRecord> {
    check_session_name(name)?;
    let now = now_ms();
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let existing: Option<Option<String>> = tx
        .query_row("SELECT bot_id FROM sessions WHERE name = ?1", [name], |r| {
            r.get(0)
        })
        .optional()?;
    match existing {
        None => {
            let first: bool =
                tx.query_row("SELECT NOT EXISTS (SELECT 1 FROM sessions)", [], |r| {
                    r.get(0)
                })?;
            tx.execute(
                "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, \
                 status, is_default, created_at, updated_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?9)",
                params![
                    name,
                    login.backend.as_str(),
                    login.bot_id,
                    login.user_id,
                    login.token.expose_str(),
                    login.base_url,
                    SessionStatus::Connected.as_str(),
                    first,
                    now,
                ],
            )?;
        }
        Some(old_bot) => {
            if old_bot.as_deref() != Some(login.bot_id.as_str()) {
                tx.execute("DELETE FROM cursors WHERE session = ?1", [name])?;
                tx.execute("DELETE FROM contexts WHERE session = ?1", [name])?;
            }
            tx.execute(
                "UPDATE sessions SET backend = ?2, bot_id = ?3, user_id = ?4, token = ?5, \
                 base_url = ?6, status = ?7, updated_at = ?8, problem = NULL WHERE name = ?1",
                params![
                    name,
                    login.backend.as_str(),
                    login.bot_id,
                    login.user_id,
                    login.token.expose_str(),
                    login.base_url,
                    SessionStatus::Connected.as_str(),
                    now,
                ],
            )?;
        }
    }
    let record =
        load_session(&tx, name)?.ok_or_else(|| StoreError::UnknownSession(name.to_owned()))?;
    tx.commit()?;
    Ok(record)
}

pub(super) fn set_status(
    conn: &mut Connection,
    name: &str,
    status: SessionStatus,
) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE sessions SET status = ?2, updated_at = ?3, problem = NULL WHERE name = ?1",
        params![name, status.as_str(), now_ms()],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownSession(name.to_owned()));
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn set_problem(
    conn: &mut Connection,
    name: &str,
    problem: Option<&str>,
) -> StoreResult<()> {
    let changed = conn.execute(
        "UPDATE sessions SET problem = ?2 WHERE name = ?1",
        params![name, problem],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownSession(name.to_owned()));
    }
    Ok(())
}

pub(super) fn logout(conn: &mut Connection, name: &str) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let changed = tx.execute(
        "UPDATE sessions SET token = NULL, status = ?2, updated_at = ?3, problem = NULL \
         WHERE name = ?1",
        params![name, SessionStatus::LoggedOut.as_str(), now_ms()],
    )?;
    if changed == 0 {
        return Err(StoreError::UnknownSession(name.to_owned()));
    }
    tx.execute("DELETE FROM cursors WHERE session = ?1", [name])?;
    tx.execute("DELETE FROM contexts WHERE session = ?1", [name])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn rename_session(conn: &mut Connection, old: &str, new: &str) -> StoreResult<()> {
    check_session_name(new)?;
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_session(&tx, old)?;
    if old == new {
        return Ok(());
    }
    if session_exists(&tx, new)? {
        return Err(StoreError::SessionExists(new.to_owned()));
    }
    tx.execute(
        "UPDATE sessions SET name = ?2, updated_at = ?3 WHERE name = ?1",
        params![old, new, now_ms()],
    )?;
    for table in ["cursors", "contexts", "messages"] {
        tx.execute(
            &format!("UPDATE {table} SET session = ?2 WHERE session = ?1"),
            params![old, new],
        )?;
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn set_default(conn: &mut Connection, name: &str) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    require_session(&tx, name)?;
    tx.execute(
        "UPDATE sessions SET is_default = 0 WHERE is_default = 1 AND name <> ?1",
        [name],
    )?;
    tx.execute("UPDATE sessions SET is_default = 1 WHERE name = ?1", [name])?;
    tx.commit()?;
    Ok(())
}

pub(super) fn default_session(conn: &mut Connection) -> StoreResult<Option<String>> {
    Ok(conn
        .query_row(
            "SELECT name FROM sessions \
             ORDER BY is_default DESC, status = 'connected' DESC, created_at, name LIMIT 1",
            [],
            |r| r.get(0),
        )
        .optional()?)
}

/// Two index probes, each stopping at the first row found.
pub(super) fn session_presence(conn: &mut Connection) -> StoreResult<SessionPresence> {
    let mut stmt = conn.prepare_cached(
        "SELECT EXISTS (SELECT 1 FROM sessions), \
                EXISTS (SELECT 1 FROM sessions WHERE status = 'connected')",
    )?;
    Ok(stmt.query_row([], |r| {
        Ok(SessionPresence {
            any: r.get(0)?,
            connected: r.get(1)?,
        })
    })?)
}

/// The session's cursor (`""` when none).
pub(super) fn cursor(conn: &Connection, session: &str) -> StoreResult<String> {
    let mut stmt = conn.prepare_cached("SELECT cursor FROM cursors WHERE session = ?1")?;
    Ok(stmt
        .query_row([session], |r| r.get(0))
        .optional()?
        .unwrap_or_default())
}

/// One batch for [`ingest`] or [`ingest_group`]: its messages (with their JSON columns,
/// encoded before they reach the store's thread) and the cursor to store with them.
#[derive(Clone, Copy)]
pub(super) struct Batch<'a> {
    pub session: &'a str,
    pub messages: &'a [NewMessage],
    pub encoded: &'a [Encoded],
    /// The cursor the session must still hold (see [`crate::store::Store::ingest_from`]).
    pub from: Option<&'a str>,
    pub cursor: &'a str,
}

/// Every message is stored under `session` with its own direction; only inbound messages
/// carrying a non-empty token update the contexts. A token is taken from duplicates too
/// (the age rule keeps that harmless). The cursor is stored even for an empty batch.
pub(super) fn ingest(conn: &mut Connection, batch: Batch<'_>) -> StoreResult<Vec<i64>> {
    let mut answers = ingest_together(conn, &[batch])?;
    Ok(answers.pop().unwrap_or_default())
}

/// Several batches, each with its session and cursor, in one transaction (group commit),
/// answered in the order given. A batch that fails (its session was removed, its cursor
/// moved) fails alone: the transaction is then rolled back and every batch stored again in
/// one of its own ([`ingest`]), in the same order, so the others still commit — and a batch
/// that expects the cursor of one that failed before it fails too.
///
/// Not a savepoint per batch, which would say the same more simply: SQLite copies every page
/// a savepoint first touches into its sub-journal, and FTS5 writes its pending index to disk
/// as a new segment at every savepoint — hundreds of tiny segments per commit with many
/// accounts answering at once, merged again at once. Failures are rare; they pay instead.
pub(super) fn ingest_group(
    conn: &mut Connection,
    batches: &[Batch<'_>],
) -> Vec<StoreResult<Vec<i64>>> {
    match ingest_together(conn, batches) {
        Ok(answers) => answers.into_iter().map(Ok).collect(),
        Err(e) => {
            tracing::debug!(error = %e, "a batch of a group commit failed; storing each alone");
            batches.iter().map(|&batch| ingest(conn, batch)).collect()
        }
    }
}

/// Every batch in one transaction, or nothing.
fn ingest_together(conn: &mut Connection, batches: &[Batch<'_>]) -> StoreResult<Vec<Vec<i64>>> {
    let stored_at = now_ms();
    in_write_transaction(conn, |tx| {
        let mut inserts = MessageInserts::prepare(tx)?;
        let answers = batches
            .iter()
            .map(|&batch| ingest_in(tx, &mut inserts, batch, stored_at))
            .collect::<StoreResult<Vec<_>>>()?;
        inserts.finish()?;
        Ok(answers)
    })
}

/// A batch and its cursor inside the caller's transaction; its messages go through `inserts`,
/// which the caller finishes before committing.
fn ingest_in(
    tx: &Connection,
    inserts: &mut MessageInserts<'_>,
    batch: Batch<'_>,
    stored_at: i64,
) -> StoreResult<Vec<i64>> {
    let Batch {
        session,
        messages,
        encoded,
        from,
        cursor,
    } = batch;
    require_session(tx, session)?;
    if let Some(from) = from {
        if self::cursor(tx, session)? != from {
            return Err(StoreError::CursorMoved(session.to_owned()));
        }
    }
    let mut inserted = Vec::with_capacity(messages.len());
    let mut upsert_context = tx.prepare_cached(SQL_UPSERT_CONTEXT)?;
    for (message, encoded) in messages.iter().zip(encoded) {
        if let Some(id) = inserts.insert_encoded(session, message, encoded, stored_at)? {
            inserted.push(id);
        }
        let token = message
            .context_token
            .as_ref()
            .map(|t| t.expose_str())
            .filter(|t| !t.is_empty());
        if let (Direction::In, Some(token)) = (message.direction, token) {
            upsert_context.execute(params![session, message.peer, token, message.created_at_ms])?;
        }
    }
    if let Some(newest) = messages.iter().map(|m| m.created_at_ms).max() {
        exec(tx, SQL_BUMP_LAST_MESSAGE, params![session, newest])?;
    }
    exec(tx, SQL_SET_CURSOR, params![session, cursor])?;
    Ok(inserted)
}

pub(super) fn contexts_for_user(
    conn: &Connection,
    user_id: &str,
) -> StoreResult<Vec<ContextRecord>> {
    let sql = format!("{CONTEXT_SELECT} WHERE user_id = ?1 ORDER BY received_at DESC, session");
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_and_then([user_id], context_from_row)?;
    rows.collect()
}

/// The sessions come from two index lookups (`sessions_backend` and the user's contexts by
/// `contexts_user`, then each session by its key: SQLite's OR of two indexes), never a scan of
/// `sessions`; the three reads share one snapshot.
pub(super) fn route_candidates(
    conn: &mut Connection,
    user_id: &str,
    open: &[BackendKind],
) -> StoreResult<RouteCandidates> {
    let open: Vec<&str> = open.iter().map(|b| b.as_str()).collect();
    let open = serde_json::to_string(&open)
        .map_err(|e| StoreError::Corrupt("backend names", e.to_string()))?;
    in_read_transaction(conn, |c| {
        let contexts = contexts_for_user(c, user_id)?;
        let sessions = listed_sessions(c, ROUTE_SESSIONS, params![user_id, open])?;
        Ok(RouteCandidates { contexts, sessions })
    })
}

/// Which sessions [`route_candidates`] reads: `?1` the user, `?2` the open backends (a JSON
/// array of their names).
const ROUTE_SESSIONS: &str = "WHERE s.name IN (SELECT session FROM contexts WHERE user_id = ?1) \
     OR s.backend IN (SELECT value FROM json_each(?2))";

/// The statement [`route_candidates`] reads its sessions with, for the test of its plan.
#[cfg(test)]
pub(super) fn route_sessions_sql() -> String {
    sessions_sql(ROUTE_SESSIONS)
}

pub(super) fn contexts(
    conn: &mut Connection,
    session: Option<&str>,
) -> StoreResult<Vec<ContextRecord>> {
    let sql = format!(
        "{CONTEXT_SELECT} WHERE ?1 IS NULL OR session = ?1 \
         ORDER BY received_at DESC, session, user_id"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_and_then([session], context_from_row)?;
    rows.collect()
}

/// An all-digits `id` is first looked up as an upstream id (inbound preferred), then as our
/// id. Anything else finds nothing.
pub(super) fn message(conn: &mut Connection, id: &str) -> StoreResult<Option<StoredMessage>> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    if let Ok(upstream) = id.parse::<u64>() {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.upstream_id = ?1 \
             ORDER BY m.direction, m.id DESC LIMIT 1"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let mut rows = stmt.query_and_then([upstream.to_string()], message_from_row)?;
        if let Some(found) = rows.next().transpose()? {
            return Ok(Some(found));
        }
    }
    let Ok(ours) = id.parse::<i64>() else {
        return Ok(None);
    };
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.id = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query_and_then([ours], message_from_row)?;
    rows.next().transpose()
}

/// Blank `user`, `session`, `kind` and `text` filters count as absent; the text is
/// trimmed. The page and the count read one snapshot.
pub(super) fn history(conn: &mut Connection, query: &HistoryQuery) -> StoreResult<HistoryPage> {
    in_read_transaction(conn, |c| run_history(c, query, None))
}

pub(super) fn latest_id(conn: &mut Connection) -> StoreResult<i64> {
    Ok(conn
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")?
        .query_row([], |r| r.get(0))?)
}

/// Inbound rows above `after_id`, at most `cap` of them read (the `(direction, id)` index).
pub(super) fn count_inbound_after(
    conn: &mut Connection,
    after_id: i64,
    cap: u32,
) -> StoreResult<u64> {
    let n: i64 = conn
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM messages WHERE direction = ?1 AND id > ?2 \
             LIMIT ?3)",
        )?
        .query_row(
            rusqlite::params![Direction::In.code(), after_id, cap],
            |r| r.get(0),
        )?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One `max(id)` per peer from the `(peer, id, …)` index (index-only), then each row.
pub(super) fn conversations(
    conn: &mut Connection,
    session: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let ids: Vec<i64> = {
        let mut stmt = conn.prepare_cached(
            "SELECT max(id) AS last FROM messages WHERE ?1 IS NULL OR session = ?1 \
             GROUP BY peer ORDER BY last DESC LIMIT ?2",
        )?;
        let rows = stmt.query_map(params![session, i64::from(limit)], |r| r.get(0))?;
        rows.collect::<Result<_, _>>()?
    };
    listed_messages(conn, &ids)
}

pub(super) fn last_session_with(conn: &mut Connection, peer: &str) -> StoreResult<Option<String>> {
    // messages_peer (peer, id, …) answers this from the index's last entry.
    let mut stmt = conn
        .prepare_cached("SELECT session FROM messages WHERE peer = ?1 ORDER BY id DESC LIMIT 1")?;
    let session = stmt.query_row([peer], |r| r.get(0)).optional()?;
    Ok(session)
}

/// A blank consumer name means [`DEFAULT_CONSUMER`]. The read and the cursor move share one
/// `BEGIN IMMEDIATE` transaction: a second reader of the same consumer (another task, another
/// process) waits for the write lock and then reads after the moved cursor.
pub(super) fn claim_inbox(
    conn: &mut Connection,
    consumer: &str,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let consumer = consumer_name(consumer);
    in_write_transaction(conn, |tx| {
        exec(
            tx,
            SQL_CREATE_CONSUMER,
            params![consumer, consumer != DEFAULT_CONSUMER],
        )?;
        let last: i64 = tx
            .prepare_cached("SELECT last_id FROM consumers WHERE name = ?1")?
            .query_row([consumer], |r| r.get(0))?;
        let messages = if limit == 0 {
            Vec::new()
        } else {
            let sql = format!(
                "SELECT {LISTED_COLUMNS} FROM {MESSAGE_FROM} \
                 WHERE m.direction = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3"
            );
            let mut stmt = tx.prepare_cached(&sql)?;
            let rows = stmt.query_and_then(
                params![Direction::In.code(), last, i64::from(limit)],
                message_from_row,
            )?;
            rows.collect::<StoreResult<Vec<_>>>()?
        };
        if let Some(newest) = messages.last() {
            exec(tx, SQL_ADVANCE_CONSUMER, params![consumer, newest.id])?;
        }
        Ok(messages)
    })
}

/// Sets a consumer's cursor (creating the consumer).
pub(super) fn seek_consumer(
    conn: &mut Connection,
    consumer: &str,
    last_id: i64,
) -> StoreResult<()> {
    let consumer = consumer_name(consumer);
    conn.execute(
        "INSERT INTO consumers (name, last_id) VALUES (?1, ?2) \
         ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
        params![consumer, last_id.max(0)],
    )?;
    Ok(())
}

/// Only moves a cursor that still stands where the claim left it.
pub(super) fn release_claim(
    conn: &mut Connection,
    consumer: &str,
    first_id: i64,
    last_id: i64,
) -> StoreResult<bool> {
    let consumer = consumer_name(consumer);
    let changed = conn.execute(
        "UPDATE consumers SET last_id = ?2 WHERE name = ?1 AND last_id = ?3",
        params![consumer, first_id - 1, last_id],
    )?;
    Ok(changed == 1)
}

/// Age is measured by `stored_at`; the row limit keeps the highest ids.
pub(super) fn prune(conn: &mut Connection, retention: Retention) -> StoreResult<u64> {
    if !retention.is_set() {
        return Ok(0);
    }
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut deleted = 0usize;
    if let Some(max_age) = retention.max_age_ms {
        let cutoff = now_ms().saturating_sub(max_age.max(0));
        deleted += tx.execute("DELETE FROM messages WHERE stored_at < ?1", [cutoff])?;
    }
    if let Some(max_rows) = retention.max_rows {
        let keep = i64::try_from(max_rows).unwrap_or(i64::MAX);
        deleted += tx.execute(SQL_PRUNE_ROWS, [keep])?;
    }
    if deleted > 0 {
        tx.execute(SQL_PRUNE_DAYS, [])?;
    }
    tx.commit()?;
    Ok(u64::try_from(deleted).unwrap_or(u64::MAX))
}

/// The consumer a (possibly blank) name stands for.
fn consumer_name(consumer: &str) -> &str {
    if consumer.trim().is_empty() {
        DEFAULT_CONSUMER
    } else {
        consumer
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}
