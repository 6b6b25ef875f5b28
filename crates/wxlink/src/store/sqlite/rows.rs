//! Rows in and out: the column lists every query shares, rows into records (with their stored
//! words checked), session lookups, and [`MessageInserts`], the one way messages are written.

use rusqlite::{params, CachedStatement, Connection, OptionalExtension, Row};
use serde_json::Value;

use super::history::IdRange;
use crate::store::{
    BackendKind, ContextRecord, Direction, Items, MessageStatus, NewMessage, Secret, SessionRecord,
    SessionStatus, StoreError, StoreResult, StoredMessage,
};

/// The message columns with `$raw` in the upstream JSON's place.
macro_rules! message_columns {
    ($raw:literal) => {
        concat!(
            "m.id, m.session, m.direction, m.upstream_id, m.dedupe_key, m.peer, \
             m.bot_id, m.kind, m.text, b.items, ",
            $raw,
            ", b.context_token, m.created_at, m.stored_at, \
             b.client_id, m.status, b.error, b.speaker"
        )
    };
}

/// Columns of `messages m` and `message_bodies b`, in the order [`message_from_row`] reads
/// them; use with [`MESSAGE_FROM`].
pub(super) const MESSAGE_COLUMNS: &str = message_columns!("b.raw");

/// [`MESSAGE_COLUMNS`] with NULL for the upstream JSON: what lists read (see
/// [`Store::history`](crate::store::Store::history)).
pub(super) const LISTED_COLUMNS: &str = message_columns!("NULL");

/// The tables [`MESSAGE_COLUMNS`] come from.
pub(super) const MESSAGE_FROM: &str = "messages m LEFT JOIN message_bodies b ON b.id = m.id";

/// Columns of `sessions s` plus the user count, in the order [`session_from_row`] reads them.
pub(super) const SESSION_SELECT: &str =
    "SELECT s.name, s.backend, s.bot_id, s.user_id, s.token, s.base_url, \
     s.status, s.is_default, s.created_at, s.updated_at, s.last_message_at, \
     (SELECT count(*) FROM contexts c WHERE c.session = s.name), s.problem \
     FROM sessions s";

const SQL_SESSION_EXISTS: &str = "SELECT 1 FROM sessions WHERE name = ?1";

const SQL_INSERT_MESSAGE: &str = "INSERT INTO messages (session, direction, upstream_id, \
     dedupe_key, peer, bot_id, kind, text, created_at, stored_at, status) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11) \
     ON CONFLICT (session, direction, dedupe_key) DO NOTHING";

/// Indexes the text of the messages with ids `?1..=?2` (all inserted by this transaction).
const SQL_INDEX_FTS: &str = "INSERT INTO messages_fts (rowid, text) \
     SELECT id, text FROM messages WHERE id BETWEEN ?1 AND ?2 AND text IS NOT NULL";

/// Widens the `message_days` entries for the messages with ids `?1..=?2`.
const SQL_INDEX_DAYS: &str = "INSERT INTO message_days (day, min_id, max_id) \
     SELECT created_at / 86400000, min(id), max(id) FROM messages \
     WHERE id BETWEEN ?1 AND ?2 GROUP BY 1 \
     ON CONFLICT (day) DO UPDATE SET min_id = min(min_id, excluded.min_id), \
                                     max_id = max(max_id, excluded.max_id)";

const SQL_INSERT_BODY: &str = "INSERT INTO message_bodies (id, items, raw, context_token, \
     client_id, error, speaker) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";

pub(super) const CONTEXT_SELECT: &str =
    "SELECT session, user_id, token, received_at, send_count FROM contexts";

pub(super) fn session_exists(conn: &Connection, name: &str) -> StoreResult<bool> {
    Ok(conn
        .prepare_cached(SQL_SESSION_EXISTS)?
        .query_row([name], |_| Ok(()))
        .optional()?
        .is_some())
}

