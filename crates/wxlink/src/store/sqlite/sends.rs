//! Outbound messages and the reply quota: a send is recorded as `pending` with its quota
//! reserved in one transaction before it leaves, then finished as `sent` or `failed` (with the
//! reservation given back when it never reached the server). A send whose process died stays
//! `pending` until [`settle_pending`] marks it `unknown`; its reservation is kept.
//!
//! Every statement of a send goes through the statement cache ([`exec`], `prepare_cached`):
//! parsed per call, with the triggers an `UPDATE` or `DELETE` of `messages` compiles, they were
//! a quarter of the store's time per `send`.

use rusqlite::{params, Connection, OptionalExtension};

use super::ops::SQL_BUMP_LAST_MESSAGE;
use super::rows::{exec, in_write_transaction, require_session, MessageInserts};
use crate::store::{MessageStatus, NewMessage, Reservation, StoreError, StoreResult};
use crate::timefmt::now_ms;

pub(super) const SQL_RESERVE_SEND: &str = "UPDATE contexts SET send_count = send_count + 1 \
     WHERE session = ?1 AND user_id = ?2 AND token = ?3 AND send_count < ?4 \
     RETURNING send_count";

const SQL_REFUND_SEND: &str = "UPDATE contexts SET send_count = send_count - 1 \
     WHERE session = ?1 AND user_id = ?2 AND token = ?3 AND send_count > 0";

/// `finish_send`: the listener's copy of the send (`?1` session, `?2` direction, `?3` key),
/// other than the send's own row `?4`.
const SQL_DROP_ECHO: &str = "DELETE FROM messages \
     WHERE session = ?1 AND direction = ?2 AND dedupe_key = ?3 AND id != ?4";

/// `finish_send`: the outcome on the send's row.
pub(super) const SQL_FINISH_ROW: &str = "UPDATE messages \
     SET upstream_id = ?2, kind = ?3, status = ?4, dedupe_key = ?5 WHERE id = ?1";

/// `finish_send`: the text, only when it changed (writing it re-indexes it: the update trigger).
const SQL_FINISH_TEXT: &str = "UPDATE messages SET text = ?2 WHERE id = ?1 AND text IS NOT ?2";

/// `finish_send`: the outcome's body.
const SQL_FINISH_BODY: &str = "UPDATE message_bodies \
     SET items = ?2, raw = ?3, client_id = coalesce(?4, client_id), error = ?5 WHERE id = ?1";

pub(super) fn reserve_send(
    conn: &mut Connection,
    session: &str,
    user_id: &str,
    token: &str,
    quota: u32,
) -> StoreResult<Option<u32>> {
    let count = in_write_transaction(conn, |tx| reserve(tx, session, user_id, token, quota))?;
    Ok(count.and_then(|c| u32::try_from(c).ok()))
}

/// Takes one send from the quota of `token`, inside the caller's transaction: the new count,
/// or `None` when the quota is spent (or the token unknown).
fn reserve(
    tx: &Connection,
    session: &str,
    user_id: &str,
    token: &str,
    quota: u32,
) -> StoreResult<Option<i64>> {
    Ok(tx
        .prepare_cached(SQL_RESERVE_SEND)?
        .query_row(params![session, user_id, token, quota], |r| r.get(0))
        .optional()?)
}

pub(super) fn refund_send(
    conn: &mut Connection,
    session: &str,
    user_id: &str,
    token: &str,
) -> StoreResult<()> {
    in_write_transaction(conn, |tx| {
        exec(tx, SQL_REFUND_SEND, params![session, user_id, token])?;
        Ok(())
    })
}

/// Idempotent: a message whose `(session, direction, dedupe_key)` is already stored is not
/// stored again, and the existing row's id is returned.
pub(super) fn record_outbound(conn: &mut Connection, message: &NewMessage) -> StoreResult<i64> {
    let stored_at = now_ms();
    in_write_transaction(conn, |tx| {
        require_session(tx, &message.session)?;
        let inserted = {
            let mut insert = MessageInserts::prepare(tx)?;
            let id = insert.insert(&message.session, message, stored_at)?;
            insert.finish()?;
            id
        };
        let id = match inserted {
            Some(id) => id,
            None => tx
                .prepare_cached(
                    "SELECT id FROM messages \
                     WHERE session = ?1 AND direction = ?2 AND dedupe_key = ?3",
                )?
                .query_row(
                    params![
                        message.session,
                        message.direction.code(),
                        message.dedupe_key
                    ],
                    |r| r.get(0),
                )?,
        };
        exec(
            tx,
            SQL_BUMP_LAST_MESSAGE,
            params![message.session, message.created_at_ms],
        )?;
        Ok(id)
    })
}

