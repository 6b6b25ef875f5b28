//! What changed, across processes: one task per process watches the store (woken at once by
//! this process's [`Event`]s, and every half second for what other processes store) and
//! publishes the newest message id, a fingerprint of the sessions, and a fingerprint of the
//! conversations (the users with a context token) on `watch` channels. Subscribers — resource
//! subscriptions, `tools/list_changed`, `resources/list_changed` — wait on those instead of
//! querying the store each.

use std::collections::hash_map::DefaultHasher;
use std::collections::HashSet;
use std::hash::{Hash, Hasher};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::error::AppResult;
use crate::service::{Event, Events, Service};
use crate::store::{Store, StoreResult};

/// How often the store is checked for what other processes store.
const STORE_CHECK: Duration = Duration::from_millis(500);

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
        // store is read on every tick, however many events come in between.
        let mut tick = tokio::time::interval(STORE_CHECK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let before = *messages_tx.borrow();
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
                _ = tick.tick() => false,
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