/// `execute` through the connection's statement cache: what the hot paths (ingest, claims)
/// run is parsed once per connection, not once per call (`Connection::execute` parses every
/// time: five statements were a third of a one-message ingest).
pub(super) fn exec(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> StoreResult<usize> {
    Ok(conn.prepare_cached(sql)?.execute(params)?)
}

/// Runs `read` in one read transaction (its queries see one moment). Rolled back if `read`
/// fails or panics.
pub(super) fn in_read_transaction<T>(
    conn: &Connection,
    read: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    in_transaction(conn, "BEGIN", read)
}

/// Runs `write` in one `BEGIN IMMEDIATE` transaction (the write lock taken at once, so two
/// writers never deadlock on an upgrade), committed if it succeeds and rolled back if it fails
/// or panics.
pub(super) fn in_write_transaction<T>(
    conn: &Connection,
    write: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    in_transaction(conn, "BEGIN IMMEDIATE", write)
}

/// `begin`, `work`, `COMMIT`, with `begin` and `COMMIT` through the statement cache:
/// `Connection::transaction` parses both on every call (a tenth of a history page). Rolled back
/// unless the commit succeeded.
fn in_transaction<T>(
    conn: &Connection,
    begin: &str,
    work: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    /// Rolls back unless committed.
    struct Open<'c>(Option<&'c Connection>);
    impl Drop for Open<'_> {
        fn drop(&mut self) {
            if let Some(conn) = self.0.take() {
                let _ = conn.execute_batch("ROLLBACK");
            }
        }
    }
    exec(conn, begin, [])?;
    let mut open = Open(Some(conn));
    let out = work(conn)?;
    exec(conn, "COMMIT", [])?;
    open.0 = None;
    Ok(out)
}

pub(super) fn require_session(conn: &Connection, name: &str) -> StoreResult<()> {
    if session_exists(conn, name)? {
        Ok(())
    } else {
        Err(StoreError::UnknownSession(name.to_owned()))
    }
}

pub(super) fn load_session(conn: &Connection, name: &str) -> StoreResult<Option<SessionRecord>> {
    let sql = format!("{SESSION_SELECT} WHERE s.name = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query_and_then([name], session_from_row)?;
    rows.next().transpose()
}

pub(super) fn session_from_row(row: &Row<'_>) -> StoreResult<SessionRecord> {
    let status: String = row.get(6)?;
    let status = SessionStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt("sessions.status", status.clone()))?;
    let backend: String = row.get(1)?;
    let backend = BackendKind::parse(&backend)
        .ok_or_else(|| StoreError::Corrupt("sessions.backend", backend.clone()))?;
    let users: i64 = row.get(11)?;
    let token: Option<String> = row.get(4)?;
    Ok(SessionRecord {
        name: row.get(0)?,
        backend,
        bot_id: row.get(2)?,
        user_id: row.get(3)?,
        token: token.map(Secret::new),
        base_url: row.get(5)?,
        status,
        is_default: row.get(7)?,
        created_at_ms: row.get(8)?,
        updated_at_ms: row.get(9)?,
        last_message_at_ms: row.get(10)?,
        users: u64::try_from(users).unwrap_or(0),
        problem: row.get(12)?,
    })
}

pub(super) fn context_from_row(row: &Row<'_>) -> StoreResult<ContextRecord> {
    let send_count: i64 = row.get(4)?;
    Ok(ContextRecord {
        session: row.get(0)?,
        user_id: row.get(1)?,
        token: Secret::new(row.get(2)?),
        received_at_ms: row.get(3)?,
        send_count: u32::try_from(send_count.max(0)).unwrap_or(u32::MAX),
    })
}

