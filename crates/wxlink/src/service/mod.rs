//! The service layer: the one place wxlink's rules live. Every frontend — the CLI, the MCP
//! server, and the REST API and admin panel to come — calls [`Service`] and nothing below it;
//! frontends only translate arguments in and results out.
//!
//! | module | rules |
//! |---|---|
//! | [`sessions`] | listing (with who polls), rename, default, logout, expiry, default names |
//! | [`login`] | QR logins of every backend: one pending login per backend, driven in the background, watched by any number of callers |
//! | [`route`] | which session (and context token) a message to someone goes through |
//! | [`send`] | checks before anything goes out, quota reservations, one item per request, every item recorded |
//! | [`typing`] | "typing…" through the routed session |
//! | [`inbox`] | `recv`: unread messages of a consumer, claimed atomically, waiting up to a timeout |
//! | [`history`] | history filters (WeiLink's spellings too) into store queries |
//! | [`import`] | sessions, context tokens and history of WeiLink and OpenClaw, merged in |
//! | [`migrate`] | a whole store copied into another (SQLite ↔ PostgreSQL), idempotent |
//! | [`download`] | media of a stored message into a directory, never escaping it |
//! | [`contacts`] | contacts and rooms by name or id, members, the users a session can answer |
//! | [`pollers`] | one listener per logged-in session, under the cross-process lock |
//! | [`events`] | what happened in this process, for whoever waits (readers, the CLI's `poll`) |
//! | [`changes`] | what changed in the store, across processes (subscriptions, list changes) |
//! | [`access`] | the access gate of the push paths: who may reach an agent, whom it may write to, pairing |
//! | [`push`] | what agents are pushed: a push consumer's unread messages after the gate, rendered for the hook and the channel |

pub mod access;
pub mod changes;
pub mod contacts;
pub mod download;
pub mod events;
pub mod history;
pub mod import;
pub mod inbox;
pub mod login;
pub mod memory;
pub mod migrate;
pub mod overview;
pub mod pollers;
pub mod push;
pub mod route;
pub mod send;
pub mod sessions;
pub mod typing;

use std::path::PathBuf;
use std::sync::Arc;

use crate::coord::{FileLeases, Leases};
use crate::error::{AppError, AppResult};
use crate::model::BackendKind;
use crate::paths::DataDir;
use crate::store::{KeySource, Retention, SqliteStore, Store, StoreLocation};
use crate::upstream::{Upstream, UpstreamOptions, Upstreams};

pub use events::{Event, Events};

/// How to open the service.
#[derive(Debug, Clone, Default)]
pub struct ServiceOptions {
    /// Data directory (`-d` / `WXLINK_HOME`); `~/.wxlink` when `None`.
    pub data_dir: Option<PathBuf>,
    /// Where the upstreams are (the real hosts by default).
    pub upstream: UpstreamOptions,
    /// Message retention applied in the background.
    pub retention: Retention,
    /// Tighten a data directory others can read to 0700 (`--fix-permissions`); otherwise
    /// such a directory is only warned about.
    pub fix_permissions: bool,
    /// The store (`--database`): SQLite in the data directory when `None`.
    pub database: Option<StoreLocation>,
    /// Where a PostgreSQL store's credential key comes from.
    pub database_key: KeySource,
}

/// Warns about a data directory the group or others can read (it holds tokens and messages),
/// or makes it private when `fix` is set.
fn check_permissions(data: &DataDir, fix: bool) -> AppResult<()> {
    let Some(mode) = data.open_to_others() else {
        return Ok(());
    };
    let dir = data.root().display();
    if fix {
        data.make_private().map_err(|source| AppError::Io {
            path: data.root().to_path_buf(),
            source,
        })?;
        tracing::info!("the data directory {dir} was mode {mode:o}; it is 0700 now");
    } else {
        tracing::warn!(
            "the data directory {dir} is mode {mode:o}: others on this machine can read its \
             tokens and messages. Run once with --fix-permissions (or `chmod 700 {dir}`)"
        );
    }
    Ok(())
}

/// The shared engine behind every frontend: the data directory, the store, the upstreams,
/// the event bus and the pending logins.
pub struct Service {
    data: DataDir,
    store: Arc<dyn Store>,
    leases: Arc<dyn Leases>,
    upstreams: Upstreams,
    events: Events,
    retention: Retention,
    logins: login::Logins,
    changes: tokio::sync::OnceCell<changes::Changes>,
}

impl std::fmt::Debug for Service {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Service")
            .field("data", &self.data.root())
            .finish_non_exhaustive()
    }
}

impl Service {
    /// Opens the data directory and its SQLite store (whatever `options.database` says; see
    /// [`Service::connect`]). Does no network I/O. Blocking (it opens the database): call it
    /// before serving.
    pub fn open(options: ServiceOptions) -> AppResult<Arc<Service>> {
        let data = DataDir::resolve(options.data_dir.as_deref())?;
        check_permissions(&data, options.fix_permissions)?;
        let store = Arc::new(SqliteStore::open(&data.database())?);
        Ok(Self::with_store(data, store, options))
    }

    /// Opens the data directory and the store `options` name (SQLite in the data directory, or
    /// PostgreSQL shared with other replicas). Does no network I/O but the database's.
    pub async fn connect(options: ServiceOptions) -> AppResult<Arc<Service>> {
        let data = DataDir::resolve(options.data_dir.as_deref())?;
        check_permissions(&data, options.fix_permissions)?;
        let location = options
            .database
            .clone()
            .unwrap_or_else(|| StoreLocation::Sqlite(data.database()));
        let store = crate::store::open::open(&location, &options.database_key).await?;
        Ok(Self::with_store(data, store, options))
    }

    /// The service over an already open store.
    pub fn with_store(
        data: DataDir,
        store: Arc<dyn Store>,
        options: ServiceOptions,
    ) -> Arc<Service> {
        // A store shared across hosts coordinates its listeners itself; processes sharing a
        // data directory use its file locks.
        let leases = store
            .leases()
            .unwrap_or_else(|| Arc::new(FileLeases::new(data.clone())));
        Arc::new(Service {
            data,
            store,
            leases,
            upstreams: Upstreams::new(&options.upstream),
            events: Events::new(),
            retention: options.retention,
            logins: login::Logins::default(),
            changes: tokio::sync::OnceCell::new(),
        })
    }

    /// The data directory.
    pub fn data(&self) -> &DataDir {
        &self.data
    }

    /// The store. Frontends go through the service's methods; this is for the service's own
    /// modules, tests and benchmarks.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Who listens to which account (file locks, or the shared store's leases).
    pub fn leases(&self) -> &Arc<dyn Leases> {
        &self.leases
    }

    /// The backend of `kind`.
    pub fn upstream(&self, kind: BackendKind) -> &Arc<dyn Upstream> {
        self.upstreams.get(kind)
    }

    /// Retention limits applied in the background.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// Subscribes to what happens from now on.
    pub fn subscribe(&self) -> tokio::sync::broadcast::Receiver<Event> {
        self.events.subscribe()
    }

    /// Announces something (nobody listening is fine).
    pub fn emit(&self, event: Event) {
        self.events.emit(event);
    }
}
