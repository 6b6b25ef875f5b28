//! A whole-store copy in and out (`wxlink migrate-store`): the state besides messages (session
//! tokens opened on the way out and sealed with this store's key on the way in), and messages
//! read in id order and written back under their own ids, the identity then moved above
//! them so later ids continue past every copied one.

use deadpool_postgres::Client;

use super::crypt::Sealer;
use super::messages::lock_ids;
use super::notify::{messages_stored, sessions_changed};
use super::rows::{message_from_row, nul_free, seal_token, MessageArrays, MESSAGE_COLUMNS};
use super::sessions::{contexts, lock_sessions, sessions};
use crate::store::{
    ConsumerRecord, CursorRecord, RestoreOutcome, StoreResult, StoreState, StoredMessage,
};

/// Copied messages from parallel arrays, under their own ids and stored times; a row whose id
/// or `(session, direction, dedupe_key)` is taken is skipped (no conflict target).
const SQL_RESTORE_MESSAGES: &str = "INSERT INTO messages (id, session, direction, upstream_id, \
     dedupe_key, peer, bot_id, kind, text, text_folded, created_at, stored_at, status, items, \
     raw, context_token, client_id, error, speaker) \
     OVERRIDING SYSTEM VALUE \
     SELECT i, s, d, u, k, p, b, kd, t, tf, c, sa, st, it, rw, ct, cl, er, sp \
     FROM unnest($1::bigint[], $2::text[], $3::bigint[], $4::smallint[], $5::text[], \
                 $6::text[], $7::text[], $8::text[], $9::text[], $10::text[], $11::text[], \
                 $12::bigint[], $13::text[], $14::text[], $15::text[], $16::text[], \
                 $17::text[], $18::text[], $19::text[]) \
          AS x (i, s, sa, d, u, k, p, b, kd, t, tf, c, st, it, rw, ct, cl, er, sp) \
     ORDER BY i \
     ON CONFLICT DO NOTHING \
     RETURNING id";

/// Moves the identity past the highest id stored, never backwards.
const SQL_ADVANCE_IDS: &str = "SELECT setval('messages_id_seq', m.top) \
     FROM (SELECT max(id) AS top FROM messages) m, messages_id_seq s \
     WHERE m.top IS NOT NULL AND (m.top > s.last_value OR NOT s.is_called)";

