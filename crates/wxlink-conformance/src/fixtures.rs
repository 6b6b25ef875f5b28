//! [`Fixtures`]: the state the fixtures share across every connection of the process — the
//! `requestState` codec, the legacy resource subscriptions, the list-change announcements
//! fanned out to `subscriptions/listen` streams, and the Tasks extension's [`TaskManager`]
//! (2026-07-28 requests are stateless, so tasks cannot live in one connection's handler).
//! Also what the fixtures add to the server's capabilities.

use std::collections::HashSet;
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use rmcp::model::{
    JsonObject, RequestStateCodec, ServerCapabilities, SubscriptionFilter, TASKS_EXTENSION_ID,
};
use rmcp::service::{RequestContext, SubscriptionSink};
use rmcp::task_manager::TaskManager;
use rmcp::{ErrorData, RoleServer};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;
use wxlink::mcp::server::is_modern;

/// Process-wide fixture state (one per server, shared by every connection's handler).
pub struct Fixtures {
    /// Seals and opens `requestState` (HMAC-SHA256 with a per-process key).
    codec: RequestStateCodec,
    /// URIs subscribed with the legacy `resources/subscribe`.
    pub(crate) subscribed: Mutex<HashSet<String>>,
    /// Announced list changes, fanned out to `subscriptions/listen` streams.
    changes: broadcast::Sender<ListChange>,
    /// Tasks of the Tasks extension.
    pub(crate) tasks: TaskManager,
}

impl std::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixtures")
            .field("subscribed", &self.subscribed)
            .field("running_tasks", &self.tasks.running_task_count())
            .finish_non_exhaustive()
    }
}

impl Default for Fixtures {
    fn default() -> Self {
        Self::new()
    }
}

/// A list whose change the trigger tools announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListChange {
    /// `notifications/tools/list_changed`.
    Tools,
    /// `notifications/prompts/list_changed`.
    Prompts,
}

/// Aborts a forwarding task when the subscription ends.
#[derive(Debug)]
pub struct Forwarding(JoinHandle<()>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// 32 unpredictable bytes (`RequestStateCodec::MIN_KEY_LENGTH`) from the standard library's randomly seeded hasher (no extra
/// dependency for a test-only key).
fn process_key() -> Vec<u8> {
    let state = std::collections::hash_map::RandomState::new();
    (0u64..4)
        .flat_map(|i| {
            let mut h = state.build_hasher();
            h.write_u64(i);
            h.finish().to_le_bytes()
        })
        .collect()
}

impl Fixtures {
    /// Fresh state with a new `requestState` key.
    pub fn new() -> Fixtures {
        Fixtures {
            codec: RequestStateCodec::try_new(process_key())
                .expect("the process key has RequestStateCodec::MIN_KEY_LENGTH (32) bytes"),
            subscribed: Mutex::default(),
            changes: broadcast::channel(16).0,
            tasks: TaskManager::new(),
        }
    }

    /// Declares what the fixtures add: prompts, `listChanged` for tools and prompts, and the
    /// Tasks extension.
    pub fn declare(&self, capabilities: &mut ServerCapabilities) {
        let mut prompts = capabilities.prompts.take().unwrap_or_default();
        prompts.list_changed = Some(true);
        capabilities.prompts = Some(prompts);
        let mut tools = capabilities.tools.take().unwrap_or_default();
        tools.list_changed = Some(true);
        capabilities.tools = Some(tools);
        capabilities
            .extensions
            .get_or_insert_with(Default::default)
            .insert(TASKS_EXTENSION_ID.to_string(), JsonObject::new());
    }

    /// Seals `payload` as a `requestState`.
    pub fn seal(&self, payload: &str) -> String {
        self.codec.seal(payload.as_bytes())
    }

    /// Requires a sealed `requestState` carrying `expected`, else a protocol error.
    pub fn open_state(&self, state: Option<&str>, expected: &str) -> Result<(), ErrorData> {
        let state =
            state.ok_or_else(|| ErrorData::invalid_params("requestState is missing", None))?;
        let payload = self.codec.open(state).map_err(|e| {
            ErrorData::invalid_params(format!("requestState failed verification: {e}"), None)
        })?;
        if payload != expected.as_bytes() {
            return Err(ErrorData::invalid_params(
                "requestState belongs to another step",
                None,
            ));
        }
        Ok(())
    }

    /// Tells listen streams (2026-07-28) or the calling session (older) that a list changed.
    pub async fn announce(&self, ctx: &RequestContext<RoleServer>, change: ListChange) {
        let _ = self.changes.send(change);
        if !is_modern(ctx) {
            let _ = match change {
                ListChange::Tools => ctx.peer.notify_tool_list_changed().await,
                ListChange::Prompts => ctx.peer.notify_prompt_list_changed().await,
            };
        }
    }

    /// Adds the list-change notifications the fixtures serve to what a `subscriptions/listen`
    /// request is accepted for.
    pub fn accept(&self, requested: &SubscriptionFilter, accepted: &mut SubscriptionFilter) {
        if requested.tools_list_changed == Some(true) {
            accepted.tools_list_changed = Some(true);
        }
        if requested.prompts_list_changed == Some(true) {
            accepted.prompts_list_changed = Some(true);
        }
    }

    /// Forwards announced list changes to one listen stream while the returned guard lives
    /// (`None` when the stream accepted no list changes).
    pub fn forward(&self, sink: &SubscriptionSink) -> Option<Forwarding> {
        let accepted = sink.accepted();
        let tools = accepted.tools_list_changed == Some(true);
        let prompts = accepted.prompts_list_changed == Some(true);
        if !tools && !prompts {
            return None;
        }
        let sink = sink.clone();
        let mut changes = self.changes.subscribe();
        Some(Forwarding(tokio::spawn(async move {
            loop {
                let sent = match changes.recv().await {
                    Ok(ListChange::Tools) if tools => sink.notify_tool_list_changed().await,
                    Ok(ListChange::Prompts) if prompts => sink.notify_prompt_list_changed().await,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => Ok(()),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        })))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_state_is_sealed() {
        let fixtures = Fixtures::new();
        let sealed = fixtures.seal("step");
        assert!(fixtures.open_state(Some(&sealed), "step").is_ok());
        assert!(fixtures.open_state(Some(&sealed), "other").is_err());
        assert!(fixtures
            .open_state(Some(&format!("{sealed}-TAMPERED")), "step")
            .is_err());
        assert!(fixtures.open_state(None, "step").is_err());
        // Another process (another key) cannot open it either.
        assert!(Fixtures::new().open_state(Some(&sealed), "step").is_err());
    }

    #[test]
    fn declares_prompts_and_tasks() {
        let mut caps = ServerCapabilities::default();
        Fixtures::new().declare(&mut caps);
        assert_eq!(caps.prompts.and_then(|p| p.list_changed), Some(true));
        assert_eq!(caps.tools.and_then(|t| t.list_changed), Some(true));
        assert!(caps
            .extensions
            .is_some_and(|e| e.contains_key(TASKS_EXTENSION_ID)));
    }
}
