//! What changed, across processes: one task per process watches the store (woken at once by
//! this process's [`Event`]s, and for what other processes store by the store's notices when it
//! pushes them — PostgreSQL's LISTEN/NOTIFY — or else by comparing the store's version every
//! half second) and
//! publishes the newest message id, a fingerprint of the sessions, and a fingerprint of the
//! conversations (the users with a context token) on `watch` channels. Subscribers — resource
//! subscriptions, `tools/list_changed`, `resources/list_changed` — wait on those instead of
//! querying the store each.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{broadcast, watch};

use crate::error::AppResult;
use crate::service::{Event, Events, Service};
use crate::store::{Notice, Store, StoreResult};

/// How often the store is checked for what other processes store, when it pushes no notices.
const STORE_CHECK: Duration = Duration::from_millis(500);

/// The store's notices, if it pushes them (see [`Store::notices`]).
pub(crate) struct Notices(Option<broadcast::Receiver<Notice>>);

impl Notices {
    /// Subscribes to `store`'s notices from now on.
    pub(crate) fn of(store: &dyn Store) -> Notices {
        Notices(store.notices())
    }

    /// Whether the store pushes notices (otherwise the caller must look by itself).
    pub(crate) fn pushed(&self) -> bool {
        self.0.is_some()
    }

    /// The next notice — a missed one (the receiver lagged) counts as [`Notice::Resync`].
    /// Never completes when the store pushes none (or stopped: callers then poll).
    pub(crate) async fn next(&mut self) -> Notice {
        let Some(rx) = self.0.as_mut() else {
            return std::future::pending().await;
        };
        match rx.recv().await {
            Ok(notice) => notice,
            Err(broadcast::error::RecvError::Lagged(_)) => Notice::Resync,
            Err(broadcast::error::RecvError::Closed) => {
                self.0 = None;
                std::future::pending().await
            }
        }
    }

    /// How long to wait before looking at the store again without a wake-up: `fallback` when
    /// notices are not pushed, else `longest` (nothing to poll for).
    pub(crate) fn check_every(&self, fallback: Duration, longest: Duration) -> Duration {
        if self.pushed() {
            longest
        } else {
            fallback.min(longest)
        }
    }
}

/// Receivers of what changed. Each starts at the state of its first check.
#[derive(Debug, Clone)]
pub struct Changes {
    /// The newest message id.
    pub messages: watch::Receiver<i64>,
    /// A fingerprint of the sessions (names, backends, statuses, default).
    pub sessions: watch::Receiver<u64>,
    /// A fingerprint of the conversations listed as resources (users with a context token).
    pub conversations: watch::Receiver<u64>,
}

impl Changes {
    /// Marks the current state as seen: the receivers then wake only for what changes later.
    pub fn mark_seen(&mut self) {
        self.messages.borrow_and_update();
        self.sessions.borrow_and_update();
        self.conversations.borrow_and_update();
    }
}

impl Service {
    /// The users with a conversation (a context token), most recent first, each once.
    pub async fn conversations(&self) -> AppResult<Vec<String>> {
        Ok(conversation_users(self.store.as_ref()).await?)
    }

    /// The change feed of this process (started on first use, after a first look at the store,
    /// so its receivers start at the current state).
    pub async fn changes(&self) -> Changes {
        self.changes
            .get_or_init(|| start(self.store.clone(), self.events.clone()))
            .await
            .clone()
    }
}

fn fingerprint(values: impl IntoIterator<Item = impl Hash>) -> u64 {
    let mut h = DefaultHasher::new();
    for v in values {
        v.hash(&mut h);
    }
    h.finish()
}

async fn sessions_print(store: &dyn Store) -> Option<u64> {
    let sessions = store.sessions().await.ok()?;
    Some(fingerprint(sessions.iter().map(|s| {
        (
            s.name.clone(),
            s.backend,
            s.status.as_str(),
            s.is_default,
            s.bot_id.clone(),
            s.problem.clone(),
        )
    })))
}

/// A fingerprint of a set of conversations (in any order), as the change feed publishes it.
pub fn conversations_print(users: &[String]) -> u64 {
    let mut users: Vec<&String> = users.iter().collect();
    users.sort_unstable();
    fingerprint(users)
}

async fn conversation_users(store: &dyn Store) -> StoreResult<Vec<String>> {
    let mut seen = HashSet::new();
    Ok(store
        .contexts(None)
        .await?
        .into_iter()
        .map(|c| c.user_id)
        .filter(|u| seen.insert(u.clone()))
        .collect())
}

async fn current_conversations_print(store: &dyn Store) -> Option<u64> {
    let users = conversation_users(store).await.ok()?;
    Some(conversations_print(&users))
}

