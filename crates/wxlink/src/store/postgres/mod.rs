//! The PostgreSQL implementation of [`Store`], for several wxlink replicas sharing one
//! database: async over `tokio-postgres` with a `deadpool-postgres` pool.
//!
//! - `schema`: versioned migrations under an advisory lock; the credential key check.
//! - `crypt`: [`CredentialKey`] and the sealing of session tokens (AES-256-GCM).
//! - `sessions`, `messages`, `sends`, `history`, `import`, `copy`: the SQL of
//!   every [`Store`] operation, as plain async functions over a pooled connection.
//! - `rows`: rows into records and the one statement that inserts new messages.
//! - `notify`: `pg_notify` on every write and the listener behind [`Store::notices`].
//! - `lease`: [`PgLeases`], the listener leases behind [`Store::leases`].
//! - `tls`: the URL's `sslmode` and `sslrootcert`, and the rustls connector of every
//!   connection.
//! - `error`: driver errors into [`StoreError`].
//!
//! The invariants of [`crate::store`] hold across replicas: ingest is one transaction with
//! de-duplication on `(session, direction, dedupe_key)`; ids are drawn under one advisory lock
//! so they become visible in id order (see `messages`); a claim locks its consumer's row; a
//! reservation is one conditional `UPDATE`.
//!
//! Credentials: session bearer tokens are encrypted with the [`CredentialKey`]; context tokens
//! and message bodies are stored plain (see `crypt`). SQLite instead relies on its file's
//! mode (0600).

mod copy;
mod crypt;
mod error;
mod history;
mod import;
mod lease;
mod messages;
mod notify;
mod rows;
mod schema;
mod sends;
mod sessions;
#[cfg(test)]
mod tests;
mod tls;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio::sync::broadcast;

use self::crypt::Sealer;
use self::error::PgError;
use self::notify::Listener;
use super::{
    BackendKind, ContextRecord, HistoryPage, HistoryQuery, ImportOutcome, ImportedSession,
    LoginRecord, NewMessage, Notice, Reservation, RestoreOutcome, Retention, RouteCandidates,
    Secret, SessionPresence, SessionRecord, SessionStatus, Store, StoreError, StoreResult,
    StoreState, StoredMessage,
};

pub use self::crypt::{CredentialKey, InvalidKey};
pub use self::lease::PgLeases;

/// How long opening a connection may take, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Connections kept by the pool when none is chosen.
pub const DEFAULT_POOL_SIZE: usize = 16;

/// How a [`PgStore`] connects, besides the URL and the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PgOptions {
    /// Most connections the pool opens (the listener and the lease connection are extra).
    pub pool_size: usize,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions {
            pool_size: DEFAULT_POOL_SIZE,
        }
    }
}

/// A store in a PostgreSQL database, shared by any number of processes and hosts.
///
/// Cheap to clone (clones share the pool, the listener and the leases). The notification
/// listener stops when the last clone is dropped.
#[derive(Clone)]
pub struct PgStore {
    inner: Arc<Inner>,
}

struct Inner {
    pool: Pool,
    sealer: Sealer,
    notices: broadcast::Sender<Notice>,
    leases: Arc<PgLeases>,
    /// Stops the listener when the last handle goes.
    _listener: Listener,
}

impl fmt::Debug for PgStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The URL can hold a password: never printed.
        let status = self.inner.pool.status();
        f.debug_struct("PgStore")
            .field("pool_size", &status.max_size)
            .field("connections", &status.size)
            .finish_non_exhaustive()
    }
}

impl PgStore {
    /// The schema version this build writes (the number of migrations).
    pub const SCHEMA_VERSION: i64 = schema::MIGRATIONS.len() as i64;

    /// Connects to the database at `url` (`postgres://user:password@host:port/db` or a
    /// `key=value` string) with [`PgOptions::default`]: see [`PgStore::connect_with`].
    pub async fn connect(url: &str, key: CredentialKey) -> StoreResult<PgStore> {
        PgStore::connect_with(url, key, PgOptions::default()).await
    }

