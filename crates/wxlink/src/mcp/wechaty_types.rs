//! Parameters, results and answer texts of the Wechaty-MCP-SSE tools ([`super::wechaty`]).
//!
//! The texts are Wechaty-MCP-SSE's (atorber/wechaty-mcp-sse, its README and source), word for
//! word, so prompts and clients written for it keep working:
//!
//! | case | text content |
//! |---|---|
//! | sent | `消息发送消息到「{name}」成功，发送时间 {ISO 8601}` |
//! | several contacts match | `「{nickname}」用户存在多个，请使用微信ID发送消息或指定发送给第几个好友`, then the candidates as a JSON list |
//! | several rooms match | `「{topic}」群组存在多个，请使用微信ID发送消息或指定发送给第几个群组`, then the list |
//! | no contact / room | `「{x}」用户不存在` / `「{x}」群组不存在` (here a tool error, with a hint) |
//! | findFriend / findRoomByTopic | the JSON list, pretty-printed: `[{"wxid", "name", "index"}]` |
//!
//! Candidates are sorted by id, so that `index` (1-based) means the same contact in
//! `findFriend`, in an ambiguous answer and in the `index` argument of the send tools.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::types::SentItemOut;

// ---------------------------------------------------------------------------------------------
// Parameters (Wechaty-MCP-SSE's names: nickname, topic, wxid, message; the rest is optional)
// ---------------------------------------------------------------------------------------------

/// Parameters of `findFriend`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FindFriendParams {
    /// 好友昵称: the contact's nickname; its remark (备注, alias) matches too.
    pub nickname: String,
    /// Match parts of names, ignoring case ("张" finds 张三). Default: the whole nickname or
    /// remark, exactly.
    #[serde(default)]
    pub fuzzy: bool,
    /// The session to search (default: the default Wechaty session). On an iLink session the
    /// users who wrote to the bot are searched by id.
    #[serde(default)]
    pub session: String,
}

/// Parameters of `findRoomByTopic`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FindRoomParams {
    /// 群组名称: the group chat's topic (name).
    pub topic: String,
    /// Match parts of topics, ignoring case. Default: the whole topic, exactly.
    #[serde(default)]
    pub fuzzy: bool,
    /// The Wechaty session to search (default: the default Wechaty session).
    #[serde(default)]
    pub session: String,
}

/// Parameters of `sendMessageToFriend` and `sendMessageToFriendByNickname`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct FriendSendParams {
    /// 好友昵称: the contact's nickname; its remark (备注, alias) matches too.
    pub nickname: String,
    /// 消息内容: the text to send ("" to send only `file_path`).
    pub message: String,
    /// Match parts of names, ignoring case. Default: the whole nickname or remark, exactly.
    #[serde(default)]
    pub fuzzy: bool,
    /// When several contacts match: send to the one with this `index` (1-based, from the
    /// candidate list or `findFriend`).
    #[serde(default)]
    pub index: Option<u32>,
    /// A file on this machine to send after the text (images by extension: png, jpg, gif, webp).
    #[serde(default)]
    pub file_path: String,
    /// The name the recipient sees for `file_path` (default: the file's own name).
    #[serde(default)]
    pub file_name: String,
    /// The Wechaty session to send through (default: the default Wechaty session).
    #[serde(default)]
    pub session: String,
}

/// Parameters of `sendMessageToRoom` and `sendMessageToRoomByTopic`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RoomSendParams {
    /// 群组名称: the group chat's topic (name).
    pub topic: String,
    /// 消息内容: the text to send ("" to send only `file_path`).
    pub message: String,
    /// Match parts of topics, ignoring case. Default: the whole topic, exactly.
    #[serde(default)]
    pub fuzzy: bool,
    /// When several rooms match: send to the one with this `index` (1-based, from the
    /// candidate list or `findRoomByTopic`).
    #[serde(default)]
    pub index: Option<u32>,
    /// A file on this machine to send after the text (images by extension: png, jpg, gif, webp).
    #[serde(default)]
    pub file_path: String,
    /// The name the group sees for `file_path` (default: the file's own name).
    #[serde(default)]
    pub file_name: String,
    /// The Wechaty session to send through (default: the default Wechaty session).
    #[serde(default)]
    pub session: String,
}

