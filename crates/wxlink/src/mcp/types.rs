//! The tools' parameters and results as typed structs: their doc comments become the JSON
//! Schema descriptions agents read (`inputSchema`, `outputSchema`).
//!
//! Parameter names, types and defaults are WeiLink's (0.6.2), so prompts written for WeiLink
//! keep working: every optional string defaults to `""`, which means "not given". Extra,
//! optional parameters (`session`, `consumer`, `verify_code`) go beyond it.
//!
//! Messages and sessions keep exactly the JSON of [`crate::views`] (the CLI's `--json`); the
//! structs here only describe it, and any field the views add later passes through `extra`.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::model::Secret;

fn default_recv_timeout() -> f64 {
    5.0
}

fn default_login_timeout() -> f64 {
    30.0
}

fn default_limit() -> u32 {
    50
}

fn default_true() -> bool {
    true
}

// ---------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------

/// Parameters of `recv`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RecvParams {
    /// Seconds to wait for the first message (0 to 300).
    #[serde(default = "default_recv_timeout")]
    pub timeout: f64,
    /// Read position: each consumer sees every message once (default "default"); a new one
    /// starts with what arrives after its first call.
    #[serde(default)]
    pub consumer: Option<String>,
    /// The last answer's `cursor`: what follows comes (again if lost).
    #[serde(default)]
    pub after: Option<String>,
}

/// Parameters of `send`. Paths are files on the machine this server runs on.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SendParams {
    /// The recipient: a received message's `user` (or `room_id`).
    pub to: String,
    /// Text, sent first (iLink: at most 16 KiB).
    #[serde(default)]
    pub text: String,
    /// Path of an image file to send.
    #[serde(default)]
    pub image_path: String,
    /// Path of a file to attach.
    #[serde(default)]
    pub file_path: String,
    /// Name shown for `file_path` (default: its own).
    #[serde(default)]
    pub file_name: String,
    /// Path of a video file to send.
    #[serde(default)]
    pub video_path: String,
    /// Path of a voice file (a `file_path` plays more reliably).
    #[serde(default)]
    pub voice_path: String,
    /// Send through this session instead of the routed one.
    #[serde(default)]
    pub session: String,
}

/// Parameters of `download`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct DownloadParams {
    /// The message's `id` (or `message_id`).
    pub message_id: String,
    /// Directory to save into (created if missing; default: wxlink's media/).
    #[serde(default)]
    pub save_dir: String,
}

/// Parameters of `history`. Empty strings mean "any".
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct HistoryParams {
    /// Only messages with this user.
    #[serde(default)]
    pub user_id: String,
    /// Only the session with this bot id.
    #[serde(default)]
    pub bot_id: String,
    /// text, image, voice, file, video (or WeiLink's TEXT… and 1…5), mixed, unknown.
    #[serde(default)]
    pub msg_type: String,
    /// "received" or "sent".
    #[serde(default)]
    pub direction: String,
    /// Not before this time: ISO 8601 (2026-11-22T09:30:00+08:00) or unix ms.
    #[serde(default)]
    pub since: String,
    /// Not after this time: ISO 8601 or unix ms.
    #[serde(default)]
    pub until: String,
    /// Text contained (Chinese words inside sentences too: 下午开会).
    #[serde(default)]
    pub text_contains: String,
    /// Page size, 1 to 200 (newest first).
    #[serde(default = "default_limit")]
    pub limit: u32,
    /// Matches to skip (next page).
    #[serde(default)]
    pub offset: u32,
    /// Only this session (by name).
    #[serde(default)]
    pub session: String,
}

/// Parameters of `login`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct LoginParams {
    /// Session name to log in (default: the default session, or "default"). Only the call
    /// that starts a login uses it.
    #[serde(default)]
    pub session_name: String,
    /// Seconds this call waits for the QR code to be scanned and confirmed (0 to 300).
    #[serde(default = "default_login_timeout")]
    pub timeout: f64,
    /// Log in again even if the session is connected.
    #[serde(default)]
    pub force: bool,
    /// The number the phone shows when the status is `need_verifycode`.
    #[serde(default)]
    pub verify_code: String,
    /// "ilink" (WeChat's official bot API; the default) or "wechaty" (a Wechaty Puppet
    /// Service: contacts and group chats; needs `endpoint` and `token`). Empty: continue a
    /// pending Wechaty login if there is one, else iLink.
    #[serde(default)]
    pub backend: String,
    /// Wechaty: the puppet service, HOST:PORT (plaintext) or https://HOST:PORT (TLS).
    #[serde(default)]
    pub endpoint: String,
    /// Wechaty: the puppet service's token (e.g. `insecure_<uuid>`, `puppet_padlocal_<hex>`).
    #[serde(default)]
    #[schemars(with = "String")]
    pub token: Secret<String>,
}

/// Parameters of `logout`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct LogoutParams {
    /// Session to log out (default: the default session). Its history is kept.
    #[serde(default)]
    pub session_name: String,
}