    /// Connects, brings the schema up to date (once, whatever the number of replicas starting
    /// together), checks `key` against the database's ([`StoreError::WrongKey`]), and starts
    /// the notification listener. Every connection gets TCP keepalives (a server that stops
    /// answering is noticed within seconds) and, unless the URL sets one, a 10 s connect
    /// timeout. Fails with [`StoreError::TooNew`] when a newer wxlink wrote
    /// the database. TLS follows the URL's `sslmode` (`prefer` unless it says): see `tls` for
    /// what each mode verifies and `sslrootcert`.
    pub async fn connect_with(
        url: &str,
        key: CredentialKey,
        options: PgOptions,
    ) -> StoreResult<PgStore> {
        let (mut config, tls) = tls::parse(url)?;
        let tls = tls::connector(&tls).await?;
        if config.get_application_name().is_none() {
            config.application_name("wxlink");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        // A server that stopped answering shows up within seconds, not at the OS's timeout.
        config
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(5))
            .keepalives_interval(Duration::from_secs(1))
            .keepalives_retries(3);
        let manager = Manager::from_config(
            config.clone(),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.pool_size.max(1))
            .build()
            .map_err(|e| StoreError::database(PgError::new(format!("connection pool: {e}"))))?;
        let sealer = Sealer::new(&key);
        {
            let mut client = pool.get().await?;
            schema::migrate(&mut client).await?;
            schema::check_key(&client, &sealer).await?;
        }
        let (notices, _) = broadcast::channel(notify::CAPACITY);
        let mut listen = config.clone();
        listen.application_name("wxlink-listen");
        let listener = Listener::start(listen, tls.clone(), notices.clone()).await?;
        let leases = Arc::new(PgLeases::new(config, tls, pool.clone()));
        Ok(PgStore {
            inner: Arc::new(Inner {
                pool,
                sealer,
                notices,
                leases,
                _listener: listener,
            }),
        })
    }

    /// The database's schema version.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        schema::version(&self.client().await?).await
    }

    /// A pooled connection.
    async fn client(&self) -> StoreResult<deadpool_postgres::Client> {
        Ok(self.inner.pool.get().await?)
    }

    fn sealer(&self) -> &Sealer {
        &self.inner.sealer
    }
}

#[async_trait]
impl Store for PgStore {
    async fn sessions(&self) -> StoreResult<Vec<SessionRecord>> {
        sessions::sessions(&self.client().await?, self.sealer()).await
    }

    async fn sessions_with_bot(&self, bot_id: &str) -> StoreResult<Vec<SessionRecord>> {
        sessions::sessions_with_bot(&self.client().await?, self.sealer(), bot_id).await
    }

    async fn session(&self, name: &str) -> StoreResult<Option<SessionRecord>> {
        sessions::session(&self.client().await?, self.sealer(), name).await
    }

    async fn save_login(&self, name: &str, login: &LoginRecord) -> StoreResult<SessionRecord> {
        sessions::save_login(&mut self.client().await?, self.sealer(), name, login).await
    }

    async fn set_status(&self, name: &str, status: SessionStatus) -> StoreResult<()> {
        sessions::set_status(&mut self.client().await?, name, status).await
    }

    async fn set_problem(&self, name: &str, problem: Option<&str>) -> StoreResult<()> {
        sessions::set_problem(&mut self.client().await?, name, problem).await
    }

    async fn logout(&self, name: &str) -> StoreResult<()> {
        sessions::logout(&mut self.client().await?, name).await
    }

    async fn rename_session(&self, old: &str, new: &str) -> StoreResult<()> {
        sessions::rename_session(&mut self.client().await?, old, new).await
    }

    async fn set_default(&self, name: &str) -> StoreResult<()> {
        sessions::set_default(&mut self.client().await?, name).await
    }

    async fn default_session(&self) -> StoreResult<Option<String>> {
        sessions::default_session(&self.client().await?).await
    }

    async fn session_presence(&self) -> StoreResult<SessionPresence> {
        sessions::session_presence(&self.client().await?).await
    }

    async fn cursor(&self, session: &str) -> StoreResult<String> {
        sessions::cursor(&self.client().await?, session).await
    }

    async fn ingest_from(
        &self,
        session: &str,
        batch: Vec<NewMessage>,
        from: Option<&str>,
        cursor: &str,
    ) -> StoreResult<Vec<i64>> {
        messages::ingest(&mut self.client().await?, session, &batch, from, cursor).await
    }

    async fn contexts_for_user(&self, user_id: &str) -> StoreResult<Vec<ContextRecord>> {
        sessions::contexts_for_user(&self.client().await?, user_id).await
    }

    async fn route_candidates(
        &self,
        user_id: &str,
        open: &[BackendKind],
    ) -> StoreResult<RouteCandidates> {
        let client = self.client().await?;
        // Both statements go out at once on the one connection (pipelined).
        let (contexts, sessions) = tokio::join!(
            sessions::contexts_for_user(&client, user_id),
            sessions::route_sessions(&client, self.sealer(), user_id, open)
        );
        Ok(RouteCandidates {
            contexts: contexts?,
            sessions: sessions?,
        })
    }

