//! Tests of what only the SQLite store has — [`files`]: migrations, file modes, raw-SQL corner
//! cases, two handles on one file; [`wal`]: the background checkpointer and the WAL's size;
//! [`search`]: the FTS5 case folding and the history planner's choices — and the shared
//! contract suite ([`crate::store::contract`]) run against it.

mod files;
mod search;
mod wal;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use rusqlite::{params_from_iter, Connection};

use super::fold::{contains_folded, fold, fts5_fold, is_caseless};
use super::history::{
    plan_history, run_history, settled, FtsMatch, IdRange, Settled, UserTextPlan,
};
use super::schema::MIGRATIONS;
use super::SqliteStore;
use crate::store::contract::{
    everything, ids, inbound, login, outbound, query, tok, wanted, with_token, Fixture,
};
use crate::store::{
    BackendKind, HistoryQuery, Retention, SessionStatus, Store, StoreError, StoreResult,
    DEFAULT_CONSUMER,
};

/// A fresh database file in a temporary directory.
struct SqliteFixture {
    dir: tempfile::TempDir,
}

impl SqliteFixture {
    fn new() -> Self {
        SqliteFixture {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self) -> std::path::PathBuf {
        self.dir.path().join("wxlink.db")
    }

    /// The database as an `SqliteStore` (for the raw-SQL tests).
    fn sqlite(&self) -> SqliteStore {
        SqliteStore::open(&self.path()).unwrap()
    }
}

#[async_trait]
impl Fixture for SqliteFixture {
    async fn open(&self) -> Arc<dyn Store> {
        Arc::new(self.sqlite())
    }

    async fn open_other(&self) -> Arc<dyn Store> {
        Arc::new(SqliteStore::open(&self.dir.path().join("other.db")).unwrap())
    }

    async fn check_integrity(&self, _store: &dyn Store) {
        let store = self.sqlite();
        let fk: i64 = store
            .lock()
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(fk, 0, "foreign keys");
        fts_integrity(&store);
    }
}

mod contract {
    crate::store::contract::contract_suite!(super::SqliteFixture::new());
}

/// An in-memory store with these sessions.
async fn memory_with(sessions: &[&str]) -> SqliteStore {
    let store = SqliteStore::open_in_memory().unwrap();
    crate::store::contract::log_in_all(&store, sessions).await;
    store
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
