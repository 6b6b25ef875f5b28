//! The embedded SQLite implementation of [`Store`]: one database file (WAL) holding sessions,
//! upstream cursors, context tokens, messages with their full-text index, and consumer
//! cursors.
//!
//! - [`schema`]: the migrations, the file's mode (0600) and the connection settings.
//! - [`ops`]: the SQL of every [`Store`] operation, as plain functions over a connection.
//! - [`rows`]: rows into records, and `MessageInserts`, the one way messages are written.
//! - [`history`]: the history planner (time ranges, FTS5 trigram search, user plans).
//! - [`fold`]: case folding that agrees with the FTS5 tokenizer.
//! - [`checkpoint`]: the background WAL checkpointer.
//! - [`import`]: sessions merged from other tools (`wxlink import`).
//!
//! **Off the runtime.** SQLite is a blocking library: every [`Store`] method hands its work to
//! the store's own thread, which owns its one connection and runs the operations in the order
//! they come (a channel in, a oneshot back). One thread rather than `spawn_blocking`: the
//! operations are serialized by the one connection anyway, and under load the queue is drained
//! without a thread wake-up per call, where blocking-pool threads would contend for the
//! connection. Batches of messages waiting one behind another share one transaction (group
//! commit); should one fail, the group is rolled back and each batch stored again in a
//! transaction of its own, so one that fails fails alone (no savepoints: see
//! `ops::ingest_group`). An operation
//! that panics answers its caller with an error and leaves the connection usable: every write
//! runs in a transaction, so a panic mid-way leaves nothing half-done. Several stores — in one
//! process or several — can share a file: WAL lets readers run beside the writer,
//! `busy_timeout` makes writers queue, and every write transaction starts with
//! `BEGIN IMMEDIATE` so two writers never deadlock on a lock upgrade.
//!
//! **Messages** are split in two tables with the same id: `messages` holds what history filters
//! on plus the text (small rows, cheap to scan), `message_bodies` the items, raw JSON and other
//! per-message details. Ids come from `AUTOINCREMENT` and are never reused. `messages_fts` is
//! an external-content FTS5 table over `messages.text` with the `trigram` tokenizer; inserts
//! are indexed by the code that makes them, once per transaction; deletes and text updates by
//! triggers.
//!
//! Credentials (session tokens, context tokens) are kept in plain text and protected by the
//! file's mode (0600 in a 0700 directory).

mod checkpoint;
mod copy;
pub(crate) mod fold;
mod history;
mod import;
mod ops;
mod rows;
mod schema;
mod sends;
#[cfg(test)]
mod tests;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::config::DbConfig;
use rusqlite::Connection;

use self::checkpoint::Checkpointer;
use self::schema::{BUSY_TIMEOUT_MS, CACHE_KIB, MIGRATIONS, STATEMENT_CACHE, WAL_LIMIT_BYTES};
use super::{
    BackendKind, ContextRecord, HistoryPage, HistoryQuery, ImportOutcome, ImportedSession,
    LoginRecord, NewMessage, Reservation, RestoreOutcome, Retention, RouteCandidates, Secret,
    SessionPresence, SessionRecord, SessionStatus, Store, StoreError, StoreResult, StoreState,
    StoredMessage,
};

impl From<rusqlite::Error> for StoreError {
    fn from(e: rusqlite::Error) -> Self {
        StoreError::database(e)
    }
}

/// The embedded store: one SQLite file (or an in-memory database for tests).
///
/// Cheap to clone (clones share the connection). Open one per process (or several — they
/// coordinate through SQLite's locks).
#[derive(Debug, Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// Operations for the store's thread; dropped with the store, which ends the thread.
    jobs: mpsc::Sender<Job>,
    /// The most batches one group commit has stored together.
    largest_group: Arc<AtomicUsize>,
    /// The connection the store's thread holds, for this module's tests.
    #[cfg(test)]
    conn: Arc<Mutex<Connection>>,
    /// Dropped with the store, which ends the checkpoint thread (if any).
    checkpointer: Option<Checkpointer>,
}

/// One operation for the store's thread.
enum Job {
    /// Anything, run on its own.
    Run(Box<dyn FnOnce(&mut Connection) + Send>),
    /// A batch of messages with its cursor: batches waiting together share one transaction.
    Ingest(IngestJob),
}

/// A batch waiting to be stored, and whom to answer.
struct IngestJob {
    session: String,
    batch: Vec<NewMessage>,
    /// The batch's JSON columns, encoded before the job reaches the store's thread.
    encoded: Vec<rows::Encoded>,
    from: Option<String>,
    cursor: String,
    answer: tokio::sync::oneshot::Sender<StoreResult<Vec<i64>>>,
}