    async fn contexts(&self, session: Option<&str>) -> StoreResult<Vec<ContextRecord>> {
        sessions::contexts(&self.client().await?, session).await
    }

    async fn reserve_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
        quota: u32,
    ) -> StoreResult<Option<u32>> {
        let client = self.client().await?;
        sends::reserve_send(&client, session, user_id, token.expose_str(), quota).await
    }

    async fn refund_send(
        &self,
        session: &str,
        user_id: &str,
        token: &Secret<String>,
    ) -> StoreResult<()> {
        let client = self.client().await?;
        sends::refund_send(&client, session, user_id, token.expose_str()).await
    }

    async fn begin_send(
        &self,
        message: NewMessage,
        reservation: Option<Reservation>,
    ) -> StoreResult<Option<i64>> {
        sends::begin_send(&mut self.client().await?, &message, reservation.as_ref()).await
    }

    async fn finish_send(&self, id: i64, outcome: NewMessage, refund: bool) -> StoreResult<()> {
        sends::finish_send(&mut self.client().await?, id, &outcome, refund).await
    }

    async fn settle_pending(&self, before_ms: i64) -> StoreResult<u64> {
        sends::settle_pending(&self.client().await?, before_ms).await
    }

    async fn record_outbound(&self, message: NewMessage) -> StoreResult<i64> {
        sends::record_outbound(&mut self.client().await?, &message).await
    }

    async fn message(&self, id: &str) -> StoreResult<Option<StoredMessage>> {
        messages::message(&self.client().await?, id).await
    }

    async fn history(&self, query: &HistoryQuery) -> StoreResult<HistoryPage> {
        history::history(&mut self.client().await?, query).await
    }

    async fn latest_id(&self) -> StoreResult<i64> {
        messages::latest_id(&self.client().await?).await
    }

    async fn count_inbound_after(&self, after_id: i64, cap: u32) -> StoreResult<u64> {
        messages::count_inbound_after(&self.client().await?, after_id, cap).await
    }

    async fn conversations(
        &self,
        session: Option<&str>,
        limit: u32,
    ) -> StoreResult<Vec<StoredMessage>> {
        messages::conversations(&self.client().await?, session, limit).await
    }

    async fn last_session_with(&self, peer: &str) -> StoreResult<Option<String>> {
        messages::last_session_with(&self.client().await?, peer).await
    }

    async fn claim_inbox(&self, consumer: &str, limit: u32) -> StoreResult<Vec<StoredMessage>> {
        messages::claim_inbox(&mut self.client().await?, consumer, limit).await
    }

    async fn seek_consumer(&self, consumer: &str, last_id: i64) -> StoreResult<()> {
        messages::seek_consumer(&self.client().await?, consumer, last_id).await
    }

    async fn release_claim(
        &self,
        consumer: &str,
        first_id: i64,
        last_id: i64,
    ) -> StoreResult<bool> {
        messages::release_claim(&self.client().await?, consumer, first_id, last_id).await
    }

    async fn prune(&self, retention: Retention) -> StoreResult<u64> {
        messages::prune(&mut self.client().await?, retention).await
    }

    async fn import_session(
        &self,
        session: ImportedSession,
        dry_run: bool,
    ) -> StoreResult<ImportOutcome> {
        import::import_session(&mut self.client().await?, self.sealer(), &session, dry_run).await
    }

    async fn import_messages(
        &self,
        session: &str,
        messages: Vec<NewMessage>,
        dry_run: bool,
    ) -> StoreResult<(u64, u64)> {
        import::import_messages(&mut self.client().await?, session, &messages, dry_run).await
    }

    async fn export_state(&self) -> StoreResult<StoreState> {
        copy::export_state(&mut self.client().await?, self.sealer()).await
    }

    async fn restore_state(&self, state: &StoreState) -> StoreResult<()> {
        copy::restore_state(&mut self.client().await?, self.sealer(), state).await
    }

    async fn messages_after(&self, after_id: i64, limit: u32) -> StoreResult<Vec<StoredMessage>> {
        copy::messages_after(&self.client().await?, after_id, limit).await
    }

    async fn restore_messages(&self, messages: Vec<StoredMessage>) -> StoreResult<RestoreOutcome> {
        copy::restore_messages(&mut self.client().await?, &messages).await
    }

    fn notices(&self) -> Option<broadcast::Receiver<Notice>> {
        Some(self.inner.notices.subscribe())
    }

    fn leases(&self) -> Option<Arc<dyn crate::coord::Leases>> {
        Some(self.inner.leases.clone())
    }
}