/// Parameters of `sendMessageToFriendByWxId` and `sendMessageToRoomByWxId`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct WxidSendParams {
    /// 微信ID: the contact's or room's id (`wxid` from findFriend / findRoomByTopic, `user` or
    /// `room_id` of a received message).
    pub wxid: String,
    /// 消息内容: the text to send ("" to send only `file_path`).
    pub message: String,
    /// A file on this machine to send after the text (images by extension: png, jpg, gif, webp).
    #[serde(default)]
    pub file_path: String,
    /// The name the recipient sees for `file_path` (default: the file's own name).
    #[serde(default)]
    pub file_name: String,
    /// The session to send through (default: the default Wechaty session; for a contact, an
    /// iLink user id goes through iLink).
    #[serde(default)]
    pub session: String,
}

/// Parameters of `getRoomMembers`: the room by `wxid`, or by `topic`.
#[derive(Debug, Clone, Deserialize, JsonSchema)]
pub struct RoomMembersParams {
    /// 群组名称: the room's topic (or give `wxid`).
    #[serde(default)]
    pub topic: String,
    /// 微信ID: the room's id, e.g. "r_123@chatroom" (or give `topic`).
    #[serde(default)]
    pub wxid: String,
    /// Match parts of topics, ignoring case. Default: the whole topic, exactly.
    #[serde(default)]
    pub fuzzy: bool,
    /// When several rooms have the topic: the one with this `index` (1-based).
    #[serde(default)]
    pub index: Option<u32>,
    /// The Wechaty session (default: the default Wechaty session).
    #[serde(default)]
    pub session: String,
}

// ---------------------------------------------------------------------------------------------
// Results
// ---------------------------------------------------------------------------------------------

/// A contact or room found (Wechaty-MCP-SSE's `{wxid, name, index}`, plus what tells
/// namesakes apart).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CandidateOut {
    /// The id: pass it to sendMessageToFriendByWxId / sendMessageToRoomByWxId.
    pub wxid: String,
    /// The nickname, or the room's topic.
    pub name: String,
    /// 1-based position in the list (the `index` argument of the send tools).
    pub index: u32,
    /// Contacts: the remark (备注) the bot's account gave them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
    /// Rooms: how many members the room has.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub members: Option<u32>,
}

/// Result of `findFriend` and `findRoomByTopic` (the text content is `results` alone, as
/// Wechaty-MCP-SSE printed it).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct FindOut {
    /// The session searched.
    pub session: String,
    /// What was searched for.
    pub query: String,
    /// Whether parts of names matched.
    pub fuzzy: bool,
    /// The matches, sorted by id, `index` from 1.
    pub results: Vec<CandidateOut>,
}

/// Result of the send tools.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct SendToOut {
    /// `sent`, or `ambiguous` (several matched and nothing was sent: pick one by `index` or
    /// send by wxid).
    pub status: String,
    /// The session used.
    pub session: String,
    /// The recipient (when sent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<CandidateOut>,
    /// When it was sent, ISO 8601 (the time in the text).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    /// What went out, in order (text first); each is in `history`.
    #[serde(default)]
    pub sent: Vec<SentItemOut>,
    /// When ambiguous: the candidates, `index` from 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateOut>,
}

/// One member of a room.
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MemberOut {
    /// The member's contact id.
    pub wxid: String,
    /// Their nickname.
    pub name: String,
    /// 1-based position in the list.
    pub index: u32,
    /// The name they gave themselves in this room (群昵称), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room_alias: Option<String>,
    /// Who invited them, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inviter: Option<String>,
}

/// Result of `getRoomMembers` (the text content is `members` alone, or the ambiguity texts).
#[derive(Debug, Clone, Serialize, Deserialize, JsonSchema)]
pub struct MembersOut {
    /// `found`, or `ambiguous` (several rooms have the topic: pick one by `index` or `wxid`).
    pub status: String,
    /// The session used.
    pub session: String,
    /// The room.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub room: Option<CandidateOut>,
    /// Its members (including the bot).
    #[serde(default)]
    pub members: Vec<MemberOut>,
    /// When ambiguous: the rooms, `index` from 1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub candidates: Vec<CandidateOut>,
}

// ---------------------------------------------------------------------------------------------
// Texts and candidate lists
// ---------------------------------------------------------------------------------------------

/// Contacts or rooms: which of Wechaty-MCP-SSE's wordings applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    /// A contact (好友, 用户).
    Contact,
    /// A room (群组).
    Room,
}

