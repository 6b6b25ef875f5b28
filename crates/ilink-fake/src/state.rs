//! Everything the fake remembers: bots and their tokens, QR logins in progress, the inbound
//! queue of every bot, context tokens and their quotas, typing tickets, uploads and CDN blobs,
//! the faults waiting to fire, and a record of every request a client made.

use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::{HashMap, VecDeque};
use tokio::sync::watch;

use crate::control::{FaultSpec, QrStep};

/// Switches that shape how the fake answers (spec §16.2). All can be changed at run time.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct FakeConfig {
    /// How long `getupdates` holds when nothing is queued, in ms.
    pub hold_ms: u64,
    /// `longpolling_timeout_ms` advertised in `getupdates` answers.
    pub longpolling_timeout_ms: u64,
    /// How long a `get_qrcode_status` poll holds on a `wait` step, in ms.
    pub qr_hold_ms: u64,
    /// With no scripted steps, confirm a QR login by itself (`scaned`, then `confirmed`).
    /// Otherwise the QR waits until someone opens its URL (the sandbox's "scan").
    pub qr_auto_confirm: bool,
    /// Sends allowed per context token; the next one answers `ret -2 "prepare failed"`.
    pub quota_per_token: u32,
    /// Age after which a context token is refused, in ms (0 = never).
    pub token_ttl_ms: u64,
    /// Answer every `sendmessage` with `ret -2 "rate limited"`.
    pub rate_limited: bool,
    /// Refuse requests that lack the modern header set (spec §16.2 strict-header mode).
    pub strict_headers: bool,
    /// Also put `"ret": -14` in session-expired answers (besides `errcode`).
    pub expired_with_ret: bool,
    /// Answer session expiry with `"ret": -14` only, no `errcode` (wins over `expired_with_ret`).
    pub expired_ret_only: bool,
    /// An empty or unreadable cursor replays the whole backlog (else it starts at the tail).
    pub empty_cursor_replays: bool,
    /// Refuse `sendmessage` without a `context_token`.
    pub require_context_token: bool,
    /// Largest number of messages in one `getupdates` answer.
    pub batch_max: usize,
    /// Largest text accepted by `sendmessage`, in UTF-8 bytes.
    pub max_text_bytes: usize,
    /// Keep a record of every request (turn off for long benchmarks).
    pub record_requests: bool,
    /// Wrong verify codes accepted before `verify_code_blocked`.
    pub verify_attempts: u32,
}

impl Default for FakeConfig {
    fn default() -> Self {
        FakeConfig {
            hold_ms: 25_000,
            longpolling_timeout_ms: 35_000,
            qr_hold_ms: 1_000,
            qr_auto_confirm: true,
            quota_per_token: 10,
            token_ttl_ms: 0,
            rate_limited: false,
            strict_headers: false,
            expired_with_ret: false,
            expired_ret_only: false,
            empty_cursor_replays: true,
            require_context_token: false,
            batch_max: 100,
            max_text_bytes: 16 * 1024,
            record_requests: true,
            verify_attempts: 3,
        }
    }
}

/// A bot account the fake has minted.
#[derive(Debug, Clone, Serialize)]
pub struct BotAccount {
    /// `…@im.bot`.
    pub bot_id: String,
    /// The bearer token.
    pub token: String,
    /// The WeChat user who bound it.
    pub user_id: String,
    /// Expired accounts answer `-14` everywhere.
    pub expired: bool,
    /// Users who have written to this bot (uploads and sends are bound to them).
    pub known_users: Vec<String>,
}

/// The inbound stream of one bot.
#[derive(Debug)]
pub struct Inbox {
    /// Every message ever queued, in `seq` order.
    pub messages: Vec<Value>,
    /// Last `seq` handed out; long polls wait on it.
    pub last_seq: watch::Sender<i64>,
}

/// A context token minted with an inbound message.
#[derive(Debug, Clone, Serialize)]
pub struct ContextToken {
    /// The bot it belongs to.
    pub bot_id: String,
    /// The user it belongs to.
    pub user_id: String,
    /// Sends made with it.
    pub sends: u32,
    /// When it was minted (ms).
    pub created_ms: i64,
}

/// A QR login in progress.
#[derive(Debug, Clone)]
pub struct QrLogin {
    /// Remaining scripted steps.
    pub steps: VecDeque<QrStep>,
    /// Tokens the client listed in `local_token_list`.
    pub local_tokens: Vec<String>,
    /// Scanned through its URL (manual mode).
    pub scanned: bool,
    /// The host a redirect sent the client to; later polls must arrive there.
    pub redirected_to: Option<String>,
    /// Wrong verify codes so far.
    pub wrong_codes: u32,
    /// Finished (confirmed, bound or blocked): further polls answer `expired`.
    pub done: bool,
}

