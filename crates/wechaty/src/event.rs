//! Events: [`PuppetEvent`] (what the event stream yields: the service's events decoded from
//! their JSON payloads, plus connection changes), [`ScanStatus`], [`PayloadType`] and
//! [`LoginState`]. Decoding is lenient and never fails: anything that does not fit becomes
//! [`PuppetEvent::Other`].

use std::time::Duration;

use serde_json::Value;

use crate::error::Error;

/// One item of the event stream.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum PuppetEvent {
    /// The event stream is (re)connected. The cache starts empty; the service re-sends
    /// `Login` (and `Ready`) if the puppet is logged in, or the pending `Scan`.
    Connected,
    /// The event stream ended or could not be opened. `reconnect_in`: when the next attempt
    /// is made; `None`: no more attempts (a fatal error, or the retry budget is spent), and
    /// the stream ends after this item.
    Disconnected {
        /// Why.
        error: Error,
        /// Delay before the next attempt, if any.
        reconnect_in: Option<Duration>,
    },
    /// The puppet is alive.
    Heartbeat {
        /// Free text, if any.
        data: Option<String>,
    },
    /// The answer to a `Ding`.
    Dong {
        /// The data passed to `Ding`.
        data: Option<String>,
    },
    /// Login by QR code: show `qrcode` (a URL/text to render as a QR image) while `status` is
    /// [`ScanStatus::Waiting`].
    Scan {
        /// Where the login is.
        status: ScanStatus,
        /// The QR code's content.
        qrcode: Option<String>,
        /// Extra data.
        data: Option<String>,
    },
    /// The bot's account logged in.
    Login {
        /// The bot's own contact id.
        contact_id: String,
    },
    /// The bot's account logged out.
    Logout {
        /// The bot's own contact id.
        contact_id: Option<String>,
        /// Why, if said.
        data: Option<String>,
    },
    /// The puppet has loaded its data (contacts, rooms) after login.
    Ready,
    /// A message was sent or received: fetch it with
    /// [`Client::message`](crate::Client::message).
    Message {
        /// The message id.
        message_id: String,
    },
    /// A payload changed on the service; cached copies are stale (the client's cache already
    /// dropped them when you see this).
    Dirty {
        /// What kind of payload.
        payload_type: PayloadType,
        /// Its id (for [`PayloadType::RoomMember`], the room id).
        payload_id: String,
    },
    /// A friend request: fetch it with the `FriendshipPayload` RPC.
    Friendship {
        /// The friendship id.
        friendship_id: String,
    },
    /// An invitation into a room.
    RoomInvite {
        /// The room invitation id.
        room_invitation_id: String,
    },
    /// People joined a room.
    RoomJoin {
        /// The room.
        room_id: String,
        /// Who joined.
        invitee_ids: Vec<String>,
        /// Who invited them.
        inviter_id: Option<String>,
        /// When (as the puppet gives it: seconds or milliseconds).
        timestamp: Option<i64>,
    },
    /// People left or were removed from a room.
    RoomLeave {
        /// The room.
        room_id: String,
        /// Who left.
        removee_ids: Vec<String>,
        /// Who removed them.
        remover_id: Option<String>,
        /// When (as the puppet gives it).
        timestamp: Option<i64>,
    },
    /// A room's topic changed.
    RoomTopic {
        /// The room.
        room_id: String,
        /// The new topic.
        new_topic: String,
        /// The old topic.
        old_topic: Option<String>,
        /// Who changed it.
        changer_id: Option<String>,
        /// When (as the puppet gives it).
        timestamp: Option<i64>,
    },
    /// A post (moments) event.
    Post {
        /// The post id.
        post_id: String,
    },
    /// The puppet reports an error.
    Error {
        /// Its message (`data`, or the whole payload when there is none).
        message: String,
    },
    /// Any other event, or one whose payload did not fit: the raw type number and payload.
    Other {
        /// The `EventType` number.
        event_type: i32,
        /// The JSON payload as received.
        payload: String,
    },
}

/// Wire numbers of `EventType` (wechaty-grpc 1.5.2).
mod event_type {
    pub const HEARTBEAT: i32 = 1;
    pub const MESSAGE: i32 = 2;
    pub const DONG: i32 = 3;
    pub const POST: i32 = 4;
    pub const ERROR: i32 = 16;
    pub const FRIENDSHIP: i32 = 17;
    pub const ROOM_INVITE: i32 = 18;
    pub const ROOM_JOIN: i32 = 19;
    pub const ROOM_LEAVE: i32 = 20;
    pub const ROOM_TOPIC: i32 = 21;
    pub const SCAN: i32 = 22;
    pub const READY: i32 = 23;
    pub const LOGIN: i32 = 25;
    pub const LOGOUT: i32 = 26;
    pub const DIRTY: i32 = 27;
}

