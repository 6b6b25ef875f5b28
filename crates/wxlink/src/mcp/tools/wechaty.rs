//! The Wechaty-MCP-SSE tools, with its names, arguments and answer texts (see
//! [`crate::mcp::wechaty_types`]): `findFriend`, `findRoomByTopic`, `sendMessageToFriend` /
//! `sendMessageToFriendByNickname`, `sendMessageToRoom` / `sendMessageToRoomByTopic`,
//! `sendMessageToFriendByWxId`, `sendMessageToRoomByWxId`, plus `getRoomMembers`.
//!
//! What differs from Wechaty-MCP-SSE, keeping its texts: a name nobody has is a tool error
//! (`「x」用户不存在` / `「x」群组不存在`, with similar names as a hint) instead of `[]` or a
//! crash; a name several contacts or rooms share is answered with the numbered candidates and
//! nothing is sent (pick one with `index`, or send by `wxid`); remarks (备注) match as well as
//! nicknames. Beyond it: `fuzzy`, `session`, `file_path` (a file sent after the text),
//! `getRoomMembers`, and `structuredContent` next to the same text content.
//!
//! Lookups and sends are the service's ([`Service::find_contacts`], [`Service::send`], …), so
//! every send is routed, checked and recorded like any other. On an iLink session `findFriend`
//! searches the users who wrote to the bot (by id), `sendMessageToFriendByWxId` sends through
//! iLink, and the other tools say what iLink cannot do.
//!
//! [`Service::find_contacts`]: crate::service::Service::find_contacts
//! [`Service::send`]: crate::service::Service::send

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData};
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::mcp::params::{self, given, local_path};
use crate::mcp::server::WxlinkMcp;
use crate::mcp::types::SentItemOut;
use crate::mcp::wechaty_types::*;
use crate::service::contacts::Source;
use crate::service::send::{Attachment, SendReport, SendRequest};
use crate::store::SessionRecord;
use crate::timefmt::{iso, now_ms};
use crate::transfer::Unobserved;
use crate::upstream::{Contact, Matching, Room};

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

/// Candidates from contacts (already sorted by id), numbered from 1.
fn contact_candidates(found: Vec<Contact>) -> Vec<CandidateOut> {
    found
        .into_iter()
        .zip(1u32..)
        .map(|(c, index)| CandidateOut {
            wxid: c.id,
            name: c.name,
            index,
            alias: c.alias,
            members: None,
        })
        .collect()
}

/// Candidates from rooms (already sorted by id), numbered from 1.
fn room_candidates(found: Vec<Room>) -> Vec<CandidateOut> {
    found
        .into_iter()
        .zip(1u32..)
        .map(|(r, index)| CandidateOut {
            members: Some(u32::try_from(r.members).unwrap_or(u32::MAX)),
            wxid: r.id,
            name: r.topic,
            index,
            alias: None,
        })
        .collect()
}

/// What a send tool sends.
struct Outgoing {
    text: Option<String>,
    file: Option<Attachment>,
}

impl Outgoing {
    fn new(message: &str, file_path: &str, file_name: &str) -> AppResult<Outgoing> {
        let text = (!message.is_empty()).then(|| message.to_string());
        let file = local_path(file_path).map(|p| Attachment::guessed(p, given(file_name)));
        if text.is_none() && file.is_none() {
            return Err(AppError::Invalid(
                "nothing to send: give `message` (text) and/or `file_path`".into(),
            ));
        }
        Ok(Outgoing { text, file })
    }

    fn request(self, to: &str, session: Option<String>) -> SendRequest {
        SendRequest {
            to: to.to_string(),
            text: self.text,
            files: self.file.into_iter().collect(),
            session,
        }
    }
}

fn sent_out(report: &SendReport) -> Vec<SentItemOut> {
    report
        .sent
        .iter()
        .map(|i| SentItemOut {
            kind: i.kind.clone(),
            id: i.id.clone(),
            message_id: i.message_id.clone(),
            path: i.path.clone(),
            size: i.size,
        })
        .collect()
}

/// Wechaty-MCP-SSE's answer to a send: its success text, or what went out before a failure.
fn sent_answer(
    report: SendReport,
    to: CandidateOut,
    label: &str,
) -> Result<CallToolResult, ErrorData> {
    let time = iso(now_ms());
    let out = SendToOut {
        status: if report.success { "sent" } else { "partial" }.into(),
        session: report.session.clone(),
        to: Some(to),
        time: Some(time.clone()),
        sent: sent_out(&report),
        candidates: Vec::new(),
    };
    if let Some(error) = &report.error {
        let text = format!(
            "消息部分发送到「{label}」: {} item(s) went out, then the rest failed: {error}",
            out.sent.len()
        );
        return answer(&out, vec![text], true);
    }
    answer(&out, vec![sent_text(label, &time)], false)
}