/// What a client asked `getuploadurl` for.
#[derive(Debug, Clone, Serialize)]
pub struct UploadSlot {
    /// The bot.
    pub bot_id: String,
    /// `filekey`.
    pub filekey: String,
    /// `aeskey` (hex).
    pub aeskey: String,
    /// `media_type`.
    pub media_type: i64,
    /// `to_user_id`.
    pub to_user_id: String,
    /// `rawsize`.
    pub rawsize: u64,
    /// `rawfilemd5`.
    pub rawfilemd5: String,
    /// `filesize`.
    pub filesize: u64,
}

/// One completed CDN upload, decrypted and checked.
#[derive(Debug, Clone, Serialize)]
pub struct UploadRecord {
    /// The slot it filled.
    pub slot: UploadSlot,
    /// The download parameter handed back in `x-encrypted-param`.
    pub download_param: String,
    /// MD5 of the decrypted body.
    pub plain_md5: String,
    /// Size of the decrypted body.
    pub plain_size: u64,
    /// The decrypted body.
    #[serde(skip)]
    pub plain: bytes::Bytes,
}

/// A stored CDN object.
#[derive(Debug, Clone)]
pub struct Blob {
    /// What the CDN serves (ciphertext, or plaintext for keyless images).
    pub bytes: bytes::Bytes,
    /// The key that decrypts it (hex), if any.
    pub key_hex: Option<String>,
}

/// One accepted `sendmessage`, with what the fake found out about it.
#[derive(Debug, Clone, Serialize)]
pub struct SentMessage {
    /// The bot that sent it.
    pub bot_id: String,
    /// The `msg` object as received.
    pub msg: Value,
    /// The id the fake answered with (a string: it exceeds 2^53).
    pub message_id: String,
    /// Recipient.
    pub to_user_id: String,
    /// Item type of the one item.
    pub item_type: i64,
    /// Text of a text item.
    pub text: Option<String>,
    /// For media items: whether the referenced blob decrypts with the key in the item.
    pub media_decrypts: Option<bool>,
    /// For media items: MD5 of the decrypted media.
    pub media_md5: Option<String>,
    /// The key form found in `media.aes_key` (`"D"`, `"B"` or `"H"`).
    pub aes_key_form: Option<String>,
    /// When (ms).
    pub at_ms: i64,
}

/// One `sendtyping` call.
#[derive(Debug, Clone, Serialize)]
pub struct TypingEvent {
    /// The bot.
    pub bot_id: String,
    /// The user.
    pub user_id: String,
    /// `1` typing, `2` cancel.
    pub status: i64,
    /// When (ms).
    pub at_ms: i64,
}

/// One request as a client made it.
#[derive(Debug, Clone, Serialize)]
pub struct RecordedRequest {
    /// Endpoint name (`getupdates`, `cdn_upload`, …).
    pub endpoint: String,
    /// HTTP method.
    pub method: String,
    /// Path.
    pub path: String,
    /// Query string.
    pub query: String,
    /// Headers, lower-case names.
    pub headers: std::collections::BTreeMap<String, String>,
    /// The JSON body (`null` for GETs and CDN bodies).
    pub body: Value,
    /// Deviations from the protocol's modern header/body conventions.
    pub problems: Vec<String>,
    /// When (ms).
    pub at_ms: i64,
}

/// The fake's whole state, behind one mutex.
#[derive(Debug, Default)]
pub struct State {
    /// Current switches.
    pub config: FakeConfig,
    /// Bots by id.
    pub bots: HashMap<String, BotAccount>,
    /// Bot ids in creation order.
    pub bot_order: Vec<String>,
    /// Bot id by token.
    pub tokens: HashMap<String, String>,
    /// Inbound streams by bot id.
    pub inboxes: HashMap<String, Inbox>,
    /// Context tokens.
    pub contexts: HashMap<String, ContextToken>,
    /// Typing tickets → (bot, user).
    pub tickets: HashMap<String, (String, String)>,
    /// QR logins by `qrcode`.
    pub qr: HashMap<String, QrLogin>,
    /// Scripts for the next QR codes, one per code.
    pub qr_scripts: VecDeque<Vec<QrStep>>,
    /// Upload slots by upload parameter.
    pub slots: HashMap<String, UploadSlot>,
    /// Completed uploads, in order.
    pub uploads: Vec<UploadRecord>,
    /// CDN objects by download parameter.
    pub blobs: HashMap<String, Blob>,
    /// Accepted sends, in order.
    pub sent: Vec<SentMessage>,
    /// Typing calls, in order.
    pub typing: Vec<TypingEvent>,
    /// Faults waiting to fire.
    pub faults: Vec<ArmedFault>,
    /// Recorded requests (bounded).
    pub requests: VecDeque<RecordedRequest>,
    /// Counter for message ids.
    pub next_message_id: u64,
    /// `getupdates` calls in flight per bot right now.
    pub polls_in_flight: HashMap<String, u32>,
    /// The most `getupdates` calls ever in flight at once per bot (one poller per account
    /// means this stays at 1).
    pub max_polls_in_flight: HashMap<String, u32>,
}

