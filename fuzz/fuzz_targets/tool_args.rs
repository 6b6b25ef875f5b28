//! `tool_args`: the arguments of EVERY MCP tool of wxlink (crates/wxlink/src/mcp/types.rs,
//! wechaty_types.rs, params.rs, tools/*), through what runs before any service call.
//!
//! Input: JSON, used as a tool's `arguments` for every tool (rmcp deserializes `Parameters<T>`
//! from the arguments object with serde); input that is not JSON is taken as one string and
//! put in every string parameter.
//!
//! Invariants:
//! - Deserializing any JSON into any tool's parameter type never panics, and the defaults
//!   hold when a field is absent (recv timeout 5, login timeout 30, history limit 50, typing
//!   on=true, every optional string "").
//! - The tool's published input schema agrees with serde: for every property of an accepted
//!   object, dropping it is refused exactly when the schema lists it as required. Every tool
//!   the router has is covered here (a new tool without a parameter type fails this target).
//! - `params::wait` is within 0..=300 s for any number (NaN, infinities, negatives).
//! - `params::given` is `None` exactly for blank text, else the trimmed text;
//!   `params::local_path` is `None` exactly for blank text and never panics.
//! - `history`: its filter plans (`service::history::plan`) into a query with the limit clamped
//!   to 1..=200 and the text and user trimmed; it fails exactly when the type, direction or a
//!   time does not parse.
//! - `login`: the token never shows in `Debug` (the parameters print the same whatever the
//!   token); the backend is one `BackendKind::parse` names, case-insensitively.
//! - Wechaty tools: `non_empty` refuses exactly blank names; `Outgoing::new` refuses exactly
//!   "no text and no file", keeps the text verbatim and the file as `local_path` says, named by
//!   `file_name` when given; `pick` (with `contact_candidates` / `room_candidates` numbering)
//!   picks the candidate whose index was asked, or says why not.
//! - `ToolMode` parses exactly its four names (any case, trimmed); `ToolSurface::lists` agrees
//!   with the tool groups.
//! - Every agent-facing error text ends with its `[kind]`.

#![no_main]

use std::path::PathBuf;

use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde_json::{Map, Value};
use wxlink::error::AppError;
use wxlink::mcp::params::{error_message, given, local_path, wait, MAX_WAIT_SECS};
use wxlink::mcp::tools::wechaty::answers::{
    contact_candidates, non_empty, room_candidates, Outgoing,
};
use wxlink::mcp::tools::{self, ToolMode, ToolSurface};
use wxlink::mcp::types::*;
use wxlink::mcp::wechaty_types::*;
use wxlink::model::{BackendKind, Secret};
use wxlink::service::history::{parse_direction, parse_kind, plan, HistoryFilter, MAX_PAGE};
use wxlink::timefmt::parse_time;
use wxlink::upstream::{Contact, FileKind, Room};

/// Deserializes `args` as a tool's parameters would be.
fn parse<T: DeserializeOwned>(args: &Value) -> Option<T> {
    // From a reference: no copy of the arguments per tool (allocations are slow under ASan).
    T::deserialize(args).ok()
}

fn absent(args: &Value, key: &str) -> bool {
    args.get(key).is_none()
}

fn check_given(s: &str) {
    match given(s) {
        None => assert!(s.trim().is_empty()),
        Some(t) => {
            assert_eq!(t, s.trim());
            assert!(!t.is_empty());
        }
    }
    match local_path(s) {
        None => assert!(s.trim().is_empty()),
        Some(p) => assert!(!s.trim().is_empty() && !p.as_os_str().is_empty()),
    }
}

fn check_wait(seconds: f64) {
    let d = wait(seconds);
    assert!(d.as_secs_f64() <= MAX_WAIT_SECS, "wait({seconds}) = {d:?}");
    if seconds.is_nan() || seconds <= 0.0 {
        assert!(d.is_zero());
    }
}