/// Moves the newest message id up to `id` (never down).
fn raise(messages: &watch::Sender<i64>, id: i64) {
    messages.send_if_modified(|v| {
        let moved = id > *v;
        *v = (*v).max(id);
        moved
    });
}

/// What one wake-up of the feed must look at, gathered from every event waiting.
#[derive(Debug, Default)]
struct Due {
    /// The newest message id this process stored.
    newest: Option<i64>,
    /// The sessions may have changed (or events were missed): read them.
    sessions: bool,
    /// Another process may have written: read the newest id and the sessions.
    store: bool,
}

impl Due {
    fn note(&mut self, event: Result<Event, broadcast::error::RecvError>) {
        match event {
            Ok(Event::Inbound { ids, .. }) => self.newest = self.newest.max(ids.into_iter().max()),
            Ok(Event::Outbound { id, .. }) => self.newest = self.newest.max(Some(id)),
            // A status is no new message, no session and no conversation.
            Ok(Event::MessageStatus { .. }) => {}
            Ok(
                Event::SessionsChanged | Event::SessionExpired { .. } | Event::SessionHealth { .. },
            ) => self.sessions = true,
            Err(_) => self.store = true,
        }
    }
}

/// How often, at most, the conversations are read again while messages stream in: the set
/// changes only when a new user writes, and reading it costs a row per user.
const CONVERSATIONS_EVERY: Duration = Duration::from_millis(250);

async fn start(store: Arc<dyn Store>, events: Events) -> Changes {
    let mut bus = events.subscribe();
    let mut notices = Notices::of(store.as_ref());
    let mut version = store.version().await.ok().flatten();
    let latest = store.latest_id().await.unwrap_or(-1);
    let (messages_tx, messages) = watch::channel(latest);
    let (sessions_tx, sessions) = watch::channel(sessions_print(store.as_ref()).await.unwrap_or(0));
    let (conversations_tx, conversations) = watch::channel(
        current_conversations_print(store.as_ref())
            .await
            .unwrap_or(0),
    );
    tokio::spawn(async move {
        // The feed lives as long as the service (which keeps a receiver of each channel). Each
        // wake-up takes every event waiting, so a burst costs one look at the store; the store
        // is read only for what the events cannot say, and the conversations (a row per user)
        // at most every CONVERSATIONS_EVERY. Without notices, a timer compares the store's
        // version (one cheap read) and reads it only when another process wrote.
        let mut conversations_read = tokio::time::Instant::now();
        let mut conversations_due = false;
        loop {
            let poll = !notices.pushed();
            let mut due = Due::default();
            tokio::select! {
                ev = bus.recv() => {
                    if matches!(ev, Err(broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    due.note(ev);
                }
                notice = notices.next() => match notice {
                    Notice::Messages { latest_id } => due.newest = Some(latest_id),
                    Notice::Sessions | Notice::Resync => due.store = true,
                },
                _ = tokio::time::sleep(STORE_CHECK), if poll => {
                    let now = store.version().await.ok().flatten();
                    due.store = now.is_none() || now != version;
                    version = now;
                }
                _ = tokio::time::sleep_until(conversations_read + CONVERSATIONS_EVERY), if conversations_due => {}
            }
            loop {
                match bus.try_recv() {
                    Err(broadcast::error::TryRecvError::Empty) => break,
                    Err(broadcast::error::TryRecvError::Closed) => return,
                    Err(broadcast::error::TryRecvError::Lagged(_)) => due.store = true,
                    Ok(ev) => due.note(Ok(ev)),
                }
            }
            let before = *messages_tx.borrow();
            if let Some(newest) = due.newest {
                raise(&messages_tx, newest);
            }
            if due.store {
                if let Ok(latest) = store.latest_id().await {
                    raise(&messages_tx, latest);
                }
            }
            let mut sessions_changed = false;
            if due.store || due.sessions {
                if let Some(p) = sessions_print(store.as_ref()).await {
                    sessions_changed =
                        sessions_tx.send_if_modified(|v| std::mem::replace(v, p) != p);
                }
            }
            conversations_due |= *messages_tx.borrow() != before || sessions_changed;
            if conversations_due && conversations_read.elapsed() >= CONVERSATIONS_EVERY {
                conversations_due = false;
                conversations_read = tokio::time::Instant::now();
                if let Some(p) = current_conversations_print(store.as_ref()).await {
                    conversations_tx.send_if_modified(|v| std::mem::replace(v, p) != p);
                }
            }
        }
    });
    Changes {
        messages,
        sessions,
        conversations,
    }
}
