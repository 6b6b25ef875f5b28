//! WeiLink's `messages.db` (weilink 0.6 `_store.py`, schema `user_version` 1), read into
//! stored messages:
//!
//! ```text
//! messages(id, message_id UNIQUE, user_id, bot_id, msg_type, direction (1 in, 2 out), text,
//!          timestamp_ms, context_token, data (serialize_message JSON), stored_at (s))
//! ```
//!
//! `data` keeps what a download needs (CDN parameters, AES keys, `full_url`); each row is
//! rebuilt as the upstream message it came from and stored the way the iLink poller stores
//! one (`upstream::ilink::normalize`), so `download`, history and search treat it like any
//! other. Received rows are de-duplicated on the upstream message id (as the poller's are);
//! sent rows (WeiLink keeps only their text, with no upstream id) on WeiLink's row id.
//!
//! The database is never opened in place: it (and its `-wal`, which holds what WeiLink had
//! not checkpointed yet) is copied into a private temporary folder and read there, so the
//! source folder is never written — not even SQLite's `-shm`.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ilink::{MessageItem, Received, WeixinMessage};
use rusqlite::{Connection, OpenFlags};
use serde_json::{json, Map, Value};

use super::ReadError;
use crate::store::{Direction, MessageStatus, NewMessage};
use crate::upstream::ilink::normalize;

/// The messages of the database, by session.
#[derive(Debug, Default)]
pub(super) struct History {
    /// Messages of the sessions' bots, by session name.
    pub by_session: BTreeMap<String, Vec<NewMessage>>,
    /// How many rows belong to a bot of no session, by bot id.
    pub orphans: BTreeMap<String, u64>,
    pub warnings: Vec<String>,
}

/// One row of `messages`.
#[derive(Debug, Clone)]
struct Row {
    id: i64,
    message_id: Option<i64>,
    user_id: String,
    bot_id: String,
    msg_type: i64,
    direction: i64,
    text: Option<String>,
    timestamp_ms: i64,
    context_token: String,
    data: Option<Value>,
    stored_at_ms: i64,
}

/// Reads every row of `db` (blocking), each into a message of the session `sessions` maps
/// its bot id to, and keeps them all (for small folders and tests; an import streams with
/// [`scan`]).
pub(super) fn read(
    db: &Path,
    sessions: &BTreeMap<String, String>,
    now_ms: i64,
) -> Result<History, ReadError> {
    let mut by_session: BTreeMap<String, Vec<NewMessage>> = BTreeMap::new();
    let mut history = scan(db, sessions, now_ms, &mut |session, m| {
        by_session.entry(session.to_owned()).or_default().push(m);
        Ok(())
    })?;
    history.by_session = by_session;
    Ok(history)
}

/// What receives the messages of [`scan`] as they are read: the session and the message.
pub(super) type Sink<'a> = dyn FnMut(&str, NewMessage) -> Result<(), ReadError> + 'a;

/// Reads every row of `db` (blocking) in id order, handing each message to `sink` as it is
/// converted: nothing is held, so memory stays flat however large the database. The result
/// has the orphans and warnings (its `by_session` is empty).
pub(super) fn scan(
    db: &Path,
    sessions: &BTreeMap<String, String>,
    now_ms: i64,
    sink: &mut Sink<'_>,
) -> Result<History, ReadError> {
    let copy = PrivateCopy::of(db)?;
    let conn = Connection::open_with_flags(
        copy.db(),
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(|e| ReadError::malformed(db, e))?;
    let malformed = |e: rusqlite::Error| ReadError::malformed(db, e);
    let mut stmt = conn
        .prepare(
            "SELECT id, message_id, user_id, bot_id, msg_type, direction, text, timestamp_ms, \
             context_token, data, stored_at FROM messages ORDER BY id",
        )
        .map_err(|e| ReadError::malformed(db, format!("not a WeiLink message store ({e})")))?;
    let rows = stmt
        .query_map([], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, Option<i64>>(1)?,
                r.get::<_, Option<String>>(2)?,
                r.get::<_, Option<String>>(3)?,
                r.get::<_, Option<i64>>(4)?,
                r.get::<_, Option<i64>>(5)?,
                r.get::<_, Option<String>>(6)?,
                r.get::<_, Option<i64>>(7)?,
                r.get::<_, Option<String>>(8)?,
                r.get::<_, Option<String>>(9)?,
                r.get::<_, Option<f64>>(10)?,
            ))
        })
        .map_err(malformed)?;
    let mut history = History::default();
    let mut unreadable_data = 0u64;
    for row in rows {
        let (id, message_id, user_id, bot_id, msg_type, direction, text, ts, ctx, data, stored) =
            row.map_err(malformed)?;
        let data = match data.as_deref().map(serde_json::from_str::<Value>) {
            Some(Ok(v)) if v.is_object() => Some(v),
            None => None,
            Some(_) => {
                unreadable_data += 1;
                None
            }
        };
        let stored_at_ms = stored.and_then(super::secs_to_ms).unwrap_or(now_ms);
        let row = Row {
            id,
            message_id,
            user_id: user_id.unwrap_or_default(),
            bot_id: bot_id.unwrap_or_default(),
            msg_type: msg_type.unwrap_or(1),
            direction: direction.unwrap_or(1),
            text,
            timestamp_ms: ts.filter(|&t| t > 0).unwrap_or(stored_at_ms),
            context_token: ctx.unwrap_or_default(),
            data,
            stored_at_ms,
        };
        match sessions.get(&row.bot_id) {
            Some(session) => sink(session, row.into_message(session))?,
            None => *history.orphans.entry(row.bot_id).or_default() += 1,
        }
    }
    if unreadable_data > 0 {
        history.warnings.push(format!(
            "{unreadable_data} message(s) in {} have unreadable media details; their text was \
             imported, their media cannot be downloaded",
            db.display()
        ));
    }
    Ok(history)
}

