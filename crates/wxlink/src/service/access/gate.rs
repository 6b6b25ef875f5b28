//! The gate's decisions, pure functions of the state: whether one inbound message reaches the
//! agent ([`decide`]), whether an agent may write to a chat ([`may_write_to`]), and what counts
//! as a permission answer ([`parse_permission_reply`]).
//!
//! The rules (`specs/agent-push.md` §1): groups only when listed, optionally only when the bot
//! is mentioned and only from listed members; one-to-one chats from allowed senders; an unknown
//! sender under `pairing` gets a code (at most [`MAX_PENDING`] codes wait at once, each
//! answered at most [`MAX_REPLIES`] times, expiring after [`CODE_TTL_MS`]); `disabled` delivers
//! nothing. With the permission relay on, `yes abcde` / `no abcde` from an allowed sender is an
//! answer, not a chat message.

use rand::Rng;
use serde_json::Value;

use super::{AccessState, Pending, Policy};
use crate::store::{Direction, NewMessage};

/// Pairing codes waiting at once; more unknown senders are held back without a code.
pub const MAX_PENDING: usize = 3;
/// Replies one pending sender gets with their code (then silence).
pub const MAX_REPLIES: u32 = 2;
/// How long a pairing code works, ms.
pub const CODE_TTL_MS: i64 = 3_600_000;
/// Letters of pairing codes: no look-alikes (0/o, 1/l/i).
const CODE_ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789";
/// Length of a pairing code.
const CODE_LEN: usize = 6;

/// What happens to one inbound message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The agent gets it.
    Deliver,
    /// An allowed sender answered a permission prompt: `allow` or deny `request_id`.
    Permission {
        /// The five-letter id of the request.
        request_id: String,
        /// `yes` (true) or `no`.
        allow: bool,
    },
    /// An unknown sender under `pairing`: held back; `reply` says whether to send them `code`
    /// now (the first replies) or stay silent (they asked too often).
    Pair {
        /// Their pairing code.
        code: String,
        /// Whether to answer with it.
        reply: bool,
    },
    /// Held back.
    Drop(DropReason),
}

/// Why a message was held back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DropReason {
    /// The policy is `disabled`.
    Disabled,
    /// The sender is not allowed (policy `allowlist`, or too many codes pending).
    NotAllowed,
    /// A group chat that is not listed.
    GroupNotListed,
    /// A listed group, but a member who may not reach the agent.
    MemberNotAllowed,
    /// A listed group that only passes mentions of the bot, without one.
    NotMentioned,
    /// Not an inbound message.
    Outbound,
}

impl DropReason {
    /// A short description for people.
    pub fn describe(self) -> &'static str {
        match self {
            DropReason::Disabled => "the access policy is disabled",
            DropReason::NotAllowed => "sender not allowed",
            DropReason::GroupNotListed => "group not allowed",
            DropReason::MemberNotAllowed => "group member not allowed",
            DropReason::NotMentioned => "group message without a mention of the bot",
            DropReason::Outbound => "sent by the bot",
        }
    }
}

/// Who wrote `m`: the speaker in a group, else the other side.
pub fn sender(m: &NewMessage) -> &str {
    m.speaker.as_deref().unwrap_or(&m.peer)
}

/// Whether `m` comes from a group chat (its `peer` is the room).
pub fn in_group(m: &NewMessage) -> bool {
    m.speaker.is_some()
}

/// Whether one of `m`'s items mentions the bot that received it.
fn mentions_bot(m: &NewMessage) -> bool {
    let Some(bot) = m.bot_id.as_deref() else {
        return false;
    };
    m.items.list().iter().any(|item| {
        item.get("mentions")
            .and_then(Value::as_array)
            .is_some_and(|ids| ids.iter().any(|id| id.as_str() == Some(bot)))
    })
}

/// `yes abcde` / `no abcde` (any case, `y`/`n` too): the request id and the answer.
pub fn parse_permission_reply(text: &str) -> Option<(String, bool)> {
    let mut words = text.split_whitespace();
    let answer = words.next()?.to_ascii_lowercase();
    let id = words.next()?.to_ascii_lowercase();
    if words.next().is_some() {
        return None;
    }
    let allow = match answer.as_str() {
        "y" | "yes" => true,
        "n" | "no" => false,
        _ => return None,
    };
    let valid = id.len() == 5 && id.bytes().all(|b| b.is_ascii_lowercase() && b != b'l');
    valid.then_some((id, allow))
}