impl Target {
    /// "contact" or "room" (for English hints).
    pub fn noun(self) -> &'static str {
        match self {
            Target::Contact => "contact",
            Target::Room => "room",
        }
    }
}

/// `消息发送消息到「{name}」成功，发送时间 {time}`.
pub fn sent_text(name: &str, time_iso: &str) -> String {
    format!("消息发送消息到「{name}」成功，发送时间 {time_iso}")
}

/// `「{name}」用户不存在` / `「{name}」群组不存在`.
pub fn not_found_text(target: Target, name: &str) -> String {
    match target {
        Target::Contact => format!("「{name}」用户不存在"),
        Target::Room => format!("「{name}」群组不存在"),
    }
}

/// The first text of an ambiguous answer.
pub fn ambiguous_text(target: Target, name: &str) -> String {
    match target {
        Target::Contact => {
            format!("「{name}」用户存在多个，请使用微信ID发送消息或指定发送给第几个好友")
        }
        Target::Room => {
            format!("「{name}」群组存在多个，请使用微信ID发送消息或指定发送给第几个群组")
        }
    }
}

/// A candidate list as the tools print it: pretty JSON (two-space indent, like
/// `JSON.stringify(list, null, 2)`).
pub fn list_json<T: Serialize>(list: &[T]) -> String {
    serde_json::to_string_pretty(list).unwrap_or_else(|_| "[]".into())
}

/// What a lookup by name comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pick {
    /// Exactly one (or the one `index` chose).
    One(CandidateOut),
    /// Several and no `index`: answer with the list, send nothing.
    Ambiguous(Vec<CandidateOut>),
    /// None at all.
    NotFound,
    /// `index` outside `1..=count`.
    BadIndex {
        /// The index given.
        index: u32,
        /// How many there are.
        count: usize,
    },
}

/// Picks the target among `candidates` (numbered from 1), with the optional `index`.
pub fn pick(candidates: Vec<CandidateOut>, index: Option<u32>) -> Pick {
    let count = candidates.len();
    if count == 0 {
        return Pick::NotFound;
    }
    match index {
        Some(i) => match candidates.into_iter().find(|c| c.index == i) {
            Some(c) => Pick::One(c),
            None => Pick::BadIndex { index: i, count },
        },
        None if count == 1 => candidates
            .into_iter()
            .next()
            .map_or(Pick::NotFound, Pick::One),
        None => Pick::Ambiguous(candidates),
    }
}

/// The second text of a not-found answer: what was compared, similar names when a fuzzy
/// search found some (at most 10), and how to search more widely.
pub fn not_found_hint(target: Target, name: &str, fuzzy: bool, similar: &[CandidateOut]) -> String {
    let compared = match (target, fuzzy) {
        (Target::Contact, false) => format!("No contact's nickname or remark is exactly {name:?}."),
        (Target::Contact, true) => format!("No contact's nickname or remark contains {name:?}."),
        (Target::Room, false) => format!("No room's topic is exactly {name:?}."),
        (Target::Room, true) => format!("No room's topic contains {name:?}."),
    };
    let mut hint = compared;
    if !similar.is_empty() {
        let shown: Vec<String> = similar
            .iter()
            .take(10)
            .map(|c| match &c.alias {
                Some(a) => format!("{} (remark {a}, wxid {})", c.name, c.wxid),
                None => format!("{} (wxid {})", c.name, c.wxid),
            })
            .collect();
        let more = similar.len().saturating_sub(shown.len());
        hint.push_str(&format!(" Similar: {}", shown.join("; ")));
        if more > 0 {
            hint.push_str(&format!("; and {more} more"));
        }
        hint.push('.');
    }
    if !fuzzy {
        hint.push_str(match target {
            Target::Contact => " fuzzy=true matches parts of names (findFriend lists them).",
            Target::Room => " fuzzy=true matches parts of topics (findRoomByTopic lists them).",
        });
    }
    hint
}

