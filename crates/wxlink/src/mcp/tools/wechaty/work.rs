//! The tools' work: lookups through the service, the pick among namesakes, the send, and the
//! answer each case gets.

use rmcp::model::CallToolResult;
use rmcp::ErrorData;

use crate::error::{AppError, AppResult};
use crate::mcp::params::given;
use crate::mcp::server::WxlinkMcp;
use crate::mcp::wechaty_types::*;
use crate::service::contacts::Source;
use crate::store::SessionRecord;
use crate::transfer::Unobserved;
use crate::upstream::Matching;

use super::answers::*;

/// The tools' work.
impl WxlinkMcp {
    pub(super) async fn do_find_friend(
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

    pub(super) async fn do_find_room(
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

    pub(super) async fn do_send_to_friend(
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

    pub(super) async fn do_send_to_room(
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

    pub(super) async fn do_send_by_wxid(
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
                            &outgoing.request(
                                wxid,
                                Some(route.session.name.clone()),
                                self.sent_by(),
                            ),
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
        let req = outgoing.request(&to.wxid, Some(session.name.clone()), self.sent_by());
        let report = self.service.send(&req, &Unobserved).await?;
        Ok(sent_answer(report, to, label))
    }

    pub(super) async fn do_room_members(
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