/// A fault waiting to fire.
#[derive(Debug, Clone)]
pub struct ArmedFault {
    /// Endpoint name, or `*` for any.
    pub endpoint: String,
    /// Only requests carrying this bot's token (any request when `None`).
    pub bot_id: Option<String>,
    /// What to do.
    pub fault: FaultSpec,
    /// Requests left to hit.
    pub remaining: u32,
}

/// Most requests kept in the record.
pub const MAX_RECORDED: usize = 100_000;

impl State {
    /// A fresh state with `config`.
    pub fn new(config: FakeConfig) -> Self {
        State {
            config,
            next_message_id: 7_462_500_663_980_633_224,
            ..Default::default()
        }
    }

    /// The live bot holding `token`, or `None` (unknown or expired).
    pub fn live_bot(&self, token: &str) -> Option<&BotAccount> {
        let bot_id = self.tokens.get(token)?;
        self.bots.get(bot_id).filter(|b| !b.expired)
    }

    /// A fresh message id above 2^53.
    pub fn mint_message_id(&mut self) -> u64 {
        self.next_message_id = self
            .next_message_id
            .wrapping_add(1 + rand::random::<u16>() as u64);
        self.next_message_id
    }

    /// Takes the next fault for `endpoint` called with `bearer` (a request's token), if one
    /// is armed for that endpoint (or `*`) and, when it names a bot, for that bot.
    pub fn take_fault(&mut self, endpoint: &str, bearer: Option<&str>) -> Option<FaultSpec> {
        let caller = bearer.and_then(|t| self.tokens.get(t)).cloned();
        let pos = self.faults.iter().position(|f| {
            f.remaining > 0
                && (f.endpoint == endpoint || f.endpoint == "*")
                && f.bot_id.as_ref().is_none_or(|b| Some(b) == caller.as_ref())
        })?;
        let armed = &mut self.faults[pos];
        armed.remaining -= 1;
        let fault = armed.fault.clone();
        if armed.remaining == 0 {
            self.faults.remove(pos);
        }
        Some(fault)
    }

    /// Appends to the request record.
    pub fn record(&mut self, req: RecordedRequest) {
        if !self.config.record_requests {
            return;
        }
        if self.requests.len() >= MAX_RECORDED {
            self.requests.pop_front();
        }
        self.requests.push_back(req);
    }

    /// Mints a logged-in bot for `user_id` (a fresh account id and token).
    pub fn mint_bot(&mut self, user_id: &str) -> BotAccount {
        let bot_id = format!("{}@im.bot", hex::encode(rand::random::<[u8; 6]>()));
        let token = format!("{bot_id}:060000{}", hex::encode(rand::random::<[u8; 16]>()));
        let bot = BotAccount {
            bot_id: bot_id.clone(),
            token: token.clone(),
            user_id: user_id.to_string(),
            expired: false,
            known_users: vec![user_id.to_string()],
        };
        self.bots.insert(bot_id.clone(), bot.clone());
        self.bot_order.push(bot_id.clone());
        self.tokens.insert(token, bot_id.clone());
        self.inboxes.insert(
            bot_id,
            Inbox {
                messages: Vec::new(),
                last_seq: watch::channel(0).0,
            },
        );
        bot
    }

    /// Forgets everything but the config.
    pub fn reset(&mut self) {
        let config = self.config.clone();
        *self = State::new(config);
    }
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// An opaque parameter of the kind the CDN hands out: base64 with `+`, `/` and `=` in it, so
/// clients that forget to percent-encode it fail against the fake as they would for real.
pub fn opaque_param(prefix: &str) -> String {
    use base64::Engine as _;
    let mut bytes = rand::random::<[u8; 24]>().to_vec();
    // Guarantee '+' and '/' appear: 0xfb 0xff encodes to "+/".
    bytes.extend_from_slice(&[0xfb, 0xff, 0xbf]);
    format!(
        "{prefix}{}=",
        base64::engine::general_purpose::STANDARD.encode(&bytes)
    )
}