fn check_error(e: AppError) {
    let kind = e.kind().as_str();
    let text = error_message(&e);
    assert!(
        text.ends_with(&format!("[{kind}]")),
        "{text:?} lacks [{kind}]"
    );
}

fn check_history(p: &HistoryParams, args: &Value) {
    if absent(args, "limit") {
        assert_eq!(p.limit, 50);
    }
    let filter = HistoryFilter {
        user: p.user_id.clone(),
        bot_id: p.bot_id.clone(),
        session: p.session.clone(),
        kind: p.msg_type.clone(),
        direction: p.direction.clone(),
        since: p.since.clone(),
        until: p.until.clone(),
        text: p.text_contains.clone(),
        limit: p.limit,
        offset: p.offset,
        before_id: None,
    };
    let time_ok = |s: &str| s.trim().is_empty() || parse_time(s.trim()).is_ok();
    let valid = parse_kind(&p.msg_type).is_ok()
        && parse_direction(&p.direction).is_ok()
        && time_ok(&p.since)
        && time_ok(&p.until);
    match plan(&filter, &[]) {
        Ok((query, note)) => {
            assert!(valid, "plan accepted an invalid filter: {filter:?}");
            match query {
                Some(q) => {
                    assert!(p.bot_id.trim().is_empty());
                    assert!((1..=MAX_PAGE).contains(&q.limit));
                    assert_eq!(q.limit, p.limit.clamp(1, MAX_PAGE));
                    assert_eq!(q.offset, p.offset);
                    assert_eq!(q.text, given(&p.text_contains));
                    assert_eq!(q.user, given(&p.user_id));
                    assert_eq!(q.session, given(&p.session));
                    if let Some(kind) = &q.kind {
                        assert!(
                            ["text", "image", "voice", "file", "video", "mixed", "unknown"]
                                .contains(&kind.as_str())
                        );
                    }
                }
                // A bot id no session has (there are none here) matches nothing, and says so.
                None => assert!(!p.bot_id.trim().is_empty() && note.is_some()),
            }
        }
        Err(e) => {
            assert!(!valid, "plan refused a valid filter: {filter:?}: {e}");
            check_error(e);
        }
    }
}

fn check_login(p: &LoginParams, args: &Value) {
    if absent(args, "timeout") {
        assert_eq!(p.timeout, 30.0);
    }
    check_wait(p.timeout);
    let mut blank = p.clone();
    blank.token = Secret::default();
    assert_eq!(
        format!("{p:?}"),
        format!("{blank:?}"),
        "the token shows in Debug"
    );
    if let Some(kind) = BackendKind::parse(&p.backend) {
        assert!(kind.as_str().eq_ignore_ascii_case(p.backend.trim()));
    }
    for s in [&p.session_name, &p.verify_code, &p.backend, &p.endpoint] {
        check_given(s);
    }
}

fn check_outgoing(message: &str, file_path: &str, file_name: &str, session: &str) {
    check_given(file_path);
    check_given(file_name);
    check_given(session);
    match Outgoing::new(message, file_path, file_name) {
        Err(e) => {
            assert!(message.is_empty() && file_path.trim().is_empty());
            check_error(e);
        }
        Ok(out) => {
            assert_eq!(
                out.text.as_deref(),
                (!message.is_empty()).then_some(message)
            );
            let path: Option<PathBuf> = local_path(file_path);
            assert_eq!(out.file.as_ref().map(|f| f.path.clone()), path);
            if let Some(f) = &out.file {
                assert_eq!(f.name, given(file_name));
                let shown = f.name.clone().unwrap_or_else(|| {
                    f.path
                        .file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into())
                });
                assert_eq!(f.kind, FileKind::guess(&shown));
            }
            let had_file = out.file.is_some();
            let req = out.request("wxid_to", given(session), wxlink::service::send::SentBy::Agent);
            assert_eq!(req.files.len(), usize::from(had_file));
            assert!(req.text.is_some() || !req.files.is_empty());
        }
    }
}

