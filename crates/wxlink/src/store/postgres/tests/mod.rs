//! Tests of the PostgreSQL store, all against a real server (`pg-testserver`: Debian's
//! PostgreSQL in a temporary directory on a loopback port), never a mock: the shared contract
//! suite ([`crate::store::contract`]), and what only this store has — [`security`] (sealed
//! tokens, the key check, migrations), [`notices`] (LISTEN/NOTIFY across handles),
//! [`leases`] (advisory locks across stores, lost with their connection), [`concurrency`]
//! (ids visible in id order under concurrent ingest), [`search`] (the same results as
//! SQLite), [`copy`] (whole-store copies both ways) and [`tls`] (`sslmode`, `sslrootcert`,
//! every connection encrypted).
//!
//! One server serves the whole test binary (started on first use, stopped at exit), and a
//! second one with TLS on serves [`tls`]; each test gets a database of its own. Without PostgreSQL installed the tests fail, saying how to
//! install it (`tests/postgres/install.sh`): they never skip.

mod concurrency;
mod copy;
mod leases;
mod notices;
mod search;
mod security;
mod tls;

use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};

use async_trait::async_trait;
use pg_testserver::PgServer;

use super::{CredentialKey, PgStore};
use crate::store::contract::Fixture;
use crate::store::Store;

/// A server for the whole test binary, started on first use and stopped at exit.
pub(super) struct Shared {
    server: Mutex<Option<PgServer>>,
    port: u16,
    /// The server's temporary directory.
    dir: PathBuf,
}

type Cell = OnceLock<Result<Shared, String>>;

impl Shared {
    /// The server of `cell`, started by `start` the first time; `stop` (which calls
    /// [`Shared::stop`] on `cell`) runs at exit, since a `static` is never dropped.
    pub(super) fn get(
        cell: &'static Cell,
        start: impl FnOnce() -> Result<PgServer, String>,
        stop: extern "C" fn(),
    ) -> &'static Shared {
        let shared = cell.get_or_init(|| {
            let server = start()?;
            // SAFETY: registers a plain function with no arguments, as atexit requires.
            unsafe { libc::atexit(stop) };
            Ok(Shared {
                port: server.port(),
                dir: server.dir().to_owned(),
                server: Mutex::new(Some(server)),
            })
        });
        match shared {
            Ok(shared) => shared,
            Err(e) => panic!(
                "the PostgreSQL store's tests need a PostgreSQL server and could not start one \
                 (tests/postgres/install.sh installs Debian's postgresql): {e}"
            ),
        }
    }

    /// Stops the server of `cell`, if it started.
    pub(super) fn stop(cell: &Cell) {
        if let Some(Ok(shared)) = cell.get() {
            let server = shared
                .server
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take();
            drop(server);
        }
    }

    /// Runs `sql` in database `db` with `psql`; its output (unaligned, tuples only).
    pub(super) fn psql(&self, db: &str, sql: &str) -> String {
        let server = self.server.lock().unwrap_or_else(PoisonError::into_inner);
        let server = server.as_ref().expect("the server is running");
        server
            .psql(db, sql)
            .unwrap_or_else(|e| panic!("psql {sql:?}: {e}"))
    }

    /// The URL of database `db`.
    pub(super) fn url(&self, db: &str) -> String {
        format!(
            "postgres://{}@127.0.0.1:{}/{db}",
            pg_testserver::USER,
            self.port
        )
    }

    /// A new, empty database; its name.
    pub(super) fn new_database(&self) -> String {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "wx_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        );
        self.psql("postgres", &format!("CREATE DATABASE \"{name}\""));
        name
    }
}

static SHARED: Cell = OnceLock::new();

extern "C" fn stop_server() {
    Shared::stop(&SHARED);
}

/// The test binary's plain server (no TLS).
pub(super) fn shared() -> &'static Shared {
    Shared::get(
        &SHARED,
        || PgServer::start().map_err(|e| e.to_string()),
        stop_server,
    )
}

/// Runs `sql` in database `db` with `psql`; its output (unaligned, tuples only).
pub(super) fn psql(db: &str, sql: &str) -> String {
    shared().psql(db, sql)
}

/// The URL of database `db`.
pub(super) fn url(db: &str) -> String {
    shared().url(db)
}

/// A new, empty database; its name.
pub(super) fn new_database() -> String {
    shared().new_database()
}

/// A fresh database per test, opened with one key.
pub(super) struct PgFixture {
    pub(super) db: String,
    pub(super) key: CredentialKey,
}

impl PgFixture {
    pub(super) fn new() -> Self {
        PgFixture {
            db: new_database(),
            key: CredentialKey::generate(),
        }
    }

    /// A new handle on the database, as a `PgStore`.
    pub(super) async fn pg(&self) -> PgStore {
        PgStore::connect(&url(&self.db), self.key.clone())
            .await
            .unwrap()
    }

    /// `sql` in this fixture's database.
    pub(super) fn psql(&self, sql: &str) -> String {
        psql(&self.db, sql)
    }
}

#[async_trait]
impl Fixture for PgFixture {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(self.pg().await)
    }

    async fn open_other(&self) -> Arc<dyn Store> {
        let store = PgStore::connect(&url(&new_database()), self.key.clone())
            .await
            .unwrap();
        Arc::new(store)
    }

    async fn check_integrity(&self, _store: &dyn Store) {
        // Every folded text is its text folded, stored only where folding changes it.
        let client = raw_client(&self.db).await;
        let rows = client
            .query(
                "SELECT id, text, text_folded FROM messages WHERE text IS NOT NULL",
                &[],
            )
            .await
            .unwrap();
        for row in rows {
            let (id, text, folded): (i64, String, Option<String>) =
                (row.get(0), row.get(1), row.get(2));
            let want = crate::store::sqlite::fold::fold(&text);
            let want = (want != text).then_some(want);
            assert_eq!(folded, want, "message {id}: text_folded");
        }
    }
}

/// A plain connection to database `db` (its driver task spawned).
pub(super) async fn raw_client(db: &str) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&url(db), tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(connection);
    client
}

mod contract {
    crate::store::contract::contract_suite!(super::PgFixture::new());
}
