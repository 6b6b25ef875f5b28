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
        loop {
            let before = *messages_tx.borrow();
            tokio::select! {
                ev = bus.recv() => {
                    if matches!(ev, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                        return;
                    }
                    if let Ok(Event::Inbound { ids, .. }) = &ev {
                        // Ours: no need to ask the store for the newest id.
                        if let Some(&newest) = ids.iter().max() {
                            messages_tx.send_if_modified(|v| {
                                let moved = newest > *v;
                                *v = (*v).max(newest);
                                moved
                            });
                        }
                    }
                }
                _ = tokio::time::sleep(STORE_CHECK) => {}
            }
            if messages_tx.is_closed() && sessions_tx.is_closed() && conversations_tx.is_closed() {
                return; // nobody listens any more
            }
            if let Ok(latest) = store.latest_id().await {
                messages_tx.send_if_modified(|v| {
                    let moved = latest > *v;
                    *v = (*v).max(latest);
                    moved
                });
            }
            let new_messages = *messages_tx.borrow() != before;
            let sessions_changed = match sessions_print(store.as_ref()).await {
                Some(p) => sessions_tx.send_if_modified(|v| std::mem::replace(v, p) != p),
                None => false,
            };
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