/// Most batches, and most messages, one group commit takes (a bound on its latency).
const GROUP_BATCHES: usize = 256;
const GROUP_MESSAGES: usize = 20_000;

/// The connection (uncontended but for this module's tests); a poisoned lock is taken over
/// (see the module docs).
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The store's thread: runs the operations in order until the store is dropped. Batches of
/// messages that wait one after another are stored in one transaction (group commit: with a
/// thousand accounts answering at once, a commit per batch would write the same index pages
/// a thousand times); each is still answered on its own, after the commit.
fn serve(
    conn: Arc<Mutex<Connection>>,
    jobs: mpsc::Receiver<Job>,
    largest: Arc<AtomicUsize>,
    cut_wal: Arc<AtomicBool>,
) {
    let mut next = None;
    loop {
        let job = match next.take() {
            Some(job) => job,
            None => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
        };
        // A panic drops the job's answer channels: its callers get an error.
        let ran = match job {
            Job::Run(op) => catch_unwind(AssertUnwindSafe(|| op(&mut lock(&conn)))),
            Job::Ingest(first) => {
                let mut messages = first.batch.len();
                let mut group = vec![first];
                while group.len() < GROUP_BATCHES && messages < GROUP_MESSAGES {
                    match jobs.try_recv() {
                        Ok(Job::Ingest(job)) => {
                            messages += job.batch.len();
                            group.push(job);
                        }
                        Ok(other) => {
                            next = Some(other);
                            break;
                        }
                        Err(_) => break,
                    }
                }
                largest.fetch_max(group.len(), Ordering::Relaxed);
                catch_unwind(AssertUnwindSafe(|| ingest_group(&mut lock(&conn), group)))
            }
        };
        if ran.is_err() {
            tracing::error!("a store operation panicked; its transaction was rolled back");
        }
        if cut_wal.swap(false, Ordering::Relaxed) {
            cut_back_wal(&lock(&conn));
        }
    }
}

/// Copies the whole WAL into the database and empties it, between two transactions of the
/// only writer (asked by the checkpointer when the WAL passed its limit). Waits for other
/// processes' readers and writers up to the busy timeout; if they hold on, the checkpointer
/// asks again at its next tick.
fn cut_back_wal(conn: &Connection) {
    match conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    }) {
        Ok(0) => tracing::debug!("WAL cut back"),
        Ok(_) => tracing::debug!("WAL not cut back: another process is reading or writing"),
        Err(e) => tracing::warn!(error = %e, "cannot cut the WAL back"),
    }
}

/// Stores a group of batches (one alone: its own transaction) and answers each.
fn ingest_group(conn: &mut Connection, group: Vec<IngestJob>) {
    let batches: Vec<_> = group
        .iter()
        .map(|j| ops::Batch {
            session: &j.session,
            messages: &j.batch,
            encoded: &j.encoded,
            from: j.from.as_deref(),
            cursor: &j.cursor,
        })
        .collect();
    let answers = match &batches[..] {
        [one] => vec![ops::ingest(conn, *one)],
        _ => ops::ingest_group(conn, &batches),
    };
    drop(batches);
    for (job, answer) in group.into_iter().zip(answers) {
        // The caller may have stopped waiting: what it sent is stored all the same.
        let _ = job.answer.send(answer);
    }
}

impl SqliteStore {
    /// The schema version this build writes (the number of migrations).
    pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

    /// Opens (creating if needed) the database at `path` and brings its schema up to date.
    /// Blocking: call it before the runtime serves requests, or on a blocking thread.
    ///
    /// The file is created with mode 0600 (an existing one is set to 0600, and so are its
    /// `-wal`/`-shm` files); a missing parent directory is created with mode 0700. The
    /// connection runs in WAL mode with `synchronous=NORMAL`, a 5 s busy timeout and foreign
    /// keys on; a background thread checkpoints the WAL. Fails with [`StoreError::TooNew`]
    /// when a newer wxlink wrote the file.
    pub fn open(path: &Path) -> StoreResult<Self> {
        schema::prepare_file(path)?;
        let mut conn = Connection::open(path)?;
        let mode = switch_to_wal(&conn)?;
        configure(&mut conn)?;
        let wal = mode.eq_ignore_ascii_case("wal");
        let checkpointer = if wal {
            // Checkpoints move to a thread of their own (see `Checkpointer`).
            conn.pragma_update(None, "wal_autocheckpoint", 0)?;
            Some(Checkpointer::start(path)?)
        } else {
            tracing::warn!(
                mode,
                "SQLite refused WAL mode; concurrent access will be slower"
            );
            None
        };
        Self::wrap(conn, checkpointer)
    }