/// Reserves the quota (when `reservation` is given) and stores `message` (status `pending`) in
/// one transaction; `None` when the quota is used up or the token changed (nothing stored).
pub(super) fn begin_send(
    conn: &mut Connection,
    message: &NewMessage,
    reservation: Option<&Reservation>,
) -> StoreResult<Option<i64>> {
    in_write_transaction(conn, |tx| {
        require_session(tx, &message.session)?;
        if let Some(r) = reservation {
            let reserved = reserve(
                tx,
                &message.session,
                &message.peer,
                r.token.expose_str(),
                r.quota,
            )?;
            if reserved.is_none() {
                return Ok(None);
            }
        }
        let mut pending = message.clone();
        pending.status = MessageStatus::Pending;
        let id = {
            let mut insert = MessageInserts::prepare(tx)?;
            let id = insert.insert(&pending.session, &pending, now_ms())?;
            insert.finish()?;
            id
        };
        let Some(id) = id else {
            return Err(StoreError::Corrupt(
                "messages",
                format!("a send with key {:?} is stored already", message.dedupe_key),
            ));
        };
        exec(
            tx,
            SQL_BUMP_LAST_MESSAGE,
            params![message.session, message.created_at_ms],
        )?;
        Ok(Some(id))
    })
}

/// Records how send `id` ended: `outcome` (status `sent` or `failed`, what went out). With
/// `refund`, the reservation on `outcome`'s context token is given back in the same
/// transaction.
pub(super) fn finish_send(
    conn: &mut Connection,
    id: i64,
    outcome: &NewMessage,
    refund: bool,
) -> StoreResult<()> {
    in_write_transaction(conn, |tx| {
        // The outcome's key (Wechaty: the upstream id) may already be taken by the listener's
        // copy of this very message (a backend that echoes the bot's own sends): that copy
        // goes, this row (the richer record, under the id the sender was given) stays.
        exec(
            tx,
            SQL_DROP_ECHO,
            params![
                outcome.session,
                outcome.direction.code(),
                outcome.dedupe_key,
                id
            ],
        )?;
        let changed = exec(
            tx,
            SQL_FINISH_ROW,
            params![
                id,
                outcome.upstream_id,
                outcome.kind,
                outcome.status.as_str(),
                outcome.dedupe_key,
            ],
        )?;
        exec(tx, SQL_FINISH_TEXT, params![id, outcome.text])?;
        if changed == 0 {
            return Err(StoreError::Corrupt(
                "messages",
                format!("no send with id {id}"),
            ));
        }
        exec(
            tx,
            SQL_FINISH_BODY,
            params![
                id,
                outcome.items.json(),
                outcome.raw.as_ref().map(|r| r.to_string()),
                outcome.client_id,
                outcome.error,
            ],
        )?;
        if let (true, Some(token)) = (refund, &outcome.context_token) {
            exec(
                tx,
                SQL_REFUND_SEND,
                params![outcome.session, outcome.peer, token.expose_str()],
            )?;
        }
        Ok(())
    })
}

/// Marks sends still `pending` that started before `before_ms` as `unknown`; returns how many.
pub(super) fn settle_pending(conn: &mut Connection, before_ms: i64) -> StoreResult<u64> {
    // Read first: almost always there is nothing to settle, and a read takes no write lock
    // (this runs at every start, beside other processes that may be writing).
    let any: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM messages WHERE status = 'pending' AND created_at < ?1)",
        [before_ms],
        |r| r.get(0),
    )?;
    if !any {
        return Ok(0);
    }
    let n = conn.execute(
        "UPDATE messages SET status = 'unknown' WHERE status = 'pending' AND created_at < ?1",
        [before_ms],
    )?;
    Ok(n as u64)
}
