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

#[doc(hidden)] // public for the fuzz targets (fuzz/)
pub mod answers;
mod work;

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData};

use crate::mcp::server::WxlinkMcp;
use crate::mcp::wechaty_types::*;

use answers::or_tool_error;

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
        or_tool_error(self.do_find_friend(&p).await)
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
        or_tool_error(self.do_find_room(&p).await)
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
        or_tool_error(self.do_send_to_friend(&p).await)
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
        or_tool_error(self.do_send_to_friend(&p).await)
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
        or_tool_error(self.do_send_to_room(&p).await)
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
        or_tool_error(self.do_send_to_room(&p).await)
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
        or_tool_error(self.do_send_by_wxid(&p, Target::Contact).await)
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
        or_tool_error(self.do_send_by_wxid(&p, Target::Room).await)
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
        or_tool_error(self.do_room_members(&p).await)
    }
}
