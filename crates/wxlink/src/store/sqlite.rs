//! The embedded SQLite implementation of [`Store`]: one database file (WAL) holding sessions,
//! upstream cursors, context tokens, messages with their full-text index, and consumer
//! cursors.
//!
//! This module owns the schema and its migrations, the file's permissions (0600), and the SQL
//! of every [`Store`] operation.
//!
//! - **Connection.** One [`Connection`] per [`SqliteStore`], behind a [`Mutex`] (a poisoned lock
//!   is taken over: every write runs in a transaction, so a panic mid-way leaves nothing
//!   half-done). Several stores — in one process or several — can share a file: WAL lets
//!   readers run beside the writer, `busy_timeout` makes writers queue, and every write
//!   transaction starts with `BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade.
//! - **Migrations.** `MIGRATIONS` is an ordered list of SQL scripts; `PRAGMA user_version`
//!   records how many have run. Each runs in its own transaction; a database from a newer
//!   wxlink is refused with [`StoreError::TooNew`].
//! - **Messages** are split in two tables with the same id: `messages` holds what history
//!   filters on plus the text (small rows, cheap to scan), `message_bodies` the items, raw JSON
//!   and other per-message details. Ids come from `AUTOINCREMENT` and are never reused.
//! - **Search.** `messages_fts` is an external-content FTS5 table over `messages.text` with the
//!   `trigram` tokenizer: a query of three or more characters is a phrase match, that is a
//!   case-insensitive substring match that works for Chinese; shorter queries test each row.
//!   Every path folds case the way the tokenizer does, so the plan never changes the result.
//!   Inserts are indexed by the code that makes them, once per transaction (see
//!   `MessageInserts`); deletes and text updates by triggers.
//! - **History plans.** A time filter becomes an id range through `message_days` (lowest and
//!   highest id per day), which FTS5 and the `(x, id)` indexes seek. A user filter walks the
//!   `(peer, id, text)` index; with a long text too, the user's entries are tested or the text's
//!   matches are joined, whichever is cheaper (see `plan_history`). The planner's choices are
//!   pinned by a test on `EXPLAIN QUERY PLAN`, and measured by `benches/history.rs`.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::functions::FunctionFlags;
use rusqlite::types::Value as SqlValue;
use rusqlite::{
    params, params_from_iter, CachedStatement, Connection, OptionalExtension, Row,
    TransactionBehavior,
};
use serde_json::Value;

use super::{
    ContextRecord, Direction, HistoryPage, HistoryQuery, LoginRecord, NewMessage, Retention,
    SessionRecord, SessionStatus, Store, StoreError, StoreResult, StoredMessage, DEFAULT_CONSUMER,
    SEND_QUOTA_PER_TOKEN,
};

/// How long a statement waits for another connection's write lock before failing, ms.
const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Page cache per connection, KiB (allocated only as pages are used). Bigger than SQLite's
/// 2 MiB default: ingest is ~25% faster at a million messages.
const CACHE_KIB: i64 = 32 * 1024;

/// Prepared statements kept per connection.
const STATEMENT_CACHE: usize = 64;

/// Longest session name, in characters.
const MAX_NAME_CHARS: usize = 64;

/// When a long text is combined with a user filter, the user's rows are counted up to this
/// many to choose a plan (see `UserTextPlan`).
const PLAN_PROBE_CAP: i64 = 50_000;

/// Schema version 1.
const SCHEMA_V1: &str = r#"
CREATE TABLE sessions (
    name            TEXT PRIMARY KEY NOT NULL,
    backend         TEXT NOT NULL,
    bot_id          TEXT,
    user_id         TEXT,
    token           TEXT,
    base_url        TEXT,
    status          TEXT NOT NULL,
    is_default      INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL,
    last_message_at INTEGER
);
-- At most one default session.
CREATE UNIQUE INDEX sessions_single_default ON sessions (is_default) WHERE is_default = 1;

-- Foreign keys are deferred so a rename can update the parent and its children in any order
-- inside one transaction; the check runs at commit.
CREATE TABLE cursors (
    session TEXT PRIMARY KEY NOT NULL
            REFERENCES sessions (name) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    cursor  TEXT NOT NULL
);

CREATE TABLE contexts (
    session     TEXT NOT NULL
                REFERENCES sessions (name) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    user_id     TEXT NOT NULL,
    token       TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    send_count  INTEGER NOT NULL DEFAULT 0 CHECK (send_count >= 0),
    PRIMARY KEY (session, user_id)
) WITHOUT ROWID;
CREATE INDEX contexts_user ON contexts (user_id, received_at);

-- AUTOINCREMENT: ids are never reused, even after the newest rows are deleted.
-- Only what history filters and shows in lists lives here, so rows stay small and scans and
-- lookups touch few pages; the bulky rest is in message_bodies.
CREATE TABLE messages (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    session     TEXT NOT NULL REFERENCES sessions (name) DEFERRABLE INITIALLY DEFERRED,
    direction   INTEGER NOT NULL CHECK (direction IN (1, 2)),
    upstream_id TEXT,
    dedupe_key  TEXT NOT NULL,
    peer        TEXT NOT NULL,
    bot_id      TEXT,
    kind        TEXT NOT NULL,
    text        TEXT,
    created_at  INTEGER NOT NULL,
    stored_at   INTEGER NOT NULL,
    status      TEXT NOT NULL,
    UNIQUE (session, direction, dedupe_key)
);
-- With text: a user's rows can be searched without reading the table.
CREATE INDEX messages_peer      ON messages (peer, id, text);
CREATE INDEX messages_session   ON messages (session, id);
CREATE INDEX messages_kind      ON messages (kind, id, direction);
CREATE INDEX messages_direction ON messages (direction, id);
CREATE INDEX messages_created   ON messages (created_at);
CREATE INDEX messages_stored    ON messages (stored_at);
CREATE INDEX messages_upstream  ON messages (upstream_id) WHERE upstream_id IS NOT NULL;

-- One row per message (same id), written with it and deleted with it (trigger below).
CREATE TABLE message_bodies (
    id            INTEGER PRIMARY KEY,
    items         TEXT NOT NULL,
    raw           TEXT,
    context_token TEXT,
    client_id     TEXT,
    error         TEXT
);

-- Per UTC day of created_at (created_at / 86400000, truncated), the lowest and highest id
-- stored: a time filter becomes an id range that FTS5 and the (x, id) indexes can seek.
-- Entries only widen (deletes leave them as safe over-estimates).
CREATE TABLE message_days (
    day    INTEGER PRIMARY KEY,
    min_id INTEGER NOT NULL,
    max_id INTEGER NOT NULL
);

CREATE VIRTUAL TABLE messages_fts USING fts5 (
    text, content = 'messages', content_rowid = 'id', tokenize = 'trigram'
);
-- New rows are indexed (messages_fts, message_days) by the code that inserts them, one
-- statement per transaction (SQL_INDEX_FTS, SQL_INDEX_DAYS): a per-row trigger would make every
-- insert a statement transaction, at which FTS5 writes its buffer out as a new segment.
-- Deletes and text changes are kept in sync here.
CREATE TRIGGER messages_after_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
    DELETE FROM message_bodies WHERE id = old.id;
END;
CREATE TRIGGER messages_after_update_text AFTER UPDATE OF text ON messages BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, text)
        SELECT 'delete', old.id, old.text WHERE old.text IS NOT NULL;
    INSERT INTO messages_fts (rowid, text) SELECT new.id, new.text WHERE new.text IS NOT NULL;
END;
CREATE TRIGGER messages_after_update_created AFTER UPDATE OF created_at ON messages BEGIN
    INSERT INTO message_days (day, min_id, max_id)
        VALUES (new.created_at / 86400000, new.id, new.id)
        ON CONFLICT (day) DO UPDATE SET min_id = min(min_id, excluded.min_id),
                                        max_id = max(max_id, excluded.max_id);
END;

CREATE TABLE consumers (
    name    TEXT PRIMARY KEY NOT NULL,
    last_id INTEGER NOT NULL
) WITHOUT ROWID;
"#;

/// The migrations, oldest first: script `i` takes the database from `user_version` `i` to
/// `i + 1`. Append only; never edit a released script.
const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2];

/// Schema version 2: who spoke in a group chat (Wechaty rooms), kept with the message body.
const SCHEMA_V2: &str = "ALTER TABLE message_bodies ADD COLUMN speaker TEXT;";

/// Columns of `messages m` and `message_bodies b`, in the order [`message_from_row`] reads
/// them; use with [`MESSAGE_FROM`].
const MESSAGE_COLUMNS: &str = "m.id, m.session, m.direction, m.upstream_id, m.dedupe_key, m.peer, \
     m.bot_id, m.kind, m.text, b.items, b.raw, b.context_token, m.created_at, m.stored_at, \
     b.client_id, m.status, b.error, b.speaker";

/// The tables [`MESSAGE_COLUMNS`] come from.
const MESSAGE_FROM: &str = "messages m LEFT JOIN message_bodies b ON b.id = m.id";

/// Columns of `sessions s` plus the user count, in the order [`session_from_row`] reads them.
const SESSION_SELECT: &str = "SELECT s.name, s.backend, s.bot_id, s.user_id, s.token, s.base_url, \
     s.status, s.is_default, s.created_at, s.updated_at, s.last_message_at, \
     (SELECT count(*) FROM contexts c WHERE c.session = s.name) \
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

const SQL_BUMP_LAST_MESSAGE: &str = "UPDATE sessions \
     SET last_message_at = max(coalesce(last_message_at, ?2), ?2) WHERE name = ?1";

const SQL_SET_CURSOR: &str = "INSERT INTO cursors (session, cursor) VALUES (?1, ?2) \
     ON CONFLICT (session) DO UPDATE SET cursor = excluded.cursor";

const SQL_RESERVE_SEND: &str = "UPDATE contexts SET send_count = send_count + 1 \
     WHERE session = ?1 AND user_id = ?2 AND token = ?3 AND send_count < ?4 \
     RETURNING send_count";

const SQL_REFUND_SEND: &str = "UPDATE contexts SET send_count = send_count - 1 \
     WHERE session = ?1 AND user_id = ?2 AND token = ?3 AND send_count > 0";

const CONTEXT_SELECT: &str =
    "SELECT session, user_id, token, received_at, send_count FROM contexts";

/// A new consumer starts at 0 (the default one) or after the newest message (`?2` = 1).
const SQL_CREATE_CONSUMER: &str = "INSERT INTO consumers (name, last_id) \
     VALUES (?1, CASE WHEN ?2 THEN (SELECT coalesce(max(id), 0) FROM messages) ELSE 0 END) \
     ON CONFLICT (name) DO NOTHING";

/// Never backwards, and never past the newest message.
const SQL_ACK: &str = "INSERT INTO consumers (name, last_id) \
     VALUES (?1, min(?2, (SELECT coalesce(max(id), 0) FROM messages))) \
     ON CONFLICT (name) DO UPDATE SET last_id = max(consumers.last_id, excluded.last_id)";

/// Deletes every message at or below the `(?1 + 1)`-th newest id.
const SQL_PRUNE_ROWS: &str = "DELETE FROM messages WHERE id <= \
     (SELECT id FROM messages ORDER BY id DESC LIMIT 1 OFFSET ?1)";

/// Drops the `message_days` entries whose messages are all gone.
const SQL_PRUNE_DAYS: &str = "DELETE FROM message_days \
     WHERE max_id < (SELECT coalesce(min(id), 9223372036854775807) FROM messages)";

/// Name of the SQL function that does the case-insensitive substring test: `(text, needle)`
/// where `needle` is already folded with [`fold`]. NULL text gives NULL (no match).
const CONTAINS_FN: &str = "wxlink_contains";

/// The embedded store: one SQLite file (or an in-memory database for tests).
///
/// `Send + Sync`: the connection sits behind a mutex. Open one per process (or several — they
/// coordinate through SQLite's locks).
#[derive(Debug)]
pub struct SqliteStore {
    conn: Mutex<Connection>,
    /// Dropped with the store, which ends the checkpoint thread (if any).
    _checkpointer: Option<Checkpointer>,
}

/// Writes the WAL back into the database from a thread of its own, once a second, so that the
/// fsyncs of a checkpoint never stall a send or a `recv` (SQLite's automatic checkpoint runs
/// inside whichever commit crosses the threshold). Passive: it never blocks writers or readers.
#[derive(Debug)]
struct Checkpointer {
    stop: std::sync::mpsc::Sender<()>,
    /// Checkpoints done so far.
    done: Arc<AtomicU64>,
}

impl Checkpointer {
    /// Every how often the WAL is checkpointed.
    const EVERY: Duration = Duration::from_secs(1);