fn check_name(what: &str, value: &str) {
    match non_empty(what, value) {
        Ok(v) => assert!(!v.is_empty() && v == value.trim()),
        Err(e) => {
            assert!(value.trim().is_empty());
            assert!(e.to_string().contains(what));
            check_error(e);
        }
    }
}

/// `count` candidates named `name` (contacts or rooms), picked with `index`.
fn check_pick(name: &str, count: usize, index: Option<u32>, rooms: bool) {
    let list = if rooms {
        room_candidates(
            (0..count)
                .map(|i| Room {
                    id: format!("r{i}@chatroom"),
                    topic: name.to_string(),
                    members: if i == 0 { usize::MAX } else { i },
                    owner_id: None,
                })
                .collect(),
        )
    } else {
        contact_candidates(
            (0..count)
                .map(|i| Contact {
                    id: format!("wxid_{i}"),
                    name: name.to_string(),
                    alias: (i % 2 == 1).then(|| format!("{name} {i}")),
                    kind: "personal",
                    friend: true,
                })
                .collect(),
        )
    };
    for (i, c) in list.iter().enumerate() {
        assert_eq!(c.index as usize, i + 1, "candidates are numbered from 1");
    }
    let target = if rooms { Target::Room } else { Target::Contact };
    match pick(list.clone(), index) {
        Pick::One(c) => match index {
            Some(i) => assert_eq!(c.index, i),
            None => assert_eq!(count, 1),
        },
        Pick::Ambiguous(l) => assert!(index.is_none() && count > 1 && l == list),
        Pick::NotFound => assert_eq!(count, 0),
        Pick::BadIndex { index: i, count: n } => {
            assert_eq!((Some(i), n), (index, count));
            assert!(i == 0 || i as usize > count);
            let text = bad_index_text(target, name, i, n);
            assert!(text.contains(&format!("index 1 to {n}")));
        }
    }
    for fuzzy in [false, true] {
        let hint = not_found_hint(target, name, fuzzy, &list);
        if list.len() > 10 {
            assert!(hint.contains(&format!("and {} more", list.len() - 10)));
        }
        assert_eq!(
            hint.contains("fuzzy=true"),
            !fuzzy || name.contains("fuzzy=true")
        );
    }
    assert!(not_found_text(target, name).contains(name));
    assert!(ambiguous_text(target, name).contains(name));
    let json: Value = serde_json::from_str(&list_json(&list)).unwrap();
    assert_eq!(json.as_array().map(Vec::len), Some(list.len()));
}

/// Every string in `v`, keys included.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(a) => a.iter().for_each(|x| strings(x, out)),
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            out.push(k.clone());
            strings(x, out);
        }),
        _ => {}
    }
}

/// The required and all properties of each tool's input schema, read once.
fn schema_of(tool: &str) -> &'static (Vec<String>, Vec<String>) {
    type Schemas = std::collections::HashMap<String, (Vec<String>, Vec<String>)>;
    static SCHEMAS: std::sync::OnceLock<Schemas> = std::sync::OnceLock::new();
    let schemas = SCHEMAS.get_or_init(|| {
        tools::router()
            .list_all()
            .into_iter()
            .map(|t| {
                let s = &t.input_schema;
                let required = s
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| {
                        r.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_string)
                            .collect()
                    })
                    .unwrap_or_default();
                let properties = s
                    .get("properties")
                    .and_then(Value::as_object)
                    .map(|p| p.keys().cloned().collect())
                    .unwrap_or_default();
                (t.name.to_string(), (required, properties))
            })
            .collect()
    });
    schemas
        .get(tool)
        .unwrap_or_else(|| panic!("no tool {tool}"))
}

/// The schema of `tool` says `key` is required exactly when serde needs it.
fn check_schema<T: DeserializeOwned>(tool: &str, args: &Value) {
    let Value::Object(obj) = args else { return };
    // Each property costs a copy of the object: big objects (the one-string fallback has every
    // parameter) are checked elsewhere.
    if obj.len() > 12 || parse::<T>(args).is_none() {
        return;
    }
    let (required, properties) = schema_of(tool);
    for key in obj.keys() {
        if !properties.contains(key) {
            continue;
        }
        let mut without = obj.clone();
        without.remove(key);
        let accepted = parse::<T>(&Value::Object(without)).is_some();
        assert_eq!(
            !accepted,
            required.contains(key),
            "{tool}: without {key:?} serde {} it, the schema says required={:?}",
            if accepted { "accepts" } else { "refuses" },
            required
        );
    }
}