impl PuppetEvent {
    /// Decodes one `EventResponse` (`type` number and JSON `payload`). Never fails: an unknown
    /// type, invalid JSON or a missing essential field gives [`PuppetEvent::Other`].
    pub fn decode(event_type: i32, payload: &str) -> PuppetEvent {
        let other = || PuppetEvent::Other {
            event_type,
            payload: payload.to_owned(),
        };
        let json: Value = if payload.trim().is_empty() {
            Value::Object(Default::default())
        } else {
            match serde_json::from_str(payload) {
                Ok(v) => v,
                Err(_) => return other(),
            }
        };
        if !json.is_object() {
            return other();
        }
        let s = |k: &str| string(&json, k);
        let decoded = match event_type {
            event_type::HEARTBEAT => Some(PuppetEvent::Heartbeat { data: s("data") }),
            event_type::DONG => Some(PuppetEvent::Dong { data: s("data") }),
            event_type::READY => Some(PuppetEvent::Ready),
            event_type::MESSAGE => {
                s("messageId").map(|message_id| PuppetEvent::Message { message_id })
            }
            event_type::SCAN => Some(PuppetEvent::Scan {
                status: ScanStatus::from_wire(int(&json, "status").unwrap_or(0)),
                qrcode: s("qrcode"),
                data: s("data"),
            }),
            event_type::LOGIN => s("contactId").map(|contact_id| PuppetEvent::Login { contact_id }),
            event_type::LOGOUT => Some(PuppetEvent::Logout {
                contact_id: s("contactId"),
                data: s("data"),
            }),
            event_type::DIRTY => s("payloadId").map(|payload_id| PuppetEvent::Dirty {
                payload_type: PayloadType::from_wire(
                    int(&json, "payloadType")
                        .and_then(|n| i32::try_from(n).ok())
                        .unwrap_or(0),
                ),
                payload_id,
            }),
            event_type::FRIENDSHIP => {
                s("friendshipId").map(|friendship_id| PuppetEvent::Friendship { friendship_id })
            }
            event_type::ROOM_INVITE => s("roomInvitationId")
                .map(|room_invitation_id| PuppetEvent::RoomInvite { room_invitation_id }),
            event_type::ROOM_JOIN => s("roomId").map(|room_id| PuppetEvent::RoomJoin {
                room_id,
                invitee_ids: strings(&json, "inviteeIdList"),
                inviter_id: s("inviterId"),
                timestamp: int(&json, "timestamp"),
            }),
            event_type::ROOM_LEAVE => s("roomId").map(|room_id| PuppetEvent::RoomLeave {
                room_id,
                removee_ids: strings(&json, "removeeIdList"),
                remover_id: s("removerId"),
                timestamp: int(&json, "timestamp"),
            }),
            event_type::ROOM_TOPIC => s("roomId").map(|room_id| PuppetEvent::RoomTopic {
                room_id,
                new_topic: s("newTopic").unwrap_or_default(),
                old_topic: s("oldTopic"),
                changer_id: s("changerId"),
                timestamp: int(&json, "timestamp"),
            }),
            event_type::POST => s("postId").map(|post_id| PuppetEvent::Post { post_id }),
            event_type::ERROR => Some(PuppetEvent::Error {
                message: match json.get("data") {
                    Some(Value::String(d)) => d.clone(),
                    Some(Value::Object(o)) => o
                        .get("message")
                        .and_then(Value::as_str)
                        .map(str::to_owned)
                        .unwrap_or_else(|| payload.to_owned()),
                    _ => payload.to_owned(),
                },
            }),
            _ => None,
        };
        decoded.unwrap_or_else(other)
    }
}

/// A string field: strings as they are, numbers as text; absent, `null` or `""` → `None`.
fn string(v: &Value, key: &str) -> Option<String> {
    match v.get(key)? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// An integer field: numbers (floats truncated) or numeric strings.
fn int(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64().or_else(|| {
            n.as_f64()
                .filter(|f| f.is_finite() && f.abs() < 9.0e18)
                .map(|f| f as i64)
        }),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A list of ids: an array of strings/numbers, or a single string.
fn strings(v: &Value, key: &str) -> Vec<String> {
    match v.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Value::String(s) if !s.is_empty() => Some(s.clone()),
                Value::Number(n) => Some(n.to_string()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) if !s.is_empty() => vec![s.clone()],
        _ => Vec::new(),
    }
}

/// Where a QR login is (wechaty-puppet `ScanStatus`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ScanStatus {
    /// 1: the user cancelled on the phone.
    Cancel,
    /// 2: waiting for the QR code to be scanned.
    Waiting,
    /// 3: scanned; waiting for confirmation on the phone.
    Scanned,
    /// 4: confirmed; a `Login` follows.
    Confirmed,
    /// 5: the QR code expired; a new one follows.
    Timeout,
    /// 0 or a number this crate does not know.
    Unknown(i64),
}

impl ScanStatus {
    /// From the number on the wire.
    pub fn from_wire(n: i64) -> ScanStatus {
        match n {
            1 => ScanStatus::Cancel,
            2 => ScanStatus::Waiting,
            3 => ScanStatus::Scanned,
            4 => ScanStatus::Confirmed,
            5 => ScanStatus::Timeout,
            n => ScanStatus::Unknown(n),
        }
    }
}