pub(super) fn message_from_row(row: &Row<'_>) -> StoreResult<StoredMessage> {
    let direction: i64 = row.get(2)?;
    let direction = Direction::from_code(direction)
        .ok_or_else(|| StoreError::Corrupt("messages.direction", direction.to_string()))?;
    // The JSON columns and the status are read in place; the items are then copied once, into
    // their `Items` (checked, not parsed).
    let items = str_at(row, 9, "message_bodies.items")?
        .ok_or_else(|| StoreError::Corrupt("message_bodies", "missing row".into()))?;
    let items = Items::from_json(items.to_owned())
        .map_err(|e| StoreError::Corrupt("message_bodies.items", e.to_string()))?;
    let status = str_at(row, 15, "messages.status")?.unwrap_or_default();
    let status = MessageStatus::parse(status)
        .ok_or_else(|| StoreError::Corrupt("messages.status", status.to_owned()))?;
    let context_token: Option<String> = row.get(11)?;
    let raw = str_at(row, 10, "message_bodies.raw")?
        .map(serde_json::from_str::<Value>)
        .transpose()
        .map_err(|e| StoreError::Corrupt("message_bodies.raw", e.to_string()))?;
    Ok(StoredMessage {
        id: row.get(0)?,
        stored_at_ms: row.get(13)?,
        message: NewMessage {
            session: row.get(1)?,
            direction,
            upstream_id: row.get(3)?,
            dedupe_key: row.get(4)?,
            peer: row.get(5)?,
            bot_id: row.get(6)?,
            kind: row.get(7)?,
            text: row.get(8)?,
            items,
            raw,
            context_token: context_token.map(Secret::new),
            created_at_ms: row.get(12)?,
            client_id: row.get(14)?,
            status,
            error: row.get(16)?,
            speaker: row.get(17)?,
        },
    })
}

/// Column `idx` as text read in place, NULL as `None`; `what` names the column in the error.
fn str_at<'r>(row: &'r Row<'_>, idx: usize, what: &'static str) -> StoreResult<Option<&'r str>> {
    row.get_ref(idx)?
        .as_str_or_null()
        .map_err(|e| StoreError::Corrupt(what, e.to_string()))
}

/// The statement of [`listed_messages`]: `json_each` first (`CROSS JOIN` keeps it the outer
/// loop), each message found by its key. No `ORDER BY`: sorting the rows (every column through
/// a temporary b-tree) was a quarter of the statement, and the outer loop already gives the
/// list's order, which [`listed_messages`] checks.
pub(super) const LISTED_BY_IDS: &str = concat!(
    "SELECT ",
    message_columns!("NULL"),
    " FROM json_each(?1) AS j CROSS JOIN messages m ON m.id = j.value \
     LEFT JOIN message_bodies b ON b.id = m.id"
);

/// The messages with these ids, in this order, with the columns lists read
/// ([`LISTED_COLUMNS`]); an id without a row is left out. One statement for the whole list
/// (the ids as a JSON array that `json_each` walks, each row found by its key): a statement
/// per id cost a lookup, a step and a reset each.
pub(super) fn listed_messages(conn: &Connection, ids: &[i64]) -> StoreResult<Vec<StoredMessage>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids)
        .map_err(|e| StoreError::Corrupt("message ids", e.to_string()))?;
    let mut stmt = conn.prepare_cached(LISTED_BY_IDS)?;
    // Sized for the list: collected from the rows (no size hint), the vector grew several
    // times per page, each time a large allocation that can make glibc sweep its free lists.
    let mut messages = Vec::with_capacity(ids.len());
    for message in stmt.query_and_then([list], message_from_row)? {
        messages.push(message?);
    }
    in_list_order(&mut messages, ids);
    Ok(messages)
}

/// Puts `messages` in the order of `ids` (which holds each of their ids), unless they already
/// are: a walk that costs nothing next to reading them. SQLite promises no order without
/// `ORDER BY`; the join's outer loop gives it, and this keeps it so if a plan ever changes.
pub(super) fn in_list_order(messages: &mut [StoredMessage], ids: &[i64]) {
    let mut next = ids.iter();
    if messages.iter().all(|m| next.any(|&id| id == m.id)) {
        return;
    }
    let position: std::collections::HashMap<i64, usize> = ids
        .iter()
        .enumerate()
        .rev()
        .map(|(at, &id)| (id, at))
        .collect();
    messages.sort_by_key(|m| position.get(&m.id).copied().unwrap_or(usize::MAX));
}