    fn start(path: &Path) -> StoreResult<Self> {
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let done = Arc::new(AtomicU64::new(0));
        let counter = done.clone();
        let db = path.to_path_buf();
        let spawned = std::thread::Builder::new()
            .name("wxlink-checkpoint".into())
            .spawn(move || {
                // Opened at the first tick, so a short command (`status`) never pays for it.
                let mut conn: Option<Connection> = None;
                loop {
                    // A message or a dropped sender: the store is gone; checkpoint once more
                    // (if this thread ever did) and end — closing the last connection
                    // checkpoints anyway.
                    let last = !matches!(
                        stopped.recv_timeout(Self::EVERY),
                        Err(std::sync::mpsc::RecvTimeoutError::Timeout)
                    );
                    if last && conn.is_none() {
                        return;
                    }
                    if conn.is_none() {
                        match Connection::open(&db).and_then(|c| {
                            c.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
                            Ok(c)
                        }) {
                            Ok(c) => conn = Some(c),
                            Err(e) => {
                                tracing::debug!(error = %e, "cannot open the checkpoint connection");
                                continue;
                            }
                        }
                    }
                    if let Some(c) = &conn {
                        match c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                            Ok(()) => {
                                counter.fetch_add(1, Ordering::Relaxed);
                            }
                            Err(e) => {
                                tracing::debug!(error = %e, "WAL checkpoint failed; retrying later")
                            }
                        }
                    }
                    if last {
                        return;
                    }
                }
            });
        if let Err(e) = spawned {
            return Err(StoreError::Io {
                path: path.display().to_string(),
                source: e,
            });
        }
        Ok(Checkpointer { stop, done })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        let _ = self.stop.send(());
    }
}

impl SqliteStore {
    /// The schema version this build writes (the number of migrations).
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    ///
    /// The file is created with mode 0600 (an existing one is set to 0600, and so are its
    /// `-wal`/`-shm` files); a missing parent directory is created with mode 0700. The
    /// connection runs in WAL mode with `synchronous=NORMAL`, a 5 s busy timeout and foreign
    /// keys on; a background thread checkpoints the WAL. Fails with [`StoreError::TooNew`]
    /// when a newer wxlink wrote the file.
    pub fn open(path: &Path) -> StoreResult<Self> {
        prepare_file(path)?;
        let conn = Connection::open(path)?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        let mut store = Self::init(conn)?;
        if mode.eq_ignore_ascii_case("wal") {
            // Checkpoints move to a thread of their own (see `Checkpointer`).
            store.lock().pragma_update(None, "wal_autocheckpoint", 0)?;
            store._checkpointer = Some(Checkpointer::start(path)?);
        } else {
            tracing::warn!(
                mode,
                "SQLite refused WAL mode; concurrent access will be slower"
            );
        }
        Ok(store)
    }

    /// An empty, private in-memory database (for tests and throwaway runs).
    pub fn open_in_memory() -> StoreResult<Self> {
        Self::init(Connection::open_in_memory()?)
    }

    fn init(mut conn: Connection) -> StoreResult<Self> {
        conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", true)?;
        // Statement journals and the rare temporary b-tree stay in memory.
        conn.pragma_update(None, "temp_store", "MEMORY")?;
        conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
        // Statements are parsed once and reused (history builds a handful of shapes).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        register_functions(&conn)?;
        migrate(&mut conn)?;
        Ok(SqliteStore {
            conn: Mutex::new(conn),
            _checkpointer: None,
        })
    }

    /// How many background WAL checkpoints ran (0 for an in-memory store).
    pub fn checkpoints(&self) -> u64 {
        self._checkpointer
            .as_ref()
            .map_or(0, |c| c.done.load(Ordering::Relaxed))
    }

    /// The connection; a poisoned lock is taken over (see the module docs).
    fn lock(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Creates the parent directory (0700) and the file (0600) if missing, and tightens the mode
/// of an existing file and its WAL companions to 0600.
fn prepare_file(path: &Path) -> StoreResult<()> {
    let io_err = |p: &Path| {
        let p = p.display().to_string();
        move |source| StoreError::Io { path: p, source }
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        if !parent.exists() {
            fs::DirBuilder::new()
                .recursive(true)
                .mode(0o700)
                .create(parent)
                .map_err(io_err(parent))?;
        }
    }
    fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(path)
        .map_err(io_err(path))?;
    fs::set_permissions(path, fs::Permissions::from_mode(0o600)).map_err(io_err(path))?;
    for suffix in ["-wal", "-shm"] {
        let mut companion = path.as_os_str().to_owned();
        companion.push(suffix);
        let companion = Path::new(&companion);
        if companion.exists() {
            fs::set_permissions(companion, fs::Permissions::from_mode(0o600))
                .map_err(io_err(companion))?;
        }
    }
    Ok(())
}

/// Applies the migrations the database has not seen yet, each in its own `BEGIN IMMEDIATE`
/// transaction (re-reading the version inside it, so concurrent openers migrate once).
fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let supported = SqliteStore::SCHEMA_VERSION;
    loop {
        let version: i64 = conn.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version > supported {
            return Err(StoreError::TooNew {
                found: version,
                supported,
            });
        }
        if version == supported {
            return Ok(());
        }
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if current != version {
            continue; // another connection migrated meanwhile; look again
        }
        let script = usize::try_from(version)
            .ok()
            .and_then(|v| MIGRATIONS.get(v))
            .ok_or_else(|| {
                StoreError::Corrupt("PRAGMA user_version", format!("negative: {version}"))
            })?;
        tx.execute_batch(script)?;
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

/// Registers [`CONTAINS_FN`] on a connection.
fn register_functions(conn: &Connection) -> StoreResult<()> {
    conn.create_scalar_function(
        CONTAINS_FN,
        2,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            // Anything but two texts (NULL, a number, a blob) is no match.
            let haystack = ctx.get_raw(0).as_str_or_null().ok().flatten();
            let needle = ctx.get_raw(1).as_str_or_null().ok().flatten();
            Ok(match (haystack, needle) {
                (Some(h), Some(n)) => Some(contains_folded(h, n)),
                _ => None,
            })
        },
    )?;
    Ok(())
}

/// Case folding shared by every search path: the FTS5 `trigram` tokenizer's (which also
/// skips NUL characters), so a row test agrees with the index.
fn fold(s: &str) -> String {
    s.chars()
        .filter(|&c| c != '\0')
        .map(fts5_fold::fold_char)
        .collect()
}

/// Whether no character of `s` is changed by [`fold`] or is what another character folds to
/// (CJK, digits, punctuation…): then a plain substring test is the folded one.
fn is_caseless(s: &str) -> bool {
    s.chars()
        .all(|c| fts5_fold::fold_char(c) == c && !fts5_fold::is_fold_target(c))
}

/// Whether `haystack`, folded, contains `needle` (already folded).
fn contains_folded(haystack: &str, needle: &str) -> bool {
    if haystack.as_bytes().contains(&0) {
        return fold(haystack).contains(needle);
    }
    if is_caseless(needle) {
        return haystack.contains(needle);
    }
    if haystack.is_ascii() && needle.is_ascii() {
        let (h, n) = (haystack.as_bytes(), needle.as_bytes());
        return n.is_empty() || h.windows(n.len()).any(|w| w.eq_ignore_ascii_case(n));
    }
    fold(haystack).contains(needle)
}

/// SQLite's FTS5 case folding (`sqlite3Fts5UnicodeFold` without diacritic removal, as the
/// `trigram` tokenizer uses it), ported with its tables from the bundled `sqlite3.c` (where
/// they are generated from Unicode's CaseFolding.txt). `char::to_lowercase` differs for
/// scripts cased in newer Unicode versions. The test `fts_and_row_test_fold_case_alike`
/// catches drift when SQLite is upgraded.
mod fts5_fold {
    use std::sync::OnceLock;

    /// `(first code point, flags, range length)`: the code points of the range (all of them,
    /// or every second one when bit 0 of flags is set) fold to `c + FOLD_OFFSETS[flags >> 1]`
    /// (mod 2^16).
    #[rustfmt::skip]
    const FOLD_RULES: [(u16, u8, u8); 163] = [
        (65, 14, 26), (181, 64, 1), (192, 14, 23), (216, 14, 7), (256, 1, 48), (306, 1, 6),
        (313, 1, 16), (330, 1, 46), (376, 116, 1), (377, 1, 6), (383, 104, 1), (385, 50, 1),
        (386, 1, 4), (390, 44, 1), (391, 0, 1), (393, 42, 2), (395, 0, 1), (398, 32, 1),
        (399, 38, 1), (400, 40, 1), (401, 0, 1), (403, 42, 1), (404, 46, 1), (406, 52, 1),
        (407, 48, 1), (408, 0, 1), (412, 52, 1), (413, 54, 1), (415, 56, 1), (416, 1, 6),
        (422, 60, 1), (423, 0, 1), (425, 60, 1), (428, 0, 1), (430, 60, 1), (431, 0, 1),
        (433, 58, 2), (435, 1, 4), (439, 62, 1), (440, 0, 1), (444, 0, 1), (452, 2, 1),
        (453, 0, 1), (455, 2, 1), (456, 0, 1), (458, 2, 1), (459, 1, 18), (478, 1, 18),
        (497, 2, 1), (498, 1, 4), (502, 122, 1), (503, 134, 1), (504, 1, 40), (544, 110, 1),
        (546, 1, 18), (570, 70, 1), (571, 0, 1), (573, 108, 1), (574, 68, 1), (577, 0, 1),
        (579, 106, 1), (580, 28, 1), (581, 30, 1), (582, 1, 10), (837, 36, 1), (880, 1, 4),
        (886, 0, 1), (902, 18, 1), (904, 16, 3), (908, 26, 1), (910, 24, 2), (913, 14, 17),
        (931, 14, 9), (962, 0, 1), (975, 4, 1), (976, 140, 1), (977, 142, 1), (981, 146, 1),
        (982, 144, 1), (984, 1, 24), (1008, 136, 1), (1009, 138, 1), (1012, 130, 1), (1013, 128, 1),
        (1015, 0, 1), (1017, 152, 1), (1018, 0, 1), (1021, 110, 3), (1024, 34, 16), (1040, 14, 32),
        (1120, 1, 34), (1162, 1, 54), (1216, 6, 1), (1217, 1, 14), (1232, 1, 88), (1329, 22, 38),
        (4256, 66, 38), (4295, 66, 1), (4301, 66, 1), (7680, 1, 150), (7835, 132, 1), (7838, 96, 1),
        (7840, 1, 96), (7944, 150, 8), (7960, 150, 6), (7976, 150, 8), (7992, 150, 8), (8008, 150, 6),
        (8025, 151, 8), (8040, 150, 8), (8072, 150, 8), (8088, 150, 8), (8104, 150, 8), (8120, 150, 2),
        (8122, 126, 2), (8124, 148, 1), (8126, 100, 1), (8136, 124, 4), (8140, 148, 1), (8152, 150, 2),
        (8154, 120, 2), (8168, 150, 2), (8170, 118, 2), (8172, 152, 1), (8184, 112, 2), (8186, 114, 2),
        (8188, 148, 1), (8486, 98, 1), (8490, 92, 1), (8491, 94, 1), (8498, 12, 1), (8544, 8, 16),
        (8579, 0, 1), (9398, 10, 26), (11264, 22, 47), (11360, 0, 1), (11362, 88, 1), (11363, 102, 1),
        (11364, 90, 1), (11367, 1, 6), (11373, 84, 1), (11374, 86, 1), (11375, 80, 1), (11376, 82, 1),
        (11378, 0, 1), (11381, 0, 1), (11390, 78, 2), (11392, 1, 100), (11499, 1, 4), (11506, 0, 1),
        (42560, 1, 46), (42624, 1, 24), (42786, 1, 14), (42802, 1, 62), (42873, 1, 4), (42877, 76, 1),
        (42878, 1, 10), (42891, 0, 1), (42893, 74, 1), (42896, 1, 4), (42912, 1, 10), (42922, 72, 1),
        (65313, 14, 26),
    ];
    const FOLD_OFFSETS: [u16; 77] = [
        1, 2, 8, 15, 16, 26, 28, 32, 37, 38, 40, 48, 63, 64, 69, 71, 79, 80, 116, 202, 203, 205,
        206, 207, 209, 210, 211, 213, 214, 217, 218, 219, 775, 7264, 10792, 10795, 23228, 23256,
        30204, 54721, 54753, 54754, 54756, 54787, 54793, 54809, 57153, 57274, 57921, 58019, 58363,
        61722, 65268, 65341, 65373, 65406, 65408, 65410, 65415, 65424, 65436, 65439, 65450, 65462,
        65472, 65476, 65478, 65480, 65482, 65488, 65506, 65511, 65514, 65521, 65527, 65528, 65529,
    ];

    /// The folded form of `c`.
    pub fn fold_char(c: char) -> char {
        let code = u32::from(c);
        let folded = if code < 128 {
            u32::from(c.to_ascii_lowercase())
        } else if code < 0x1_0000 {
            let next = FOLD_RULES.partition_point(|r| u32::from(r.0) <= code);
            match next.checked_sub(1).and_then(|i| FOLD_RULES.get(i)) {
                Some(&(first, flags, len)) => {
                    let first = u32::from(first);
                    let in_range = code < first + u32::from(len);
                    let skipped = u32::from(flags) & 1 & (first ^ code) != 0;
                    match FOLD_OFFSETS.get(usize::from(flags >> 1)) {
                        Some(&offset) if in_range && !skipped => {
                            (code + u32::from(offset)) & 0xFFFF
                        }
                        _ => code,
                    }
                }
                None => code,
            }
        } else if (66_560..66_600).contains(&code) {
            code + 40
        } else {
            code
        };
        char::from_u32(folded).unwrap_or(c)
    }

    /// Whether some other character folds to `c`.
    pub fn is_fold_target(c: char) -> bool {
        static TARGETS: OnceLock<Vec<char>> = OnceLock::new();
        let targets = TARGETS.get_or_init(|| {
            let mut t: Vec<char> = (128..0x1_0000)
                .chain(66_560..66_600)
                .filter_map(char::from_u32)
                .filter_map(|c| Some(fold_char(c)).filter(|&f| f != c))
                .chain('a'..='z')
                .collect();
            t.sort_unstable();
            t.dedup();
            t
        });
        targets.binary_search(&c).is_ok()
    }
}

/// Milliseconds since the epoch, now.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// Checks a session name: 1–64 characters, each a letter or digit (any script), `-`, `_` or
/// `.`; not `.` or `..` (names may become directory names).
fn validate_name(name: &str) -> StoreResult<()> {
    let count = name.chars().count();
    let charset_ok = name
        .chars()
        .all(|c| c.is_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if (1..=MAX_NAME_CHARS).contains(&count) && charset_ok && name != "." && name != ".." {
        Ok(())
    } else {
        Err(StoreError::InvalidName(name.to_owned()))
    }
}

/// `Some(s)` unless `s` is empty or only whitespace.
fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

fn session_exists(conn: &Connection, name: &str) -> StoreResult<bool> {
    Ok(conn
        .query_row(SQL_SESSION_EXISTS, [name], |_| Ok(()))
        .optional()?
        .is_some())
}

fn require_session(conn: &Connection, name: &str) -> StoreResult<()> {
    if session_exists(conn, name)? {
        Ok(())
    } else {
        Err(StoreError::UnknownSession(name.to_owned()))
    }
}

fn load_session(conn: &Connection, name: &str) -> StoreResult<Option<SessionRecord>> {
    let sql = format!("{SESSION_SELECT} WHERE s.name = ?1");
    let mut stmt = conn.prepare_cached(&sql)?;
    let mut rows = stmt.query_and_then([name], session_from_row)?;
    rows.next().transpose()
}

fn session_from_row(row: &Row<'_>) -> StoreResult<SessionRecord> {
    let status: String = row.get(6)?;
    let status = SessionStatus::parse(&status)
        .ok_or_else(|| StoreError::Corrupt("sessions.status", status.clone()))?;
    let users: i64 = row.get(11)?;
    Ok(SessionRecord {
        name: row.get(0)?,
        backend: row.get(1)?,
        bot_id: row.get(2)?,
        user_id: row.get(3)?,
        token: row.get(4)?,
        base_url: row.get(5)?,
        status,
        is_default: row.get(7)?,
        created_at_ms: row.get(8)?,
        updated_at_ms: row.get(9)?,
        last_message_at_ms: row.get(10)?,
        users: u64::try_from(users).unwrap_or(0),
    })
}

fn context_from_row(row: &Row<'_>) -> StoreResult<ContextRecord> {
    let send_count: i64 = row.get(4)?;
    Ok(ContextRecord {
        session: row.get(0)?,
        user_id: row.get(1)?,
        token: row.get(2)?,
        received_at_ms: row.get(3)?,
        send_count: u32::try_from(send_count.max(0)).unwrap_or(u32::MAX),
    })
}

fn message_from_row(row: &Row<'_>) -> StoreResult<StoredMessage> {
    let direction: i64 = row.get(2)?;
    let direction = Direction::from_code(direction)
        .ok_or_else(|| StoreError::Corrupt("messages.direction", direction.to_string()))?;
    let items: Option<String> = row.get(9)?;
    let items = items.ok_or_else(|| StoreError::Corrupt("message_bodies", "missing row".into()))?;
    let items = serde_json::from_str(&items)
        .map_err(|e| StoreError::Corrupt("message_bodies.items", e.to_string()))?;
    let raw: Option<String> = row.get(10)?;
    let raw = raw
        .map(|r| serde_json::from_str::<Value>(&r))
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
            context_token: row.get(11)?,
            created_at_ms: row.get(12)?,
            client_id: row.get(14)?,
            status: row.get(15)?,
            error: row.get(16)?,
            speaker: row.get(17)?,
        },
    })
}

