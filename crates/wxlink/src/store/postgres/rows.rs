//! Rows in and out: the column lists every query shares, rows into records (stored words
//! checked, session tokens opened), and [`insert_messages`], the one way new messages are
//! written (one statement per batch, ids drawn in the batch's order).
//!
//! PostgreSQL's `text` cannot hold NUL characters: they are dropped from what is stored as
//! text ([`nul_free`]). Search ignores NULs anyway (SQLite's tokenizer skips them), and the
//! JSON columns keep them escaped (`\u0000`), so `items` and `raw` are exact.

use std::borrow::Cow;

use serde_json::Value;
use tokio_postgres::Row;

use super::crypt::{OpenError, Purpose, Sealer};
use crate::store::sqlite::fold::fold;
use crate::store::{
    BackendKind, ContextRecord, Direction, Items, MessageStatus, NewMessage, Secret, SessionRecord,
    SessionStatus, StoreError, StoreResult, StoredMessage,
};

/// The message columns with `$raw` in the upstream JSON's place.
macro_rules! message_columns {
    ($raw:literal) => {
        concat!(
            "id, session, direction, upstream_id, dedupe_key, peer, bot_id, kind, text, items, ",
            $raw,
            ", context_token, created_at, stored_at, client_id, status, error, speaker"
        )
    };
}

/// Columns of `messages`, in the order [`message_from_row`] reads them.
pub(super) const MESSAGE_COLUMNS: &str = message_columns!("raw");

/// [`MESSAGE_COLUMNS`] with NULL for the upstream JSON: what lists read (see
/// [`Store::history`](crate::store::Store::history)).
pub(super) const LISTED_COLUMNS: &str = message_columns!("NULL::text");

/// Columns of `sessions s` plus the user count, in the order [`session_from_row`] reads them.
pub(super) const SESSION_SELECT: &str =
    "SELECT s.name, s.backend, s.bot_id, s.user_id, s.token, s.base_url, \
     s.status, s.is_default, s.created_at, s.updated_at, s.last_message_at, \
     (SELECT count(*) FROM contexts c WHERE c.session = s.name), s.problem \
     FROM sessions s";

/// Columns of `contexts`, in the order [`context_from_row`] reads them.
pub(super) const CONTEXT_SELECT: &str =
    "SELECT session, user_id, token, received_at, send_count FROM contexts";

/// New messages of one session from parallel arrays, in the arrays' order (so ids are drawn
/// in that order); duplicates of stored rows (and of earlier rows of the batch) are skipped.
const SQL_INSERT_MESSAGES: &str = "INSERT INTO messages (session, direction, upstream_id, \
     dedupe_key, peer, bot_id, kind, text, text_folded, created_at, stored_at, status, items, \
     raw, context_token, client_id, error, speaker) \
     SELECT $1, d, u, k, p, b, kd, t, tf, c, $2, st, it, rw, ct, cl, er, sp \
     FROM unnest($3::smallint[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], \
                 $9::text[], $10::text[], $11::bigint[], $12::text[], $13::text[], $14::text[], \
                 $15::text[], $16::text[], $17::text[], $18::text[]) \
          WITH ORDINALITY AS x (d, u, k, p, b, kd, t, tf, c, st, it, rw, ct, cl, er, sp, ord) \
     ORDER BY ord \
     ON CONFLICT (session, direction, dedupe_key) DO NOTHING \
     RETURNING id";

/// `s` without NUL characters (PostgreSQL's `text` cannot hold them).
pub(super) fn nul_free(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', ""))
    } else {
        Cow::Borrowed(s)
    }
}

/// [`nul_free`] of an optional text.
pub(super) fn nul_free_opt(s: Option<&str>) -> Option<Cow<'_, str>> {
    s.map(nul_free)
}

/// The text as search reads it, where folding changes it (`text_folded`); `None` when the
/// text is its own folded form.
pub(super) fn folded(text: Option<&str>) -> Option<String> {
    let text = text?;
    let folded = fold(text);
    (folded != text).then_some(folded)
}

/// A direction as stored.
pub(super) fn direction_code(d: Direction) -> i16 {
    if d == Direction::In {
        1
    } else {
        2
    }
}

pub(super) fn session_from_row(row: &Row, sealer: &Sealer) -> StoreResult<SessionRecord> {
    let status: String = row.try_get(6)?;
    let status = SessionStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt("sessions.status", status.clone()))?;
    let backend: String = row.try_get(1)?;
    let backend = BackendKind::parse(&backend)
        .ok_or_else(|| StoreError::Corrupt("sessions.backend", backend.clone()))?;
    let users: i64 = row.try_get(11)?;
    let sealed: Option<String> = row.try_get(4)?;
    let token = sealed
        .map(|s| open_token(sealer, &s))
        .transpose()?
        .map(Secret::new);
    Ok(SessionRecord {
        name: row.try_get(0)?,
        backend,
        bot_id: row.try_get(2)?,
        user_id: row.try_get(3)?,
        token,
        base_url: row.try_get(5)?,
        status,
        is_default: row.try_get(7)?,
        created_at_ms: row.try_get(8)?,
        updated_at_ms: row.try_get(9)?,
        last_message_at_ms: row.try_get(10)?,
        users: u64::try_from(users).unwrap_or(0),
        problem: row.try_get(12)?,
    })
}

/// A session's bearer token, sealed for `sessions.token`.
pub(super) fn seal_token(sealer: &Sealer, token: &Secret<String>) -> String {
    sealer.seal(Purpose::SessionToken, token.expose_str())
}

