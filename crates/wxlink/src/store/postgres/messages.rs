//! Messages in SQL: ingest, lookups, the durable inbox and retention.
//!
//! **Ids become visible in id order.** The inbox hands out "the ids above a consumer's
//! cursor"; with a plain sequence, a transaction that drew id 10 but commits after one that
//! drew 11 would be skipped forever by a reader that already moved past 11. So every
//! transaction that inserts messages first takes the id lock ([`lock_ids`], a
//! transaction-level advisory lock, released after its commit is visible): inserters run one
//! at a time, and commit order is id order. Readers take no lock.
//!
//! Lock order, to never deadlock: the id lock, then the sessions lock
//! ([`super::sessions::lock_sessions`]), then the session's row
//! ([`super::sessions::lock_session`]), then its contexts, cursor and messages.

use deadpool_postgres::{Client, GenericClient, Transaction};

use super::notify::messages_stored;
use super::rows::{insert_messages, message_from_row, LISTED_COLUMNS, MESSAGE_COLUMNS};
use super::sessions::{cursor as cursor_of, lock_session, SQL_BUMP_LAST_MESSAGE, SQL_SET_CURSOR};
use crate::store::{
    Direction, NewMessage, Retention, StoreError, StoreResult, StoredMessage, DEFAULT_CONSUMER,
};
use crate::timefmt::now_ms;

use super::rows::{direction_code, nul_free};

/// Advisory lock key (transaction level) held by every transaction that inserts messages.
const IDS_LOCK: i64 = 0x7778_6c69_6e6b_0003;

/// Takes the id lock for the rest of the transaction: before any id is drawn, and before any
/// other lock.
pub(super) async fn lock_ids(tx: &Transaction<'_>) -> StoreResult<()> {
    let stmt = tx
        .prepare_cached("SELECT pg_advisory_xact_lock($1)")
        .await?;
    tx.execute(&stmt, &[&IDS_LOCK]).await?;
    Ok(())
}

/// The context tokens of a batch, in its order (the function's loop applies the upsert rule
/// of each in turn; see the schema).
const SQL_UPSERT_CONTEXTS: &str =
    "SELECT wxlink_upsert_contexts($1, $2::text[], $3::text[], $4::bigint[])";

/// A new consumer starts at 0 (the default one) or after the newest message (`$2`).
const SQL_CREATE_CONSUMER: &str = "INSERT INTO consumers (name, last_id) \
     VALUES ($1, CASE WHEN $2 THEN (SELECT coalesce(max(id), 0) FROM messages) ELSE 0 END) \
     ON CONFLICT (name) DO NOTHING";

/// Every message is stored under `session` with its own direction; only inbound messages
/// carrying a non-empty token update the contexts, in the batch's order (one statement for
/// all of them). The cursor is stored even for an empty batch. With `from`, only while the
/// session's cursor is still `from` (read under the session's lock).
pub(super) async fn ingest(
    c: &mut Client,
    session: &str,
    batch: &[NewMessage],
    from: Option<&str>,
    cursor: &str,
) -> StoreResult<Vec<i64>> {
    let stored_at = now_ms();
    let tx = c.transaction().await?;
    if !batch.is_empty() {
        lock_ids(&tx).await?;
    }
    lock_session(&tx, session).await?;
    if let Some(from) = from {
        if cursor_of(&tx, session).await? != nul_free(from) {
            return Err(StoreError::CursorMoved(session.to_owned()));
        }
    }
    let inserted = insert_messages(&tx, session, batch, stored_at).await?;
    let (mut users, mut tokens, mut times) = (Vec::new(), Vec::new(), Vec::new());
    for m in batch {
        let token = m
            .context_token
            .as_ref()
            .map(|t| nul_free(t.expose_str()))
            .filter(|t| !t.is_empty());
        if let (Direction::In, Some(token)) = (m.direction, token) {
            users.push(nul_free(&m.peer));
            tokens.push(token);
            times.push(m.created_at_ms);
        }
    }
    if !users.is_empty() {
        let upsert = tx.prepare_cached(SQL_UPSERT_CONTEXTS).await?;
        tx.execute(&upsert, &[&session, &users, &tokens, &times])
            .await?;
    }
    if let Some(newest) = batch.iter().map(|m| m.created_at_ms).max() {
        let bump = tx.prepare_cached(SQL_BUMP_LAST_MESSAGE).await?;
        tx.execute(&bump, &[&session, &newest]).await?;
    }
    let set_cursor = tx.prepare_cached(SQL_SET_CURSOR).await?;
    tx.execute(&set_cursor, &[&session, &nul_free(cursor)])
        .await?;
    if let Some(&newest) = inserted.last() {
        messages_stored(&tx, newest).await?;
    }
    tx.commit().await?;
    Ok(inserted)
}