/// The tools and their parameter types.
const TOOLS: &[&str] = &[
    "recv",
    "send",
    "download",
    "history",
    "sessions",
    "login",
    "logout",
    "rename_session",
    "set_default",
    "typing",
    "contacts",
    "findFriend",
    "findRoomByTopic",
    "sendMessageToFriend",
    "sendMessageToFriendByNickname",
    "sendMessageToRoom",
    "sendMessageToRoomByTopic",
    "sendMessageToFriendByWxId",
    "sendMessageToRoomByWxId",
    "getRoomMembers",
];

fn every_tool_is_covered() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let mut listed: Vec<String> = tools::router()
            .list_all()
            .into_iter()
            .map(|t| t.name.to_string())
            .collect();
        listed.sort();
        let mut ours: Vec<String> = TOOLS.iter().map(|s| s.to_string()).collect();
        ours.sort();
        assert_eq!(listed, ours, "a tool without a fuzzed parameter type");
    });
}

fn check_args(args: &Value, fallback: &str) {
    check_schema::<RecvParams>("recv", args);
    check_schema::<SendParams>("send", args);
    check_schema::<DownloadParams>("download", args);
    check_schema::<HistoryParams>("history", args);
    check_schema::<LoginParams>("login", args);
    check_schema::<LogoutParams>("logout", args);
    check_schema::<RenameParams>("rename_session", args);
    check_schema::<SetDefaultParams>("set_default", args);
    check_schema::<TypingParams>("typing", args);
    check_schema::<ContactsParams>("contacts", args);
    check_schema::<FindFriendParams>("findFriend", args);
    check_schema::<FindRoomParams>("findRoomByTopic", args);
    for tool in ["sendMessageToFriend", "sendMessageToFriendByNickname"] {
        check_schema::<FriendSendParams>(tool, args);
    }
    for tool in ["sendMessageToRoom", "sendMessageToRoomByTopic"] {
        check_schema::<RoomSendParams>(tool, args);
    }
    for tool in ["sendMessageToFriendByWxId", "sendMessageToRoomByWxId"] {
        check_schema::<WxidSendParams>(tool, args);
    }
    check_schema::<RoomMembersParams>("getRoomMembers", args);

    if let Some(p) = parse::<RecvParams>(args) {
        if absent(args, "timeout") {
            assert_eq!(p.timeout, 5.0);
        }
        check_wait(p.timeout);
        if let Some(c) = &p.consumer {
            check_given(c);
        }
    }
    if let Some(p) = parse::<SendParams>(args) {
        for s in [
            &p.to,
            &p.text,
            &p.image_path,
            &p.file_path,
            &p.file_name,
            &p.video_path,
            &p.voice_path,
            &p.session,
        ] {
            check_given(s);
        }
    }
    if let Some(p) = parse::<DownloadParams>(args) {
        check_given(&p.message_id);
        check_given(&p.save_dir);
    }
    if let Some(p) = parse::<HistoryParams>(args) {
        check_history(&p, args);
    }
    if let Some(p) = parse::<LoginParams>(args) {
        check_login(&p, args);
    }
    if let Some(p) = parse::<LogoutParams>(args) {
        check_given(&p.session_name);
    }
    if let Some(p) = parse::<RenameParams>(args) {
        check_given(&p.old_name);
        check_given(&p.new_name);
    }
    if let Some(p) = parse::<SetDefaultParams>(args) {
        check_given(&p.session_name);
    }
    if let Some(p) = parse::<ContactsParams>(args) {
        check_given(&p.query);
        check_given(&p.session);
    }
    if let Some(p) = parse::<TypingParams>(args) {
        if absent(args, "on") {
            assert!(p.on);
        }
        check_given(&p.to);
        check_given(&p.session);
    }
    if let Some(p) = parse::<FindFriendParams>(args) {
        check_name("nickname", &p.nickname);
        check_given(&p.session);
    }
    if let Some(p) = parse::<FindRoomParams>(args) {
        check_name("topic", &p.topic);
        check_given(&p.session);
    }
    let count = fallback.len() % 13;
    if let Some(p) = parse::<FriendSendParams>(args) {
        check_name("nickname", &p.nickname);
        check_outgoing(&p.message, &p.file_path, &p.file_name, &p.session);
        check_pick(&p.nickname, count, p.index, false);
    }
    if let Some(p) = parse::<RoomSendParams>(args) {
        check_name("topic", &p.topic);
        check_outgoing(&p.message, &p.file_path, &p.file_name, &p.session);
        check_pick(&p.topic, count, p.index, true);
    }
    if let Some(p) = parse::<WxidSendParams>(args) {
        check_name("wxid", &p.wxid);
        check_outgoing(&p.message, &p.file_path, &p.file_name, &p.session);
    }
    if let Some(p) = parse::<RoomMembersParams>(args) {
        check_given(&p.wxid);
        check_given(&p.topic);
        check_given(&p.session);
        check_pick(&p.topic, count, p.index, true);
    }

    let mut all = Vec::new();
    strings(args, &mut all);
    for s in &all {
        check_given(s);
        match s.parse::<ToolMode>() {
            Ok(_) => assert!(ToolMode::VALUES.contains(&s.trim().to_ascii_lowercase().as_str())),
            Err(e) => {
                assert!(!ToolMode::VALUES.contains(&s.trim().to_ascii_lowercase().as_str()));
                assert!(!e.is_empty());
            }
        }
        let core = tools::CORE.contains(&s.as_str());
        assert!(ToolSurface::new(ToolMode::All).lists(s, false));
        assert_eq!(ToolSurface::new(ToolMode::Weilink).lists(s, true), core);
        assert_eq!(ToolSurface::new(ToolMode::Auto).lists(s, false), core);
        check_error(AppError::UnknownSession(s.clone()));
        check_error(AppError::MessageNotFound(s.clone()));
        check_error(AppError::Invalid(s.clone()));
        check_error(AppError::NoContext {
            user: s.clone(),
            session: given(s),
        });
        check_error(AppError::FileNotFound(PathBuf::from(s)));
        if let Some(k) = BackendKind::parse(s) {
            check_error(AppError::NeedsWechaty {
                session: s.clone(),
                backend: k,
                what: s.clone(),
            });
            check_error(AppError::LoginNeedsEndpoint { backend: k });
        }
    }
    for n in all.iter().filter_map(|s| s.parse::<f64>().ok()) {
        check_wait(n);
    }
    if let Value::Object(m) = args {
        for v in m.values().filter_map(Value::as_f64) {
            check_wait(v);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    every_tool_is_covered();
    match serde_json::from_slice::<Value>(data) {
        Ok(args) => check_args(&args, std::str::from_utf8(data).unwrap_or_default()),
        Err(_) => {
            // One string in every string parameter.
            let s = String::from_utf8_lossy(data).into_owned();
            let mut m = Map::new();
            for key in [
                "to",
                "text",
                "image_path",
                "file_path",
                "file_name",
                "video_path",
                "voice_path",
                "session",
                "message_id",
                "save_dir",
                "user_id",
                "bot_id",
                "msg_type",
                "direction",
                "since",
                "until",
                "text_contains",
                "session_name",
                "verify_code",
                "backend",
                "endpoint",
                "token",
                "old_name",
                "new_name",
                "query",
                "nickname",
                "topic",
                "message",
                "wxid",
                "consumer",
            ] {
                m.insert(key.into(), Value::String(s.clone()));
            }
            check_args(&Value::Object(m), &s);
        }
    }
});