/// Parameters of `rename_session`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RenameParams {
    /// Current name.
    pub old_name: String,
    /// New name: 1-64 letters, digits, '-', '_' or '.'.
    pub new_name: String,
}

/// Parameters of `set_default`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct SetDefaultParams {
    /// The session that becomes the default.
    pub session_name: String,
}

/// Parameters of `contacts`.
#[derive(Debug, Clone, Default, Deserialize, JsonSchema)]
pub struct ContactsParams {
    /// Only iLink users whose id contains it, and Wechaty contacts whose nickname or remark
    /// (备注) contains it (any case).
    #[serde(default)]
    pub query: String,
    /// Only this session.
    #[serde(default)]
    pub session: String,
}

/// Parameters of `typing`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct TypingParams {
    /// The user who sees "typing…" (a `user` from a received message).
    pub to: String,
    /// true shows "typing…", false cancels it.
    #[serde(default = "default_true")]
    pub on: bool,
    /// Use this session instead of the routed one.
    #[serde(default)]
    pub session: String,
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

pub use crate::views::{MessageOut, SessionOut};

/// Result of `recv`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RecvOut {
    /// New messages, oldest first (none: empty).
    pub messages: Vec<MessageOut>,
    /// Pass as `after` next time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
}

/// One item that went out.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SentItemOut {
    /// text, image, voice, file or video.
    #[serde(rename = "type")]
    pub kind: String,
    /// Our stored id.
    pub id: String,
    /// The server's id, when it returned one.
    pub message_id: Option<String>,
    /// For media: the file sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For media: its size in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u64>,
}

/// Result of `send`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SendOut {
    /// True when every item went out.
    pub success: bool,
    /// The session used.
    pub session: String,
    /// The recipient.
    pub to: String,
    /// Items sent, in order (text first).
    pub sent: Vec<SentItemOut>,
    /// Replies left on the recipient's context token (10 per message they send); absent for
    /// Wechaty sessions, which have no such quota.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_left: Option<u32>,
    /// Why the rest did not go out, when something failed midway.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<crate::service::send::SendReport> for SendOut {
    fn from(r: crate::service::send::SendReport) -> Self {
        SendOut {
            success: r.success,
            session: r.session,
            to: r.to,
            sent: r.sent.iter().map(SentItemOut::from).collect(),
            quota_left: r.quota_left,
            error: r.error,
        }
    }
}

impl From<&crate::service::send::SentItem> for SentItemOut {
    fn from(i: &crate::service::send::SentItem) -> Self {
        SentItemOut {
            kind: i.kind.clone(),
            id: i.id.clone(),
            message_id: i.message_id.clone(),
            path: i.path.clone(),
            size: i.size,
        }
    }
}

/// One file written by `download`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FileOut {
    /// Where it was written.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// image, voice, file or video.
    #[serde(rename = "type")]
    pub kind: String,
}

/// Result of `download`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct DownloadOut {
    /// The files written, one per media item of the message.
    pub files: Vec<FileOut>,
}

/// Result of `history`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct HistoryOut {
    /// The page, newest first.
    pub messages: Vec<MessageOut>,
    /// Matches, counted up to 10,000.
    pub total: u64,
    /// False if more match.
    pub total_exact: bool,
    /// Page size used.
    pub limit: u32,
    /// Messages skipped.
    pub offset: u32,
    /// How a filter was understood, when that needs saying.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// Result of `sessions`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SessionsOut {
    /// Every session, the default first.
    pub sessions: Vec<SessionOut>,
}

/// Result of `login`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LoginOut {
    /// pending, scanned, confirmed, expired (a new QR), need_verifycode, already_bound or
    /// already_logged_in; `message` says what to do next.
    pub status: String,
    /// The session being logged in.
    pub session: String,
    /// What to do next.
    pub message: String,
    /// The QR code's content: show it as a QR code, or as a link to open in WeChat.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_url: Option<String>,
    /// The bot account id (confirmed, already_logged_in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot_id: Option<String>,
    /// The WeChat user who logged in (confirmed, already_logged_in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// "ilink" or "wechaty".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend: Option<String>,
}

/// Result of `logout`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct LogoutOut {
    /// Always true (failures are tool errors).
    pub success: bool,
    /// The session logged out.
    pub session: String,
}

/// Result of `rename_session`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct RenameOut {
    /// Always true (failures are tool errors).
    pub success: bool,
    /// The old name.
    pub old_name: String,
    /// The new name.
    pub new_name: String,
}

/// Result of `set_default`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SetDefaultOut {
    /// Always true (failures are tool errors).
    pub success: bool,
    /// The default session now.
    pub default_session: String,
}

/// Result of `typing`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct TypingOut {
    /// Always true (failures are tool errors).
    pub success: bool,
    /// The session used.
    pub session: String,
    /// The user.
    pub to: String,
    /// Whether "typing…" is now shown.
    pub on: bool,
}

