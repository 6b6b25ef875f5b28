//! Outbound messages and the reply quota: a send is recorded as `pending` with its quota
//! reserved in one transaction before it leaves, then finished as `sent` or `failed` (the
//! reservation given back when it never reached the server). A reservation is one atomic
//! `UPDATE … WHERE token = $3 AND send_count < $4 RETURNING send_count`: two replicas never
//! both take the last send of a token.

use deadpool_postgres::{Client, GenericClient, Transaction};

use super::messages::lock_ids;
use super::notify::messages_stored;
use super::rows::{folded, insert_messages, nul_free, nul_free_opt};
use super::sessions::{lock_session, SQL_BUMP_LAST_MESSAGE};
use crate::store::{MessageStatus, NewMessage, Reservation, StoreError, StoreResult};
use crate::timefmt::now_ms;

const SQL_RESERVE_SEND: &str = "UPDATE contexts SET send_count = send_count + 1 \
     WHERE session = $1 AND user_id = $2 AND token = $3 AND send_count < $4 \
     RETURNING send_count";

const SQL_REFUND_SEND: &str = "UPDATE contexts SET send_count = send_count - 1 \
     WHERE session = $1 AND user_id = $2 AND token = $3 AND send_count > 0";

/// The new send count, or `None` when the token changed or is used up.
async fn reserve(
    c: &impl GenericClient,
    session: &str,
    user_id: &str,
    token: &str,
    quota: u32,
) -> StoreResult<Option<u32>> {
    let quota = i32::try_from(quota).unwrap_or(i32::MAX);
    let stmt = c.prepare_cached(SQL_RESERVE_SEND).await?;
    let row = c
        .query_opt(
            &stmt,
            &[&session, &nul_free(user_id), &nul_free(token), &quota],
        )
        .await?;
    let count: Option<i32> = row.map(|r| r.try_get(0)).transpose()?;
    Ok(count.and_then(|c| u32::try_from(c).ok()))
}

async fn refund(
    c: &impl GenericClient,
    session: &str,
    user_id: &str,
    token: &str,
) -> StoreResult<()> {
    let stmt = c.prepare_cached(SQL_REFUND_SEND).await?;
    c.execute(&stmt, &[&session, &nul_free(user_id), &nul_free(token)])
        .await?;
    Ok(())
}

pub(super) async fn reserve_send(
    c: &Client,
    session: &str,
    user_id: &str,
    token: &str,
    quota: u32,
) -> StoreResult<Option<u32>> {
    reserve(c, session, user_id, token, quota).await
}

pub(super) async fn refund_send(
    c: &Client,
    session: &str,
    user_id: &str,
    token: &str,
) -> StoreResult<()> {
    refund(c, session, user_id, token).await
}

/// Inserts one message (under the id lock) and bumps its session's last-message time; its id,
/// or `None` when its key is taken.
async fn insert_one(tx: &Transaction<'_>, message: &NewMessage) -> StoreResult<Option<i64>> {
    let ids = insert_messages(
        tx,
        &message.session,
        std::slice::from_ref(message),
        now_ms(),
    )
    .await?;
    let bump = tx.prepare_cached(SQL_BUMP_LAST_MESSAGE).await?;
    tx.execute(&bump, &[&message.session, &message.created_at_ms])
        .await?;
    Ok(ids.first().copied())
}

/// Idempotent: a message whose `(session, direction, dedupe_key)` is already stored is not
/// stored again, and the existing row's id is returned.
pub(super) async fn record_outbound(c: &mut Client, message: &NewMessage) -> StoreResult<i64> {
    let tx = c.transaction().await?;
    lock_ids(&tx).await?;
    lock_session(&tx, &message.session).await?;
    let id = match insert_one(&tx, message).await? {
        Some(id) => {
            messages_stored(&tx, id).await?;
            id
        }
        None => tx
            .query_one(
                "SELECT id FROM messages WHERE session = $1 AND direction = $2 \
                 AND dedupe_key = $3",
                &[
                    &message.session,
                    &super::rows::direction_code(message.direction),
                    &nul_free(&message.dedupe_key),
                ],
            )
            .await?
            .try_get(0)?,
    };
    tx.commit().await?;
    Ok(id)
}

/// Reserves the quota (when `reservation` is given) and stores `message` (status `pending`) in
/// one transaction; `None` when the quota is used up or the token changed (nothing stored).
pub(super) async fn begin_send(
    c: &mut Client,
    message: &NewMessage,
    reservation: Option<&Reservation>,
) -> StoreResult<Option<i64>> {
    let tx = c.transaction().await?;
    lock_ids(&tx).await?;
    lock_session(&tx, &message.session).await?;
    if let Some(r) = reservation {
        let reserved = reserve(
            &tx,
            &message.session,
            &message.peer,
            r.token.expose_str(),
            r.quota,
        )
        .await?;
        if reserved.is_none() {
            return Ok(None);
        }
    }
    let mut pending = message.clone();
    pending.status = MessageStatus::Pending;
    let Some(id) = insert_one(&tx, &pending).await? else {
        return Err(StoreError::Corrupt(
            "messages",
            format!("a send with key {:?} is stored already", message.dedupe_key),
        ));
    };
    messages_stored(&tx, id).await?;
    tx.commit().await?;
    Ok(Some(id))
}

/// Records how send `id` ended. The outcome's key may already be taken by the listener's copy
/// of this very message (a backend that echoes the bot's own sends): that copy goes, this row
/// (the richer record, under the id the sender was given) stays.
pub(super) async fn finish_send(
    c: &mut Client,
    id: i64,
    outcome: &NewMessage,
    refund_it: bool,
) -> StoreResult<()> {
    let tx = c.transaction().await?;
    let direction = super::rows::direction_code(outcome.direction);
    let key = nul_free(&outcome.dedupe_key);
    tx.execute(
        "DELETE FROM messages WHERE session = $1 AND direction = $2 AND dedupe_key = $3 \
         AND id <> $4",
        &[&outcome.session, &direction, &key, &id],
    )
    .await?;
    let text = nul_free_opt(outcome.text.as_deref());
    let changed = tx
        .execute(
            "UPDATE messages SET upstream_id = $2, kind = $3, status = $4, dedupe_key = $5, \
             text = $6, text_folded = $7, items = $8, raw = $9, \
             client_id = coalesce($10, client_id), error = $11 WHERE id = $1",
            &[
                &id,
                &nul_free_opt(outcome.upstream_id.as_deref()),
                &nul_free(&outcome.kind),
                &outcome.status.as_str(),
                &key,
                &text,
                &folded(text.as_deref()),
                &outcome.items.json(),
                &outcome.raw.as_ref().map(|r| r.to_string()),
                &nul_free_opt(outcome.client_id.as_deref()),
                &nul_free_opt(outcome.error.as_deref()),
            ],
        )
        .await?;
    if changed == 0 {
        return Err(StoreError::Corrupt(
            "messages",
            format!("no send with id {id}"),
        ));
    }
    if let (true, Some(token)) = (refund_it, &outcome.context_token) {
        refund(&tx, &outcome.session, &outcome.peer, token.expose_str()).await?;
    }
    messages_stored(&tx, id).await?;
    tx.commit().await?;
    Ok(())
}

/// Marks sends still `pending` that started before `before_ms` as `unknown`; returns how many.
/// The partial index on pending rows keeps this cheap at every start.
pub(super) async fn settle_pending(c: &Client, before_ms: i64) -> StoreResult<u64> {
    Ok(c.execute(
        "UPDATE messages SET status = 'unknown' WHERE status = 'pending' AND created_at < $1",
        &[&before_ms],
    )
    .await?)
}