/// The answer to an `index` outside the list.
pub fn bad_index_text(target: Target, name: &str, index: u32, count: usize) -> String {
    format!(
        "index {index} is out of range: {count} {}s match {name:?} (index 1 to {count}); call \
         {} to see them",
        target.noun(),
        match target {
            Target::Contact => "findFriend",
            Target::Room => "findRoomByTopic",
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{json, Value};

    fn candidate(id: &str, name: &str, index: u32, alias: Option<&str>) -> CandidateOut {
        CandidateOut {
            wxid: id.into(),
            name: name.into(),
            index,
            alias: alias.map(str::to_string),
            members: None,
        }
    }

    #[test]
    fn texts_are_wechaty_mcp_sse_word_for_word() {
        assert_eq!(
            sent_text("张三", "2026-11-22T12:00:00.000Z"),
            "消息发送消息到「张三」成功，发送时间 2026-11-22T12:00:00.000Z"
        );
        assert_eq!(
            not_found_text(Target::Contact, "赵六"),
            "「赵六」用户不存在"
        );
        assert_eq!(
            not_found_text(Target::Room, "无此群"),
            "「无此群」群组不存在"
        );
        assert_eq!(
            ambiguous_text(Target::Contact, "王五"),
            "「王五」用户存在多个，请使用微信ID发送消息或指定发送给第几个好友"
        );
        assert_eq!(
            ambiguous_text(Target::Room, "读书会"),
            "「读书会」群组存在多个，请使用微信ID发送消息或指定发送给第几个群组"
        );
    }

    #[test]
    fn candidate_lists_print_like_json_stringify() {
        let list = vec![
            candidate("wxid_wangwu_1", "王五", 1, Some("王五（同事）")),
            candidate("wxid_wangwu_2", "王五", 2, None),
        ];
        let json: Value = serde_json::from_str(&list_json(&list)).unwrap();
        assert_eq!(
            json,
            json!([
                {"wxid": "wxid_wangwu_1", "name": "王五", "index": 1, "alias": "王五（同事）"},
                {"wxid": "wxid_wangwu_2", "name": "王五", "index": 2},
            ])
        );
        // Pretty-printed, like JSON.stringify(list, null, 2).
        assert!(list_json(&list).starts_with("[\n  {\n    \"wxid\": \"wxid_wangwu_1\""));
        assert_eq!(list_json::<CandidateOut>(&[]), "[]");
    }

    #[test]
    fn picking_one_several_none_or_by_index() {
        let two = vec![
            candidate("a", "王五", 1, Some("同事")),
            candidate("b", "王五", 2, None),
        ];
        assert_eq!(pick(Vec::new(), None), Pick::NotFound);
        assert_eq!(pick(Vec::new(), Some(1)), Pick::NotFound);
        assert!(matches!(pick(two.clone(), None), Pick::Ambiguous(l) if l.len() == 2));
        match pick(two.clone(), Some(2)) {
            Pick::One(c) => assert_eq!(c.wxid, "b"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            pick(two.clone(), Some(3)),
            Pick::BadIndex { index: 3, count: 2 }
        );
        assert_eq!(
            pick(two.clone(), Some(0)),
            Pick::BadIndex { index: 0, count: 2 }
        );
        let one = vec![two[0].clone()];
        assert_eq!(pick(one.clone(), None), Pick::One(two[0].clone()));
        assert_eq!(pick(one, Some(2)), Pick::BadIndex { index: 2, count: 1 });
    }

    #[test]
    fn hints_say_what_was_compared_and_suggest() {
        let h = not_found_hint(Target::Contact, "张", false, &[]);
        assert!(
            h.contains("exactly \"张\"") && h.contains("fuzzy=true"),
            "{h}"
        );
        let similar = vec![candidate("wxid_zhangsan", "张三", 1, Some("老张"))];
        let h = not_found_hint(Target::Contact, "张", false, &similar);
        assert!(
            h.contains("Similar: 张三 (remark 老张, wxid wxid_zhangsan)"),
            "{h}"
        );
        let many: Vec<CandidateOut> = (0..12)
            .map(|i| CandidateOut {
                wxid: format!("r{i}"),
                name: format!("群{i}"),
                index: i + 1,
                alias: None,
                members: Some(2),
            })
            .collect();
        let h = not_found_hint(Target::Room, "群", false, &many);
        assert!(
            h.contains("and 2 more") && h.contains("findRoomByTopic"),
            "{h}"
        );
        let h = not_found_hint(Target::Room, "x", true, &[]);
        assert_eq!(h, "No room's topic contains \"x\".");
        assert!(bad_index_text(Target::Contact, "王五", 3, 2).contains("index 1 to 2"));
    }
}
