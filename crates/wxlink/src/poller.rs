//! Background polling: one long-poll task per logged-in iLink session, all sessions at once,
//! and at most one poller per bot account across every process sharing the data directory.
//!
//! - A supervisor reconciles running tasks with the sessions table every second (and at once
//!   on [`AppEvent::SessionsChanged`]), so a login in another process starts polling here, and
//!   a logout, rename or re-login stops or restarts the task.
//! - Each task first takes the account's poll lock (an OS file lock: released by the kernel
//!   when its process dies, even by SIGKILL). Without it, the task waits and retries; other
//!   processes then read what the lock holder stores.
//! - Each batch and the new cursor are committed in one transaction ([`Store::ingest`](crate::store::Store::ingest)) on a
//!   blocking thread while the next batch is fetched (fetch and storage overlap). Commits
//!   happen in order; a failed commit drops the batch fetched meanwhile and polling resumes
//!   from the last committed cursor, so nothing is skipped. A crash replays from the last
//!   committed cursor and duplicates are absorbed by the store.
//! - Network errors, 5xx and malformed bodies back off (2 s, then 30 s after three in a row);
//!   `-14` marks the session expired, emits an event and ends the task until the next login.
//! - `msg/notifystart` is sent when polling starts, `msg/notifystop` on clean shutdown.
//! - Wechaty sessions get a listener instead: it holds the puppet service's one event stream
//!   (under the same kind of lock), stores each message it announces, and expires the session
//!   when the account logs out or the token is refused.

use std::collections::HashMap;
use std::fs::File;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::app::{App, AppEvent};
use crate::backend;
use crate::store::{NewMessage, SessionRecord, SessionStatus, StoreError, StoreResult};
use crate::timefmt::now_ms;

/// How often a task without the poll lock retries it.
const LOCK_RETRY: Duration = Duration::from_secs(2);
/// How often retention is applied by a polling task.
const PRUNE_EVERY: Duration = Duration::from_secs(60);

/// The running pollers of this process.
pub struct Pollers {
    shutdown: watch::Sender<bool>,
    supervisor: JoinHandle<()>,
}

impl Pollers {
    /// Starts the supervisor (it spawns the per-session tasks).
    pub fn start(app: Arc<App>) -> Pollers {
        let (tx, rx) = watch::channel(false);
        let supervisor = tokio::spawn(supervise(app, rx));
        Pollers {
            shutdown: tx,
            supervisor,
        }
    }

    /// Stops every task cleanly (each sends `notifystop` if it was polling) and waits for them.
    pub async fn shutdown(self) {
        let _ = self.shutdown.send(true);
        let _ = self.supervisor.await;
    }
}

/// Identity of a polling task: a session name with the credentials it was started with.
#[derive(Clone, PartialEq, Eq, Hash)]
struct TaskKey {
    name: String,
    backend: String,
    token: String,
    endpoint: Option<String>,
}

fn wanted(s: &SessionRecord) -> Option<TaskKey> {
    let known = s.backend == "ilink" || s.backend == backend::wechaty::BACKEND;
    (s.status == SessionStatus::Connected && known && s.bot_id.is_some()).then_some(())?;
    Some(TaskKey {
        name: s.name.clone(),
        backend: s.backend.clone(),
        token: s.token.clone()?,
        endpoint: s.base_url.clone(),
    })
}