/// An all-digits `id` is first looked up as an upstream id (inbound preferred), then as our
/// id. Anything else finds nothing.
pub(super) async fn message(
    c: &impl GenericClient,
    id: &str,
) -> StoreResult<Option<StoredMessage>> {
    let id = id.trim();
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    if let Ok(upstream) = id.parse::<u64>() {
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM messages WHERE upstream_id = $1 \
             ORDER BY direction, id DESC LIMIT 1"
        );
        let stmt = c.prepare_cached(&sql).await?;
        if let Some(row) = c.query_opt(&stmt, &[&upstream.to_string()]).await? {
            return message_from_row(&row).map(Some);
        }
    }
    let Ok(ours) = id.parse::<i64>() else {
        return Ok(None);
    };
    message_by_id(c, ours).await
}

/// The message with our id `id`.
pub(super) async fn message_by_id(
    c: &impl GenericClient,
    id: i64,
) -> StoreResult<Option<StoredMessage>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id = $1");
    let stmt = c.prepare_cached(&sql).await?;
    c.query_opt(&stmt, &[&id])
        .await?
        .map(|r| message_from_row(&r))
        .transpose()
}

pub(super) async fn latest_id(c: &impl GenericClient) -> StoreResult<i64> {
    let stmt = c
        .prepare_cached("SELECT coalesce(max(id), 0) FROM messages")
        .await?;
    Ok(c.query_one(&stmt, &[]).await?.try_get(0)?)
}

/// Inbound rows above `after_id`, at most `cap` of them read (the `(direction, id)` index).
pub(super) async fn count_inbound_after(
    c: &impl GenericClient,
    after_id: i64,
    cap: u32,
) -> StoreResult<u64> {
    let stmt = c
        .prepare_cached(
            "SELECT count(*) FROM (SELECT 1 FROM messages WHERE direction = $1 AND id > $2 \
             LIMIT $3) x",
        )
        .await?;
    let n: i64 = c
        .query_one(
            &stmt,
            &[&direction_code(Direction::In), &after_id, &i64::from(cap)],
        )
        .await?
        .try_get(0)?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// One `max(id)` per peer, newest first, then those rows.
pub(super) async fn conversations(
    c: &impl GenericClient,
    session: Option<&str>,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let sql = format!(
        "SELECT {LISTED_COLUMNS} FROM messages WHERE id IN ( \
             SELECT max(id) FROM messages WHERE $1::text IS NULL OR session = $1 \
             GROUP BY peer ORDER BY max(id) DESC LIMIT $2) \
         ORDER BY id DESC"
    );
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &[&session, &i64::from(limit)]).await?;
    rows.iter().map(message_from_row).collect()
}

pub(super) async fn last_session_with(
    c: &impl GenericClient,
    peer: &str,
) -> StoreResult<Option<String>> {
    let stmt = c
        .prepare_cached("SELECT session FROM messages WHERE peer = $1 ORDER BY id DESC LIMIT 1")
        .await?;
    Ok(c.query_opt(&stmt, &[&nul_free(peer)])
        .await?
        .map(|r| r.try_get(0))
        .transpose()?)
}