impl Row {
    /// The stored message for session `session`.
    fn into_message(self, session: &str) -> NewMessage {
        let items = self.items();
        if self.direction == Direction::Out.code() {
            return self.sent(session, items);
        }
        let mut raw = json!({
            "from_user_id": self.user_id,
            "to_user_id": self.bot_id,
            "create_time_ms": self.timestamp_ms,
            "message_type": 1,
            "context_token": self.context_token,
            "item_list": items,
            "imported_from": "weilink",
        });
        // The id as WeiLink had it from the server (the JSON keeps ids past i64).
        let upstream_id = self
            .data
            .as_ref()
            .and_then(|d| d.get("message_id"))
            .filter(|v| v.is_u64() || v.is_i64())
            .cloned()
            .or_else(|| self.message_id.map(Value::from));
        if let Some(id) = upstream_id {
            raw["message_id"] = id;
        }
        let received = Received {
            message: WeixinMessage::deserialize_from(&raw),
            raw,
        };
        let mut message = normalize::inbound(session, received, self.stored_at_ms)
            .unwrap_or_else(|| self.sent(session, Value::Array(Vec::new())));
        if message.upstream_id.is_none() {
            // No id at all: the content hash normalize falls back on would change with the
            // rebuilt JSON; WeiLink's row id is stable.
            message.dedupe_key = format!("weilink-row:{}", self.id);
        }
        message
    }

    /// A sent row: WeiLink keeps its text (no upstream id, no context token).
    fn sent(&self, session: &str, items: Value) -> NewMessage {
        let parsed: Vec<MessageItem> = items
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|v| serde_json::from_value(v.clone()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        let (kind, text, normalized) = normalize::normalize_items(&parsed);
        let client_id = format!("weilink-row:{}", self.id);
        NewMessage {
            session: session.to_owned(),
            direction: Direction::Out,
            upstream_id: None,
            dedupe_key: format!("client:{client_id}"),
            peer: self.user_id.clone(),
            bot_id: Some(self.bot_id.clone()).filter(|b| !b.is_empty()),
            kind,
            text,
            items: normalized.into(),
            raw: Some(json!({
                "to_user_id": self.user_id,
                "client_id": client_id,
                "message_type": 2,
                "message_state": 2,
                "item_list": items,
                "imported_from": "weilink",
            })),
            context_token: None,
            created_at_ms: self.timestamp_ms,
            client_id: Some(client_id),
            status: MessageStatus::Sent,
            error: None,
            speaker: None,
        }
    }

    /// The upstream items: from `data` (the first item, with its quote), else the columns.
    fn items(&self) -> Value {
        let data = self.data.as_ref().and_then(Value::as_object);
        let text = data
            .and_then(|d| d.get("text"))
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| self.text.clone());
        let mut item = data
            .and_then(|d| media_item(d, self.msg_type))
            .or_else(|| text.map(|t| json!({"type": 1, "text_item": {"text": t}})));
        if let (Some(Value::Object(item)), Some(quoted)) = (
            item.as_mut(),
            data.and_then(|d| d.get("ref_msg"))
                .and_then(Value::as_object),
        ) {
            let msg_type = quoted.get("msg_type").and_then(Value::as_i64).unwrap_or(1);
            let inner = media_item(quoted, msg_type).or_else(|| {
                quoted
                    .get("text")
                    .and_then(Value::as_str)
                    .map(|t| json!({"type": 1, "text_item": {"text": t}}))
            });
            if let Some(inner) = inner {
                item.insert("ref_msg".into(), json!({"message_item": inner}));
            }
        }
        Value::Array(item.into_iter().collect())
    }
}