async fn supervise(app: Arc<App>, mut shutdown: watch::Receiver<bool>) {
    let mut tasks: HashMap<TaskKey, JoinHandle<()>> = HashMap::new();
    let mut events = app.subscribe();
    loop {
        tasks.retain(|_, h| !h.is_finished());
        match app.store().sessions() {
            Ok(sessions) => {
                for s in &sessions {
                    if let Some(key) = wanted(s) {
                        if let std::collections::hash_map::Entry::Vacant(slot) = tasks.entry(key) {
                            let (app, key) = (app.clone(), slot.key().clone());
                            let task = if key.backend == backend::wechaty::BACKEND {
                                tokio::spawn(listen_wechaty(app, key, shutdown.clone()))
                            } else {
                                tokio::spawn(poll_session(app, key, shutdown.clone()))
                            };
                            slot.insert(task);
                        }
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot list sessions; retrying"),
        }
        tokio::select! {
            _ = shutdown.changed() => break,
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            ev = events.recv() => {
                if matches!(ev, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    break;
                }
            }
        }
    }
    for (_, handle) in tasks {
        let _ = handle.await;
    }
}

/// The session still exists, is connected, and has the credentials this task started with.
fn still_wanted(app: &App, key: &TaskKey) -> bool {
    matches!(app.store().session(&key.name), Ok(Some(s)) if wanted(&s).as_ref() == Some(key))
}

/// Waits `d` or until shutdown; true when shutting down.
async fn pause(d: Duration, shutdown: &mut watch::Receiver<bool>) -> bool {
    if *shutdown.borrow() {
        return true;
    }
    tokio::select! {
        _ = shutdown.changed() => true,
        _ = tokio::time::sleep(d) => *shutdown.borrow(),
    }
}

async fn acquire_lock(
    app: &App,
    key: &TaskKey,
    bot_id: &str,
    shutdown: &mut watch::Receiver<bool>,
) -> Option<File> {
    let path = match app.data().poll_lock(bot_id) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!(error = %e, "cannot create the poll lock");
            return None;
        }
    };
    let file = match std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
    {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(path = %path.display(), error = %e, "cannot open the poll lock");
            return None;
        }
    };
    let mut announced = false;
    loop {
        match file.try_lock() {
            Ok(()) => return Some(file),
            Err(std::fs::TryLockError::WouldBlock) => {
                if !announced {
                    tracing::info!(session = %key.name, "another process is polling this account; reading from the store");
                    announced = true;
                }
            }
            Err(std::fs::TryLockError::Error(e)) => {
                tracing::warn!(path = %path.display(), error = %e, "cannot lock the poll lock");
                return None;
            }
        }
        if pause(LOCK_RETRY, shutdown).await || !still_wanted(app, key) {
            return None;
        }
    }
}

async fn poll_session(app: Arc<App>, key: TaskKey, mut shutdown: watch::Receiver<bool>) {
    let session = match app.store().session(&key.name) {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    let Some(bot_id) = session.bot_id.clone() else {
        return;
    };
    let Some(_lock) = acquire_lock(&app, &key, &bot_id, &mut shutdown).await else {
        return;
    };
    // The session may have changed while we waited for the lock.
    let session = match app.store().session(&key.name) {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    let bot = match app.bot_for(&session) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(session = %key.name, error = %e, "cannot poll");
            return;
        }
    };
    let backoff = bot.client().config().backoff.clone();
    if let Err(e) = bot.notify_start().await {
        if e.is_session_expired() {
            expire(&app, &key.name);
            return;
        }
        tracing::debug!(session = %key.name, error = %e, "notifystart failed; polling anyway");
    }
    // `cursor` is what the next fetch asks from; while a batch is being committed it runs one
    // batch ahead of `committed`, the cursor the store holds.
    let mut cursor = match app.store().cursor(&key.name) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(session = %key.name, error = %e, "cannot read the cursor");
            return;
        }
    };
    let mut committed = cursor.clone();
    let mut in_flight: Option<Commit> = None;
    tracing::info!(session = %key.name, "polling");
    let mut wait = None;
    let mut failures = 0u32; // fetches in a row that failed
    let mut store_failures = 0u32; // commits in a row that failed
    let mut last_prune = Instant::now();
    let clean_stop = loop {
        let result = tokio::select! {
            biased;
            _ = shutdown.changed() => break true,
            r = bot.get_updates(&cursor, wait) => r,
        };
        // Batches are committed in order: the one before must be stored before this one is
        // handled. If it could not be, this one is dropped and both are fetched again.
        if let Some(commit) = in_flight.take() {
            match commit.finish().await {
                Ok(stored_cursor) => {
                    committed = stored_cursor;
                    store_failures = 0;
                }
                Err(StoreError::UnknownSession(_)) => break false,
                Err(e) => {
                    store_failures += 1;
                    tracing::warn!(session = %key.name, error = %e, "cannot store messages; will fetch them again");
                    cursor = committed.clone();
                    if pause(backoff.pause(store_failures), &mut shutdown).await {
                        break true;
                    }
                    continue;
                }
            }
        }
        match result {
            Ok(updates) => {
                failures = 0;
                wait = updates.next_timeout;
                let now = now_ms();
                let batch: Vec<_> = updates
                    .messages
                    .iter()
                    .filter_map(|r| backend::ilink::inbound(&key.name, r, now))
                    .collect();
                if !(batch.is_empty() && updates.cursor == cursor) {
                    // Stored while the next batch is fetched.
                    in_flight = Some(Commit::start(&app, &key.name, batch, &updates.cursor));
                    cursor = updates.cursor;
                }
                if !still_wanted(&app, &key) {
                    break false;
                }
                let retention = app.retention();
                if (retention.max_age_ms.is_some() || retention.max_rows.is_some())
                    && last_prune.elapsed() >= PRUNE_EVERY
                {
                    last_prune = Instant::now();
                    if let Err(e) = app.store().prune(retention) {
                        tracing::warn!(error = %e, "retention failed");
                    }
                }
            }
            Err(e) if e.is_session_expired() => {
                expire(&app, &key.name);
                return;
            }
            Err(e) => {
                failures += 1;
                let d = backoff.pause(failures);
                tracing::warn!(session = %key.name, error = %e, retry_in_s = d.as_secs_f64(), "poll failed");
                if pause(d, &mut shutdown).await {
                    break true;
                }
                if !still_wanted(&app, &key) {
                    break false;
                }
            }
        }
    };
    // What was fetched is stored before the task ends.
    if let Some(commit) = in_flight.take() {
        if let Err(e) = commit.finish().await {
            tracing::warn!(session = %key.name, error = %e, "cannot store the last batch; it will be fetched again");
        }
    }
    if clean_stop {
        match tokio::time::timeout(Duration::from_secs(3), bot.notify_stop()).await {
            Ok(Err(e)) => tracing::debug!(error = %e, "notifystop failed"),
            Err(_) => tracing::debug!("notifystop timed out"),
            Ok(Ok(())) => {}
        }
    }
    tracing::info!(session = %key.name, "stopped polling");
}

