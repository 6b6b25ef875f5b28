//! MCP resources: `wxlink://inbox` (recent inbound messages) and the template
//! `wxlink://conversation/{user_id}` (one user's messages, both directions), as JSON; and
//! change detection for subscriptions, both the legacy `resources/subscribe` and the
//! 2026-07-28 `subscriptions/listen`.
//!
//! A resource's version is the id of its newest message (ids only grow). Subscribers re-check
//! their resources when the service's change feed says new messages were stored (in this
//! process or another).

use std::collections::HashMap;

use rmcp::model::{Resource, ResourceContents, ResourceTemplate};
use serde_json::json;

use super::types::MessageOut;
use crate::error::AppResult;
use crate::service::Service;
use crate::store::{Direction, HistoryQuery};
use crate::timefmt::now_ms;

/// The inbox resource.
pub const INBOX: &str = "wxlink://inbox";
/// Prefix of conversation resources.
pub const CONVERSATION_PREFIX: &str = "wxlink://conversation/";
/// The conversation template.
pub const CONVERSATION_TEMPLATE: &str = "wxlink://conversation/{user_id}";
/// Messages a resource shows.
const PAGE: u32 = 50;
/// Conversations listed by `resources/list`.
const LISTED_CONVERSATIONS: usize = 100;

/// A resource this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// `wxlink://inbox`.
    Inbox,
    /// `wxlink://conversation/{user_id}`.
    Conversation(String),
}

impl Target {
    /// Parses a URI; `None` for anything that is not ours.
    pub fn parse(uri: &str) -> Option<Target> {
        if uri == INBOX {
            return Some(Target::Inbox);
        }
        let raw = uri.strip_prefix(CONVERSATION_PREFIX)?;
        if raw.is_empty() || raw.contains(['/', '?', '#']) {
            return None;
        }
        percent_decode(raw).map(Target::Conversation)
    }

    fn query(&self, limit: u32) -> HistoryQuery {
        match self {
            Target::Inbox => HistoryQuery {
                direction: Some(Direction::In),
                limit,
                ..HistoryQuery::default()
            },
            Target::Conversation(user) => HistoryQuery {
                user: Some(user.clone()),
                limit,
                ..HistoryQuery::default()
            },
        }
    }
}

/// Decodes `%XX` escapes; `None` when they do not form UTF-8 or are malformed.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = s.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The URI of a user's conversation (user ids are `…@im.wechat`: nothing to escape but `%`,
/// `/`, `?` and `#`, which never occur in them but are escaped to be safe).
pub fn conversation_uri(user: &str) -> String {
    let mut uri = String::from(CONVERSATION_PREFIX);
    for c in user.chars() {
        match c {
            '%' | '/' | '?' | '#' | ' ' => uri.push_str(&format!("%{:02X}", c as u32)),
            c => uri.push(c),
        }
    }
    uri
}

/// The static resources and one conversation per user in `users` (the service's
/// conversations, most recent first; the first [`LISTED_CONVERSATIONS`] of them).
pub fn list(users: &[String]) -> Vec<Resource> {
    let mut out = vec![Resource::new(INBOX, "inbox")
        .with_title("WeChat inbox")
        .with_description(
            "The 50 newest messages users sent to the bot, newest first (JSON). Reading it \
                 does not mark anything as read; use the recv tool for that.",
        )
        .with_mime_type("application/json")];
    out.extend(users.iter().take(LISTED_CONVERSATIONS).map(|user| {
        Resource::new(conversation_uri(user), user.clone())
            .with_title(format!("Conversation with {user}"))
            .with_description("The 50 newest messages with this user, both directions")
            .with_mime_type("application/json")
    }));
    out
}

/// The resource templates.
pub fn templates() -> Vec<ResourceTemplate> {
    vec![ResourceTemplate::new(CONVERSATION_TEMPLATE, "conversation")
        .with_title("Conversation with a WeChat user")
        .with_description(
            "The 50 newest messages with one user (a `user` id from a message), both \
                 directions, newest first (JSON)",
        )
        .with_mime_type("application/json")]
}

/// The contents of a resource.
pub async fn read(service: &Service, target: &Target, uri: &str) -> AppResult<ResourceContents> {
    let page = service.history_page(&target.query(PAGE)).await?;
    let body = json!({
        "messages": MessageOut::list(page.messages),
        "total": page.total,
        "total_exact": page.total_exact,
        "generated_at": crate::timefmt::iso(now_ms()),
    });
    Ok(ResourceContents::text(body.to_string(), uri).with_mime_type("application/json"))
}

/// The newest message id of a resource (0 when it is empty).
async fn version(service: &Service, target: &Target) -> i64 {
    match service.history_page(&target.query(1)).await {
        Ok(page) => page.messages.first().map_or(0, |m| m.id),
        Err(e) => {
            tracing::warn!(error = %e, "cannot check a subscribed resource");
            -1
        }
    }
}

/// Subscribed URIs and the version each was last seen at.
#[derive(Debug, Default)]
pub struct Subscriptions {
    seen: HashMap<String, (Target, i64)>,
}

impl Subscriptions {
    /// Starts watching `uri` from its current version.
    pub async fn add(&mut self, service: &Service, uri: &str, target: Target) {
        let v = version(service, &target).await;
        self.seen.insert(uri.to_string(), (target, v));
    }

    /// Stops watching `uri`.
    pub fn remove(&mut self, uri: &str) {
        self.seen.remove(uri);
    }

    /// Nothing is watched.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    /// URIs whose version moved since they were last seen (and records the new versions).
    pub async fn changed(&mut self, service: &Service) -> Vec<String> {
        let mut out = Vec::new();
        for (uri, (target, seen)) in self.seen.iter_mut() {
            let v = version(service, target).await;
            if v >= 0 && v != *seen {
                *seen = v;
                out.push(uri.clone());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_round_trip() {
        assert_eq!(Target::parse(INBOX), Some(Target::Inbox));
        let user = "o9cq80abc@im.wechat";
        let uri = conversation_uri(user);
        assert_eq!(uri, "wxlink://conversation/o9cq80abc@im.wechat");
        assert_eq!(Target::parse(&uri), Some(Target::Conversation(user.into())));
        assert_eq!(
            Target::parse("wxlink://conversation/o9cq%40im.wechat"),
            Some(Target::Conversation("o9cq@im.wechat".into()))
        );
        assert_eq!(
            Target::parse(&conversation_uri("a/b c")),
            Some(Target::Conversation("a/b c".into()))
        );
        assert_eq!(Target::parse("wxlink://conversation/"), None);
        assert_eq!(Target::parse("wxlink://conversation/a%2"), None);
        assert_eq!(Target::parse("wxlink://outbox"), None);
        assert_eq!(Target::parse("file:///etc/passwd"), None);
    }
}