pub(super) async fn export_state(c: &mut Client, sealer: &Sealer) -> StoreResult<StoreState> {
    // One snapshot: the tables as of one moment.
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let sessions = sessions(&tx, sealer).await?;
    let contexts = contexts(&tx, None).await?;
    let cursors = tx
        .query("SELECT session, cursor FROM cursors ORDER BY session", &[])
        .await?
        .iter()
        .map(|r| {
            Ok(CursorRecord {
                session: r.try_get(0)?,
                cursor: r.try_get(1)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    let consumers = tx
        .query("SELECT name, last_id FROM consumers ORDER BY name", &[])
        .await?
        .iter()
        .map(|r| {
            Ok(ConsumerRecord {
                name: r.try_get(0)?,
                last_id: r.try_get(1)?,
            })
        })
        .collect::<StoreResult<_>>()?;
    tx.commit().await?;
    Ok(StoreState {
        sessions,
        cursors,
        contexts,
        consumers,
    })
}

pub(super) async fn restore_state(
    c: &mut Client,
    sealer: &Sealer,
    state: &StoreState,
) -> StoreResult<()> {
    let tx = c.transaction().await?;
    lock_sessions(&tx).await?;
    let source_has_default = state.sessions.iter().any(|s| s.is_default);
    if source_has_default {
        tx.execute(
            "UPDATE sessions SET is_default = false WHERE is_default",
            &[],
        )
        .await?;
    }
    let upsert = tx
        .prepare(
            "INSERT INTO sessions (name, backend, bot_id, user_id, token, base_url, status, \
             is_default, created_at, updated_at, last_message_at, problem) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
             ON CONFLICT (name) DO UPDATE SET backend = excluded.backend, \
             bot_id = excluded.bot_id, user_id = excluded.user_id, token = excluded.token, \
             base_url = excluded.base_url, status = excluded.status, \
             is_default = CASE WHEN $13 THEN excluded.is_default ELSE sessions.is_default END, \
             created_at = excluded.created_at, updated_at = excluded.updated_at, \
             last_message_at = excluded.last_message_at, problem = excluded.problem",
        )
        .await?;
    for s in &state.sessions {
        let token = s.token.as_ref().map(|t| seal_token(sealer, t));
        tx.execute(
            &upsert,
            &[
                &s.name,
                &s.backend.as_str(),
                &s.bot_id.as_deref().map(nul_free),
                &s.user_id.as_deref().map(nul_free),
                &token,
                &s.base_url.as_deref().map(nul_free),
                &s.status.as_str(),
                &(source_has_default && s.is_default),
                &s.created_at_ms,
                &s.updated_at_ms,
                &s.last_message_at_ms,
                &s.problem.as_deref().map(nul_free),
                &source_has_default,
            ],
        )
        .await?;
    }
    for cur in &state.cursors {
        tx.execute(
            "INSERT INTO cursors (session, cursor) VALUES ($1, $2) \
             ON CONFLICT (session) DO UPDATE SET cursor = excluded.cursor",
            &[&cur.session, &nul_free(&cur.cursor)],
        )
        .await?;
    }
    for ctx in &state.contexts {
        let count = i32::try_from(ctx.send_count).unwrap_or(i32::MAX);
        tx.execute(
            "INSERT INTO contexts (session, user_id, token, received_at, send_count) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session, user_id) DO UPDATE SET \
             token = excluded.token, received_at = excluded.received_at, \
             send_count = excluded.send_count",
            &[
                &ctx.session,
                &nul_free(&ctx.user_id),
                &nul_free(ctx.token.expose_str()),
                &ctx.received_at_ms,
                &count,
            ],
        )
        .await?;
    }
    for consumer in &state.consumers {
        tx.execute(
            "INSERT INTO consumers (name, last_id) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET last_id = excluded.last_id",
            &[&nul_free(&consumer.name), &consumer.last_id],
        )
        .await?;
    }
    sessions_changed(&tx).await?;
    tx.commit().await?;
    Ok(())
}

pub(super) async fn messages_after(
    c: &Client,
    after_id: i64,
    limit: u32,
) -> StoreResult<Vec<StoredMessage>> {
    let sql = format!("SELECT {MESSAGE_COLUMNS} FROM messages WHERE id > $1 ORDER BY id LIMIT $2");
    let stmt = c.prepare_cached(&sql).await?;
    let rows = c.query(&stmt, &[&after_id, &i64::from(limit)]).await?;
    rows.iter().map(message_from_row).collect()
}

/// One statement for the chunk; what was not inserted is then told apart: the same message
/// (same id, session, direction and key) or a clash.
pub(super) async fn restore_messages(
    c: &mut Client,
    messages: &[StoredMessage],
) -> StoreResult<RestoreOutcome> {
    let mut outcome = RestoreOutcome::default();
    if messages.is_empty() {
        return Ok(outcome);
    }
    let ids: Vec<i64> = messages.iter().map(|m| m.id).collect();
    let sessions: Vec<&str> = messages
        .iter()
        .map(|m| m.message.session.as_str())
        .collect();
    let stored_at: Vec<i64> = messages.iter().map(|m| m.stored_at_ms).collect();
    let a = MessageArrays::of(messages.iter().map(|m| &m.message));
    let tx = c.transaction().await?;
    lock_ids(&tx).await?;
    let stmt = tx.prepare_cached(SQL_RESTORE_MESSAGES).await?;
    let inserted: std::collections::HashSet<i64> = tx
        .query(
            &stmt,
            &[
                &ids,
                &sessions,
                &stored_at,
                &a.direction,
                &a.upstream_id,
                &a.dedupe_key,
                &a.peer,
                &a.bot_id,
                &a.kind,
                &a.text,
                &a.text_folded,
                &a.created_at,
                &a.status,
                &a.items,
                &a.raw,
                &a.context_token,
                &a.client_id,
                &a.error,
                &a.speaker,
            ],
        )
        .await?
        .iter()
        .map(|r| r.try_get(0))
        .collect::<Result<_, _>>()?;
    outcome.inserted = inserted.len() as u64;
    let skipped: Vec<usize> = (0..messages.len())
        .filter(|&i| !inserted.contains(&ids[i]))
        .collect();
    if !skipped.is_empty() {
        let wanted: Vec<i64> = skipped.iter().map(|&i| ids[i]).collect();
        let found = tx
            .query(
                "SELECT id, session, direction, dedupe_key FROM messages WHERE id = ANY($1)",
                &[&wanted],
            )
            .await?;
        let mut here = std::collections::HashMap::new();
        for row in &found {
            let key: (String, i16, String) = (row.try_get(1)?, row.try_get(2)?, row.try_get(3)?);
            here.insert(row.try_get::<_, i64>(0)?, key);
        }
        for i in skipped {
            let same = here.get(&ids[i]).is_some_and(|(s, d, k)| {
                *s == sessions[i] && *d == a.direction[i] && *k == a.dedupe_key[i]
            });
            if same {
                outcome.existing += 1;
            } else {
                outcome.conflicting += 1;
            }
        }
    }
    if outcome.inserted > 0 {
        tx.execute(SQL_ADVANCE_IDS, &[]).await?;
        if let Some(&top) = inserted.iter().max() {
            messages_stored(&tx, top).await?;
        }
    }
    tx.commit().await?;
    Ok(outcome)
}