/// One batch being committed (messages and cursor in one transaction) on a blocking thread
/// while the poll loop fetches the next. It announces what it stored itself, so readers wake
/// as soon as the transaction ends, not when the next fetch returns.
struct Commit {
    task: tokio::task::JoinHandle<StoreResult<()>>,
    cursor: String,
}

impl Commit {
    fn start(app: &Arc<App>, session: &str, batch: Vec<NewMessage>, cursor: &str) -> Self {
        let app = app.clone();
        let session = session.to_string();
        let next = cursor.to_string();
        let task = tokio::task::spawn_blocking(move || {
            let ids = app.store().ingest(&session, &batch, &next)?;
            if !ids.is_empty() {
                tracing::debug!(session = %session, count = ids.len(), "stored inbound messages");
                app.emit(AppEvent::Inbound { session, ids });
            }
            Ok(())
        });
        Commit {
            task,
            cursor: cursor.to_string(),
        }
    }

    /// Waits for the transaction; the cursor it stored on success.
    async fn finish(self) -> StoreResult<String> {
        match self.task.await {
            Ok(Ok(())) => Ok(self.cursor),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(StoreError::Corrupt(
                "ingest",
                format!("the commit task failed: {join}"),
            )),
        }
    }
}

/// A Wechaty session's task: holds the service's one event stream (it reconnects by itself),
/// stores every message it announces, and marks the session expired when the account logs out
/// or the token is refused.
async fn listen_wechaty(app: Arc<App>, key: TaskKey, mut shutdown: watch::Receiver<bool>) {
    let session = match app.store().session(&key.name) {
        Ok(Some(s)) if wanted(&s).as_ref() == Some(&key) => s,
        _ => return,
    };
    // The service serves one event stream at a time: one listener per endpoint and account
    // across processes.
    let Some(lock_name) = lock_name(&session) else {
        return;
    };
    let Some(_lock) = acquire_lock(&app, &key, &lock_name, &mut shutdown).await else {
        return;
    };
    let client = match app.wechaty_for(&session) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(session = %key.name, error = %e, "cannot listen");
            return;
        }
    };
    let mut events = match client.events() {
        Ok(ev) => ev,
        Err(e) => {
            tracing::warn!(session = %key.name, error = %e, "cannot open the event stream");
            return;
        }
    };
    tracing::info!(session = %key.name, "listening to the Wechaty event stream");
    let mut self_id = session.bot_id.clone();
    // A logout, re-login or rename elsewhere must free the stream promptly even when no event
    // comes: check the session every second.
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = check.tick() => {
                if still_wanted(&app, &key) {
                    continue;
                }
                break;
            }
            ev = events.recv() => ev,
        };
        let Some(event) = event else { break };
        match event {
            wechaty::PuppetEvent::Message { message_id } => {
                store_wechaty_message(&app, &client, &key.name, self_id.as_deref(), &message_id)
                    .await;
            }
            wechaty::PuppetEvent::Login { contact_id } => self_id = Some(contact_id),
            wechaty::PuppetEvent::Logout { data, .. } => {
                tracing::warn!(session = %key.name, reason = ?data, "the Wechaty account logged out");
                expire(&app, &key.name);
                break;
            }
            wechaty::PuppetEvent::Disconnected {
                error,
                reconnect_in: None,
            } => {
                tracing::warn!(session = %key.name, error = %error, "the Wechaty event stream gave up");
                if error.is_fatal() {
                    expire(&app, &key.name);
                }
                break;
            }
            wechaty::PuppetEvent::Disconnected {
                error,
                reconnect_in,
            } => {
                tracing::info!(session = %key.name, error = %error, retry_in = ?reconnect_in, "Wechaty event stream lost; reconnecting");
            }
            _ => {}
        }
        if !still_wanted(&app, &key) {
            break;
        }
    }
    events.shutdown().await;
    tracing::info!(session = %key.name, "stopped listening");
}