    /// An empty, private in-memory database (for tests and throwaway runs).
    pub fn open_in_memory() -> StoreResult<Self> {
        let mut conn = Connection::open_in_memory()?;
        configure(&mut conn)?;
        Self::wrap(conn, None)
    }

    fn wrap(conn: Connection, checkpointer: Option<Checkpointer>) -> StoreResult<Self> {
        let conn = Arc::new(Mutex::new(conn));
        let (jobs, queue) = mpsc::channel();
        let theirs = conn.clone();
        let largest_group = Arc::new(AtomicUsize::new(0));
        let largest = largest_group.clone();
        let cut_wal = checkpointer
            .as_ref()
            .map_or_else(Default::default, |c| c.cut.clone());
        std::thread::Builder::new()
            .name("wxlink-store".into())
            .spawn(move || serve(theirs, queue, largest, cut_wal))
            .map_err(StoreError::database)?;
        Ok(SqliteStore {
            inner: Arc::new(Inner {
                jobs,
                largest_group,
                #[cfg(test)]
                conn,
                checkpointer,
            }),
        })
    }

    /// How many background WAL checkpoints ran (0 for an in-memory store).
    pub fn checkpoints(&self) -> u64 {
        self.inner
            .checkpointer
            .as_ref()
            .map_or(0, |c| c.done.load(Ordering::Relaxed))
    }

    /// Runs `op` with the connection on the store's thread.
    async fn run<T, F>(&self, op: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let job = Job::Run(Box::new(move |conn| {
            // The caller may have stopped waiting (a cancelled request): nothing to tell.
            let _ = answer.send(op(conn));
        }));
        self.send(job, answered).await
    }

    /// Hands `job` to the store's thread and waits for its answer.
    async fn send<T>(
        &self,
        job: Job,
        answered: tokio::sync::oneshot::Receiver<StoreResult<T>>,
    ) -> StoreResult<T> {
        self.inner
            .jobs
            .send(job)
            .map_err(|_| StoreError::database(StoreThread::Stopped))?;
        answered
            .await
            .map_err(|_| StoreError::database(StoreThread::Panicked))?
    }

    /// The most batches one group commit has stored together so far.
    pub fn largest_ingest_group(&self) -> usize {
        self.inner.largest_group.load(Ordering::Relaxed)
    }

    /// The connection, for this module's tests.
    #[cfg(test)]
    fn lock(&self) -> MutexGuard<'_, Connection> {
        lock(&self.inner.conn)
    }
}

/// Why the store's thread gave no answer.
#[derive(Debug, thiserror::Error)]
enum StoreThread {
    #[error("the store's thread has stopped")]
    Stopped,
    #[error("the store operation panicked (see the log); nothing of it was written")]
    Panicked,
}

/// Puts the file in WAL mode (a no-op once it is); answers the mode it is in.
///
/// On a new file, processes started together all do this at once, and SQLite does it by reading
/// the header and then upgrading to write it: one that finds another upgrading gets
/// `SQLITE_BUSY` at once, without waiting in its busy handler (waiting there could deadlock).
/// It tries again every few milliseconds within the busy timeout; by then the other has
/// switched the file (seen as "database is locked" from one of eight `wxlink login`s started
/// together on a new data directory).
fn switch_to_wal(conn: &Connection) -> StoreResult<String> {
    let deadline = std::time::Instant::now() + Duration::from_millis(BUSY_TIMEOUT_MS);
    loop {
        match conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0)) {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(5));
            }
            answer => return Ok(answer?),
        }
    }
}

/// The settings every connection gets, then the migrations.
fn configure(conn: &mut Connection) -> StoreResult<()> {
    conn.busy_timeout(Duration::from_millis(BUSY_TIMEOUT_MS))?;
    conn.pragma_update(None, "synchronous", "NORMAL")?;
    conn.pragma_update(None, "foreign_keys", true)?;
    // Statement journals and the rare temporary b-tree stay in memory.
    conn.pragma_update(None, "temp_store", "MEMORY")?;
    conn.pragma_update(None, "cache_size", -CACHE_KIB)?;
    conn.pragma_update(None, "journal_size_limit", WAL_LIMIT_BYTES)?;
    // Statements are parsed once and reused (history builds a handful of shapes).
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    // ... and stay parsed: without the query planner stability guarantee SQLite re-plans a
    // statement whenever a new value is bound to a parameter it planned with (any LIMIT ?,
    // STAT4 probes), so a cached history page statement was parsed again on every call. The
    // history planner picks its plans itself (see `history.rs`), so value-blind plans lose
    // nothing.
    conn.set_db_config(DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG, true)?;
    fold::register_functions(conn)?;
    schema::migrate(conn)
}

