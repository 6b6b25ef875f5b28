//! What changed, across processes: one task per process watches the store (woken at once by
//! this process's [`Event`]s, and for what other processes store by the store's notices when it
//! pushes them — PostgreSQL's LISTEN/NOTIFY — or else every half second) and
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

async fn start(store: Arc<dyn Store>, events: Events) -> Changes {
    let mut bus = events.subscribe();
    let mut notices = Notices::of(store.as_ref());
    let latest = store.latest_id().await.unwrap_or(-1);
    let (messages_tx, messages) = watch::channel(latest);
    let (sessions_tx, sessions) = watch::channel(sessions_print(store.as_ref()).await.unwrap_or(0));
    let (conversations_tx, conversations) = watch::channel(
        current_conversations_print(store.as_ref())
            .await
            .unwrap_or(0),
    );
    tokio::spawn(async move {
        // The feed lives as long as the service (which keeps a receiver of each channel). The
        // store is read on every notice or tick, however many events come in between; with
        // notices there is no tick.
        loop {
            let before = *messages_tx.borrow();
            let poll = !notices.pushed();
            let ours = tokio::select! {
                ev = bus.recv() => match ev {
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return,
                    Ok(Event::Inbound { ids, .. }) => {
                        // Stored by this process: the ids say what is newest, and the sessions
                        // did not change.
                        if let Some(&newest) = ids.iter().max() {
                            raise(&messages_tx, newest);
                        }
                        true
                    }
                    _ => false,
                },
                notice = notices.next() => match notice {
                    // A message stored anywhere: its id says what is newest; sessions are as
                    // they were.
                    Notice::Messages { latest_id } => {
                        raise(&messages_tx, latest_id);
                        true
                    }
                    Notice::Sessions | Notice::Resync => false,
                },
                _ = tokio::time::sleep(STORE_CHECK), if poll => false,
            };
            let mut sessions_changed = false;
            if !ours {
                if let Ok(latest) = store.latest_id().await {
                    raise(&messages_tx, latest);
                }
                if let Some(p) = sessions_print(store.as_ref()).await {
                    sessions_changed =
                        sessions_tx.send_if_modified(|v| std::mem::replace(v, p) != p);
                }
            }
            let new_messages = *messages_tx.borrow() != before;
            if new_messages || sessions_changed {
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
