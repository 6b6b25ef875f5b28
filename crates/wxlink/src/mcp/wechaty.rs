//! The Wechaty-MCP-SSE tools, with its names, arguments and answer texts
//! (see [`super::wechaty_types`] for the texts): `findFriend`, `findRoomByTopic`,
//! `sendMessageToFriend` / `sendMessageToFriendByNickname`, `sendMessageToRoom` /
//! `sendMessageToRoomByTopic`, `sendMessageToFriendByWxId`, `sendMessageToRoomByWxId`, plus
//! `getRoomMembers`.
//!
//! What differs from Wechaty-MCP-SSE, keeping its texts: a name nobody has is a tool error
//! (`「x」用户不存在` / `「x」群组不存在`, with similar names as a hint) instead of `[]` or a
//! crash; a name several contacts or rooms share is answered with the numbered candidates and
//! nothing is sent (pick one with `index`, or send by `wxid`); remarks (备注) match as well as
//! nicknames. Beyond it: `fuzzy` (parts of names, any case), `session`, `file_path` (a file sent
//! after the text), `getRoomMembers`, and `structuredContent` next to the same text content.
//!
//! Lookups and sends go through the engine ([`crate::contacts`], [`crate::send`]), so every
//! send is recorded and shows in `history`. On an iLink session, `findFriend` searches the users
//! who wrote to the bot (by id), `sendMessageToFriendByWxId` sends through iLink, and the
//! other tools say what iLink cannot do (it carries no group chats, it has no contact list).

use std::path::PathBuf;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData};
use serde::Serialize;

use super::params::{self, given, local_path};
use super::server::WxlinkMcp;
use super::types::SentItemOut;
use super::wechaty_types::*;
use crate::backend::wechaty::BACKEND;
use crate::contacts::{self, Matching};
use crate::error::{AppError, AppResult};
use crate::send::{self, SendRequest, SentItem, WechatyItem};
use crate::store::SessionRecord;
use crate::timefmt::{iso, now_ms};

/// What iLink cannot do, for contact lookups by name.
const NO_CONTACT_LIST: &str = "iLink has no contact list (its users are the people who wrote \
                               to the bot: see the `contacts` tool)";
/// What iLink cannot do, for group tools.
const NO_GROUPS: &str = "iLink does not carry group chats";

/// What a send tool sends: the text, then the file.
struct Outgoing {
    text: Option<String>,
    file: Option<OutFile>,
}

struct OutFile {
    path: PathBuf,
    name: String,
    data: Vec<u8>,
}

impl Outgoing {
    /// Reads the file up front (a missing file fails before anything is sent).
    async fn prepare(message: &str, file_path: &str, file_name: &str) -> AppResult<Outgoing> {
        let text = (!message.is_empty()).then(|| message.to_string());
        let file = match local_path(file_path) {
            None => None,
            Some(path) => {
                let data = tokio::fs::read(&path).await.map_err(|source| {
                    if source.kind() == std::io::ErrorKind::NotFound {
                        AppError::FileNotFound(path.clone())
                    } else {
                        AppError::Io {
                            path: path.clone(),
                            source,
                        }
                    }
                })?;
                let name = given(file_name).unwrap_or_else(|| {
                    path.file_name()
                        .map(|n| n.to_string_lossy().into_owned())
                        .unwrap_or_else(|| "file".into())
                });
                Some(OutFile { path, name, data })
            }
        };
        if text.is_none() && file.is_none() {
            return Err(AppError::Invalid(
                "nothing to send: give `message` (text) and/or `file_path`".into(),
            ));
        }
        Ok(Outgoing { text, file })
    }
}

fn texts(items: Vec<String>) -> Vec<ContentBlock> {
    items.into_iter().map(ContentBlock::text).collect()
}

/// A result with these text items and `value` as structured content.
fn answer<T: Serialize>(
    value: &T,
    items: Vec<String>,
    is_error: bool,
) -> Result<CallToolResult, ErrorData> {
    let json = serde_json::to_value(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot serialize a result: {e}"), None))?;
    let mut result = if is_error {
        CallToolResult::error(texts(items))
    } else {
        CallToolResult::success(texts(items))
    };
    result.structured_content = Some(json);
    Ok(result)
}

fn failed(e: AppError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(params::error_message(&e))])
}