#[async_trait]
impl Store for SqliteStore {
    async fn sessions(&self) -> StoreResult<Vec<SessionRecord>> {
        self.run(ops::sessions).await
    }

    async fn sessions_with_bot(&self, bot_id: &str) -> StoreResult<Vec<SessionRecord>> {
        let bot_id = bot_id.to_owned();
        self.run(move |c| ops::sessions_with_bot(c, &bot_id)).await
    }

    async fn session(&self, name: &str) -> StoreResult<Option<SessionRecord>> {
        let name = name.to_owned();
        self.run(move |c| ops::session(c, &name)).await
    }

    async fn save_login(&self, name: &str, login: &LoginRecord) -> StoreResult<SessionRecord> {
        let (name, login) = (name.to_owned(), login.clone());
        self.run(move |c| ops::save_login(c, &name, &login)).await
    }

    async fn set_status(&self, name: &str, status: SessionStatus) -> StoreResult<()> {
        let name = name.to_owned();
        self.run(move |c| ops::set_status(c, &name, status)).await
    }

    async fn set_problem(&self, name: &str, problem: Option<&str>) -> StoreResult<()> {
        let (name, problem) = (name.to_owned(), problem.map(str::to_owned));
        self.run(move |c| ops::set_problem(c, &name, problem.as_deref()))
            .await
    }

    async fn logout(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.run(move |c| ops::logout(c, &name)).await
    }

    async fn rename_session(&self, old: &str, new: &str) -> StoreResult<()> {
        let (old, new) = (old.to_owned(), new.to_owned());
        self.run(move |c| ops::rename_session(c, &old, &new)).await
    }

    async fn set_default(&self, name: &str) -> StoreResult<()> {
        let name = name.to_owned();
        self.run(move |c| ops::set_default(c, &name)).await
    }

    async fn default_session(&self) -> StoreResult<Option<String>> {
        self.run(ops::default_session).await
    }

    async fn session_presence(&self) -> StoreResult<SessionPresence> {
        self.run(ops::session_presence).await
    }

    async fn cursor(&self, session: &str) -> StoreResult<String> {
        let session = session.to_owned();
        self.run(move |c| ops::cursor(c, &session)).await
    }

    async fn ingest_from(
        &self,
        session: &str,
        batch: Vec<NewMessage>,
        from: Option<&str>,
        cursor: &str,
    ) -> StoreResult<Vec<i64>> {
        let (answer, answered) = tokio::sync::oneshot::channel();
        let mut batch = batch;
        let encoded = batch.iter_mut().map(rows::Encoded::take).collect();
        let job = Job::Ingest(IngestJob {
            session: session.to_owned(),
            batch,
            encoded,
            from: from.map(str::to_owned),
            cursor: cursor.to_owned(),
            answer,
        });
        self.send(job, answered).await
    }

    /// One thread takes every job from one queue, and [`Self::send`] queues it when the
    /// future is first polled, before its first wait.
    fn ingests_in_order(&self) -> bool {
        true
    }

    async fn contexts_for_user(&self, user_id: &str) -> StoreResult<Vec<ContextRecord>> {
        let user_id = user_id.to_owned();
        self.run(move |c| ops::contexts_for_user(c, &user_id)).await
    }

    async fn route_candidates(
        &self,
        user_id: &str,
        open: &[BackendKind],
    ) -> StoreResult<RouteCandidates> {
        let (user_id, open) = (user_id.to_owned(), open.to_vec());
        self.run(move |c| ops::route_candidates(c, &user_id, &open))
            .await
    }

    async fn contexts(&self, session: Option<&str>) -> StoreResult<Vec<ContextRecord>> {
        let session = session.map(str::to_owned);
        self.run(move |c| ops::contexts(c, session.as_deref()))
            .await
    }