/// The media item of a `serialize_message` (or `_serialize_ref_msg`) object, when it has one.
fn media_item(d: &Map<String, Value>, msg_type: i64) -> Option<Value> {
    let pick = |key: &str| d.get(key).and_then(Value::as_object);
    let (code, key, body) = match msg_type {
        2 => (2, "image_item", image(pick("image")?)),
        3 => (3, "voice_item", copy(pick("voice")?, &VOICE)),
        4 => (4, "file_item", file(pick("file")?)),
        5 => (5, "video_item", copy(pick("video")?, &VIDEO)),
        _ => return None,
    };
    Some(json!({"type": code, key: body}))
}

const VOICE: [&str; 5] = [
    "playtime",
    "text",
    "encode_type",
    "bits_per_sample",
    "sample_rate",
];
const VIDEO: [&str; 4] = ["play_length", "video_md5", "thumb_width", "thumb_height"];

/// `fields` of `src` plus its media reference.
fn copy(src: &Map<String, Value>, fields: &[&str]) -> Value {
    let mut out = Map::new();
    for f in fields {
        if let Some(v) = src.get(*f).filter(|v| !is_blank(v)) {
            out.insert((*f).to_owned(), v.clone());
        }
    }
    if let Some(media) = media(src) {
        out.insert("media".into(), media);
    }
    Value::Object(out)
}

/// WeiLink keeps an image's hex `aeskey` (which the server sends beside `media`) as
/// `media.aes_key`; it goes back where downloads look first.
fn image(src: &Map<String, Value>) -> Value {
    let mut out = copy(src, &["url", "thumb_width", "thumb_height", "hd_size"]);
    let key = src
        .get("media")
        .and_then(|m| m.get("aes_key"))
        .and_then(Value::as_str)
        .filter(|k| k.len() == 32 && k.bytes().all(|b| b.is_ascii_hexdigit()));
    if let (Value::Object(o), Some(key)) = (&mut out, key) {
        o.insert("aeskey".into(), json!(key));
    }
    out
}

/// WeiLink's `file_size` is the server's `len`.
fn file(src: &Map<String, Value>) -> Value {
    let mut out = copy(src, &["file_name", "md5"]);
    if let (Value::Object(o), Some(len)) = (&mut out, src.get("file_size").filter(|v| !is_blank(v)))
    {
        o.insert("len".into(), len.clone());
    }
    out
}

/// The media reference (`encrypt_query_param`, `aes_key`, `encrypt_type`, `full_url`).
fn media(src: &Map<String, Value>) -> Option<Value> {
    let m = src.get("media")?.as_object()?;
    let out: Map<String, Value> = ["encrypt_query_param", "aes_key", "encrypt_type", "full_url"]
        .iter()
        .filter_map(|k| {
            m.get(*k)
                .filter(|v| !is_blank(v))
                .map(|v| ((*k).to_owned(), v.clone()))
        })
        .collect();
    (!out.is_empty()).then_some(Value::Object(out))
}

fn is_blank(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::String(s) => s.is_empty(),
        _ => false,
    }
}

/// A private copy of a database and its `-wal`, removed on drop.
struct PrivateCopy {
    dir: PathBuf,
}

impl PrivateCopy {
    fn of(db: &Path) -> Result<Self, ReadError> {
        let unique = format!(
            "wxlink-import-{}-{}",
            std::process::id(),
            rand::random::<u64>()
        );
        let dir = std::env::temp_dir().join(unique);
        crate::paths::create_private_dir(&dir).map_err(ReadError::io(&dir))?;
        let copy = PrivateCopy { dir };
        fs::copy(db, copy.db()).map_err(ReadError::io(db))?;
        let mut wal = db.as_os_str().to_owned();
        wal.push("-wal");
        let wal = PathBuf::from(wal);
        if wal.is_file() {
            fs::copy(&wal, copy.dir.join("messages.db-wal")).map_err(ReadError::io(&wal))?;
        }
        Ok(copy)
    }

    fn db(&self) -> PathBuf {
        self.dir.join("messages.db")
    }
}

impl Drop for PrivateCopy {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.dir);
    }
}