/// Inserts messages within one write transaction, then indexes them ([`finish`]).
///
/// Every insert into `messages` goes through here. Ids inserted under one write lock are
/// consecutive and above every earlier id, so the batch is indexed as one id range.
///
/// [`finish`]: MessageInserts::finish
struct MessageInserts<'c> {
    conn: &'c Connection,
    message: CachedStatement<'c>,
    body: CachedStatement<'c>,
    inserted: Option<IdRange>,
}

impl<'c> MessageInserts<'c> {
    fn prepare(conn: &'c Connection) -> StoreResult<Self> {
        Ok(MessageInserts {
            conn,
            message: conn.prepare_cached(SQL_INSERT_MESSAGE)?,
            body: conn.prepare_cached(SQL_INSERT_BODY)?,
            inserted: None,
        })
    }

    /// Inserts one message under `session` (whatever `message.session` says); returns its id,
    /// or `None` when a row with the same `(session, direction, dedupe_key)` exists.
    fn insert(
        &mut self,
        session: &str,
        message: &NewMessage,
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
            message.status,
        ])?;
        if changed != 1 {
            return Ok(None);
        }
        let id = self.conn.last_insert_rowid();
        self.body.execute(params![
            id,
            message.items.to_string(),
            message.raw.as_ref().map(Value::to_string),
            message.context_token,
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
    fn finish(self) -> StoreResult<()> {
        if let Some(r) = self.inserted {
            self.conn.execute(SQL_INDEX_FTS, params![r.lo, r.hi])?;
            self.conn.execute(SQL_INDEX_DAYS, params![r.lo, r.hi])?;
        }
        Ok(())
    }
}

/// How the text filter of a history query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextFilter {
    /// No text filter.
    None,
    /// Three or more characters: an FTS5 phrase (`phrase`), or the equivalent scan with the
    /// folded needle when that is cheaper.
    Fts { phrase: String, folded: String },
    /// One or two characters: scan with the folded needle.
    Scan { folded: String },
}

impl TextFilter {
    /// Trims the text; counts characters as the tokenizer does (NULs do not count).
    fn from_query(text: Option<&str>) -> Self {
        let folded = fold(text.map(str::trim).unwrap_or_default());
        if folded.is_empty() {
            return TextFilter::None;
        }
        if folded.chars().count() >= 3 {
            TextFilter::Fts {
                phrase: format!("\"{}\"", folded.replace('"', "\"\"")),
                folded,
            }
        } else {
            TextFilter::Scan { folded }
        }
    }
}

/// An inclusive range of message ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct IdRange {
    lo: i64,
    hi: i64,
}

/// The ids a time filter can reach, from `message_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeScope {
    /// No time filter.
    All,
    /// Every message in the time range has an id in this range.
    Ids(IdRange),
    /// No stored message is in the time range.
    Nothing,
}

impl TimeScope {
    fn of(conn: &Connection, since: Option<i64>, until: Option<i64>) -> StoreResult<Self> {
        if since.is_none() && until.is_none() {
            return Ok(TimeScope::All);
        }
        // Same truncating division as the trigger, so the days cover the range exactly.
        let first = since.map_or(i64::MIN, |t| t / DAY_MS);
        let last = until.map_or(i64::MAX, |t| t / DAY_MS);
        let (lo, hi): (Option<i64>, Option<i64>) = conn.query_row(
            "SELECT min(min_id), max(max_id) FROM message_days WHERE day BETWEEN ?1 AND ?2",
            params![first, last],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        Ok(match (lo, hi) {
            (Some(lo), Some(hi)) => TimeScope::Ids(IdRange { lo, hi }),
            _ => TimeScope::Nothing,
        })
    }
}

/// Milliseconds per `message_days` bucket (the trigger's divisor).
const DAY_MS: i64 = 86_400_000;

/// Filters of a history query as SQL over `messages m`, with their parameters.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
}

impl Conditions {
    /// The non-text filters. With a user filter, the other columns are written `+m.col` so
    /// SQLite walks the `(peer, id, text)` index (a user's rows are few) and no other.
    fn from_query(q: &HistoryQuery) -> Self {
        let user = non_blank(&q.user);
        let col = |name: &str| {
            if user.is_some() {
                format!("+m.{name}")
            } else {
                format!("m.{name}")
            }
        };
        let mut c = Conditions::default();
        if let Some(user) = user {
            c.push("m.peer = ?".into(), [user.to_owned().into()]);
        }
        if let Some(session) = non_blank(&q.session) {
            c.push(
                format!("{} = ?", col("session")),
                [session.to_owned().into()],
            );
        }
        if let Some(kind) = non_blank(&q.kind) {
            c.push(format!("{} = ?", col("kind")), [kind.to_owned().into()]);
        }
        if let Some(direction) = q.direction {
            c.push(
                format!("{} = ?", col("direction")),
                [direction.code().into()],
            );
        }
        if let Some(since) = q.since_ms {
            c.push(format!("{} >= ?", col("created_at")), [since.into()]);
        }
        if let Some(until) = q.until_ms {
            c.push(format!("{} <= ?", col("created_at")), [until.into()]);
        }
        c
    }

    fn push<const N: usize>(&mut self, clause: String, params: [SqlValue; N]) {
        self.clauses.push(clause);
        self.params.extend(params);
    }

    /// Restricts `m.id` to the range (lets SQLite seek the rowid or an `(x, id)` index).
    fn push_range(&mut self, range: Option<IdRange>) {
        if let Some(r) = range {
            self.push("m.id BETWEEN ? AND ?".into(), [r.lo.into(), r.hi.into()]);
        }
    }

    /// The substring test on each row. Short needles (no FTS equivalent to agree with) that
    /// have no cased characters use SQLite's `instr`, much cheaper than a function call per
    /// row on a full scan; it differs from [`CONTAINS_FN`] only on text holding NULs.
    fn push_contains(&mut self, folded: String, as_fts: bool) {
        if !as_fts && is_caseless(&folded) {
            self.push("instr(m.text, ?) > 0".into(), [folded.into()]);
        } else {
            self.push(format!("{CONTAINS_FN}(m.text, ?)"), [folded.into()]);
        }
    }

    fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// `" AND a AND b"`, or nothing.
    fn and_sql(&self) -> String {
        self.clauses.iter().map(|c| format!(" AND {c}")).collect()
    }

    /// `" WHERE a AND b"`, or nothing.
    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// A phrase query on `messages_fts`, limited to an id range when a time filter gives one.
struct FtsMatch {
    phrase: String,
    range: Option<IdRange>,
}

impl FtsMatch {
    fn where_sql(&self) -> &'static str {
        if self.range.is_some() {
            "messages_fts MATCH ? AND messages_fts.rowid BETWEEN ? AND ?"
        } else {
            "messages_fts MATCH ?"
        }
    }

    fn params(&self) -> Vec<SqlValue> {
        let mut params = vec![SqlValue::from(self.phrase.clone())];
        if let Some(r) = self.range {
            params.extend([r.lo.into(), r.hi.into()]);
        }
        params
    }

    /// The text is the only filter: count and page straight from the index.
    fn alone(&self) -> HistoryPlan {
        let fts = self.where_sql();
        HistoryPlan {
            count_sql: format!("SELECT count(*) FROM messages_fts WHERE {fts}"),
            ids_sql: format!(
                "SELECT messages_fts.rowid FROM messages_fts WHERE {fts} \
                 ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?"
            ),
            params: self.params(),
        }
    }

    /// The matches, newest first, each joined to its row to test the other filters.
    fn join(&self, filters: Conditions) -> HistoryPlan {
        let fts = self.where_sql();
        let and = filters.and_sql();
        let from = "messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid";
        let mut params = self.params();
        params.extend(filters.params);
        HistoryPlan {
            count_sql: format!("SELECT count(*) FROM {from} WHERE {fts}{and}"),
            ids_sql: format!(
                "SELECT m.id FROM {from} WHERE {fts}{and} \
                 ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?"
            ),
            params,
        }
    }
}

/// How a history query runs: the total, the page of ids (its last two parameters are LIMIT
/// and OFFSET), and their shared parameters.
struct HistoryPlan {
    count_sql: String,
    ids_sql: String,
    params: Vec<SqlValue>,
}

impl HistoryPlan {
    /// A plan over `messages` alone, newest first.
    fn filtered(filters: Conditions) -> Self {
        let where_sql = filters.where_sql();
        HistoryPlan {
            count_sql: format!("SELECT count(*) FROM messages m{where_sql}"),
            ids_sql: format!(
                "SELECT m.id FROM messages m{where_sql} ORDER BY m.id DESC LIMIT ? OFFSET ?"
            ),
            params: filters.params,
        }
    }
}