#[tool_router(router = wechaty_router, vis = "pub(crate)")]
impl WxlinkMcp {
    /// findFriend.
    #[tool(
        name = "findFriend",
        title = "Find a friend (Wechaty)",
        description = "查找好友. Find WeChat contacts by nickname or remark (备注): a JSON list \
                       [{wxid, name, index, alias}]. Several people can share a name: send by \
                       `wxid` (sendMessageToFriendByWxId) or by `index` (sendMessageToFriend). \
                       Exact unless fuzzy=true (parts of names, any case). No match is an error: \
                       「nickname」用户不存在.",
        output_schema = schema_for_output::<FindOut>(),
        annotations(
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
        description = "查找群组. Find WeChat group chats by topic: a JSON list [{wxid, name, \
                       index, members}]. Several groups can share a topic: send by `wxid` \
                       (sendMessageToRoomByWxId) or by `index` (sendMessageToRoom). Exact unless \
                       fuzzy=true. No match is an error: 「topic」群组不存在.",
        output_schema = schema_for_output::<FindOut>(),
        annotations(
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
        description = "向好友发送消息. Send a message to a contact found by nickname or remark \
                       (as sendMessageToFriendByNickname). Answers 消息发送消息到「nickname」成功，\
                       发送时间 <ISO time>. If several match, nothing is sent and the numbered \
                       candidates come back: call again with `index`, or send by wxid.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "使用昵称向好友发送消息. Send a message to a contact found by nickname or \
                       remark. Answers 消息发送消息到「nickname」成功，发送时间 <ISO time>. If \
                       several match, nothing is sent and the answer is 「nickname」用户存在多个… \
                       with the numbered candidates: call again with `index`, or send by wxid.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "向群组发送消息. Send a message to a group chat found by topic (as \
                       sendMessageToRoomByTopic). Answers 消息发送消息到「topic」成功，发送时间 <ISO \
                       time>. If several match, nothing is sent and the numbered candidates come \
                       back: call again with `index`, or send by wxid.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "使用群名称向群组发送消息. Send a message to a group chat found by topic. \
                       Answers 消息发送消息到「topic」成功，发送时间 <ISO time>. If several match, \
                       nothing is sent and the answer is 「topic」群组存在多个… with the numbered \
                       candidates: call again with `index`, or send by wxid.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "使用微信ID向好友发送消息. Send a message to a contact by id (`wxid` from \
                       findFriend, or a received message's `user`); an iLink user id \
                       (…@im.wechat) goes through iLink. Answers 消息发送消息到「wxid」成功，发送时间 \
                       <ISO time>; an unknown id is an error: 「wxid」用户不存在.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "使用微信ID向群组发送消息. Send a message to a group chat by id (`wxid` from \
                       findRoomByTopic, or a received group message's `room_id`). Answers \
                       消息发送消息到「wxid」成功，发送时间 <ISO time>; an unknown id is an error: \
                       「wxid」群组不存在.",
        output_schema = schema_for_output::<SendToOut>(),
        annotations(
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
        description = "查询群成员. List the members of a group chat given its `wxid` or `topic`: \
                       [{wxid, name, index, room_alias, inviter}] (room_alias: their name in that \
                       group). A topic several groups share answers the numbered candidates: \
                       call again with `index` or `wxid`.",
        output_schema = schema_for_output::<MembersOut>(),
        annotations(
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
    async fn do_find_friend(
        &self,
        p: &FindFriendParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let nickname = non_empty("nickname", &p.nickname)?;
        let session = given(&p.session);
        let found = self
            .service
            .find_contacts(session.as_deref(), nickname, Matching::fuzzy(p.fuzzy))
            .await?;
        let results = contact_candidates(found.contacts);
        if results.is_empty() {
            if found.source == Source::KnownUsers {
                let hint =
                    format!(
                    "Session {:?} is {} {} session: it has no contact list; it knows its users \
                     by id only (…@im.wechat), so findFriend there searches those ids{}.",
                    found.session.name,
                    found.session.backend.article(),
                    found.session.backend.label(),
                    if p.fuzzy { "" } else { " (fuzzy=true: parts of ids)" }
                );
                return Ok(Ok(CallToolResult::error(texts(vec![
                    not_found_text(Target::Contact, nickname),
                    hint,
                ]))));
            }
            let similar = self
                .similar_contacts(&found.session, nickname, p.fuzzy)
                .await;
            return Ok(Ok(not_found(Target::Contact, nickname, p.fuzzy, &similar)));
        }
        let text = list_json(&results);
        Ok(answer(
            &FindOut {
                session: found.session.name,
                query: nickname.to_string(),
                fuzzy: p.fuzzy,
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
        self.service
            .find_contacts(Some(&session.name), name, Matching::Fuzzy)
            .await
            .map(|found| contact_candidates(found.contacts))
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
        self.service
            .find_rooms(Some(&session.name), topic, Matching::Fuzzy)
            .await
            .map(|(_, found)| room_candidates(found))
            .unwrap_or_default()
    }

    async fn do_find_room(
        &self,
        p: &FindRoomParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let topic = non_empty("topic", &p.topic)?;
        let (session, found) = self
            .service
            .find_rooms(
                given(&p.session).as_deref(),
                topic,
                Matching::fuzzy(p.fuzzy),
            )
            .await?;
        let results = room_candidates(found);
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

    async fn do_send_to_friend(
        &self,
        p: &FriendSendParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let nickname = non_empty("nickname", &p.nickname)?;
        let outgoing = Outgoing::new(&p.message, &p.file_path, &p.file_name)?;
        let found = self
            .service
            .find_contacts(
                given(&p.session).as_deref(),
                nickname,
                Matching::fuzzy(p.fuzzy),
            )
            .await?;
        if found.source == Source::KnownUsers {
            return Err(AppError::NeedsWechaty {
                session: found.session.name,
                backend: found.session.backend,
                what: format!(
                    "{} has no contact list: send to one of its users by id with \
                     sendMessageToFriendByWxId or `send`",
                    found.session.backend.label()
                ),
            });
        }
        match pick(contact_candidates(found.contacts), p.index) {
            Pick::One(to) => self.deliver(&found.session, to, nickname, outgoing).await,
            Pick::Ambiguous(list) => Ok(ambiguous(Target::Contact, nickname, &found.session, list)),
            Pick::NotFound => {
                let similar = self
                    .similar_contacts(&found.session, nickname, p.fuzzy)
                    .await;
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
        let outgoing = Outgoing::new(&p.message, &p.file_path, &p.file_name)?;
        let (session, found) = self
            .service
            .find_rooms(
                given(&p.session).as_deref(),
                topic,
                Matching::fuzzy(p.fuzzy),
            )
            .await?;
        match pick(room_candidates(found), p.index) {
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
        let outgoing = Outgoing::new(&p.message, &p.file_path, &p.file_name)?;
        let found = match target {
            Target::Contact => {
                // Where a message to this id goes; an address book must know the contact.
                let route = self.service.route(wxid, session.as_deref()).await?;
                let caps = self.service.upstream(route.session.backend).capabilities();
                if !caps.directory {
                    let report = self
                        .service
                        .send(
                            &outgoing.request(wxid, Some(route.session.name.clone())),
                            &Unobserved,
                        )
                        .await?;
                    let to = CandidateOut {
                        wxid: report.to.clone(),
                        name: report.to.clone(),
                        index: 1,
                        alias: None,
                        members: None,
                    };
                    return Ok(sent_answer(report, to, wxid));
                }
                self.service
                    .contact_by_id(Some(&route.session.name), wxid)
                    .await
                    .map(|(s, c)| (s, contact_candidates(vec![c])))
            }
            Target::Room => self
                .service
                .room_by_id(session.as_deref(), wxid)
                .await
                .map(|(s, r)| (s, room_candidates(vec![r]))),
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
            Err(e) => return Err(e),
        };
        let Some(to) = list.pop() else {
            return Ok(Ok(CallToolResult::error(texts(vec![not_found_text(
                target, wxid,
            )]))));
        };
        self.deliver(&session, to, wxid, outgoing).await
    }

    /// Sends the text, then the file, to one contact or room through `session`, and answers
    /// with Wechaty-MCP-SSE's text.
    async fn deliver(
        &self,
        session: &SessionRecord,
        to: CandidateOut,
        label: &str,
        outgoing: Outgoing,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let req = outgoing.request(&to.wxid, Some(session.name.clone()));
        let report = self.service.send(&req, &Unobserved).await?;
        Ok(sent_answer(report, to, label))
    }

    async fn do_room_members(
        &self,
        p: &RoomMembersParams,
    ) -> AppResult<Result<CallToolResult, ErrorData>> {
        let session = given(&p.session);
        let room_id = match (given(&p.wxid), given(&p.topic)) {
            (Some(wxid), _) => wxid,
            (None, Some(topic)) => {
                let (found_in, found) = self
                    .service
                    .find_rooms(session.as_deref(), &topic, Matching::fuzzy(p.fuzzy))
                    .await?;
                match pick(room_candidates(found), p.index) {
                    Pick::One(room) => room.wxid,
                    Pick::Ambiguous(list) => {
                        let text = list_json(&list);
                        let out = MembersOut {
                            status: "ambiguous".into(),
                            session: found_in.name,
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
                        let similar = self.similar_rooms(&found_in, &topic, p.fuzzy).await;
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
        let (session, room, members) = match self
            .service
            .room_members(session.as_deref(), &room_id)
            .await
        {
            Ok(found) => found,
            Err(AppError::NotFound { .. }) => {
                return Ok(Ok(CallToolResult::error(texts(vec![
                    not_found_text(Target::Room, &room_id),
                    format!("No room has the id {room_id:?}. findRoomByTopic finds ids by topic."),
                ]))))
            }
            Err(e) => return Err(e),
        };
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
            room: room_candidates(vec![room]).pop(),
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
