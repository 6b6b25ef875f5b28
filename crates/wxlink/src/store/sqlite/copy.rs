//! A whole-store copy in and out (`wxlink migrate-store`): the state besides messages, and
//! messages read in id order and written back under their own ids.

use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use serde_json::Value;

use super::ops;
use super::rows::{message_from_row, MESSAGE_COLUMNS, MESSAGE_FROM};
use crate::store::{
    ConsumerRecord, CursorRecord, RestoreOutcome, Secret, StoreResult, StoreState, StoredMessage,
};

pub(super) fn export_state(conn: &mut Connection) -> StoreResult<StoreState> {
    // One read transaction: the tables as of one moment.
    conn.execute_batch("BEGIN DEFERRED")?;
    let state = read_state(conn);
    conn.execute_batch(if state.is_ok() { "COMMIT" } else { "ROLLBACK" })?;
    state
}

fn read_state(conn: &mut Connection) -> StoreResult<StoreState> {
    let sessions = ops::sessions(conn)?;
    let contexts = ops::contexts(conn, None)?;
    let cursors = conn
        .prepare("SELECT session, cursor FROM cursors ORDER BY session")?
        .query_map([], |r| {
            Ok(CursorRecord {
                session: r.get(0)?,
                cursor: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    let consumers = conn
        .prepare("SELECT name, last_id FROM consumers ORDER BY name")?
        .query_map([], |r| {
            Ok(ConsumerRecord {
                name: r.get(0)?,
                last_id: r.get(1)?,
            })
        })?
        .collect::<Result<_, _>>()?;
    Ok(StoreState {
        sessions,
        cursors,
        contexts,
        consumers,
    })
}

pub(super) fn restore_state(conn: &mut Connection, state: &StoreState) -> StoreResult<()> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let source_has_default = state.sessions.iter().any(|s| s.is_default);
    if source_has_default {
        tx.execute(
            "UPDATE sessions SET is_default = 0 WHERE is_default = 1",
            [],
        )?;
    }
    {
        let mut upsert = tx.prepare(
            "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, status, \
             is_default, created_at, updated_at, last_message_at, problem) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) \
             ON CONFLICT (name) DO UPDATE SET backend = excluded.backend, \
             bot_id = excluded.bot_id, user_id = excluded.user_id, token = excluded.token, \
             base_url = excluded.base_url, status = excluded.status, \
             is_default = CASE WHEN ?13 THEN excluded.is_default ELSE is_default END, \
             created_at = excluded.created_at, updated_at = excluded.updated_at, \
             last_message_at = excluded.last_message_at, problem = excluded.problem",
        )?;
        for s in &state.sessions {
            upsert.execute(params![
                s.name,
                s.backend.as_str(),
                s.bot_id,
                s.user_id,
                s.token.as_ref().map(Secret::expose_str),
                s.base_url,
                s.status.as_str(),
                source_has_default && s.is_default,
                s.created_at_ms,
                s.updated_at_ms,
                s.last_message_at_ms,
                s.problem,
                source_has_default,
            ])?;
        }
        let mut cursor = tx.prepare(
            "INSERT INTO cursors (session, cursor) VALUES (?1, ?2) \
             ON CONFLICT (session) DO UPDATE SET cursor = excluded.cursor",
        )?;
        for c in &state.cursors {
            cursor.execute(params![c.session, c.cursor])?;
        }
        let mut context = tx.prepare(
            "INSERT INTO contexts (session, user_id, token, received_at, send_count) \
             VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (session, user_id) DO UPDATE SET \
             token = excluded.token, received_at = excluded.received_at, \
             send_count = excluded.send_count",
        )?;
        for c in &state.contexts {
            context.execute(params![
                c.session,
                c.user_id,
                c.token.expose_str(),
                c.received_at_ms,
                c.send_count
            ])?;
        }
        let mut consumer = tx.prepare(
            "INSERT INTO consumers (name, last_id) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
        )?;
        for c in &state.consumers {
            consumer.execute(params![c.name, c.last_id])?;
        }
    }
    tx.commit()?;
    Ok(())
}

pub(super) fn messages_after(
    conn: &mut Connection,
    after_id: i64,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let sql = format!(
        "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.id > ?1 ORDER BY m.id LIMIT ?2"
    );
    let mut stmt = conn.prepare_cached(&sql)?;
    let rows = stmt.query_and_then(params![after_id, limit], message_from_row)?;
    rows.collect()
}

/// Inserts each message under its id; the FTS index and the day ranges are kept per row
/// (the ids of a copied chunk need not be consecutive, nor above everything stored).
pub(super) fn restore_messages(
    conn: &mut Connection,
    messages: &[StoredMessage],
) -> StoreResult<RestoreOutcome> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut outcome = RestoreOutcome::default();
    {
        // Without a conflict target, DO NOTHING covers the id and the dedupe key alike.
        let mut insert = tx.prepare_cached(
            "INSERT INTO messages (id, session, direction, upstream_id, dedupe_key, peer, \
             bot_id, kind, text, created_at, stored_at, status) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12) ON CONFLICT DO NOTHING",
        )?;
        let mut body = tx.prepare_cached(
            "INSERT OR REPLACE INTO message_bodies (id, items, raw, context_token, client_id, \
             error, speaker) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?;
        let mut fts =
            tx.prepare_cached("INSERT INTO messages_fts (rowid, text) VALUES (?1, ?2)")?;
        let mut day = tx.prepare_cached(
            "INSERT INTO message_days (day, min_id, max_id) VALUES (?1 / 86400000, ?2, ?2) \
             ON CONFLICT (day) DO UPDATE SET min_id = min(min_id, excluded.min_id), \
             max_id = max(max_id, excluded.max_id)",
        )?;
        let mut same = tx.prepare_cached(
            "SELECT session = ?2 AND direction = ?3 AND dedupe_key = ?4 FROM messages \
             WHERE id = ?1",
        )?;
        for stored in messages {
            let m = &stored.message;
            let changed = insert.execute(params![
                stored.id,
                m.session,
                m.direction.code(),
                m.upstream_id,
                m.dedupe_key,
                m.peer,
                m.bot_id,
                m.kind,
                m.text,
                m.created_at_ms,
                stored.stored_at_ms,
                m.status.as_str(),
            ])?;
            if changed == 1 {
                body.execute(params![
                    stored.id,
                    m.items.json(),
                    m.raw.as_ref().map(Value::to_string),
                    m.context_token.as_ref().map(Secret::expose_str),
                    m.client_id,
                    m.error,
                    m.speaker,
                ])?;
                if let Some(text) = &m.text {
                    fts.execute(params![stored.id, text])?;
                }
                day.execute(params![m.created_at_ms, stored.id])?;
                outcome.inserted += 1;
                continue;
            }
            let is_same: Option<bool> = same
                .query_row(
                    params![stored.id, m.session, m.direction.code(), m.dedupe_key],
                    |r| r.get(0),
                )
                .optional()?;
            if is_same == Some(true) {
                outcome.existing += 1;
            } else {
                outcome.conflicting += 1;
            }
        }
    }
    tx.commit()?;
    Ok(outcome)
}
