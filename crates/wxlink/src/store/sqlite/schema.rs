//! The schema and everything that sets up a database file: the versioned migrations
//! (`PRAGMA user_version` counts the scripts that ran; append only), the file's mode (0600,
//! in a 0700 directory), and the connection settings.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

use rusqlite::{Connection, TransactionBehavior};

use crate::store::{StoreError, StoreResult};

/// How long a statement waits for another connection's write lock before failing, ms.
pub(super) const BUSY_TIMEOUT_MS: u64 = 5_000;

/// Page cache per connection, KiB (allocated only as pages are used). Bigger than SQLite's
/// 2 MiB default: ingest is ~25% faster at a million messages.
pub(super) const CACHE_KIB: i64 = 32 * 1024;

/// What the WAL file is cut back to once a checkpoint lets it start over (`journal_size_limit`):
/// a burst (a thousand accounts answering at once) can grow it to hundreds of MB, and without a
/// limit the file keeps that size for ever.
pub(super) const WAL_LIMIT_BYTES: i64 = 32 << 20;

/// Prepared statements kept per connection.
pub(super) const STATEMENT_CACHE: usize = 64;

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
pub(super) const MIGRATIONS: &[&str] = &[SCHEMA_V1, SCHEMA_V2, SCHEMA_V3, SCHEMA_V4, SCHEMA_V5];

/// Schema version 2: who spoke in a group chat (Wechaty rooms), kept with the message body.
const SCHEMA_V2: &str = "ALTER TABLE message_bodies ADD COLUMN speaker TEXT;";

/// Schema version 3: why a session's listener is failing (it is degraded), while it is; and
/// the sends still in flight (few rows: settling them at start-up reads no table).
const SCHEMA_V3: &str = "ALTER TABLE sessions ADD COLUMN problem TEXT;
CREATE INDEX messages_pending ON messages (created_at) WHERE status = 'pending';";

/// Schema version 4: the sessions of one backend found without reading every session (routing
/// a message looks up the sessions that write to anyone; with 1,000 sessions a scan for them
/// took about 0.18 ms, the index 0.04, measured through Python's sqlite3).
const SCHEMA_V4: &str = "CREATE INDEX sessions_backend ON sessions (backend);";

/// Schema version 5: the sessions of one bot found without reading every session (`history`
/// filtered by bot id; with 1,000 sessions that scan made a page about a third slower than
/// the same page by session name, `bench/scale.py`).
const SCHEMA_V5: &str = "CREATE INDEX sessions_bot ON sessions (bot_id);";

/// Creates the parent directory (0700) and the file (0600) if missing, and tightens the mode
/// of an existing file and its WAL companions to 0600.
pub(super) fn prepare_file(path: &Path) -> StoreResult<()> {
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
pub(super) fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let supported = MIGRATIONS.len() as i64;
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