    async fn reserve_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
        quota: u32,
    ) -> StoreResult<Option<u32>> {
        let (session, user_id, token) = (session.to_owned(), user_id.to_owned(), token.clone());
        self.run(move |c| sends::reserve_send(c, &session, &user_id, token.expose_str(), quota))
            .await
    }

    async fn refund_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
    ) -> StoreResult<()> {
        let (session, user_id, token) = (session.to_owned(), user_id.to_owned(), token.clone());
        self.run(move |c| sends::refund_send(c, &session, &user_id, token.expose_str()))
            .await
    }

    async fn begin_send(
        &self,
        message: NewMessage,
        reservation: Option<Reservation>,
    ) -> StoreResult<Option<i64>> {
        self.run(move |c| sends::begin_send(c, &message, reservation.as_ref()))
            .await
    }

    async fn finish_send(&self, id: i64, outcome: NewMessage, refund: bool) -> StoreResult<()> {
        self.run(move |c| sends::finish_send(c, id, &outcome, refund))
            .await
    }

    async fn settle_pending(&self, before_ms: i64) -> StoreResult<u64> {
        self.run(move |c| sends::settle_pending(c, before_ms)).await
    }

    async fn record_outbound(&self, message: NewMessage) -> StoreResult<i64> {
        self.run(move |c| sends::record_outbound(c, &message)).await
    }

    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>> {
        let id = id.to_owned();
        self.run(move |c| ops::message(c, &id)).await
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        let query = query.clone();
        self.run(move |c| ops::history(c, &query)).await
    }

    async fn latest_id(&self) -> StoreResult<i64> {
        self.run(ops::latest_id).await
    }

    /// SQLite's `data_version`: it moves when another connection commits (never for this
    /// store's own connection), one read of the WAL index.
    async fn version(&self) -> StoreResult<Option<u64>> {
        self.run(|c| {
            let version = c
                .prepare_cached("PRAGMA data_version")?
                .query_row([], |r| r.get::<_, i64>(0))?;
            Ok(Some(version as u64))
        })
        .await
    }

    async fn count_inbound_after(&self, after_id: i64, cap: u32) -> StoreResult<u64> {
        self.run(move |conn| ops::count_inbound_after(conn, after_id, cap))
            .await
    }

    async fn conversations(
        &self,
        session: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>> {
        let session = session.map(str::to_owned);
        self.run(move |c| ops::conversations(c, session.as_deref(), limit))
            .await
    }

    async fn last_session_with(&self, peer: &str) -> StoreResult<Option<String>> {
        let peer = peer.to_owned();
        self.run(move |c| ops::last_session_with(c, &peer)).await
    }

    async fn claim_inbox(&self, consumer: &str, limit: u32) -> StoreResult<Vec<StoredMessage>> {
        let consumer = consumer.to_owned();
        self.run(move |c| ops::claim_inbox(c, &consumer, limit))
            .await
    }

    async fn seek_consumer(&self, consumer: &str, last_id: i64) -> StoreResult<()> {
        let consumer = consumer.to_owned();
        self.run(move |c| ops::seek_consumer(c, &consumer, last_id))
            .await
    }

    async fn release_claim(
        &self,
        consumer: &str,
        first_id: i64,
        last_id: i64,
    ) -> StoreResult<bool> {
        let consumer = consumer.to_owned();
        self.run(move |c| ops::release_claim(c, &consumer, first_id, last_id))
            .await
    }

    async fn import_session(
        &self,
        session: ImportedSession,
        dry_run: bool,
    ) -> StoreResult<ImportOutcome> {
        self.run(move |c| import::import_session(c, &session, dry_run))
            .await
    }

    async fn import_messages(
        &self,
        session: &str,
        messages: Vec<NewMessage>,
        dry_run: bool,
    ) -> StoreResult<(u64, u64)> {
        let session = session.to_owned();
        self.run(move |c| import::import_messages(c, &session, &messages, dry_run))
            .await
    }

    async fn prune(&self, retention: Retention) -> StoreResult<u64> {
        self.run(move |c| ops::prune(c, retention)).await
    }

    async fn export_state(&self) -> StoreResult<StoreState> {
        self.run(copy::export_state).await
    }

    async fn restore_state(&self, state: &StoreState) -> StoreResult<()> {
        let state = state.clone();
        self.run(move |c| copy::restore_state(c, &state)).await
    }

    async fn messages_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredMessage>> {
        self.run(move |c| copy::messages_after(c, after_id, limit))
            .await
    }

    async fn restore_messages(&self, messages: Vec<StoredMessage>) -> StoreResult<RestoreOutcome> {
        self.run(move |c| copy::restore_messages(c, &messages))
            .await
    }
}
