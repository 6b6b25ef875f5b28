//! Background listening: one listener per logged-in session, all sessions at once, at most one
//! per account across every process sharing the data directory.
//!
//! - A supervisor reconciles the running listeners with the sessions table every second (and at
//!   once on [`Event::SessionsChanged`]), so a login in another process starts listening here,
//!   and a logout, rename or re-login stops or restarts the listener.
//! - Each listener first takes its account's lock ([`crate::coord`]). Without it, it waits and
//!   retries; other processes then read what the lock holder stores.
//! - The backend's listener ([`Upstream::listen`]) stores through a [`Sink`] the service gives
//!   it: every batch with its cursor in one transaction, readers woken, expiry recorded here.
//! - Retention is applied once a minute when set; memory freed by a burst is handed back to
//!   the system once it is over ([`memory`]).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::coord::Lease;
use crate::model::{BackendKind, Direction, Secret};
use crate::service::changes::Notices;
use crate::service::{memory, Event, Service};
use crate::store::{NewMessage, Notice, SessionRecord, StoreResult};
use crate::upstream::{pause, Shutdown, Sink};

/// How often the listeners are reconciled with the sessions without a wake-up, when the store
/// pushes no notices.
const RECONCILE: Duration = Duration::from_secs(1);

/// How often retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The running listeners of this process.
pub struct Pollers {
    shutdown: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
    trimmer: JoinHandle<()>,
}

impl Pollers {
    /// Starts the supervisor (it starts the listeners).
    pub fn start(service: Arc<Service>) -> Pollers {
        let (tx, rx) = watch::channel(false);
        let trimmer = tokio::spawn(memory::trim_after_bursts(rx.clone()));
        let supervisor = tokio::spawn(supervise(service, rx));
        Pollers {
            shutdown: tx,
            supervisor,
            trimmer,
        }
    }

    /// Stops every listener cleanly (iLink sends `notifystop`) and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.supervisor.await;
        let _ = self.trimmer.await;
    }
}

/// Identity of a listener: a session with the credentials it was started with.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TaskKey {
    name: String,
    backend: BackendKind,
    token: Secret<String>,
    endpoint: Option<String>,
}

fn wanted(s: &SessionRecord) -> Option<TaskKey> {
    (s.is_connected() && s.bot_id.is_some()).then_some(())?;
    Some(TaskKey {
        name: s.name.clone(),
        backend: s.backend,
        token: s.token.clone()?,
        endpoint: s.base_url.clone(),
    })
}