/// Removes pairing codes past their time.
pub fn forget_expired(state: &mut AccessState, now_ms: i64) {
    state.pending.retain(|_, p| p.expires_ms > now_ms);
}

fn new_code(state: &AccessState) -> String {
    let mut rng = rand::rng();
    loop {
        let code: String = (0..CODE_LEN)
            .map(|_| CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char)
            .collect();
        if !state.pending.contains_key(&code) {
            return code;
        }
    }
}

/// What happens to `m`, updating `state` when a pairing code is issued or answered again.
/// `relay`: permission answers are taken from allowed senders.
pub fn decide(state: &mut AccessState, m: &NewMessage, relay: bool, now_ms: i64) -> Verdict {
    if m.direction != Direction::In {
        return Verdict::Drop(DropReason::Outbound);
    }
    if state.policy == Policy::Disabled {
        return Verdict::Drop(DropReason::Disabled);
    }
    let from = sender(m);
    if in_group(m) {
        let Some(group) = state.groups.get(&m.peer) else {
            return Verdict::Drop(DropReason::GroupNotListed);
        };
        if !group.allow.is_empty() && !group.allow.iter().any(|a| a == from) {
            return Verdict::Drop(DropReason::MemberNotAllowed);
        }
        if group.mention_only && !mentions_bot(m) {
            return Verdict::Drop(DropReason::NotMentioned);
        }
        return Verdict::Deliver;
    }
    if state.allow.contains_key(from) {
        if relay {
            if let Some((request_id, allow)) = m.text.as_deref().and_then(parse_permission_reply) {
                return Verdict::Permission { request_id, allow };
            }
        }
        return Verdict::Deliver;
    }
    if state.policy == Policy::Allowlist {
        return Verdict::Drop(DropReason::NotAllowed);
    }
    forget_expired(state, now_ms);
    if let Some((code, pending)) = state.pending.iter_mut().find(|(_, p)| p.sender == from) {
        let reply = pending.replies < MAX_REPLIES;
        if reply {
            pending.replies += 1;
        }
        return Verdict::Pair {
            code: code.clone(),
            reply,
        };
    }
    if state.pending.len() >= MAX_PENDING {
        return Verdict::Drop(DropReason::NotAllowed);
    }
    let code = new_code(state);
    state.pending.insert(
        code.clone(),
        Pending {
            sender: from.to_string(),
            session: m.session.clone(),
            created_ms: now_ms,
            expires_ms: now_ms + CODE_TTL_MS,
            replies: 1,
        },
    );
    Verdict::Pair { code, reply: true }
}

