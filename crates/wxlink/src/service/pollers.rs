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
//! - Retention is applied once a minute when set.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::coord::{self, Attempt, ListenerLock, LOCK_RETRY};
use crate::model::{BackendKind, Direction, Secret};
use crate::service::{Event, Service};
use crate::store::{NewMessage, SessionRecord, StoreResult};
use crate::upstream::{pause, Shutdown, Sink};

/// How often retention is applied.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The running listeners of this process.
pub struct Pollers {
    shutdown: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl Pollers {
    /// Starts the supervisor (it starts the listeners).
    pub fn start(service: Arc<Service>) -> Pollers {
        let (tx, rx) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(service, rx));
        Pollers {
            shutdown: tx,
            supervisor,
        }
    }

    /// Stops every listener cleanly (iLink sends `notifystop`) and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.supervisor.await;
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
    let mut last_prune = Instant::now();
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tasks.retain(|_, h| !h.is_finished());
        match service.store().sessions().await {
            Ok(sessions) => {
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
        }
    }
    for (_, handle) in tasks {
        let _ = handle.await;
    }
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

/// The session still exists, is connected, and has the credentials the task started with.
async fn still_wanted(service: &Service, key: &TaskKey) -> bool {
    matches!(service.store().session(&key.name).await, Ok(Some(s)) if wanted(&s).as_ref() == Some(key))
}

/// Takes the listener lock `name`, retrying while another process holds it.
async fn acquire(
    service: &Service,
    key: &TaskKey,
    name: &str,
    shutdown: &mut Shutdown,
) -> Option<ListenerLock> {
    let mut announced = false;
    loop {
        let (data, lock_name) = (service.data().clone(), name.to_string());
        match tokio::task::spawn_blocking(move || coord::try_lock(&data, &lock_name)).await {
            Ok(Ok(Attempt::Held(lock))) => return Some(lock),
            Ok(Ok(Attempt::Busy)) => {
                if !announced {
                    tracing::info!(session = %key.name, "another process is polling this account; reading from the store");
                    announced = true;
                }
            }
            Ok(Err(e)) => {
                tracing::warn!(session = %key.name, error = %e, "cannot take the poll lock");
                return None;
            }
            Err(e) => {
                tracing::warn!(error = %e, "the lock task failed");
                return None;
            }
        }
        if pause(LOCK_RETRY, shutdown).await || !still_wanted(service, key).await {
            return None;
        }
    }
}

/// One session's listener: its lock, then the backend's listener until it ends.
async fn listen(service: Arc<Service>, key: TaskKey, mut shutdown: Shutdown) {
    let upstream = service.upstream(key.backend).clone();
    let session = match service.store().session(&key.name).await {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    let Some(lock_name) = upstream.listener_lock(&session) else {
        return;
    };
    let Some(_lock) = acquire(&service, &key, &lock_name, &mut shutdown).await else {
        return;
    };
    // The session may have changed while we waited for the lock.
    let session = match service.store().session(&key.name).await {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    let sink = Arc::new(SessionSink {
        service: service.clone(),
        key,
        wanted_at: std::sync::Mutex::new(None),
    });
    upstream.listen(session, sink, shutdown).await;
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

    async fn store(&self, batch: Vec<NewMessage>, cursor: String) -> StoreResult<Vec<i64>> {
        let inbound = batch.iter().any(|m| m.direction == Direction::In);
        let ids = self
            .service
            .store()
            .ingest(&self.key.name, batch, &cursor)
            .await?;
        if !ids.is_empty() && inbound {
            tracing::debug!(session = %self.key.name, count = ids.len(), "stored inbound messages");
            self.service.emit(Event::Inbound {
                session: self.key.name.clone(),
                ids: ids.clone(),
            });
        }
        Ok(ids)
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