/// What kind of payload a `dirty` event concerns (wechaty-puppet `DirtyType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PayloadType {
    /// 1.
    Message,
    /// 2.
    Contact,
    /// 3.
    Room,
    /// 4: the members of the room whose id is given.
    RoomMember,
    /// 5.
    Friendship,
    /// 6.
    Post,
    /// 0 or a number this crate does not know.
    Unknown(i32),
}

impl PayloadType {
    /// From the number on the wire.
    pub fn from_wire(n: i32) -> PayloadType {
        match n {
            1 => PayloadType::Message,
            2 => PayloadType::Contact,
            3 => PayloadType::Room,
            4 => PayloadType::RoomMember,
            5 => PayloadType::Friendship,
            6 => PayloadType::Post,
            n => PayloadType::Unknown(n),
        }
    }

    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            PayloadType::Message => 1,
            PayloadType::Contact => 2,
            PayloadType::Room => 3,
            PayloadType::RoomMember => 4,
            PayloadType::Friendship => 5,
            PayloadType::Post => 6,
            PayloadType::Unknown(n) => n,
        }
    }
}

/// What the client knows of the bot account's login, from the event stream.
///
/// There is no RPC that asks; the service tells a new event stream right away (`Login` if
/// logged in, the pending `Scan` if a QR login is under way), so this is only known while an
/// event stream is connected.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum LoginState {
    /// No event stream, or it has not said yet.
    #[default]
    Unknown,
    /// A QR login is under way.
    Scanning {
        /// The last scan status.
        status: ScanStatus,
        /// The QR code to show, if any.
        qrcode: Option<String>,
    },
    /// Logged in as `user_id`.
    LoggedIn {
        /// The bot's own contact id.
        user_id: String,
    },
    /// Logged out.
    LoggedOut,
}

impl LoginState {
    /// The bot's contact id when logged in.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            LoginState::LoggedIn { user_id } => Some(user_id),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_known_events() {
        assert!(matches!(
            PuppetEvent::decode(2, r#"{"messageId":"m1"}"#),
            PuppetEvent::Message { message_id } if message_id == "m1"
        ));
        assert!(matches!(
            PuppetEvent::decode(22, r#"{"status":2,"qrcode":"https://q"}"#),
            PuppetEvent::Scan { status: ScanStatus::Waiting, qrcode: Some(q), .. } if q == "https://q"
        ));
        assert!(matches!(
            PuppetEvent::decode(22, r#"{"status":"4"}"#),
            PuppetEvent::Scan {
                status: ScanStatus::Confirmed,
                ..
            }
        ));
        assert!(matches!(
            PuppetEvent::decode(25, r#"{"contactId":"wxid_bot"}"#),
            PuppetEvent::Login { contact_id } if contact_id == "wxid_bot"
        ));
        assert!(matches!(
            PuppetEvent::decode(27, r#"{"payloadType":2,"payloadId":"wxid_a"}"#),
            PuppetEvent::Dirty { payload_type: PayloadType::Contact, payload_id } if payload_id == "wxid_a"
        ));
        assert!(matches!(
            PuppetEvent::decode(19, r#"{"roomId":"r@chatroom","inviteeIdList":["a",2],"inviterId":"b","timestamp":1.5e9}"#),
            PuppetEvent::RoomJoin { invitee_ids, timestamp: Some(1_500_000_000), .. } if invitee_ids == ["a", "2"]
        ));
        assert!(matches!(PuppetEvent::decode(23, ""), PuppetEvent::Ready));
        assert!(matches!(
            PuppetEvent::decode(16, r#"{"data":"boom"}"#),
            PuppetEvent::Error { message } if message == "boom"
        ));
        assert!(matches!(
            PuppetEvent::decode(
                1,
                r#"{"data":"Wechaty Puppet gRPC stream connect successfully"}"#
            ),
            PuppetEvent::Heartbeat { data: Some(_) }
        ));
    }

    #[test]
    fn odd_payloads_become_other() {
        for (t, p) in [
            (2, "{}"),
            (2, r#"{"messageId":null}"#),
            (2, "not json"),
            (2, "[1,2]"),
            (25, r#"{"contactId":""}"#),
            (99, r#"{"x":1}"#),
            (24, "{}"),
            (27, r#"{"payloadType":2}"#),
            (i32::MIN, "\u{0}"),
        ] {
            match PuppetEvent::decode(t, p) {
                PuppetEvent::Other {
                    event_type,
                    payload,
                } => {
                    assert_eq!((event_type, payload.as_str()), (t, p))
                }
                other => panic!("{t} {p}: {other:?}"),
            }
        }
        // lenient but still decoded
        assert!(matches!(
            PuppetEvent::decode(27, r#"{"payloadType":"x","payloadId":5}"#),
            PuppetEvent::Dirty { payload_type: PayloadType::Unknown(0), payload_id } if payload_id == "5"
        ));
        assert!(matches!(
            PuppetEvent::decode(26, "{}"),
            PuppetEvent::Logout {
                contact_id: None,
                ..
            }
        ));
    }
}