/// Whether an agent behind the gate may write to `to`: only to chats it may hear from.
pub fn may_write_to(state: &AccessState, to: &str) -> bool {
    state.policy != Policy::Disabled
        && (state.allow.contains_key(to) || state.groups.contains_key(to))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::model::MessageStatus;
    use crate::service::access::{Allowed, Group};

    fn dm(from: &str, text: &str) -> NewMessage {
        NewMessage {
            session: "s".into(),
            direction: Direction::In,
            upstream_id: None,
            dedupe_key: text.into(),
            peer: from.into(),
            bot_id: Some("bot@im.bot".into()),
            kind: "text".into(),
            text: Some(text.into()),
            items: json!([{"type": "text", "text": text}]).into(),
            raw: None,
            context_token: None,
            created_at_ms: 0,
            client_id: None,
            status: MessageStatus::Received,
            error: None,
            speaker: None,
        }
    }

    fn allowed(state: &mut AccessState, id: &str) {
        state.allow.insert(
            id.into(),
            Allowed {
                added_ms: 0,
                via: "cli".into(),
            },
        );
    }

    #[test]
    fn pairing_gives_one_code_per_sender_answers_twice_and_caps_the_pending() {
        let mut s = AccessState::default();
        let Verdict::Pair { code, reply: true } = decide(&mut s, &dm("a", "hi"), false, 0) else {
            panic!("a code for a stranger");
        };
        assert_eq!(code.len(), 6);
        assert!(code.bytes().all(|b| CODE_ALPHABET.contains(&b)));
        assert_eq!(
            decide(&mut s, &dm("a", "hi?"), false, 1),
            Verdict::Pair {
                code: code.clone(),
                reply: true
            }
        );
        assert_eq!(
            decide(&mut s, &dm("a", "hello??"), false, 2),
            Verdict::Pair {
                code: code.clone(),
                reply: false
            }
        );
        decide(&mut s, &dm("b", "x"), false, 3);
        decide(&mut s, &dm("c", "x"), false, 3);
        assert_eq!(s.pending.len(), MAX_PENDING);
        assert_eq!(
            decide(&mut s, &dm("d", "x"), false, 4),
            Verdict::Drop(DropReason::NotAllowed)
        );
        // Codes expire; then there is room again and the old sender gets a new code.
        let later = CODE_TTL_MS + 10;
        let Verdict::Pair { code: again, .. } = decide(&mut s, &dm("a", "x"), false, later) else {
            panic!("a new code");
        };
        assert_ne!(again, code);
        assert_eq!(s.pending.len(), 1);
    }

    #[test]
    fn allowlist_disabled_and_outbound() {
        let mut s = AccessState {
            policy: Policy::Allowlist,
            ..AccessState::default()
        };
        allowed(&mut s, "a");
        assert_eq!(decide(&mut s, &dm("a", "x"), false, 0), Verdict::Deliver);
        assert_eq!(
            decide(&mut s, &dm("b", "x"), false, 0),
            Verdict::Drop(DropReason::NotAllowed)
        );
        assert!(s.pending.is_empty(), "no code under allowlist");
        let mut out = dm("a", "x");
        out.direction = Direction::Out;
        assert_eq!(
            decide(&mut s, &out, false, 0),
            Verdict::Drop(DropReason::Outbound)
        );
        s.policy = Policy::Disabled;
        assert_eq!(
            decide(&mut s, &dm("a", "x"), false, 0),
            Verdict::Drop(DropReason::Disabled)
        );
        assert!(!may_write_to(&s, "a"));
    }

    #[test]
    fn groups_only_when_listed_mentioned_and_from_allowed_members() {
        let mut s = AccessState::default();
        let mut m = dm("room@chatroom", "hello");
        m.speaker = Some("a".into());
        assert_eq!(
            decide(&mut s, &m, false, 0),
            Verdict::Drop(DropReason::GroupNotListed)
        );
        assert!(s.pending.is_empty(), "groups never pair");
        s.groups.insert(
            "room@chatroom".into(),
            Group {
                mention_only: true,
                allow: vec![],
            },
        );
        assert_eq!(
            decide(&mut s, &m, false, 0),
            Verdict::Drop(DropReason::NotMentioned)
        );
        m.items = json!([{"type": "text", "text": "@bot hi", "mentions": ["bot@im.bot"]}]).into();
        assert_eq!(decide(&mut s, &m, false, 0), Verdict::Deliver);
        s.groups.get_mut("room@chatroom").unwrap().allow = vec!["b".into()];
        assert_eq!(
            decide(&mut s, &m, false, 0),
            Verdict::Drop(DropReason::MemberNotAllowed)
        );
        assert!(may_write_to(&s, "room@chatroom"));
        assert!(!may_write_to(&s, "a"));
    }

    #[test]
    fn permission_answers_only_from_allowed_senders_with_the_relay_on() {
        assert_eq!(
            parse_permission_reply("  YES abcde "),
            Some(("abcde".into(), true))
        );
        assert_eq!(
            parse_permission_reply("n ABCDE"),
            Some(("abcde".into(), false))
        );
        for no in [
            "yes abcd",
            "yes abcdef",
            "yes abcle",
            "yes abcde please",
            "ok abcde",
            "yes",
        ] {
            assert_eq!(parse_permission_reply(no), None, "{no}");
        }
        let mut s = AccessState::default();
        allowed(&mut s, "a");
        assert_eq!(
            decide(&mut s, &dm("a", "yes abcde"), true, 0),
            Verdict::Permission {
                request_id: "abcde".into(),
                allow: true
            }
        );
        assert_eq!(
            decide(&mut s, &dm("a", "yes abcde"), false, 0),
            Verdict::Deliver
        );
        assert!(matches!(
            decide(&mut s, &dm("z", "yes abcde"), true, 0),
            Verdict::Pair { .. }
        ));
    }
}