/// A user a session can reply to.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ContactOut {
    /// The user id (pass it to `send` as `to`).
    pub user: String,
    /// The session holding the context token.
    pub session: String,
    /// Whether that session is connected.
    pub connected: bool,
    /// When the user last wrote, ISO 8601.
    pub received_at: String,
    /// Replies left on the token (10 per message the user sends).
    pub sends_left: u32,
    /// The token is over 24 hours old and may be refused.
    pub stale: bool,
}

/// A contact of a Wechaty session that matched `query`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct WechatyContactOut {
    /// The Wechaty session.
    pub session: String,
    /// The contact id: pass it to sendMessageToFriendByWxId (or `send` as `to`).
    pub wxid: String,
    /// The nickname.
    pub name: String,
    /// The remark (备注) the bot's account gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// personal, official (an official account), corporation or unknown.
    #[serde(rename = "type")]
    pub kind: String,
    /// Whether they are the bot's friend.
    pub friend: bool,
}

/// Result of `contacts`.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct ContactsOut {
    /// iLink users, most recently active first (one row per user and session).
    pub contacts: Vec<ContactOut>,
    /// Wechaty contacts matching `query` (empty without a query), sorted by session and id.
    #[serde(default)]
    pub wechaty: Vec<WechatyContactOut>,
    /// About Wechaty sessions (their size, a cut list, a session not connected).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Direction, NewMessage, SessionRecord, SessionStatus, StoredMessage};
    use crate::views;
    use serde_json::json;

    fn stored(error: Option<&str>) -> StoredMessage {
        StoredMessage {
            id: 12,
            stored_at_ms: 1_000,
            message: NewMessage {
                session: "default".into(),
                direction: Direction::In,
                upstream_id: Some("7462500663980633224".into()),
                dedupe_key: "k".into(),
                peer: "o9cq@im.wechat".into(),
                bot_id: Some("b@im.bot".into()),
                kind: "text".into(),
                text: Some("你好".into()),
                items: json!([{"type": "text", "text": "你好"}]).into(),
                raw: None,
                context_token: None,
                created_at_ms: 1_795_348_800_000,
                client_id: None,
                status: crate::model::MessageStatus::Received,
                error: error.map(str::to_string),
                speaker: None,
            },
        }
    }

    #[test]
    fn message_json_is_the_documented_shape() {
        assert_eq!(
            views::message(&stored(None)),
            json!({
                "id": "12", "message_id": "7462500663980633224", "session": "default",
                "bot_id": "b@im.bot", "direction": "in", "user": "o9cq@im.wechat",
                "from": "o9cq@im.wechat", "to": "b@im.bot", "type": "text", "text": "你好",
                "items": [{"type": "text", "text": "你好"}], "time": "2026-11-22T12:00:00.000Z",
                "timestamp_ms": 1_795_348_800_000_i64, "status": "received"
            })
        );
        let mut failed = stored(Some("boom"));
        failed.message.direction = Direction::Out;
        failed.message.speaker = Some("wxid_speaker".into());
        let v = views::message(&failed);
        assert_eq!(v["error"], "boom");
        assert_eq!(
            (v["from"].as_str(), v["to"].as_str()),
            (Some("b@im.bot"), Some("o9cq@im.wechat"))
        );
        assert_eq!(v["room_id"], "o9cq@im.wechat");
        assert_eq!(v["speaker"], "wxid_speaker");
        let mut heard = stored(None);
        heard.message.speaker = Some("wxid_speaker".into());
        assert_eq!(views::message(&heard)["from"], "wxid_speaker");
    }

    #[test]
    fn session_out_keeps_the_view_json_exactly() {
        let s = SessionRecord {
            name: "work".into(),
            backend: crate::model::BackendKind::Ilink,
            bot_id: Some("b@im.bot".into()),
            user_id: None,
            token: Some("secret".into()),
            base_url: None,
            status: SessionStatus::Connected,
            is_default: true,
            created_at_ms: 1_000,
            updated_at_ms: 2_000,
            last_message_at_ms: None,
            users: 3,
            problem: None,
        };
        let out = SessionOut::from_record(&s, Some(true)).unwrap();
        assert_eq!(
            serde_json::to_value(&out).unwrap(),
            views::session(&s, Some(true))
        );
        assert!(
            out.extra.is_empty(),
            "fields not described: {:?}",
            out.extra
        );
        assert!(!serde_json::to_string(&out).unwrap().contains("secret"));
    }

    #[test]
    fn weilink_defaults() {
        let r: RecvParams = serde_json::from_value(json!({})).unwrap();
        assert_eq!(r.timeout, 5.0);
        let h: HistoryParams = serde_json::from_value(json!({})).unwrap();
        assert_eq!((h.limit, h.offset, h.user_id.as_str()), (50, 0, ""));
        let l: LoginParams = serde_json::from_value(json!({})).unwrap();
        assert_eq!((l.timeout, l.force), (30.0, false));
        let t: TypingParams = serde_json::from_value(json!({"to": "u"})).unwrap();
        assert!(t.on);
        let s: SendParams = serde_json::from_value(json!({"to": "u"})).unwrap();
        assert_eq!(s.text, "");
    }
}