/// Chooses how to run a history query; `None` when nothing can match.
///
/// - A time filter first becomes an id range (`message_days`), which every plan seeks.
/// - No text, or 1–2 characters of it: the filters over `messages`, newest first (SQLite
///   walks `(peer, id, text)`, `(session, id)`, … or the rowid), short text tested per row.
/// - Three or more characters and no other filter: the FTS index alone, count included.
/// - Three or more characters with a user filter: see [`UserTextPlan`].
/// - Otherwise the FTS matches, newest first, each joined to its row for the other filters.
///
/// `force` overrides the choice for user + long text (tests try each plan).
fn plan_history(
    conn: &Connection,
    q: &HistoryQuery,
    force: Option<UserTextPlan>,
) -> StoreResult<Option<HistoryPlan>> {
    let range = match TimeScope::of(conn, q.since_ms, q.until_ms)? {
        TimeScope::Nothing => return Ok(None),
        TimeScope::All => None,
        TimeScope::Ids(range) => Some(range),
    };
    let mut filters = Conditions::from_query(q);
    let (phrase, folded) = match TextFilter::from_query(q.text.as_deref()) {
        TextFilter::None => {
            filters.push_range(range);
            return Ok(Some(HistoryPlan::filtered(filters)));
        }
        TextFilter::Scan { folded } => {
            filters.push_range(range);
            filters.push_contains(folded, false);
            return Ok(Some(HistoryPlan::filtered(filters)));
        }
        TextFilter::Fts { phrase, folded } => (phrase, folded),
    };
    let fts = FtsMatch { phrase, range };
    if filters.is_empty() {
        return Ok(Some(fts.alone()));
    }
    if let Some(user) = non_blank(&q.user) {
        let plan = match force {
            Some(plan) => plan,
            None => UserTextPlan::choose(conn, user, &fts)?,
        };
        match plan {
            UserTextPlan::JoinMatches => {}
            UserTextPlan::ScanUser => {
                filters.push_range(range);
                filters.push_contains(folded, true);
                return Ok(Some(HistoryPlan::filtered(filters)));
            }
        }
    }
    Ok(Some(fts.join(filters)))
}

/// Relative cost of one row in each way of running user + long text, measured on the
/// 1,000,000-message benchmark (`benches/history.rs`).
mod cost {
    /// An FTS match joined to its `messages` row (a random table lookup).
    pub const JOIN_MATCH: f64 = 8.0;
    /// One of the user's `(peer, id, text)` index entries, its text tested.
    pub const SCAN_USER_ENTRY: f64 = 1.0;
}

/// Two ways to run a long text with a user filter; which is cheaper depends on how many rows
/// the user has (`u`) and the text matches (`t`). Both return the same rows: the scan uses
/// the tokenizer's case folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UserTextPlan {
    /// Walk the FTS matches and join each to its row: ~8`t`; wins for rare text.
    JoinMatches,
    /// Walk the user's `(peer, id, text)` entries and test the text, never touching the
    /// table for rows that fail: ~`u`; wins for common text.
    ScanUser,
}

impl UserTextPlan {
    /// Counts the user's rows and the text's matches (each only as far as the decision
    /// needs, index-only) and picks the cheaper plan.
    fn choose(conn: &Connection, user: &str, fts: &FtsMatch) -> StoreResult<Self> {
        let mut user_sql = "SELECT 1 FROM messages WHERE peer = ?".to_owned();
        let mut user_params = vec![SqlValue::from(user.to_owned())];
        if let Some(r) = fts.range {
            user_sql.push_str(" AND id BETWEEN ? AND ?");
            user_params.extend([r.lo.into(), r.hi.into()]);
        }
        let entries = capped_count(conn, &user_sql, user_params, PLAN_PROBE_CAP)? as f64;
        // Past this many matches, scanning the user's entries is cheaper.
        let enough = (entries * cost::SCAN_USER_ENTRY / cost::JOIN_MATCH).ceil() as i64 + 1;
        let fts_sql = format!("SELECT 1 FROM messages_fts WHERE {}", fts.where_sql());
        let matches = capped_count(conn, &fts_sql, fts.params(), enough)? as f64;
        Ok(
            if matches * cost::JOIN_MATCH <= entries * cost::SCAN_USER_ENTRY {
                UserTextPlan::JoinMatches
            } else {
                UserTextPlan::ScanUser
            },
        )
    }
}

/// Plans and runs a history query (see [`plan_history`] for `force`).
fn run_history(
    conn: &Connection,
    query: &HistoryQuery,
    force: Option<UserTextPlan>,
) -> StoreResult<HistoryPage> {
    let Some(plan) = plan_history(conn, query, force)? else {
        return Ok(HistoryPage {
            messages: Vec::new(),
            total: 0,
        });
    };
    let total: i64 =
        conn.query_row(&plan.count_sql, params_from_iter(plan.params.iter()), |r| {
            r.get(0)
        })?;
    let total = u64::try_from(total).unwrap_or(0);
    let mut messages = Vec::new();
    if query.limit > 0 && total > u64::from(query.offset) {
        let mut params = plan.params;
        params.push(i64::from(query.limit).into());
        params.push(i64::from(query.offset).into());
        let ids: Vec<i64> = conn
            .prepare_cached(&plan.ids_sql)?
            .query_map(params_from_iter(params.iter()), |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        let mut load = conn.prepare_cached(&format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} WHERE m.id = ?1"
        ))?;
        messages.reserve(ids.len());
        for id in ids {
            if let Some(message) = load.query_and_then([id], message_from_row)?.next() {
                messages.push(message?);
            }
        }
    }
    Ok(HistoryPage { messages, total })
}