async fn supervise(service: Arc<Service>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: HashMap<TaskKey, JoinHandle<()>> = HashMap::new();
    let mut events = service.subscribe();
    let mut notices = Notices::of(service.store());
    let mut last_prune = Instant::now();
    let mut files_warned = false;
    // With the store's notices a login on another host wakes this at once; the tick is then
    // only for retention and a safety net.
    let mut tick = tokio::time::interval(notices.check_every(RECONCILE, PRUNE_EVERY));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tasks.retain(|_, h| !h.is_finished());
        match service.store().sessions().await {
            Ok(sessions) => {
                if !files_warned {
                    files_warned = warn_if_too_few_files(
                        sessions.iter().filter(|s| wanted(s).is_some()).count(),
                    );
                }
                for s in &sessions {
                    if let Some(key) = wanted(s) {
                        if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(key) {
                            let task = tokio::spawn(listen(
                                service.clone(),
                                slot.key().clone(),
                                shutdown.clone(),
                            ));
                            slot.insert(task);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list sessions; retrying"),
        }
        let retention = service.retention();
        if retention.is_set() && last_prune.elapsed() >= PRUNE_EVERY {
            last_prune = Instant::now();
            match service.store().prune(retention).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(deleted = n, "retention applied"),
                Err(e) => tracing::warn!(error = %e, "retention failed"),
            }
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tick.tick() => {}
            open = sessions_event(&mut events) => if !open { break },
            _ = sessions_notice(&mut notices) => {}
        }
    }
    for (_, handle) in tasks {
        let _ = handle.await;
    }
}

/// Open files a listener needs (its connection and its lock file), and what the rest of the
/// process needs (the database, the clients' connections).
const FILES_PER_LISTENER: u64 = 2;
const FILES_BESIDES: u64 = 64;

/// Warns (once: true) when `listeners` would need more open files than the process may hold:
/// the accounts past the limit would fail with "Too many open files" over and over.
fn warn_if_too_few_files(listeners: usize) -> bool {
    let Ok((soft, _)) = rlimit::getrlimit(rlimit::Resource::NOFILE) else {
        return false;
    };
    let need = listeners as u64 * FILES_PER_LISTENER + FILES_BESIDES;
    if need <= soft {
        return false;
    }
    tracing::warn!(
        accounts = listeners,
        limit = soft,
        "{listeners} accounts need about {need} open files but this process may open {soft}: \
         raise the limit (`ulimit -n`, LimitNOFILE= in a systemd unit, --ulimit nofile= for Docker)"
    );
    true
}

/// Waits for an event that can change which listeners should run (anything but stored
/// messages); false once the bus has closed.
async fn sessions_event(events: &mut tokio::sync::broadcast::Receiver<Event>) -> bool {
    loop {
        match events.recv().await {
            Err(tokio::sync::broadcast::error::RecvError::Closed) => return false,
            Ok(
                Event::Inbound { .. }
                | Event::SessionHealth { .. }
                | Event::Outbound { .. }
                | Event::MessageStatus { .. },
            ) => continue,
            _ => return true,
        }
    }
}

/// Waits for a store notice that can change which listeners should run (sessions changed, or
/// notices were missed); never completes when the store pushes none.
async fn sessions_notice(notices: &mut Notices) {
    while let Notice::Messages { .. } = notices.next().await {}
}

/// The session still exists, is connected, and has the credentials the task started with.
async fn still_wanted(service: &Service, key: &TaskKey) -> bool {
    matches!(service.store().session(&key.name).await, Ok(Some(s)) if wanted(&s).as_ref() == Some(key))
}

/// Takes the listener lease `name`, retrying while another process (or replica) holds it.
async fn acquire(
    service: &Service,
    key: &TaskKey,
    name: &str,
    shutdown: &mut Shutdown,
) -> Option<Lease> {
    let mut announced = false;
    loop {
        match service.leases().try_acquire(name).await {
            Ok(Some(lease)) => return Some(lease),
            Ok(None) => {
                if !announced {
                    tracing::info!(session = %key.name, "another process is polling this account; reading from the store");
                    announced = true;
                }
            }
            Err(e) => {
                // The database may be back in a moment (a lease on PostgreSQL); a lock file
                // that cannot be opened will not, but retrying costs one open per interval.
                tracing::warn!(session = %key.name, error = %e, "cannot take the poll lease; retrying");
            }
        }
        if pause(service.leases().retry(), shutdown).await || !still_wanted(service, key).await {
            return None;
        }
    }
}

/// One session's listener: its lease, then the backend's listener until it ends — and, should
/// the lease be lost (the database let it go: another replica may poll now), the lease again.
async fn listen(service: Arc<Service>, key: TaskKey, mut shutdown: Shutdown) {
    let upstream = service.upstream(key.backend).clone();
    let session = match service.store().session(&key.name).await {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    let Some(lease_name) = upstream.listener_lock(&session) else {
        return;
    };
    loop {
        let Some(lease) = acquire(&service, &key, &lease_name, &mut shutdown).await else {
            return;
        };
        // The session may have changed while we waited for the lease.
        let session = match service.store().session(&key.name).await {
            Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
            _ => return,
        };
        let sink = Arc::new(SessionSink {
            service: service.clone(),
            key: key.clone(),
            wanted_at: std::sync::Mutex::new(None),
        });
        // The listener stops on shutdown or when the lease is lost, whichever comes first.
        let (stop_tx, stop_rx) = watch::channel(*shutdown.borrow());
        let listener = upstream.listen(session, sink, stop_rx);
        tokio::pin!(listener);
        let lost = tokio::select! {
            _ = &mut listener => return,
            _ = shutdown.wait_for(|stop| *stop) => false,
            _ = lease.lost() => true,
        };
        let _ = stop_tx.send(true);
        listener.await;
        drop(lease);
        if !lost {
            return;
        }
        tracing::warn!(session = %key.name, "the poll lease was lost; stopped listening, taking it again");
    }
}

/// How long a listener's "still wanted" answer stands: listeners ask after every batch, and a
/// session that is logged out, renamed or logged in again elsewhere is let go within this.
const WANTED_FOR: Duration = Duration::from_secs(1);

/// The service's side of a listener: storing, waking readers, expiry.
struct SessionSink {
    service: Arc<Service>,
    key: TaskKey,
    /// When the session was last found still wanted.
    wanted_at: std::sync::Mutex<Option<Instant>>,
}

#[async_trait]
impl Sink for SessionSink {
    async fn cursor(&self) -> StoreResult<String> {
        self.service.store().cursor(&self.key.name).await
    }

    async fn store(
        &self,
        batch: Vec<NewMessage>,
        from: Option<String>,
        cursor: String,
    ) -> StoreResult<Vec<i64>> {
        memory::received(batch.len());
        let inbound = batch.iter().any(|m| m.direction == Direction::In);
        let ids = self
            .service
            .store()
            .ingest_from(&self.key.name, batch, from.as_deref(), &cursor)
            .await?;
        if !ids.is_empty() && inbound {
            tracing::trace!(target: "wxlink::timing", count = ids.len(), "stored");
            tracing::debug!(session = %self.key.name, count = ids.len(), "stored inbound messages");
            self.service.emit(Event::Inbound {
                session: self.key.name.clone(),
                ids: ids.clone(),
            });
        }
        Ok(ids)
    }

    fn stores_in_order(&self) -> bool {
        self.service.store().ingests_in_order()
    }

    async fn still_wanted(&self) -> bool {
        let recent = |at: &Option<Instant>| at.is_some_and(|t| t.elapsed() < WANTED_FOR);
        if recent(&self.wanted_at.lock().unwrap_or_else(|p| p.into_inner())) {
            return true;
        }
        let wanted = still_wanted(&self.service, &self.key).await;
        *self.wanted_at.lock().unwrap_or_else(|p| p.into_inner()) = wanted.then(Instant::now);
        wanted
    }

    async fn expired(&self) {
        self.service.expire_session(&self.key.name).await;
    }

    async fn problem(&self, problem: Option<String>) {
        match &problem {
            Some(why) => {
                tracing::warn!(session = %self.key.name, problem = %why, "session degraded")
            }
            None => tracing::info!(session = %self.key.name, "session works again"),
        }
        if let Err(e) = self
            .service
            .store()
            .set_problem(&self.key.name, problem.as_deref())
            .await
        {
            tracing::warn!(session = %self.key.name, error = %e, "cannot record the session's state");
        }
        self.service.emit(Event::SessionHealth {
            session: self.key.name.clone(),
            problem,
        });
    }
}