/// The plain bearer token of a `sessions.token` value.
fn open_token(sealer: &Sealer, sealed: &str) -> StoreResult<String> {
    sealer
        .open(Purpose::SessionToken, sealed)
        .map_err(|e| match e {
            OpenError::WrongKey => StoreError::WrongKey,
            OpenError::Malformed => {
                StoreError::Corrupt("sessions.token", "not a sealed value".into())
            }
        })
}

pub(super) fn context_from_row(row: &Row) -> StoreResult<ContextRecord> {
    let send_count: i32 = row.try_get(4)?;
    Ok(ContextRecord {
        session: row.try_get(0)?,
        user_id: row.try_get(1)?,
        token: Secret::new(row.try_get(2)?),
        received_at_ms: row.try_get(3)?,
        send_count: u32::try_from(send_count.max(0)).unwrap_or(u32::MAX),
    })
}

pub(super) fn message_from_row(row: &Row) -> StoreResult<StoredMessage> {
    let direction: i16 = row.try_get(2)?;
    let direction = Direction::from_code(i64::from(direction))
        .ok_or_else(|| StoreError::Corrupt("messages.direction", direction.to_string()))?;
    let items: String = row.try_get(9)?;
    let items = Items::from_json(items)
        .map_err(|e| StoreError::Corrupt("messages.items", e.to_string()))?;
    let raw: Option<String> = row.try_get(10)?;
    let raw = raw
        .map(|r| serde_json::from_str::<Value>(&r))
        .transpose()
        .map_err(|e| StoreError::Corrupt("messages.raw", e.to_string()))?;
    let status: String = row.try_get(15)?;
    let status = MessageStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt("messages.status", status.clone()))?;
    let context_token: Option<String> = row.try_get(11)?;
    Ok(StoredMessage {
        id: row.try_get(0)?,
        stored_at_ms: row.try_get(13)?,
        message: NewMessage {
            session: row.try_get(1)?,
            direction,
            upstream_id: row.try_get(3)?,
            dedupe_key: row.try_get(4)?,
            peer: row.try_get(5)?,
            bot_id: row.try_get(6)?,
            kind: row.try_get(7)?,
            text: row.try_get(8)?,
            items,
            raw,
            context_token: context_token.map(Secret::new),
            created_at_ms: row.try_get(12)?,
            client_id: row.try_get(14)?,
            status,
            error: row.try_get(16)?,
            speaker: row.try_get(17)?,
        },
    })
}

/// Messages as the parallel arrays of an `unnest` insert, every text NUL-free.
#[derive(Default)]
pub(super) struct MessageArrays {
    pub(super) direction: Vec<i16>,
    pub(super) upstream_id: Vec<Option<String>>,
    pub(super) dedupe_key: Vec<String>,
    pub(super) peer: Vec<String>,
    pub(super) bot_id: Vec<Option<String>>,
    pub(super) kind: Vec<String>,
    pub(super) text: Vec<Option<String>>,
    pub(super) text_folded: Vec<Option<String>>,
    pub(super) created_at: Vec<i64>,
    pub(super) status: Vec<String>,
    pub(super) items: Vec<String>,
    pub(super) raw: Vec<Option<String>>,
    pub(super) context_token: Vec<Option<String>>,
    pub(super) client_id: Vec<Option<String>>,
    pub(super) error: Vec<Option<String>>,
    pub(super) speaker: Vec<Option<String>>,
}

impl MessageArrays {
    pub(super) fn of<'m>(messages: impl IntoIterator<Item = &'m NewMessage>) -> Self {
        let mut a = MessageArrays::default();
        for m in messages {
            a.push(m);
        }
        a
    }

    fn push(&mut self, m: &NewMessage) {
        let owned = |s: Option<&str>| nul_free_opt(s).map(Cow::into_owned);
        let text = owned(m.text.as_deref());
        self.direction.push(direction_code(m.direction));
        self.upstream_id.push(owned(m.upstream_id.as_deref()));
        self.dedupe_key.push(nul_free(&m.dedupe_key).into_owned());
        self.peer.push(nul_free(&m.peer).into_owned());
        self.bot_id.push(owned(m.bot_id.as_deref()));
        self.kind.push(nul_free(&m.kind).into_owned());
        self.text_folded.push(folded(text.as_deref()));
        self.text.push(text);
        self.created_at.push(m.created_at_ms);
        self.status.push(m.status.as_str().to_owned());
        self.items.push(m.items.json().to_owned());
        self.raw.push(m.raw.as_ref().map(Value::to_string));
        self.context_token
            .push(owned(m.context_token.as_ref().map(Secret::expose_str)));
        self.client_id.push(owned(m.client_id.as_deref()));
        self.error.push(owned(m.error.as_deref()));
        self.speaker.push(owned(m.speaker.as_deref()));
    }
}

/// Inserts `messages` under `session` (whatever their own `session` says) in one statement;
/// returns the ids of the rows actually inserted, ascending (the batch's order). The caller's
/// transaction must hold the id lock ([`super::messages::lock_ids`]).
pub(super) async fn insert_messages(
    tx: &deadpool_postgres::Transaction<'_>,
    session: &str,
    messages: &[NewMessage],
    stored_at: i64,
) -> StoreResult<Vec<i64>> {
    if messages.is_empty() {
        return Ok(Vec::new());
    }
    let a = MessageArrays::of(messages);
    let stmt = tx.prepare_cached(SQL_INSERT_MESSAGES).await?;
    let rows = tx
        .query(
            &stmt,
            &[
                &session,
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
        .await?;
    let mut ids = rows
        .iter()
        .map(|r| r.try_get::<_, i64>(0))
        .collect::<Result<Vec<_>, _>>()?;
    ids.sort_unstable();
    Ok(ids)
}