/// `count(*)` of the rows `sql` (with `params`) returns, counting at most `cap`.
fn capped_count(
    conn: &Connection,
    sql: &str,
    mut params: Vec<SqlValue>,
    cap: i64,
) -> StoreResult<i64> {
    params.push(cap.into());
    Ok(conn.query_row(
        &format!("SELECT count(*) FROM ({sql} LIMIT ?)"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?)
}

impl Store for SqliteStore {
    fn sessions(&self) -> StoreResult<Vec<SessionRecord>> {
        let conn = self.lock();
        let sql = format!("{SESSION_SELECT} ORDER BY s.is_default DESC, s.name");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_and_then([], session_from_row)?;
        rows.collect()
    }

    fn session(&self, name: &str) -> StoreResult<Option<SessionRecord>> {
        load_session(&self.lock(), name)
    }

    fn save_login(&self, name: &str, login: &LoginRecord) -> StoreResult<SessionRecord> {
        validate_name(name)?;
        let now = now_ms();
        let mut conn = self.lock();
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
                        login.backend,
                        login.bot_id,
                        login.user_id,
                        login.token,
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
                     base_url = ?6, status = ?7, updated_at = ?8 WHERE name = ?1",
                    params![
                        name,
                        login.backend,
                        login.bot_id,
                        login.user_id,
                        login.token,
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

    fn set_status(&self, name: &str, status: SessionStatus) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE sessions SET status = ?2, updated_at = ?3 WHERE name = ?1",
            params![name, status.as_str(), now_ms()],
        )?;
        if changed == 0 {
            return Err(StoreError::UnknownSession(name.to_owned()));
        }
        tx.commit()?;
        Ok(())
    }

    fn logout(&self, name: &str) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let changed = tx.execute(
            "UPDATE sessions SET token = NULL, status = ?2, updated_at = ?3 WHERE name = ?1",
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

    fn rename_session(&self, old: &str, new: &str) -> StoreResult<()> {
        validate_name(new)?;
        let mut conn = self.lock();
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

    fn set_default(&self, name: &str) -> StoreResult<()> {
        let mut conn = self.lock();
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

    fn default_session(&self) -> StoreResult<Option<String>> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT name FROM sessions \
                 ORDER BY is_default DESC, status = 'connected' DESC, created_at, name LIMIT 1",
                [],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn cursor(&self, session: &str) -> StoreResult<String> {
        let conn = self.lock();
        Ok(conn
            .query_row(
                "SELECT cursor FROM cursors WHERE session = ?1",
                [session],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or_default())
    }

    /// Every message is stored under `session` with its own direction; only inbound messages
    /// carrying a non-empty token update the contexts. A token is taken from duplicates too
    /// (the age rule keeps that harmless). The cursor is stored even for an empty batch.
    fn ingest(&self, session: &str, batch: &[NewMessage], cursor: &str) -> StoreResult<Vec<i64>> {
        let stored_at = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_session(&tx, session)?;
        let mut inserted = Vec::with_capacity(batch.len());
        {
            let mut insert = MessageInserts::prepare(&tx)?;
            let mut upsert_context = tx.prepare_cached(SQL_UPSERT_CONTEXT)?;
            for message in batch {
                if let Some(id) = insert.insert(session, message, stored_at)? {
                    inserted.push(id);
                }
                let token = message.context_token.as_deref().filter(|t| !t.is_empty());
                if let (Direction::In, Some(token)) = (message.direction, token) {
                    upsert_context.execute(params![
                        session,
                        message.peer,
                        token,
                        message.created_at_ms
                    ])?;
                }
            }
            insert.finish()?;
        }
        if let Some(newest) = batch.iter().map(|m| m.created_at_ms).max() {
            tx.execute(SQL_BUMP_LAST_MESSAGE, params![session, newest])?;
        }
        tx.execute(SQL_SET_CURSOR, params![session, cursor])?;
        tx.commit()?;
        Ok(inserted)
    }

    fn contexts_for_user(&self, user_id: &str) -> StoreResult<Vec<ContextRecord>> {
        let conn = self.lock();
        let sql = format!("{CONTEXT_SELECT} WHERE user_id = ?1 ORDER BY received_at DESC, session");
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_and_then([user_id], context_from_row)?;
        rows.collect()
    }

    fn contexts(&self, session: Option<&str>) -> StoreResult<Vec<ContextRecord>> {
        let conn = self.lock();
        let sql = format!(
            "{CONTEXT_SELECT} WHERE ?1 IS NULL OR session = ?1 \
             ORDER BY received_at DESC, session, user_id"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_and_then([session], context_from_row)?;
        rows.collect()
    }

    fn reserve_send(&self, session: &str, user_id: &str, token: &str) -> StoreResult<Option<u32>> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let count: Option<i64> = tx
            .query_row(
                SQL_RESERVE_SEND,
                params![session, user_id, token, SEND_QUOTA_PER_TOKEN],
                |r| r.get(0),
            )
            .optional()?;
        tx.commit()?;
        Ok(count.and_then(|c| u32::try_from(c).ok()))
    }

    fn refund_send(&self, session: &str, user_id: &str, token: &str) -> StoreResult<()> {
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(SQL_REFUND_SEND, params![session, user_id, token])?;
        tx.commit()?;
        Ok(())
    }

    /// Idempotent: a message whose `(session, direction, dedupe_key)` is already stored is not
    /// stored again, and the existing row's id is returned.
    fn record_outbound(&self, message: &NewMessage) -> StoreResult<i64> {
        let stored_at = now_ms();
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        require_session(&tx, &message.session)?;
        let inserted = {
            let mut insert = MessageInserts::prepare(&tx)?;
            let id = insert.insert(&message.session, message, stored_at)?;
            insert.finish()?;
            id
        };
        let id = match inserted {
            Some(id) => id,
            None => tx.query_row(
                "SELECT id FROM messages WHERE session = ?1 AND direction = ?2 AND dedupe_key = ?3",
                params![
                    message.session,
                    message.direction.code(),
                    message.dedupe_key
                ],
                |r| r.get(0),
            )?,
        };
        tx.execute(
            SQL_BUMP_LAST_MESSAGE,
            params![message.session, message.created_at_ms],
        )?;
        tx.commit()?;
        Ok(id)
    }

    /// An all-digits `id` is first looked up as an upstream id (inbound preferred), then as our
    /// id. Anything else finds nothing.
    fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>> {
        let id = id.trim();
        if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
            return Ok(None);
        }
        let conn = self.lock();
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
    fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        let mut conn = self.lock();
        let tx = conn.transaction()?;
        run_history(&tx, query, None)
    }

    fn latest_id(&self) -> StoreResult<i64> {
        let conn = self.lock();
        Ok(
            conn.query_row("SELECT coalesce(max(id), 0) FROM messages", [], |r| {
                r.get(0)
            })?,
        )
    }

    fn last_session_with(&self, peer: &str) -> StoreResult<Option<String>> {
        let conn = self.lock();
        // messages_peer (peer, id, …) answers this from the index's last entry.
        let mut stmt = conn.prepare_cached(
            "SELECT session FROM messages WHERE peer = ?1 ORDER BY id DESC LIMIT 1",
        )?;
        let session = stmt.query_row([peer], |r| r.get(0)).optional()?;
        Ok(session)
    }

    /// A blank consumer name means [`DEFAULT_CONSUMER`]. Reading does not move the cursor;
    /// [`Store::ack`] does.
    fn read_inbox(&self, consumer: &str, limit: u32) -> StoreResult<Vec<StoredMessage>> {
        let consumer = consumer_name(consumer);
        let mut conn = self.lock();
        let last = conn
            .query_row(
                "SELECT last_id FROM consumers WHERE name = ?1",
                [consumer],
                |r| r.get::<_, i64>(0),
            )
            .optional()?;
        let last = match last {
            Some(last) => last,
            None => {
                let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
                tx.execute(
                    SQL_CREATE_CONSUMER,
                    params![consumer, consumer != DEFAULT_CONSUMER],
                )?;
                let last = tx.query_row(
                    "SELECT last_id FROM consumers WHERE name = ?1",
                    [consumer],
                    |r| r.get(0),
                )?;
                tx.commit()?;
                last
            }
        };
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = format!(
            "SELECT {MESSAGE_COLUMNS} FROM {MESSAGE_FROM} \
             WHERE m.direction = ?1 AND m.id > ?2 ORDER BY m.id LIMIT ?3"
        );
        let mut stmt = conn.prepare_cached(&sql)?;
        let rows = stmt.query_and_then(
            params![Direction::In.code(), last, i64::from(limit)],
            message_from_row,
        )?;
        rows.collect()
    }

    /// A blank consumer name means [`DEFAULT_CONSUMER`]. An id past the newest message is
    /// clamped to it, so a bad ack cannot skip messages not yet stored.
    fn ack(&self, consumer: &str, up_to_id: i64) -> StoreResult<()> {
        let consumer = consumer_name(consumer);
        let mut conn = self.lock();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute(SQL_ACK, params![consumer, up_to_id])?;
        tx.commit()?;
        Ok(())
    }

    /// Age is measured by `stored_at`; the row limit keeps the highest ids.
    fn prune(&self, retention: Retention) -> StoreResult<u64> {
        if retention.max_age_ms.is_none() && retention.max_rows.is_none() {
            return Ok(0);
        }
        let mut conn = self.lock();
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
}

/// The consumer a (possibly blank) name stands for.
fn consumer_name(consumer: &str) -> &str {
    if consumer.trim().is_empty() {
        DEFAULT_CONSUMER
    } else {
        consumer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::Arc;

    fn login(bot: &str, token: &str) -> LoginRecord {
        LoginRecord {
            backend: "ilink".into(),
            bot_id: bot.into(),
            user_id: Some("owner@im.wechat".into()),
            token: token.into(),
            base_url: Some("https://ilinkai.weixin.qq.com".into()),
        }
    }

    /// An inbound text message; `key` is also the upstream id.
    fn inbound(session: &str, key: &str, peer: &str, text: &str, at: i64) -> NewMessage {
        NewMessage {
            session: session.into(),
            direction: Direction::In,
            upstream_id: Some(key.into()),
            dedupe_key: key.into(),
            peer: peer.into(),
            bot_id: Some("bot@im.bot".into()),
            kind: "text".into(),
            text: Some(text.into()),
            items: json!([{ "type": "text", "text": text }]),
            raw: Some(json!({ "message_id": key, "from_user_id": peer })),
            context_token: None,
            created_at_ms: at,
            client_id: None,
            status: "received".into(),
            error: None,
            speaker: None,
        }
    }

    fn with_token(mut m: NewMessage, token: &str) -> NewMessage {
        m.context_token = Some(token.into());
        m
    }

    fn outbound(session: &str, client_id: &str, peer: &str, text: &str, at: i64) -> NewMessage {
        NewMessage {
            direction: Direction::Out,
            upstream_id: None,
            dedupe_key: client_id.into(),
            client_id: Some(client_id.into()),
            status: "sent".into(),
            raw: None,
            ..inbound(session, client_id, peer, text, at)
        }
    }

    fn store_with(sessions: &[&str]) -> SqliteStore {
        let store = SqliteStore::open_in_memory().unwrap();
        for (i, name) in sessions.iter().enumerate() {
            store
                .save_login(name, &login(&format!("bot{i}"), "tok"))
                .unwrap();
        }
        store
    }

    fn query() -> HistoryQuery {
        HistoryQuery {
            limit: 50,
            ..HistoryQuery::default()
        }
    }

    fn texts(page: &HistoryPage) -> Vec<String> {
        page.messages
            .iter()
            .map(|m| m.message.text.clone().unwrap_or_default())
            .collect()
    }

    fn ids(messages: &[StoredMessage]) -> Vec<i64> {
        messages.iter().map(|m| m.id).collect()
    }

    fn mode_of(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    fn fts_integrity(store: &SqliteStore) {
        store
            .lock()
            .execute_batch("INSERT INTO messages_fts (messages_fts) VALUES ('integrity-check')")
            .unwrap();
    }

    #[test]
    fn migrations_are_idempotent_and_keep_data() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        {
            let store = SqliteStore::open(&path).unwrap();
            store.save_login("main", &login("b", "t")).unwrap();
        }
        for _ in 0..2 {
            let store = SqliteStore::open(&path).unwrap();
            let version: i64 = store
                .lock()
                .query_row("PRAGMA user_version", [], |r| r.get(0))
                .unwrap();
            assert_eq!(version, SqliteStore::SCHEMA_VERSION);
            assert_eq!(store.sessions().unwrap().len(), 1);
            let journal: String = store
                .lock()
                .query_row("PRAGMA journal_mode", [], |r| r.get(0))
                .unwrap();
            assert_eq!(journal, "wal");
        }
    }

    #[test]
    fn a_version_1_database_upgrades_and_keeps_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        {
            // What wxlink 0.1 with schema 1 wrote: a session and a message.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch(SCHEMA_V1).unwrap();
            conn.pragma_update(None, "user_version", 1).unwrap();
            conn.execute_batch(
                "INSERT INTO sessions (name, backend, status, is_default, created_at, updated_at) \
                 VALUES ('old', 'ilink', 'connected', 1, 1, 1);
                 INSERT INTO messages (session, direction, dedupe_key, peer, kind, text, \
                 created_at, stored_at, status) VALUES ('old', 1, 'k1', 'u@im.wechat', 'text', \
                 'kept across the upgrade', 5, 5, 'received');
                 INSERT INTO message_bodies (id, items) VALUES (last_insert_rowid(), '[]');",
            )
            .unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = Connection::open(&path)
            .unwrap()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SqliteStore::SCHEMA_VERSION);
        let old = store.message("1").unwrap().unwrap();
        assert_eq!(old.message.text.as_deref(), Some("kept across the upgrade"));
        assert_eq!(old.message.speaker, None);
        // New rows keep a speaker.
        let mut group = inbound("old", "k2", "room@chatroom", "in a group", 6);
        group.speaker = Some("wxid_zhangsan".into());
        store.ingest("old", &[group], "").unwrap();
        let page = store
            .history(&HistoryQuery {
                text: Some("group".into()),
                limit: 5,
                ..Default::default()
            })
            .unwrap();
        assert_eq!(
            page.messages[0].message.speaker.as_deref(),
            Some("wxid_zhangsan")
        );
    }

    #[test]
    fn the_wal_is_checkpointed_in_the_background_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        let store = SqliteStore::open(&path).unwrap();
        store
            .save_login(
                "s",
                &LoginRecord {
                    backend: "ilink".into(),
                    bot_id: "b".into(),
                    user_id: None,
                    token: "t".into(),
                    base_url: None,
                },
            )
            .unwrap();
        let wal = dir.path().join("wxlink.db-wal");
        let wal_size = || fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        let wait_for_checkpoint = || {
            let before = store.checkpoints();
            for _ in 0..100 {
                if store.checkpoints() > before {
                    return;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            panic!("no background checkpoint within 5 s");
        };
        let mut sizes = Vec::new();
        for round in 0..3 {
            let batch: Vec<_> = (0..300)
                .map(|i| {
                    let text = format!("round {round} message {i} {}", "x".repeat(2_000));
                    inbound("s", &format!("{round}-{i}"), "u@im.wechat", &text, 1)
                })
                .collect();
            store.ingest("s", &batch, "").unwrap();
            sizes.push(wal_size());
            wait_for_checkpoint();
        }
        // Without checkpoints (autocheckpoint is off on the writer) the WAL would hold all three
        // rounds; checkpointed, each round reuses it from the start.
        assert!(sizes[0] > 500_000, "a round fills the WAL: {sizes:?}");
        assert!(
            sizes[2] < sizes[0] * 3 / 2,
            "the WAL keeps growing: {sizes:?}"
        );
        assert_eq!(store.message("900").unwrap().map(|m| m.id), Some(900));
    }

    #[test]
    fn last_session_with_a_peer_is_the_newest_messages() {
        let store = SqliteStore::open_in_memory().unwrap();
        for name in ["a", "b"] {
            store
                .save_login(
                    name,
                    &LoginRecord {
                        backend: "ilink".into(),
                        bot_id: format!("{name}@im.bot"),
                        user_id: None,
                        token: "t".into(),
                        base_url: None,
                    },
                )
                .unwrap();
        }
        assert_eq!(store.last_session_with("u@im.wechat").unwrap(), None);
        store
            .ingest("a", &[inbound("a", "k1", "u@im.wechat", "one", 1)], "")
            .unwrap();
        store
            .ingest("b", &[inbound("b", "k2", "u@im.wechat", "two", 2)], "")
            .unwrap();
        store
            .ingest("a", &[inbound("a", "k3", "v@im.wechat", "three", 3)], "")
            .unwrap();
        assert_eq!(
            store.last_session_with("u@im.wechat").unwrap().as_deref(),
            Some("b")
        );
        assert_eq!(
            store.last_session_with("v@im.wechat").unwrap().as_deref(),
            Some("a")
        );
    }

    #[test]
    fn newer_schema_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        drop(SqliteStore::open(&path).unwrap());
        Connection::open(&path)
            .unwrap()
            .pragma_update(None, "user_version", 99)
            .unwrap();
        match SqliteStore::open(&path) {
            Err(StoreError::TooNew { found, supported }) => {
                assert_eq!(found, 99);
                assert_eq!(supported, SqliteStore::SCHEMA_VERSION);
            }
            other => panic!("expected TooNew, got {other:?}"),
        }
    }

    #[test]
    fn files_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("sub").join("wxlink.db");
        let store = SqliteStore::open(&path).unwrap();
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(mode_of(path.parent().unwrap()), 0o700);
        store.save_login("main", &login("b", "t")).unwrap();
        let wal = dir.path().join("sub").join("wxlink.db-wal");
        assert!(wal.exists(), "WAL file should exist after a write");
        assert_eq!(mode_of(&wal), 0o600);
        drop(store);

        // An existing, too-open file is tightened.
        let loose = dir.path().join("loose.db");
        fs::write(&loose, b"").unwrap();
        fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
        let store = SqliteStore::open(&loose).unwrap();
        assert_eq!(mode_of(&loose), 0o600);
        assert!(store.sessions().unwrap().is_empty());
    }

    #[test]
    fn session_names_are_checked() {
        let store = store_with(&[]);
        for ok in ["main", "a", "work-2.bot_x", "工作号", &"x".repeat(64)] {
            store.save_login(ok, &login("b", "t")).unwrap();
        }
        for bad in [
            "",
            "has space",
            "a/b",
            "..",
            ".",
            "emoji😀",
            &"x".repeat(65),
        ] {
            assert!(
                matches!(
                    store.save_login(bad, &login("b", "t")),
                    Err(StoreError::InvalidName(_))
                ),
                "{bad:?} should be refused"
            );
        }
    }

    #[test]
    fn save_login_creates_replaces_and_resets_on_bot_change() {
        let store = store_with(&[]);
        let first = store.save_login("main", &login("bot-a", "t1")).unwrap();
        assert!(first.is_default, "the first session becomes the default");
        assert_eq!(first.status, SessionStatus::Connected);
        assert_eq!(first.token.as_deref(), Some("t1"));
        assert!(
            !store
                .save_login("other", &login("bot-b", "t"))
                .unwrap()
                .is_default
        );

        let m = with_token(inbound("main", "1", "u1", "hi", 1_000), "ctx");
        store.ingest("main", &[m], "cur-1").unwrap();

        // Same bot: credentials replaced, cursor and contexts kept.
        let again = store.save_login("main", &login("bot-a", "t2")).unwrap();
        assert_eq!(again.token.as_deref(), Some("t2"));
        assert_eq!(again.created_at_ms, first.created_at_ms);
        assert_eq!(again.users, 1);
        assert_eq!(store.cursor("main").unwrap(), "cur-1");

        // Another bot: cursor and contexts dropped, history kept.
        let moved = store.save_login("main", &login("bot-c", "t3")).unwrap();
        assert_eq!(moved.bot_id.as_deref(), Some("bot-c"));
        assert_eq!(moved.users, 0);
        assert_eq!(store.cursor("main").unwrap(), "");
        assert!(store.contexts(Some("main")).unwrap().is_empty());
        assert_eq!(store.history(&query()).unwrap().total, 1);
        assert!(moved.is_default);
    }

    #[test]
    fn sessions_are_listed_default_first_with_user_counts() {
        let store = store_with(&["b", "a", "c"]);
        store.set_default("c").unwrap();
        let batch = [
            with_token(inbound("a", "1", "u1", "x", 1), "t1"),
            with_token(inbound("a", "2", "u2", "y", 2), "t2"),
            inbound("a", "3", "u3", "no token", 3),
        ];
        store.ingest("a", &batch, "c").unwrap();
        let list = store.sessions().unwrap();
        let names: Vec<_> = list.iter().map(|s| s.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(list[1].users, 2);
        assert_eq!(list[1].last_message_at_ms, Some(3));
        assert_eq!(list[0].last_message_at_ms, None);
        assert_eq!(
            list.iter().filter(|s| s.is_default).count(),
            1,
            "exactly one default"
        );
        assert!(store.session("nope").unwrap().is_none());
        assert!(matches!(
            store.set_default("nope"),
            Err(StoreError::UnknownSession(_))
        ));
    }

    #[test]
    fn default_session_resolution_order() {
        let store = store_with(&[]);
        assert_eq!(store.default_session().unwrap(), None);
        store.save_login("zeta", &login("b1", "t")).unwrap();
        std::thread::sleep(Duration::from_millis(3));
        store.save_login("alpha", &login("b2", "t")).unwrap();
        std::thread::sleep(Duration::from_millis(3));
        store.save_login("mid", &login("b3", "t")).unwrap();
        // 1. the marked one (the first saved)
        assert_eq!(store.default_session().unwrap().as_deref(), Some("zeta"));
        store.set_default("mid").unwrap();
        assert_eq!(store.default_session().unwrap().as_deref(), Some("mid"));
        // 2. no mark: the oldest connected one
        store
            .lock()
            .execute("UPDATE sessions SET is_default = 0", [])
            .unwrap();
        store.set_status("zeta", SessionStatus::Expired).unwrap();
        assert_eq!(store.default_session().unwrap().as_deref(), Some("alpha"));
        // 3. none connected: the oldest one
        store.logout("alpha").unwrap();
        store.set_status("mid", SessionStatus::Expired).unwrap();
        assert_eq!(store.default_session().unwrap().as_deref(), Some("zeta"));
        assert!(matches!(
            store.set_status("nope", SessionStatus::Expired),
            Err(StoreError::UnknownSession(_))
        ));
    }

    #[test]
    fn ingest_dedupes_and_always_moves_the_cursor() {
        let store = store_with(&["main"]);
        let batch = [
            inbound("main", "100", "u1", "one", 1_000),
            inbound("main", "101", "u1", "two", 2_000),
        ];
        let first = store.ingest("main", &batch, "c1").unwrap();
        assert_eq!(first.len(), 2);
        assert!(first[0] < first[1]);
        assert_eq!(store.cursor("main").unwrap(), "c1");

        let replay = store.ingest("main", &batch, "c2").unwrap();
        assert!(replay.is_empty(), "a replayed batch inserts nothing");
        assert_eq!(store.cursor("main").unwrap(), "c2");

        let mixed = [
            inbound("main", "101", "u1", "two", 2_000),
            inbound("main", "102", "u1", "three", 3_000),
        ];
        let third = store.ingest("main", &mixed, "c3").unwrap();
        assert_eq!(third.len(), 1);
        assert!(third[0] > first[1]);
        assert_eq!(store.history(&query()).unwrap().total, 3);
        assert_eq!(store.latest_id().unwrap(), third[0]);
        // The same key in another session is another message.
        store.save_login("second", &login("b2", "t")).unwrap();
        assert_eq!(store.ingest("second", &batch, "x").unwrap().len(), 2);
        // Empty batch: only the cursor moves.
        assert!(store.ingest("main", &[], "c4").unwrap().is_empty());
        assert_eq!(store.cursor("main").unwrap(), "c4");
        assert_eq!(store.cursor("unknown").unwrap(), "");
    }

    #[test]
    fn ingest_for_unknown_session_writes_nothing() {
        let store = store_with(&["main"]);
        let batch = [with_token(inbound("ghost", "1", "u1", "boo", 1), "t")];
        assert!(matches!(
            store.ingest("ghost", &batch, "c"),
            Err(StoreError::UnknownSession(name)) if name == "ghost"
        ));
        assert_eq!(store.latest_id().unwrap(), 0);
        assert_eq!(store.cursor("ghost").unwrap(), "");
        assert!(store.contexts(None).unwrap().is_empty());
    }

    #[test]
    fn ingest_failing_midway_rolls_back_everything() {
        let store = store_with(&["main"]);
        store
            .lock()
            .execute_batch(
                "CREATE TEMP TRIGGER boom BEFORE INSERT ON messages WHEN new.text = 'BOOM' \
                 BEGIN SELECT RAISE(ABORT, 'boom'); END;",
            )
            .unwrap();
        let batch = [
            with_token(inbound("main", "1", "u1", "fine", 1), "t1"),
            inbound("main", "2", "u1", "BOOM", 2),
        ];
        assert!(matches!(
            store.ingest("main", &batch, "c"),
            Err(StoreError::Database(_))
        ));
        assert_eq!(store.latest_id().unwrap(), 0);
        assert_eq!(store.cursor("main").unwrap(), "");
        assert!(store.contexts(None).unwrap().is_empty());
        assert_eq!(
            store.session("main").unwrap().unwrap().last_message_at_ms,
            None
        );
    }

    #[test]
    fn context_tokens_follow_the_upsert_rules() {
        let store = store_with(&["main"]);
        let ctx = |store: &SqliteStore| store.contexts_for_user("u1").unwrap().remove(0);

        store
            .ingest(
                "main",
                &[with_token(inbound("main", "1", "u1", "a", 1_000), "T1")],
                "c",
            )
            .unwrap();
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), Some(1));
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), Some(2));

        // Same token again, later: count kept, time moves forward.
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "2", "u1", "b", 2_000), "T1")],
                "c",
            )
            .unwrap();
        let c = ctx(&store);
        assert_eq!(
            (c.token.as_str(), c.send_count, c.received_at_ms),
            ("T1", 2, 2_000)
        );

        // New token: replaced, count reset.
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "3", "u1", "c", 3_000), "T2")],
                "c",
            )
            .unwrap();
        let c = ctx(&store);
        assert_eq!(
            (c.token.as_str(), c.send_count, c.received_at_ms),
            ("T2", 0, 3_000)
        );

        // An older token (a late replay) never replaces a newer one.
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "0", "u1", "old", 500), "T0")],
                "c",
            )
            .unwrap();
        assert_eq!(ctx(&store).token, "T2");

        // Within one batch the last (newest) token wins; empty tokens and outbound are ignored.
        let mut out = outbound("main", "cid", "u1", "reply", 9_000);
        out.context_token = Some("OUT".into());
        store
            .ingest(
                "main",
                &[
                    with_token(inbound("main", "4", "u1", "d", 4_000), "T3"),
                    with_token(inbound("main", "5", "u1", "e", 5_000), "T4"),
                    with_token(inbound("main", "6", "u1", "f", 6_000), ""),
                    out,
                ],
                "c",
            )
            .unwrap();
        let c = ctx(&store);
        assert_eq!((c.token.as_str(), c.received_at_ms), ("T4", 5_000));

        // Per session and freshest first across sessions.
        store.save_login("second", &login("b2", "t")).unwrap();
        store
            .ingest(
                "second",
                &[with_token(inbound("second", "1", "u1", "x", 8_000), "S1")],
                "c",
            )
            .unwrap();
        let all = store.contexts_for_user("u1").unwrap();
        assert_eq!(
            all.iter().map(|c| c.session.as_str()).collect::<Vec<_>>(),
            ["second", "main"]
        );
        assert_eq!(store.contexts(Some("main")).unwrap().len(), 1);
        assert_eq!(store.contexts(None).unwrap().len(), 2);
    }

    #[test]
    fn reserve_and_refund_respect_the_quota_and_the_token() {
        let store = store_with(&["main"]);
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "1", "u1", "a", 1), "T1")],
                "c",
            )
            .unwrap();
        for expected in 1..=SEND_QUOTA_PER_TOKEN {
            assert_eq!(
                store.reserve_send("main", "u1", "T1").unwrap(),
                Some(expected)
            );
        }
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), None);
        store.refund_send("main", "u1", "T1").unwrap();
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), Some(10));
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), None);

        // Wrong token, user or session: nothing reserved, refund is a no-op.
        assert_eq!(store.reserve_send("main", "u1", "T0").unwrap(), None);
        assert_eq!(store.reserve_send("main", "u2", "T1").unwrap(), None);
        assert_eq!(store.reserve_send("other", "u1", "T1").unwrap(), None);
        store.refund_send("main", "u1", "T0").unwrap();
        assert_eq!(store.contexts_for_user("u1").unwrap()[0].send_count, 10);

        // A new token resets the quota; a refund for the old token no longer applies.
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "2", "u1", "b", 2), "T2")],
                "c",
            )
            .unwrap();
        assert_eq!(store.reserve_send("main", "u1", "T1").unwrap(), None);
        assert_eq!(store.reserve_send("main", "u1", "T2").unwrap(), Some(1));
        store.refund_send("main", "u1", "T1").unwrap();
        assert_eq!(store.contexts_for_user("u1").unwrap()[0].send_count, 1);
        // Never below zero.
        store.refund_send("main", "u1", "T2").unwrap();
        store.refund_send("main", "u1", "T2").unwrap();
        assert_eq!(store.contexts_for_user("u1").unwrap()[0].send_count, 0);
    }

    #[test]
    fn rename_moves_everything() {
        let store = store_with(&["old", "taken"]);
        store
            .ingest(
                "old",
                &[
                    with_token(inbound("old", "1", "u1", "hello world", 1), "T"),
                    inbound("old", "2", "u2", "again", 2),
                ],
                "cur",
            )
            .unwrap();
        store
            .record_outbound(&outbound("old", "c1", "u1", "reply", 3))
            .unwrap();

        assert!(matches!(
            store.rename_session("old", "taken"),
            Err(StoreError::SessionExists(_))
        ));
        assert!(matches!(
            store.rename_session("old", "bad name"),
            Err(StoreError::InvalidName(_))
        ));
        assert!(matches!(
            store.rename_session("ghost", "fresh"),
            Err(StoreError::UnknownSession(_))
        ));
        store.rename_session("old", "old").unwrap();

        store.rename_session("old", "new").unwrap();
        assert!(store.session("old").unwrap().is_none());
        let renamed = store.session("new").unwrap().unwrap();
        assert!(renamed.is_default, "the default flag moves with the name");
        assert_eq!(renamed.users, 1);
        assert_eq!(store.cursor("new").unwrap(), "cur");
        assert_eq!(store.cursor("old").unwrap(), "");
        assert_eq!(store.contexts(Some("new")).unwrap().len(), 1);
        assert!(store.contexts(Some("old")).unwrap().is_empty());
        assert_eq!(store.reserve_send("new", "u1", "T").unwrap(), Some(1));
        let by_session = |s: &str| {
            store
                .history(&HistoryQuery {
                    session: Some(s.into()),
                    ..query()
                })
                .unwrap()
                .total
        };
        assert_eq!(by_session("new"), 3);
        assert_eq!(by_session("old"), 0);
        // New messages under the new name still dedupe against the moved ones.
        assert!(store
            .ingest("new", &[inbound("new", "1", "u1", "hello world", 1)], "c")
            .unwrap()
            .is_empty());
        let fk: i64 = store
            .lock()
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0);
        fts_integrity(&store);
    }

    #[test]
    fn logout_keeps_history_and_drops_credentials() {
        let store = store_with(&["main"]);
        store
            .ingest(
                "main",
                &[with_token(inbound("main", "1", "u1", "keep me", 1), "T")],
                "cur",
            )
            .unwrap();
        store.logout("main").unwrap();
        let s = store.session("main").unwrap().unwrap();
        assert_eq!(s.status, SessionStatus::LoggedOut);
        assert_eq!(s.token, None);
        assert_eq!(s.users, 0);
        assert!(s.is_default);
        assert_eq!(store.cursor("main").unwrap(), "");
        assert!(store.contexts(None).unwrap().is_empty());
        assert_eq!(store.reserve_send("main", "u1", "T").unwrap(), None);
        let page = store.history(&query()).unwrap();
        assert_eq!(texts(&page), ["keep me"]);
        assert!(matches!(
            store.logout("ghost"),
            Err(StoreError::UnknownSession(_))
        ));
        // Logging in again reconnects.
        let back = store.save_login("main", &login("bot0", "new")).unwrap();
        assert_eq!(back.status, SessionStatus::Connected);
        assert_eq!(back.token.as_deref(), Some("new"));
    }

    /// A small corpus for the history tests.
    fn history_fixture() -> SqliteStore {
        let store = store_with(&["work", "home"]);
        let mut image = inbound("work", "5", "alice", "photo.jpg", 5_000);
        image.kind = "image".into();
        store
            .ingest(
                "work",
                &[
                    inbound("work", "1", "alice", "我们明天下午开会讨论预算", 1_000),
                    inbound("work", "2", "bob", "Budget Meeting moved to Friday", 2_000),
                    inbound("work", "3", "alice", "好的，预算表我来准备", 3_000),
                    inbound(
                        "work",
                        "4",
                        "bob",
                        "say \"hello\" to the BUDGET team",
                        4_000,
                    ),
                    image,
                ],
                "c",
            )
            .unwrap();
        store
            .ingest(
                "home",
                &[inbound(
                    "home",
                    "6",
                    "alice",
                    "晚饭吃什么？budget 不多",
                    6_000,
                )],
                "c",
            )
            .unwrap();
        store
            .record_outbound(&outbound("work", "c7", "alice", "下午开会见", 7_000))
            .unwrap();
        store
    }

    #[test]
    fn history_filters_one_by_one() {
        let store = history_fixture();
        let run = |q: HistoryQuery| {
            let page = store.history(&q).unwrap();
            assert_eq!(page.total as usize, page.messages.len());
            texts(&page)
        };
        let all = run(query());
        assert_eq!(all.len(), 7);
        assert_eq!(all[0], "下午开会见", "newest first");

        let user = run(HistoryQuery {
            user: Some("bob".into()),
            ..query()
        });
        assert_eq!(
            user,
            [
                "say \"hello\" to the BUDGET team",
                "Budget Meeting moved to Friday"
            ]
        );
        assert_eq!(
            run(HistoryQuery {
                session: Some("home".into()),
                ..query()
            }),
            ["晚饭吃什么？budget 不多"]
        );
        assert_eq!(
            run(HistoryQuery {
                kind: Some("image".into()),
                ..query()
            }),
            ["photo.jpg"]
        );
        assert_eq!(
            run(HistoryQuery {
                direction: Some(Direction::Out),
                ..query()
            }),
            ["下午开会见"]
        );
        assert_eq!(
            run(HistoryQuery {
                since_ms: Some(6_000),
                ..query()
            })
            .len(),
            2
        );
        assert_eq!(
            run(HistoryQuery {
                until_ms: Some(2_000),
                ..query()
            })
            .len(),
            2
        );
        // Blank filters are no filters.
        assert_eq!(
            run(HistoryQuery {
                user: Some(String::new()),
                text: Some("   ".into()),
                ..query()
            })
            .len(),
            7
        );
    }

    #[test]
    fn history_text_search() {
        let store = history_fixture();
        let search = |text: &str| {
            let page = store
                .history(&HistoryQuery {
                    text: Some(text.into()),
                    ..query()
                })
                .unwrap();
            assert_eq!(page.total as usize, page.messages.len());
            texts(&page)
        };
        // Chinese substring inside a sentence (FTS trigram path).
        assert_eq!(
            search("下午开会"),
            ["下午开会见", "我们明天下午开会讨论预算"]
        );
        // Two characters: the scan path.
        assert_eq!(
            search("预算"),
            ["好的，预算表我来准备", "我们明天下午开会讨论预算"]
        );
        assert_eq!(search("会"), ["下午开会见", "我们明天下午开会讨论预算"]);
        // Latin, case-insensitive, on both paths.
        assert_eq!(search("budget").len(), 3);
        assert_eq!(search("BUDGET").len(), 3);
        assert_eq!(search("  Budget  ").len(), 3);
        assert_eq!(search("bU").len(), 3);
        assert_eq!(search("meeting moved"), ["Budget Meeting moved to Friday"]);
        // FTS syntax is literal text.
        assert_eq!(search("\"hello\""), ["say \"hello\" to the BUDGET team"]);
        assert!(search("budget OR friday").is_empty());
        assert!(search("NEAR(a b)").is_empty());
        assert!(search("*").is_empty());
        assert!(search("不存在的词").is_empty());
    }

    #[test]
    fn history_filters_combine() {
        let store = history_fixture();
        let page = store
            .history(&HistoryQuery {
                user: Some("alice".into()),
                session: Some("work".into()),
                direction: Some(Direction::In),
                text: Some("预算".into()),
                since_ms: Some(2_000),
                ..query()
            })
            .unwrap();
        assert_eq!(texts(&page), ["好的，预算表我来准备"]);
        let page = store
            .history(&HistoryQuery {
                user: Some("alice".into()),
                text: Some("下午开会".into()),
                direction: Some(Direction::In),
                ..query()
            })
            .unwrap();
        assert_eq!(texts(&page), ["我们明天下午开会讨论预算"]);
        let page = store
            .history(&HistoryQuery {
                session: Some("work".into()),
                text: Some("budget".into()),
                until_ms: Some(3_000),
                ..query()
            })
            .unwrap();
        assert_eq!(texts(&page), ["Budget Meeting moved to Friday"]);
        let page = store
            .history(&HistoryQuery {
                kind: Some("image".into()),
                user: Some("bob".into()),
                ..query()
            })
            .unwrap();
        assert_eq!(page.total, 0);
    }

    #[test]
    fn time_filters_span_days_and_late_arrivals() {
        let store = store_with(&["main"]);
        let day = DAY_MS;
        let batch: Vec<_> = (0..10)
            .map(|d| {
                inbound(
                    "main",
                    &d.to_string(),
                    "u",
                    &format!("day {d} report"),
                    d * day + 5,
                )
            })
            .collect();
        store.ingest("main", &batch, "c").unwrap();
        // Arrives last (highest id) but was created on day 2.
        store
            .ingest(
                "main",
                &[inbound("main", "late", "u", "late report", 2 * day + 7)],
                "c",
            )
            .unwrap();
        let between = |since: Option<i64>, until: Option<i64>, text: Option<&str>| {
            let page = store
                .history(&HistoryQuery {
                    since_ms: since,
                    until_ms: until,
                    text: text.map(String::from),
                    ..query()
                })
                .unwrap();
            assert_eq!(page.total as usize, page.messages.len());
            texts(&page)
        };
        assert_eq!(
            between(Some(2 * day), Some(3 * day), None),
            ["late report", "day 2 report"]
        );
        assert_eq!(
            between(Some(2 * day + 6), Some(3 * day + 5), Some("report")),
            ["late report", "day 3 report"]
        );
        assert_eq!(
            between(Some(2 * day + 6), Some(3 * day + 5), Some("re")).len(),
            2
        );
        assert_eq!(between(None, Some(day), Some("report")).len(), 1);
        assert_eq!(between(Some(9 * day), None, None), ["day 9 report"]);
        assert!(between(Some(20 * day), None, Some("report")).is_empty());
        assert!(between(Some(5 * day), Some(4 * day), None).is_empty());
        assert!(between(Some(-5 * day), Some(-day), None).is_empty());
    }

    /// The FTS phrase match and the per-row test must agree on case folding in every script,
    /// or a user filter (which may switch to the row test) would change results.
    #[test]
    fn fold_matches_fts5() {
        for (c, folded) in [
            ('A', 'a'),
            ('z', 'z'),
            ('É', 'é'),
            ('Σ', 'σ'),
            ('ẞ', 'ß'),
            ('Ａ', 'ａ'),
            ('Ꭰ', 'Ꭰ'),
            ('𐐀', '𐐨'),
            ('预', '预'),
        ] {
            assert_eq!(fts5_fold::fold_char(c), folded, "{c}");
        }
        assert_eq!(fold("AbC\0Ü"), "abcü");
        assert!(is_caseless("预算 2024，"));
        assert!(!is_caseless("a"), "'A' folds to 'a'");
        assert!(!is_caseless("ß"), "'ẞ' folds to 'ß'");
        assert!(contains_folded("Budget MEETING", "meeting"));
        assert!(contains_folded("ÉCOLE", "école"));
        assert!(contains_folded("a\0bc", "abc"));
        assert!(!contains_folded("abd", "abc"));
    }

    #[test]
    fn fts_and_row_test_fold_case_alike() {
        let store = store_with(&["main"]);
        let texts = [
            "ÉCOLE et école",
            "ПРИВЕТ мир",
            "ΣΟΦΊΑ και σοφία τῆς",
            "İstanbul Istanbul",
            "STRASSE straße ẞ",
            "Ǆemal ǅ ǆ",
            "ﬁle ligature",
            "Kelvin 5K degrees",
            "ＡＢＣ fullwidth ａｂｃ",
            "Ꭰ Cherokee ꭰ",
            "Ა Georgian ა",
            "𐐀 Deseret 𐐨",
            "𐓀 Osage 𐓘",
            "nul\0byte text",
            "数字 ＡＢＣ 预算 budget",
        ];
        let batch: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| inbound("main", &i.to_string(), "u", t, i as i64))
            .collect();
        store.ingest("main", &batch, "c").unwrap();
        let queries = [
            "école",
            "ÉCOLE",
            "Ecole",
            "привет",
            "ПРИВЕТ",
            "σοφία",
            "ΣΟΦΊΑ",
            "istanbul",
            "İstanbul",
            "straße",
            "STRASSE",
            "ǆem",
            "ǅem",
            "Ǆem",
            "ﬁle",
            "file",
            "n 5k",
            "n 5K",
            "ａｂｃ",
            "ＡＢＣ",
            "Ꭰ C",
            "ꭰ C",
            "ა G",
            "Ა G",
            "𐐨 D",
            "𐐀 D",
            "𐓘 O",
            "𐓀 O",
            "nulbyte",
            "l\0by",
            "ul\0",
            "预算 b",
            "预算 B",
            "字 ａ",
        ];
        let conn = store.lock();
        let mut matched = 0;
        for needle in queries {
            let fts_only = run_history(
                &conn,
                &HistoryQuery {
                    text: Some(needle.into()),
                    ..query()
                },
                None,
            )
            .unwrap();
            let scanned = run_history(
                &conn,
                &HistoryQuery {
                    user: Some("u".into()),
                    text: Some(needle.into()),
                    ..query()
                },
                Some(UserTextPlan::ScanUser),
            )
            .unwrap();
            assert_eq!(
                ids(&fts_only.messages),
                ids(&scanned.messages),
                "{needle:?}"
            );
            matched += usize::from(!fts_only.messages.is_empty());
        }
        assert!(matched >= 20, "only {matched} queries matched anything");
    }

    #[test]
    fn history_pages() {
        let store = store_with(&["main"]);
        let batch: Vec<_> = (1..=25)
            .map(|i| inbound("main", &i.to_string(), "u", &format!("note number {i}"), i))
            .collect();
        store.ingest("main", &batch, "c").unwrap();
        for text in [None, Some("number"), Some("nu")] {
            let page = |offset, limit| {
                store
                    .history(&HistoryQuery {
                        text: text.map(String::from),
                        limit,
                        offset,
                        ..query()
                    })
                    .unwrap()
            };
            let first = page(0, 10);
            assert_eq!(first.total, 25);
            assert_eq!(first.messages.len(), 10);
            assert_eq!(
                first.messages[0].message.text.as_deref(),
                Some("note number 25")
            );
            let last = page(20, 10);
            assert_eq!(last.total, 25);
            assert_eq!(
                texts(&last),
                (1..=5)
                    .rev()
                    .map(|i| format!("note number {i}"))
                    .collect::<Vec<_>>()
            );
            let beyond = page(30, 10);
            assert_eq!((beyond.total, beyond.messages.len()), (25, 0));
            let none = page(0, 0);
            assert_eq!((none.total, none.messages.len()), (25, 0));
        }
    }

    /// Both plans for user + long text (walk the FTS matches, or scan the user's rows) must
    /// return the same rows; the fixture makes each one the cheaper in turn.
    #[test]
    fn history_user_and_text_plans_agree() {
        let store = store_with(&["main"]);
        let mut batch = Vec::new();
        for i in 0..300 {
            // "common" is in every message; "rare" in few; "many" has most rows.
            let peer = if i % 30 == 0 { "few" } else { "many" };
            let text = if i % 50 == 0 {
                format!("common RARE word {i}")
            } else {
                format!("common text {i}")
            };
            batch.push(inbound("main", &i.to_string(), peer, &text, i));
        }
        store.ingest("main", &batch, "c").unwrap();
        let brute = |user: &str, needle: &str| -> Vec<i64> {
            let mut ids: Vec<_> = store
                .history(&HistoryQuery {
                    limit: 1_000,
                    ..query()
                })
                .unwrap()
                .messages
                .into_iter()
                .filter(|m| {
                    m.message.peer == user
                        && fold(m.message.text.as_deref().unwrap_or("")).contains(&fold(needle))
                })
                .map(|m| m.id)
                .collect();
            ids.sort_unstable_by(|a, b| b.cmp(a));
            ids
        };
        // "few" has 10 rows, "many" 290; "common" matches 300 rows, "rare" 6. Each plan, forced
        // or chosen, must give the brute-force answer; with time filters too.
        for (user, needle) in [
            ("few", "common"),
            ("many", "common"),
            ("few", "rare"),
            ("many", "rare"),
            ("many", "COMMON text 1"),
        ] {
            let expected = brute(user, needle);
            for force in [
                None,
                Some(UserTextPlan::JoinMatches),
                Some(UserTextPlan::ScanUser),
            ] {
                let conn = store.lock();
                let q = HistoryQuery {
                    user: Some(user.into()),
                    text: Some(needle.into()),
                    limit: 1_000,
                    ..query()
                };
                let page = run_history(&conn, &q, force).unwrap();
                assert_eq!(
                    page.total as usize,
                    expected.len(),
                    "{user} {needle} {force:?}"
                );
                assert_eq!(ids(&page.messages), expected, "{user} {needle} {force:?}");
                let narrow = HistoryQuery {
                    since_ms: Some(100),
                    until_ms: Some(199),
                    limit: 3,
                    offset: 1,
                    ..q
                };
                let page = run_history(&conn, &narrow, force).unwrap();
                let in_range: Vec<i64> = expected
                    .iter()
                    .copied()
                    .filter(|id| (101..=200).contains(id))
                    .collect();
                assert_eq!(
                    page.total as usize,
                    in_range.len(),
                    "{user} {needle} {force:?}"
                );
                let want: Vec<i64> = in_range.iter().copied().skip(1).take(3).collect();
                assert_eq!(ids(&page.messages), want, "{user} {needle} {force:?}");
            }
        }
        let conn = store.lock();
        let choose = |user: &str, needle: &str| {
            let fts = FtsMatch {
                phrase: format!("\"{needle}\""),
                range: None,
            };
            UserTextPlan::choose(&conn, user, &fts).unwrap()
        };
        assert_eq!(choose("few", "common"), UserTextPlan::ScanUser);
        assert_eq!(choose("many", "rare"), UserTextPlan::JoinMatches);
    }

    /// The query plans the planner's comments promise: no sort of a large result, and the
    /// intended index or FTS access for each shape.
    #[test]
    fn query_plans_use_the_intended_access_paths() {
        let store = store_with(&["s"]);
        let conn = store.lock();
        conn.execute_batch("INSERT INTO message_days VALUES (0, 1, 10)")
            .unwrap();
        let q = |f: fn(&mut HistoryQuery)| {
            let mut q = HistoryQuery {
                limit: 5,
                ..HistoryQuery::default()
            };
            f(&mut q);
            q
        };
        let cases: Vec<(HistoryQuery, Option<UserTextPlan>, &str)> = vec![
            (
                q(|q| q.text = Some("abc".into())),
                None,
                "SCAN messages_fts VIRTUAL TABLE",
            ),
            (
                q(|q| {
                    q.user = Some("u".into());
                    q.text = Some("abc".into());
                }),
                Some(UserTextPlan::ScanUser),
                "COVERING INDEX messages_peer (peer=?)",
            ),
            (
                q(|q| {
                    q.user = Some("u".into());
                    q.session = Some("s".into());
                    q.text = Some("abc".into());
                }),
                Some(UserTextPlan::ScanUser),
                "INDEX messages_peer (peer=?)",
            ),
            (
                q(|q| {
                    q.user = Some("u".into());
                    q.text = Some("abc".into());
                }),
                Some(UserTextPlan::JoinMatches),
                "SEARCH m USING INTEGER PRIMARY KEY (rowid=?)",
            ),
            (
                q(|q| {
                    q.session = Some("s".into());
                    q.since_ms = Some(0);
                    q.until_ms = Some(5);
                    q.text = Some("abc".into());
                }),
                None,
                "M1><", // the FTS scan is limited to the id range
            ),
            (
                q(|q| {
                    q.session = Some("s".into());
                    q.since_ms = Some(0);
                    q.until_ms = Some(5);
                }),
                None,
                "INDEX messages_session (session=? AND id>? AND id<?)",
            ),
            (
                q(|q| q.user = Some("u".into())),
                None,
                "COVERING INDEX messages_peer (peer=?)",
            ),
        ];
        for (query, force, expected) in cases {
            let plan = plan_history(&conn, &query, force).unwrap().unwrap();
            for (sql, paged) in [(&plan.count_sql, false), (&plan.ids_sql, true)] {
                let mut params = plan.params.clone();
                if paged {
                    params.extend([5i64.into(), 0i64.into()]);
                }
                let steps: Vec<String> = conn
                    .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
                    .unwrap()
                    .query_map(params_from_iter(params.iter()), |r| r.get(3))
                    .unwrap()
                    .collect::<Result<_, _>>()
                    .unwrap();
                let steps = steps.join(" | ");
                assert!(steps.contains(expected), "{sql}\n{steps}");
                assert!(!steps.contains("TEMP B-TREE"), "{sql}\n{steps}");
            }
        }
    }

    #[test]
    fn message_lookup_by_upstream_or_own_id() {
        let store = store_with(&["main"]);
        let big = "18446744073709551615"; // u64::MAX, past i64
        let ids = store
            .ingest(
                "main",
                &[
                    inbound("main", "7001", "u1", "first", 1),
                    inbound("main", big, "u1", "huge id", 2),
                ],
                "c",
            )
            .unwrap();
        let mut echo = outbound("main", "c1", "u1", "echo", 3);
        echo.upstream_id = Some("7001".into());
        let out_id = store.record_outbound(&echo).unwrap();

        let found = store.message("7001").unwrap().unwrap();
        assert_eq!(found.id, ids[0], "inbound preferred over outbound");
        assert_eq!(found.message.text.as_deref(), Some("first"));
        assert_eq!(
            found.message.raw,
            Some(json!({ "message_id": "7001", "from_user_id": "u1" }))
        );
        assert_eq!(store.message(big).unwrap().unwrap().id, ids[1]);
        assert_eq!(
            store
                .message(&out_id.to_string())
                .unwrap()
                .unwrap()
                .message
                .text
                .as_deref(),
            Some("echo")
        );
        assert_eq!(
            store.message(&format!(" {} ", ids[1])).unwrap().unwrap().id,
            ids[1]
        );
        for garbage in [
            "",
            "abc",
            "-1",
            "1e3",
            "99999999999999999999999",
            "0x10",
            "🙂",
            "12 34",
        ] {
            assert!(store.message(garbage).unwrap().is_none(), "{garbage:?}");
        }
        assert!(store.message("424242").unwrap().is_none());
    }

    #[test]
    fn record_outbound_is_idempotent_and_checks_the_session() {
        let store = store_with(&["main"]);
        let m = outbound("main", "client-1", "u1", "hi", 5);
        let a = store.record_outbound(&m).unwrap();
        let b = store.record_outbound(&m).unwrap();
        assert_eq!(a, b);
        assert_eq!(store.history(&query()).unwrap().total, 1);
        let stored = store.message(&a.to_string()).unwrap().unwrap();
        assert_eq!(stored.message, m);
        assert_eq!(
            store.session("main").unwrap().unwrap().last_message_at_ms,
            Some(5)
        );
        assert!(matches!(
            store.record_outbound(&outbound("ghost", "c", "u", "x", 1)),
            Err(StoreError::UnknownSession(_))
        ));
    }

    #[test]
    fn consumers_each_see_every_inbound_message_and_survive_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        let first_ids;
        {
            let store = SqliteStore::open(&path).unwrap();
            store.save_login("main", &login("b", "t")).unwrap();
            first_ids = store
                .ingest(
                    "main",
                    &[
                        inbound("main", "1", "u", "a", 1),
                        inbound("main", "2", "u", "b", 2),
                    ],
                    "c",
                )
                .unwrap();
            store
                .record_outbound(&outbound("main", "o", "u", "not inbound", 3))
                .unwrap();
            // Default consumer starts at the beginning.
            assert_eq!(
                ids(&store.read_inbox(DEFAULT_CONSUMER, 10).unwrap()),
                first_ids
            );
            // A named one registered now starts at the tail.
            assert!(store.read_inbox("agent", 10).unwrap().is_empty());
            store
                .ingest("main", &[inbound("main", "3", "u", "c", 4)], "c")
                .unwrap();
            let read = store.read_inbox(DEFAULT_CONSUMER, 1).unwrap();
            assert_eq!(ids(&read), [first_ids[0]], "oldest first, limited");
            store.ack(DEFAULT_CONSUMER, read[0].id).unwrap();
        }
        let store = SqliteStore::open(&path).unwrap();
        let default = store.read_inbox(DEFAULT_CONSUMER, 10).unwrap();
        let agent = store.read_inbox("agent", 10).unwrap();
        assert_eq!(default.len(), 2);
        assert_eq!(default[0].id, first_ids[1]);
        assert_eq!(agent.len(), 1, "the agent only sees what arrived after it");
        assert_eq!(agent[0].id, default[1].id);
        assert!(default.iter().all(|m| m.message.direction == Direction::In));
        // Reading again without ack gives the same; acking one does not touch the other.
        assert_eq!(ids(&store.read_inbox("agent", 10).unwrap()), ids(&agent));
        store.ack("agent", agent[0].id).unwrap();
        assert!(store.read_inbox("agent", 10).unwrap().is_empty());
        assert_eq!(store.read_inbox(DEFAULT_CONSUMER, 10).unwrap().len(), 2);
        // Ack never moves backwards, and never past the newest message.
        store.ack("agent", 0).unwrap();
        assert!(store.read_inbox("agent", 10).unwrap().is_empty());
        store.ack(DEFAULT_CONSUMER, 1_000_000).unwrap();
        store
            .ingest("main", &[inbound("main", "4", "u", "d", 5)], "c")
            .unwrap();
        assert_eq!(store.read_inbox(DEFAULT_CONSUMER, 10).unwrap().len(), 1);
        assert_eq!(
            store.read_inbox("", 10).unwrap().len(),
            1,
            "blank = default"
        );
        assert!(store.read_inbox("agent", 0).unwrap().is_empty());
    }

    #[test]
    fn prune_keeps_ids_monotonic_and_fts_in_sync() {
        let store = store_with(&["main"]);
        let batch: Vec<_> = (1..=10)
            .map(|i| inbound("main", &i.to_string(), "u", &format!("searchable {i}"), i))
            .collect();
        let inserted = store.ingest("main", &batch, "c").unwrap();
        assert_eq!(store.prune(Retention::default()).unwrap(), 0);

        // Keep the newest 4 (the newest rows by id).
        let deleted = store
            .prune(Retention {
                max_rows: Some(4),
                ..Retention::default()
            })
            .unwrap();
        assert_eq!(deleted, 6);
        let left = store.history(&query()).unwrap();
        assert_eq!(
            ids(&left.messages),
            inserted[6..].iter().rev().copied().collect::<Vec<_>>()
        );
        let found = store
            .history(&HistoryQuery {
                text: Some("searchable".into()),
                ..query()
            })
            .unwrap();
        assert_eq!(found.total, 4);
        fts_integrity(&store);

        // By age: make three rows old.
        store
            .lock()
            .execute(
                "UPDATE messages SET stored_at = stored_at - 100000 WHERE id <= ?1",
                [inserted[8]],
            )
            .unwrap();
        let deleted = store
            .prune(Retention {
                max_age_ms: Some(50_000),
                max_rows: Some(100),
            })
            .unwrap();
        assert_eq!(deleted, 3);
        assert_eq!(store.latest_id().unwrap(), inserted[9]);

        // Delete everything, then insert: ids keep growing.
        store
            .prune(Retention {
                max_rows: Some(0),
                ..Retention::default()
            })
            .unwrap();
        assert_eq!(store.latest_id().unwrap(), 0);
        let days: i64 = store
            .lock()
            .query_row("SELECT count(*) FROM message_days", [], |r| r.get(0))
            .unwrap();
        assert_eq!(days, 0, "day entries of deleted messages are dropped");
        let next = store
            .ingest("main", &[inbound("main", "11", "u", "after", 11)], "c")
            .unwrap();
        assert!(next[0] > inserted[9]);
        fts_integrity(&store);
        assert_eq!(
            store
                .history(&HistoryQuery {
                    text: Some("searchable".into()),
                    ..query()
                })
                .unwrap()
                .total,
            0
        );
    }

    /// Two stores on one file, used from two threads at once: every write lands and no
    /// SQLITE_BUSY surfaces.
    #[test]
    fn two_stores_on_one_file_work_concurrently() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wxlink.db");
        let a = Arc::new(SqliteStore::open(&path).unwrap());
        let b = Arc::new(SqliteStore::open(&path).unwrap());
        a.save_login("one", &login("b1", "t")).unwrap();
        b.save_login("two", &login("b2", "t")).unwrap();
        const ROUNDS: usize = 150;
        let writer = |store: Arc<SqliteStore>, session: &'static str| {
            std::thread::spawn(move || -> StoreResult<()> {
                for round in 0..ROUNDS {
                    let batch: Vec<_> = (0..4)
                        .map(|k| {
                            let key = format!("{round}-{k}");
                            with_token(
                                inbound(session, &key, "peer", "并发 concurrent", round as i64),
                                &format!("tok{round}"),
                            )
                        })
                        .collect();
                    store.ingest(session, &batch, &format!("cur{round}"))?;
                    store.reserve_send(session, "peer", &format!("tok{round}"))?;
                    store.record_outbound(&outbound(
                        session,
                        &format!("out-{round}"),
                        "peer",
                        "reply",
                        round as i64,
                    ))?;
                    let page = store.history(&HistoryQuery {
                        text: Some("concurrent".into()),
                        limit: 5,
                        ..HistoryQuery::default()
                    })?;
                    assert!(page.total >= 4);
                    let inbox = store.read_inbox(session, 100)?;
                    if let Some(last) = inbox.last() {
                        store.ack(session, last.id)?;
                    }
                }
                Ok(())
            })
        };
        let t1 = writer(Arc::clone(&a), "one");
        let t2 = writer(Arc::clone(&b), "two");
        t1.join().unwrap().unwrap();
        t2.join().unwrap().unwrap();
        let total = a.history(&query()).unwrap().total;
        assert_eq!(total as usize, 2 * ROUNDS * 5);
        assert_eq!(b.cursor("one").unwrap(), format!("cur{}", ROUNDS - 1));
        assert_eq!(a.cursor("two").unwrap(), format!("cur{}", ROUNDS - 1));
        assert_eq!(b.contexts(None).unwrap().len(), 2);
        assert!(b.contexts(None).unwrap().iter().all(|c| c.send_count == 1));
        let all_ids = ids(&a.read_inbox(DEFAULT_CONSUMER, 10_000).unwrap());
        assert_eq!(all_ids.len(), 2 * ROUNDS * 4);
        assert!(all_ids.windows(2).all(|w| w[0] < w[1]));
        fts_integrity(&a);
    }

    #[test]
    fn store_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<SqliteStore>();
        let _: Box<dyn Store> = Box::new(SqliteStore::open_in_memory().unwrap());
    }
}