/// Fetches one announced message and stores it (a failure is logged: the service does not
/// announce a message twice, so there is nothing to retry from).
async fn store_wechaty_message(
    app: &Arc<App>,
    client: &wechaty::Client,
    session: &str,
    self_id: Option<&str>,
    message_id: &str,
) {
    let payload = match client.message(message_id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(session, message_id, error = %e, "cannot fetch the message");
            return;
        }
    };
    let row = backend::wechaty::message(session, self_id, &payload, now_ms());
    let (app, session) = (app.clone(), session.to_string());
    let stored = tokio::task::spawn_blocking(move || {
        let ids = app
            .store()
            .ingest(&session, std::slice::from_ref(&row), "")?;
        if !ids.is_empty() && row.direction == crate::store::Direction::In {
            app.emit(AppEvent::Inbound { session, ids });
        }
        StoreResult::Ok(())
    })
    .await;
    match stored {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::warn!(message_id, error = %e, "cannot store the message"),
        Err(e) => tracing::warn!(message_id, error = %e, "the store task failed"),
    }
}

/// The name of the lock that one process holds while it polls (iLink: per bot account) or
/// listens to (Wechaty: per account and endpoint) a session; `None` before a login.
pub fn lock_name(session: &SessionRecord) -> Option<String> {
    let bot_id = session.bot_id.as_deref()?;
    if session.backend == backend::wechaty::BACKEND {
        let endpoint = session.base_url.as_deref().unwrap_or_default();
        Some(format!("wechaty-{bot_id}-{}", short_hash(endpoint)))
    } else {
        Some(bot_id.to_string())
    }
}

/// A short stable hash of a string, for file names.
fn short_hash(s: &str) -> String {
    let digest = ilink::crypto::md5_hex(s.as_bytes());
    digest.chars().take(8).collect()
}

fn expire(app: &App, name: &str) {
    tracing::warn!(session = %name, "session expired upstream; log in again with `wxlink login {name}`");
    if let Err(e) = app.store().set_status(name, SessionStatus::Expired) {
        tracing::warn!(error = %e, "cannot mark the session expired");
    }
    app.emit(AppEvent::SessionExpired {
        session: name.to_string(),
    });
}

/// Whether some process (this one included) is polling the bot account right now, judged by
/// its poll lock; `None` when the lock file cannot be checked.
pub fn is_polled(app: &App, session: &SessionRecord) -> Option<bool> {
    let path = app.data().poll_lock(&lock_name(session)?).ok()?;
    if !path.exists() {
        return Some(false);
    }
    let file = std::fs::OpenOptions::new().write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => Some(false),
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}
