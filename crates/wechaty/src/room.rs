//! Rooms (group chats) and room members: [`Room`] and [`RoomMember`], decoded from
//! `RoomPayloadResponse` and `RoomMemberPayloadResponse`.

use crate::contact::non_empty;
use crate::proto::wechaty::puppet as pb;

/// A room (group chat, 群聊).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room id (e.g. `...@chatroom`); stable, use it to send.
    pub id: String,
    /// The room's name (群名). Several rooms can share one.
    pub topic: String,
    /// Avatar URL.
    pub avatar: Option<String>,
    /// The owner's contact id, if known.
    pub owner_id: Option<String>,
    /// Contact ids of the admins.
    pub admin_ids: Vec<String>,
    /// Contact ids of the members (may be incomplete for big rooms; see
    /// [`Client::room_member_ids`](crate::Client::room_member_ids)).
    pub member_ids: Vec<String>,
    /// The room's handle, if any.
    pub handle: Option<String>,
}

impl From<pb::RoomPayloadResponse> for Room {
    fn from(p: pb::RoomPayloadResponse) -> Room {
        Room {
            id: p.id,
            topic: p.topic,
            avatar: non_empty(p.avatar),
            owner_id: non_empty(p.owner_id),
            admin_ids: p.admin_ids,
            member_ids: p.member_ids,
            handle: non_empty(p.handle),
        }
    }
}

/// One member of one room, as seen in that room.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RoomMember {
    /// The room id.
    pub room_id: String,
    /// The member's contact id.
    pub id: String,
    /// The member's nickname.
    pub name: String,
    /// The name the member uses in this room (群昵称), if set.
    pub room_alias: Option<String>,
    /// Who invited the member, if known.
    pub inviter_id: Option<String>,
    /// Avatar URL.
    pub avatar: Option<String>,
}

impl RoomMember {
    /// How the member shows in the room: the room alias if set, else the nickname.
    pub fn display_name(&self) -> &str {
        self.room_alias.as_deref().unwrap_or(&self.name)
    }

    pub(crate) fn from_pb(
        room_id: &str,
        member_id: &str,
        p: pb::RoomMemberPayloadResponse,
    ) -> RoomMember {
        RoomMember {
            room_id: room_id.to_owned(),
            // some puppets leave `id` empty: we asked for this member
            id: non_empty(p.id).unwrap_or_else(|| member_id.to_owned()),
            name: p.name,
            room_alias: non_empty(p.room_alias),
            inviter_id: non_empty(p.inviter_id),
            avatar: non_empty(p.avatar),
        }
    }
}