fn non_empty<'a>(what: &str, value: &'a str) -> AppResult<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        Err(AppError::Invalid(format!("`{what}` is empty")))
    } else {
        Ok(v)
    }
}

fn sent_out(item: SentItem) -> SentItemOut {
    SentItemOut {
        kind: item.kind,
        id: item.id,
        message_id: item.message_id,
        path: item.path,
        size: item.size,
    }
}

#[tool_router(router = wechaty_router, vis = "pub(super)")]
impl WxlinkMcp {
    /// findFriend.
    #[tool(
        name = "findFriend",
        title = "Find a friend (Wechaty)",
        description = "查找好友. Find WeChat contacts by nickname or remark (备注) on a Wechaty \
                       session. Answers the matches as a JSON list [{wxid, name, index, alias}] \
                       (several people can share a name: pass the `wxid` to \
                       sendMessageToFriendByWxId, or the `index` to sendMessageToFriend). \
                       Exact by default; fuzzy=true matches parts of names, ignoring case. No \
                       match is an error: 「nickname」用户不存在.",
        output_schema = schema_for_output::<FindOut>(),
        annotations(
            title = "Find a friend",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn find_friend(
        &self,
        Parameters(p): Parameters<FindFriendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_find_friend(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// findRoomByTopic.
    #[tool(
        name = "findRoomByTopic",
        title = "Find a group chat (Wechaty)",
        description = "查找群组. Find WeChat group chats (rooms) by topic on a Wechaty session. \
                       Answers the matches as a JSON list [{wxid, name, index, members}] \
                       (several groups can share a topic: pass the `wxid` to \
                       sendMessageToRoomByWxId, or the `index` to sendMessageToRoom). Exact by \
                       default; fuzzy=true matches parts of topics, ignoring case. No match is \
                       an error: 「topic」群组不存在.",
        output_schema = schema_for_output::<FindOut>(),
        annotations(
            title = "Find a group chat",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn find_room_by_topic(
        &self,
        Parameters(p): Parameters<FindRoomParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_find_room(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToFriend (Wechaty-MCP-SSE's first name for the nickname send).
    #[tool(
        name = "sendMessageToFriend",
        title = "Message a friend by nickname (Wechaty)",
        description = "向好友发送消息. Send a message to a WeChat contact found by nickname or \
                       remark (备注) — the same as sendMessageToFriendByNickname. Answers \
                       消息发送消息到「nickname」成功，发送时间 <ISO time>. If several contacts \
                       match, nothing is sent and the numbered candidates are returned: call \
                       again with `index`, or use sendMessageToFriendByWxId. Optional: fuzzy, \
                       file_path (a file sent after the text), session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a friend",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_friend(
        &self,
        Parameters(p): Parameters<FriendSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_to_friend(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToFriendByNickname.
    #[tool(
        name = "sendMessageToFriendByNickname",
        title = "Message a friend by nickname (Wechaty)",
        description = "使用昵称向好友发送消息. Send a message to a WeChat contact found by \
                       nickname or remark (备注). Answers 消息发送消息到「nickname」成功，发送时间 \
                       <ISO time>. If several contacts match, nothing is sent and the answer is \
                       「nickname」用户存在多个… plus the numbered candidates: call again with \
                       `index`, or use sendMessageToFriendByWxId. Optional: fuzzy, file_path (a \
                       file sent after the text), session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a friend",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_friend_by_nickname(
        &self,
        Parameters(p): Parameters<FriendSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_to_friend(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToRoom (Wechaty-MCP-SSE's first name for the topic send).
    #[tool(
        name = "sendMessageToRoom",
        title = "Message a group chat by topic (Wechaty)",
        description = "向群组发送消息. Send a message to a WeChat group chat found by topic — the \
                       same as sendMessageToRoomByTopic. Answers 消息发送消息到「topic」成功，\
                       发送时间 <ISO time>. If several groups have the topic, nothing is sent and \
                       the numbered candidates are returned: call again with `index`, or use \
                       sendMessageToRoomByWxId. Optional: fuzzy, file_path, session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a group chat",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_room(
        &self,
        Parameters(p): Parameters<RoomSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_to_room(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToRoomByTopic.
    #[tool(
        name = "sendMessageToRoomByTopic",
        title = "Message a group chat by topic (Wechaty)",
        description = "使用群名称向群组发送消息. Send a message to a WeChat group chat found by \
                       topic. Answers 消息发送消息到「topic」成功，发送时间 <ISO time>. If several \
                       groups have the topic, nothing is sent and the answer is \
                       「topic」群组存在多个… plus the numbered candidates: call again with \
                       `index`, or use sendMessageToRoomByWxId. Optional: fuzzy, file_path, \
                       session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a group chat",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_room_by_topic(
        &self,
        Parameters(p): Parameters<RoomSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_to_room(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToFriendByWxId.
    #[tool(
        name = "sendMessageToFriendByWxId",
        title = "Message a friend by id",
        description = "使用微信ID向好友发送消息. Send a message to a WeChat contact by id (the \
                       `wxid` from findFriend, or the `user` of a received message). Answers \
                       消息发送消息到「wxid」成功，发送时间 <ISO time>; an unknown id is an error: \
                       「wxid」用户不存在. An iLink user id (…@im.wechat) is sent through iLink. \
                       Optional: file_path (a file sent after the text), session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a friend by id",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_friend_by_wx_id(
        &self,
        Parameters(p): Parameters<WxidSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_by_wxid(&p, Target::Contact).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// sendMessageToRoomByWxId.
    #[tool(
        name = "sendMessageToRoomByWxId",
        title = "Message a group chat by id (Wechaty)",
        description = "使用微信ID向群组发送消息. Send a message to a WeChat group chat by id (the \
                       `wxid` from findRoomByTopic, or the `room_id` of a received group \
                       message). Answers 消息发送消息到「wxid」成功，发送时间 <ISO time>; an \
                       unknown id is an error: 「wxid」群组不存在. Optional: file_path, session.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
            title = "Message a group chat by id",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send_message_to_room_by_wx_id(
        &self,
        Parameters(p): Parameters<WxidSendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send_by_wxid(&p, Target::Room).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }

    /// getRoomMembers.
    #[tool(
        name = "getRoomMembers",
        title = "List a group chat's members (Wechaty)",
        description = "查询群成员. List the members of a WeChat group chat, given its `wxid` or \
                       its `topic`: a JSON list [{wxid, name, index, room_alias, inviter}] \
                       (room_alias is the name they use in that group). A topic several groups \
                       share is answered with the numbered candidates: call again with `index` \
                       or `wxid`. Optional: fuzzy, session.",
        output_schema = schema_for_output::<MembersOut>(),
        annotations(
            title = "List group members",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn get_room_members(
        &self,
        Parameters(p): Parameters<RoomMembersParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_room_members(&p).await {
            Ok(r) => r,
            Err(e) => Ok(failed(e)),
        }
    }
}

/// The tools' work.
impl WxlinkMcp {
    /// The iLink session a contact lookup or send should use instead of Wechaty: the session
    /// named when it is an iLink one; with none named, the default (or first) iLink session when
    /// there is no Wechaty session at all.
    fn ilink_instead(&self, session: Option<&str>) -> AppResult<Option<SessionRecord>> {
        if let Some(name) = session {
            let s = self.app.resolve_session(Some(name))?;
            return Ok((s.backend != BACKEND).then_some(s));
        }
        let sessions = self.app.store().sessions()?;
        if sessions.iter().any(|s| s.backend == BACKEND) {
            return Ok(None);
        }
        Ok(sessions
            .iter()
            .find(|s| s.is_default)
            .or_else(|| sessions.first())
            .cloned())
    }

    /// "No Wechaty session" where iLink sessions exist becomes "this is an iLink session, and
    /// iLink cannot …", which says why.
    fn explain_wechaty(&self, e: AppError, what: &str) -> AppError {
        if !matches!(e, AppError::NoWechatySession) {
            return e;
        }
        match self.ilink_instead(None) {
            Ok(Some(s)) => AppError::NeedsWechaty {
                session: s.name,
                what: what.to_string(),
            },
            _ => e,
        }
    }

    async fn do_find_friend(
        &self,
        p: &FindFriendParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let nickname = non_empty("nickname", &p.nickname)?;
        let session = given(&p.session);
        if let Some(ilink) = self.ilink_instead(session.as_deref())? {
            return self.find_ilink_users(&ilink, session.is_some(), nickname, p.fuzzy);
        }
        let (session, found) = contacts::find_contacts(
            &self.app,
            session.as_deref(),
            nickname,
            Matching::fuzzy(p.fuzzy),
        )
        .await
        .map_err(|e| self.explain_wechaty(e, NO_CONTACT_LIST))?;
        let results = contact_candidates(found);
        if results.is_empty() {
            let similar = self.similar_contacts(&session, nickname, p.fuzzy).await;
            return Ok(Ok(not_found(Target::Contact, nickname, p.fuzzy, &similar)));
        }
        let text = list_json(&results);
        Ok(answer(
            &FindOut {
                session: session.name,
                query: nickname.to_string(),
                fuzzy: p.fuzzy,
                results,
            },
            vec![text],
            false,
        ))
    }

    /// findFriend on an iLink session: the users who wrote to the bot, by id.
    fn find_ilink_users(
        &self,
        session: &SessionRecord,
        only_this_session: bool,
        query: &str,
        fuzzy: bool,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let mut ids: Vec<String> = contacts::ilink_users(&self.app, query)?
            .into_iter()
            .filter(|c| !only_this_session || c.session == session.name)
            .map(|c| c.user_id)
            .filter(|id| fuzzy || id == query)
            .collect();
        ids.sort();
        ids.dedup();
        if ids.is_empty() {
            let hint =
                format!(
                "Session {:?} is an iLink session: {NO_CONTACT_LIST}. iLink knows its users by \
                 id only (…@im.wechat), so findFriend there searches those ids{}.",
                session.name,
                if fuzzy { "" } else { " (fuzzy=true: parts of ids)" }
            );
            return Ok(Ok(CallToolResult::error(texts(vec![
                not_found_text(Target::Contact, query),
                hint,
            ]))));
        }
        let results: Vec<CandidateOut> = ids
            .into_iter()
            .zip(1u32..)
            .map(|(id, index)| CandidateOut {
                name: id.clone(),
                wxid: id,
                index,
                alias: None,
                members: None,
            })
            .collect();
        let text = list_json(&results);
        Ok(answer(
            &FindOut {
                session: session.name.clone(),
                query: query.to_string(),
                fuzzy,
                results,
            },
            vec![text],
            false,
        ))
    }

    /// Contacts a fuzzy search finds, for the hint of an exact search that found nothing.
    async fn similar_contacts(
        &self,
        session: &SessionRecord,
        name: &str,
        fuzzy: bool,
    ) -> Vec<CandidateOut> {
        if fuzzy {
            return Vec::new();
        }
        contacts::find_contacts(&self.app, Some(&session.name), name, Matching::Fuzzy)
            .await
            .map(|(_, found)| contact_candidates(found))
            .unwrap_or_default()
    }

    async fn similar_rooms(
        &self,
        session: &SessionRecord,
        topic: &str,
        fuzzy: bool,
    ) -> Vec<CandidateOut> {
        if fuzzy {
            return Vec::new();
        }
        contacts::find_rooms(&self.app, Some(&session.name), topic, Matching::Fuzzy)
            .await
            .map(|(_, found)| room_candidates(found))
            .unwrap_or_default()
    }

    async fn do_find_room(
        &self,
        p: &FindRoomParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let topic = non_empty("topic", &p.topic)?;
        let (session, results) = self.rooms_named(&p.session, topic, p.fuzzy).await?;
        if results.is_empty() {
            let similar = self.similar_rooms(&session, topic, p.fuzzy).await;
            return Ok(Ok(not_found(Target::Room, topic, p.fuzzy, &similar)));
        }
        let text = list_json(&results);
        Ok(answer(
            &FindOut {
                session: session.name,
                query: topic.to_string(),
                fuzzy: p.fuzzy,
                results,
            },
            vec![text],
            false,
        ))
    }

    async fn rooms_named(
        &self,
        session: &str,
        topic: &str,
        fuzzy: bool,
    ) -> AppResult<(SessionRecord, Vec<CandidateOut>)> {
        let (session, found) = contacts::find_rooms(
            &self.app,
            given(session).as_deref(),
            topic,
            Matching::fuzzy(fuzzy),
        )
        .await
        .map_err(|e| self.explain_wechaty(e, NO_GROUPS))?;
        Ok((session, room_candidates(found)))
    }

    async fn do_send_to_friend(
        &self,
        p: &FriendSendParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let nickname = non_empty("nickname", &p.nickname)?;
        let session = given(&p.session);
        if let Some(ilink) = self.ilink_instead(session.as_deref())? {
            return Err(AppError::NeedsWechaty {
                session: ilink.name,
                what: format!(
                    "{NO_CONTACT_LIST}; send to an iLink user by id with \
                     sendMessageToFriendByWxId or `send`"
                ),
            });
        }
        let outgoing = Outgoing::prepare(&p.message, &p.file_path, &p.file_name).await?;
        let (session, found) = contacts::find_contacts(
            &self.app,
            session.as_deref(),
            nickname,
            Matching::fuzzy(p.fuzzy),
        )
        .await
        .map_err(|e| self.explain_wechaty(e, NO_CONTACT_LIST))?;
        let candidates = contact_candidates(found);
        match pick(candidates, p.index) {
            Pick::One(to) => self.deliver(&session, to, nickname, outgoing).await,
            Pick::Ambiguous(list) => Ok(ambiguous(Target::Contact, nickname, &session, list)),
            Pick::NotFound => {
                let similar = self.similar_contacts(&session, nickname, p.fuzzy).await;
                Ok(Ok(not_found(Target::Contact, nickname, p.fuzzy, &similar)))
            }
            Pick::BadIndex { index, count } => Err(AppError::Invalid(bad_index_text(
                Target::Contact,
                nickname,
                index,
                count,
            ))),
        }
    }

    async fn do_send_to_room(
        &self,
        p: &RoomSendParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let topic = non_empty("topic", &p.topic)?;
        let outgoing = Outgoing::prepare(&p.message, &p.file_path, &p.file_name).await?;
        let (session, candidates) = self.rooms_named(&p.session, topic, p.fuzzy).await?;
        match pick(candidates, p.index) {
            Pick::One(to) => self.deliver(&session, to, topic, outgoing).await,
            Pick::Ambiguous(list) => Ok(ambiguous(Target::Room, topic, &session, list)),
            Pick::NotFound => {
                let similar = self.similar_rooms(&session, topic, p.fuzzy).await;
                Ok(Ok(not_found(Target::Room, topic, p.fuzzy, &similar)))
            }
            Pick::BadIndex { index, count } => Err(AppError::Invalid(bad_index_text(
                Target::Room,
                topic,
                index,
                count,
            ))),
        }
    }

    async fn do_send_by_wxid(
        &self,
        p: &WxidSendParams,
        target: Target,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let wxid = non_empty("wxid", &p.wxid)?;
        let session = given(&p.session);
        if target == Target::Contact && self.goes_through_ilink(wxid, session.as_deref())? {
            return self.send_ilink(wxid, p, session).await;
        }
        let outgoing = Outgoing::prepare(&p.message, &p.file_path, &p.file_name).await?;
        let found = match target {
            Target::Contact => contacts::contact_by_id(&self.app, session.as_deref(), wxid)
                .await
                .map(|(s, c)| (s, contact_candidates(vec![c]))),
            Target::Room => contacts::room_by_id(&self.app, session.as_deref(), wxid)
                .await
                .map(|(s, r)| (s, room_candidates(vec![r]))),
        };
        let what = match target {
            Target::Contact => NO_CONTACT_LIST,
            Target::Room => NO_GROUPS,
        };
        let (session, mut list) = match found {
            Ok(found) => found,
            Err(AppError::NotFound { .. }) => {
                let hint = format!(
                    "No {} has the id {wxid:?}. {} finds ids by name.",
                    target.noun(),
                    match target {
                        Target::Contact => "findFriend",
                        Target::Room => "findRoomByTopic",
                    }
                );
                return Ok(Ok(CallToolResult::error(texts(vec![
                    not_found_text(target, wxid),
                    hint,
                ]))));
            }
            Err(e) => return Err(self.explain_wechaty(e, what)),
        };
        let Some(to) = list.pop() else {
            return Ok(Ok(CallToolResult::error(texts(vec![not_found_text(
                target, wxid,
            )]))));
        };
        self.deliver(&session, to, wxid, outgoing).await
    }

    /// Whether a contact id is sent through iLink: the session named is an iLink one, or none
    /// is named and the id is an iLink user's (it has a context token, or the iLink suffix), or
    /// there is no Wechaty session at all.
    fn goes_through_ilink(&self, wxid: &str, session: Option<&str>) -> AppResult<bool> {
        if session.is_some() {
            return Ok(self.ilink_instead(session)?.is_some());
        }
        if wxid.ends_with("@im.wechat") || !self.app.store().contexts_for_user(wxid)?.is_empty() {
            return Ok(true);
        }
        Ok(self.ilink_instead(None)?.is_some())
    }

    /// sendMessageToFriendByWxId to an iLink user: the engine's routed send.
    async fn send_ilink(
        &self,
        wxid: &str,
        p: &WxidSendParams,
        session: Option<String>,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let mut req = SendRequest {
            to: wxid.to_string(),
            text: Some(p.message.clone()).filter(|t| !t.is_empty()),
            session,
            ..SendRequest::default()
        };
        if let Some(path) = local_path(&p.file_path) {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            if given(&p.file_name).is_none() && is_image_name(&name) {
                req.images.push(path);
            } else {
                req.files.push((path, given(&p.file_name)));
            }
        }
        let report = send::send(&self.app, &req).await?;
        let time = iso(now_ms());
        let out = SendToOut {
            status: if report.success { "sent" } else { "partial" }.into(),
            session: report.session,
            to: Some(CandidateOut {
                wxid: report.to.clone(),
                name: report.to,
                index: 1,
                alias: None,
                members: None,
            }),
            time: Some(time.clone()),
            sent: report.sent.into_iter().map(sent_out).collect(),
            candidates: Vec::new(),
        };
        if let Some(error) = report.error {
            let text = format!(
                "消息部分发送到「{wxid}」: {} item(s) went out, then the rest failed: {error}",
                out.sent.len()
            );
            return Ok(answer(&out, vec![text], true));
        }
        Ok(answer(&out, vec![sent_text(wxid, &time)], false))
    }

    /// Sends the text, then the file, to one contact or room and answers with the
    /// Wechaty-MCP-SSE text. A failure after the first item is a tool error saying what went
    /// out.
    async fn deliver(
        &self,
        session: &SessionRecord,
        to: CandidateOut,
        label: &str,
        outgoing: Outgoing,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let client = self.app.wechaty_for(session)?;
        let mut sent = Vec::new();
        let mut failure = None;
        if let Some(text) = &outgoing.text {
            match send::send_wechaty_item(
                &self.app,
                session,
                &client,
                &to.wxid,
                WechatyItem::Text(text),
            )
            .await
            {
                Ok(item) => sent.push(sent_out(item)),
                Err(e) => failure = Some(e),
            }
        }
        if let (None, Some(file)) = (&failure, &outgoing.file) {
            let kind = if is_image_name(&file.name) {
                "image"
            } else {
                "file"
            };
            let item = WechatyItem::File {
                kind,
                name: &file.name,
                data: &file.data,
            };
            match send::send_wechaty_item(&self.app, session, &client, &to.wxid, item).await {
                Ok(item) => {
                    let mut out = sent_out(item);
                    out.path = Some(file.path.display().to_string());
                    out.size = Some(file.data.len() as u64);
                    sent.push(out);
                }
                Err(e) => failure = Some(e),
            }
        }
        let time = iso(now_ms());
        if let Some(e) = failure {
            if sent.is_empty() {
                return Err(e);
            }
            let out = SendToOut {
                status: "partial".into(),
                session: session.name.clone(),
                to: Some(to),
                time: Some(time),
                sent,
                candidates: Vec::new(),
            };
            let text = format!(
                "消息部分发送到「{label}」: the text went out, then the file failed: {}",
                params::error_message(&e)
            );
            return Ok(answer(&out, vec![text], true));
        }
        let out = SendToOut {
            status: "sent".into(),
            session: session.name.clone(),
            to: Some(to),
            time: Some(time.clone()),
            sent,
            candidates: Vec::new(),
        };
        Ok(answer(&out, vec![sent_text(label, &time)], false))
    }

    async fn do_room_members(
        &self,
        p: &RoomMembersParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let (session, room, label) = match (given(&p.wxid), given(&p.topic)) {
            (Some(wxid), _) => {
                match contacts::room_by_id(&self.app, given(&p.session).as_deref(), &wxid).await {
                    Ok((s, r)) => {
                        let room = room_candidates(vec![r]).pop();
                        (s, room, wxid)
                    }
                    Err(AppError::NotFound { .. }) => {
                        return Ok(Ok(CallToolResult::error(texts(vec![
                            not_found_text(Target::Room, &wxid),
                            format!(
                                "No room has the id {wxid:?}. findRoomByTopic finds ids by topic."
                            ),
                        ]))))
                    }
                    Err(e) => return Err(self.explain_wechaty(e, NO_GROUPS)),
                }
            }
            (None, Some(topic)) => {
                let (session, candidates) = self.rooms_named(&p.session, &topic, p.fuzzy).await?;
                match pick(candidates, p.index) {
                    Pick::One(room) => (session, Some(room), topic),
                    Pick::Ambiguous(list) => {
                        let text = list_json(&list);
                        let out = MembersOut {
                            status: "ambiguous".into(),
                            session: session.name,
                            room: None,
                            members: Vec::new(),
                            candidates: list,
                        };
                        return Ok(answer(
                            &out,
                            vec![ambiguous_text(Target::Room, &topic), text],
                            false,
                        ));
                    }
                    Pick::NotFound => {
                        let similar = self.similar_rooms(&session, &topic, p.fuzzy).await;
                        return Ok(Ok(not_found(Target::Room, &topic, p.fuzzy, &similar)));
                    }
                    Pick::BadIndex { index, count } => {
                        return Err(AppError::Invalid(bad_index_text(
                            Target::Room,
                            &topic,
                            index,
                            count,
                        )))
                    }
                }
            }
            (None, None) => {
                return Err(AppError::Invalid(
                    "give the room's `wxid` or its `topic`".into(),
                ))
            }
        };
        let Some(room) = room else {
            return Ok(Ok(CallToolResult::error(texts(vec![not_found_text(
                Target::Room,
                &label,
            )]))));
        };
        let (session, members) =
            contacts::room_members(&self.app, Some(&session.name), &room.wxid).await?;
        let members: Vec<MemberOut> = members
            .into_iter()
            .zip(1u32..)
            .map(|(m, index)| MemberOut {
                wxid: m.id,
                name: m.name,
                index,
                room_alias: m.room_alias,
                inviter: m.inviter_id,
            })
            .collect();
        let text = list_json(&members);
        let out = MembersOut {
            status: "found".into(),
            session: session.name,
            room: Some(room),
            members,
            candidates: Vec::new(),
        };
        Ok(answer(&out, vec![text], false))
    }
}

/// 「x」用户不存在 / 「x」群组不存在 as a tool error, with what was compared and similar names.
fn not_found(target: Target, name: &str, fuzzy: bool, similar: &[CandidateOut]) -> CallToolResult {
    CallToolResult::error(texts(vec![
        not_found_text(target, name),
        not_found_hint(target, name, fuzzy, similar),
    ]))
}

/// Wechaty-MCP-SSE's answer to an ambiguous name: its text, then the candidates as JSON.
fn ambiguous(
    target: Target,
    name: &str,
    session: &SessionRecord,
    candidates: Vec<CandidateOut>,
) -> Result<CallToolResult, ErrorData> {
    let list = list_json(&candidates);
    let out = SendToOut {
        status: "ambiguous".into(),
        session: session.name.clone(),
        to: None,
        time: None,
        sent: Vec::new(),
        candidates,
    };
    answer(&out, vec![ambiguous_text(target, name), list], false)
}

/// Most Wechaty contacts the `contacts` tool lists for one query.
pub const CONTACTS_LIMIT: usize = 100;

/// The `contacts` tool's Wechaty part: with a query, the contacts of these sessions whose
/// nickname or remark contains it (at most [`CONTACTS_LIMIT`]); without one, only notes saying
/// how many contacts and rooms each session has and how to search them. A session that cannot
/// be asked becomes a note, not a failure.
pub(crate) async fn wechaty_contacts(
    app: &crate::app::App,
    sessions: &[&SessionRecord],
    query: Option<&str>,
) -> (Vec<super::types::WechatyContactOut>, Vec<String>) {
    use crate::store::SessionStatus;
    let mut found = Vec::new();
    let mut notes = Vec::new();
    for session in sessions {
        if session.status != SessionStatus::Connected {
            notes.push(format!(
                "Wechaty session {:?} is {}: log it in again with the `login` tool \
                 (backend=\"wechaty\", session_name={:?})",
                session.name,
                session.status.as_str().replace('_', " "),
                session.name
            ));
            continue;
        }
        let Some(q) = query else {
            notes.push(wechaty_summary(app, session).await);
            continue;
        };
        match contacts::find_contacts(app, Some(&session.name), q, Matching::Fuzzy).await {
            Ok((_, mut list)) => {
                list.sort_by(|a, b| a.id.cmp(&b.id));
                found.extend(list.into_iter().map(|c| {
                    super::types::WechatyContactOut {
                        session: session.name.clone(),
                        kind: match c.kind {
                            wechaty::ContactType::Individual => "personal",
                            wechaty::ContactType::Official => "official",
                            wechaty::ContactType::Corporation => "corporation",
                            wechaty::ContactType::Unknown(_) => "unknown",
                        }
                        .into(),
                        wxid: c.id,
                        name: c.name,
                        alias: c.alias,
                        friend: c.friend,
                    }
                }))
            }
            Err(e) => notes.push(format!(
                "Wechaty session {:?}: cannot search contacts: {}",
                session.name,
                params::error_message(&e)
            )),
        }
    }
    if found.len() > CONTACTS_LIMIT {
        notes.push(format!(
            "{} Wechaty contacts match {:?}; the first {CONTACTS_LIMIT} are listed: narrow the query",
            found.len(),
            query.unwrap_or_default()
        ));
        found.truncate(CONTACTS_LIMIT);
    }
    (found, notes)
}

/// "Wechaty session "w" has 7 contacts and 5 group chats: …".
async fn wechaty_summary(app: &crate::app::App, session: &SessionRecord) -> String {
    let counts = async {
        let client = app.wechaty_for(session)?;
        let contacts = client.contact_ids().await?.len();
        let rooms = client.room_ids().await?.len();
        AppResult::Ok((contacts, rooms))
    };
    match counts.await {
        Ok((contacts, rooms)) => format!(
            "Wechaty session {:?} has {contacts} contacts and {rooms} group chats: search them \
             with `query` (nickname or remark), findFriend or findRoomByTopic",
            session.name
        ),
        Err(e) => format!(
            "Wechaty session {:?}: cannot count its contacts: {}",
            session.name,
            params::error_message(&e)
        ),
    }
}