/// A blank consumer name means [`DEFAULT_CONSUMER`]. The consumer's row is locked
/// (`FOR UPDATE`) for the read and the cursor move: a second reader of the same consumer (any
/// replica) waits, then reads after the moved cursor.
pub(super) async fn claim_inbox(
    c: &mut Client,
    consumer: &str,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let consumer = nul_free(consumer_name(consumer)).into_owned();
    let tx = c.transaction().await?;
    let create = tx.prepare_cached(SQL_CREATE_CONSUMER).await?;
    tx.execute(&create, &[&consumer, &(consumer != DEFAULT_CONSUMER)])
        .await?;
    let lock = tx
        .prepare_cached("SELECT last_id FROM consumers WHERE name = $1 FOR UPDATE")
        .await?;
    let last: i64 = tx.query_one(&lock, &[&consumer]).await?.try_get(0)?;
    if limit == 0 {
        tx.commit().await?;
        return Ok(Vec::new());
    }
    let sql = format!(
        "SELECT {LISTED_COLUMNS} FROM messages WHERE direction = $1 AND id > $2 \
         ORDER BY id LIMIT $3"
    );
    let read = tx.prepare_cached(&sql).await?;
    let rows = tx
        .query(
            &read,
            &[&direction_code(Direction::In), &last, &i64::from(limit)],
        )
        .await?;
    let messages = rows
        .iter()
        .map(message_from_row)
        .collect::<StoreResult<Vec<_>>>()?;
    if let Some(newest) = messages.last() {
        let advance = tx
            .prepare_cached("UPDATE consumers SET last_id = greatest(last_id, $2) WHERE name = $1")
            .await?;
        tx.execute(&advance, &[&consumer, &newest.id]).await?;
    }
    tx.commit().await?;
    Ok(messages)
}

/// Sets a consumer's cursor (creating the consumer).
pub(super) async fn seek_consumer(
    c: &impl GenericClient,
    consumer: &str,
    last_id: i64,
) -> StoreResult<()> {
    let consumer = nul_free(consumer_name(consumer));
    c.execute(
        "INSERT INTO consumers (name, last_id) VALUES ($1, $2) \
         ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
        &[&consumer, &last_id.max(0)],
    )
    .await?;
    Ok(())
}

/// Only moves a cursor that still stands where the claim left it.
pub(super) async fn release_claim(
    c: &impl GenericClient,
    consumer: &str,
    first_id: i64,
    last_id: i64,
) -> StoreResult<bool> {
    let consumer = nul_free(consumer_name(consumer));
    let changed = c
        .execute(
            "UPDATE consumers SET last_id = $2 WHERE name = $1 AND last_id = $3",
            &[&consumer, &(first_id - 1), &last_id],
        )
        .await?;
    Ok(changed == 1)
}

/// Age is measured by `stored_at`; the row limit keeps the highest ids.
pub(super) async fn prune(c: &mut Client, retention: Retention) -> StoreResult<u64> {
    if !retention.is_set() {
        return Ok(0);
    }
    let tx = c.transaction().await?;
    let mut deleted = 0u64;
    if let Some(max_age) = retention.max_age_ms {
        let cutoff = now_ms().saturating_sub(max_age.max(0));
        deleted += tx
            .execute("DELETE FROM messages WHERE stored_at < $1", &[&cutoff])
            .await?;
    }
    if let Some(max_rows) = retention.max_rows {
        let keep = i64::try_from(max_rows).unwrap_or(i64::MAX);
        deleted += tx
            .execute(
                "DELETE FROM messages WHERE id <= \
                 (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET $1)",
                &[&keep],
            )
            .await?;
    }
    tx.commit().await?;
    Ok(deleted)
}

/// The consumer a (possibly blank) name stands for.
fn consumer_name(consumer: &str) -> &str {
    if consumer.trim().is_empty() {
        DEFAULT_CONSUMER
    } else {
        consumer
    }
}