/// A message's JSON columns as text. Ingest encodes them on the caller's task, before the
/// batch reaches the store's thread: writing them there was a quarter of that thread's time,
/// and that thread is what bounds ingest.
pub(super) struct Encoded {
    items: String,
    raw: Option<String>,
}

impl Encoded {
    /// The columns of `message`.
    pub(super) fn of(message: &NewMessage) -> Self {
        Encoded {
            items: message.items.json().to_owned(),
            raw: message.raw.as_ref().map(json_text),
        }
    }

    /// The columns of `message`, taken out of it: the items' text moved, and the JSON trees
    /// (the raw message, the items' parsed copy) dropped here (the store writes the text):
    /// freed on the store's thread instead — memory the caller's thread allocated, under
    /// glibc's arena lock — they took about a tenth of its time with 1,000 accounts.
    pub(super) fn take(message: &mut NewMessage) -> Self {
        Encoded {
            items: std::mem::take(&mut message.items).into_json(),
            raw: message.raw.take().as_ref().map(json_text),
        }
    }
}

/// `value` as JSON text, written straight into a buffer (`Value`'s `Display`, which
/// `to_string` goes through, writes token by token through a formatter).
fn json_text(value: &Value) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| value.to_string())
}

/// Inserts messages within one write transaction, then indexes them ([`finish`]).
///
/// Every insert into `messages` goes through here. Ids inserted under one write lock are
/// consecutive and above every earlier id, so the batch is indexed as one id range.
///
/// [`finish`]: MessageInserts::finish
pub(super) struct MessageInserts<'c> {
    conn: &'c Connection,
    message: CachedStatement<'c>,
    body: CachedStatement<'c>,
    inserted: Option<IdRange>,
}

impl<'c> MessageInserts<'c> {
    pub(super) fn prepare(conn: &'c Connection) -> StoreResult<Self> {
        Ok(MessageInserts {
            conn,
            message: conn.prepare_cached(SQL_INSERT_MESSAGE)?,
            body: conn.prepare_cached(SQL_INSERT_BODY)?,
            inserted: None,
        })
    }

    /// Inserts one message under `session` (whatever `message.session` says); returns its id,
    /// or `None` when a row with the same `(session, direction, dedupe_key)` exists.
    pub(super) fn insert(
        &mut self,
        session: &str,
        message: &NewMessage,
        stored_at: i64,
    ) -> StoreResult<Option<i64>> {
        self.insert_encoded(session, message, &Encoded::of(message), stored_at)
    }

    /// [`insert`](Self::insert) with the JSON columns already encoded.
    pub(super) fn insert_encoded(
        &mut self,
        session: &str,
        message: &NewMessage,
        encoded: &Encoded,
        stored_at: i64,
    ) -> StoreResult<Option<i64>> {
        let changed = self.message.execute(params![
            session,
            message.direction.code(),
            message.upstream_id,
            message.dedupe_key,
            message.peer,
            message.bot_id,
            message.kind,
            message.text,
            message.created_at_ms,
            stored_at,
            message.status.as_str(),
        ])?;
        if changed != 1 {
            return Ok(None);
        }
        let id = self.conn.last_insert_rowid();
        self.body.execute(params![
            id,
            encoded.items,
            encoded.raw,
            message.context_token.as_ref().map(Secret::expose_str),
            message.client_id,
            message.error,
            message.speaker,
        ])?;
        self.inserted = Some(match self.inserted {
            None => IdRange { lo: id, hi: id },
            Some(r) => IdRange {
                lo: r.lo.min(id),
                hi: r.hi.max(id),
            },
        });
        Ok(Some(id))
    }

    /// Adds the inserted messages to `messages_fts` and `message_days`. Must run before the
    /// transaction commits.
    pub(super) fn finish(self) -> StoreResult<()> {
        if let Some(r) = self.inserted {
            exec(self.conn, SQL_INDEX_FTS, params![r.lo, r.hi])?;
            exec(self.conn, SQL_INDEX_DAYS, params![r.lo, r.hi])?;
        }
        Ok(())
    }
}
