//! `/api/v1/contacts` and `/api/v1/rooms`: who the sessions can write to — users who wrote
//! (iLink) and address-book contacts and group chats (Wechaty), looked up by name.

use std::sync::Arc;

use axum::extract::State;
use axum::Json;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::problem::{ApiResult, Params, Problem, Segment};
use super::sessions::UserOut;
use crate::service::contacts::OverviewNote;
use crate::service::Service;
use crate::upstream::Matching;

/// The routes of this module.
pub fn routes() -> OpenApiRouter<Arc<Service>> {
    OpenApiRouter::new()
        .routes(routes!(contacts))
        .routes(routes!(rooms))
        .routes(routes!(members))
}

/// A lookup.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LookupQuery {
    /// Part of a name, remark, topic or id (any case).
    pub query: Option<String>,
    /// Only this session.
    pub session: Option<String>,
}

/// An address-book contact.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactOut {
    /// Its id (send to it).
    pub id: String,
    /// The nickname.
    pub name: String,
    /// The remark the bot's account gave them.
    pub alias: Option<String>,
    /// personal, official, corporation or unknown.
    pub kind: String,
    /// Whether they are the bot's friend.
    pub friend: bool,
    /// The session whose address book holds them.
    pub session: String,
}

/// Everyone the sessions can write to.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContactsOut {
    /// Users who wrote (context-token sessions), most recent first.
    pub users: Vec<UserOut>,
    /// Address-book contacts matching the query (none without a query).
    pub contacts: Vec<ContactOut>,
    /// About the address books: sizes, sessions not connected, failures, truncation.
    pub notes: Vec<String>,
}

fn note(n: &OverviewNote) -> String {
    match n {
        OverviewNote::NotConnected { session, status } => {
            format!("session {session:?} is {}", status.as_str())
        }
        OverviewNote::Size {
            session,
            contacts,
            rooms,
        } => format!("session {session:?}: {contacts} contacts, {rooms} rooms"),
        OverviewNote::Failed { session, error } => format!("session {session:?}: {error}"),
        OverviewNote::Truncated { found, shown } => {
            format!("{found} contacts match; the first {shown} are listed")
        }
    }
}

fn given(s: &Option<String>) -> Option<&str> {
    s.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// Users who wrote, and address-book contacts whose name contains the query.
#[utoipa::path(get, path = "/contacts", operation_id = "listContacts", tag = "contacts", params(LookupQuery),
    responses((status = 200, body = ContactsOut), (status = 404, body = Problem)))]
async fn contacts(
    State(service): State<Arc<Service>>,
    Params(q): Params<LookupQuery>,
) -> ApiResult<Json<ContactsOut>> {
    let o = service
        .contacts_overview(given(&q.query), given(&q.session))
        .await?;
    Ok(Json(ContactsOut {
        users: o.users.into_iter().map(UserOut::from).collect(),
        contacts: o
            .contacts
            .into_iter()
            .map(|(session, c)| ContactOut {
                id: c.id,
                name: c.name,
                alias: c.alias,
                kind: c.kind.to_string(),
                friend: c.friend,
                session,
            })
            .collect(),
        notes: o.notes.iter().map(note).collect(),
    }))
}

/// A group chat.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomOut {
    /// Its id (send to it).
    pub id: String,
    /// Its topic.
    pub topic: String,
    /// How many members it has.
    pub members: usize,
    /// Who owns it, when known.
    pub owner_id: Option<String>,
    /// The session whose address book holds it.
    pub session: String,
}

/// Group chats.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoomsOut {
    /// The matches.
    pub rooms: Vec<RoomOut>,
}

/// Group chats whose topic contains the query (a Wechaty session).
#[utoipa::path(get, path = "/rooms", operation_id = "findRooms", tag = "contacts", params(LookupQuery),
    responses((status = 200, body = RoomsOut), (status = 400, body = Problem),
        (status = 409, body = Problem), (status = 422, body = Problem)))]
async fn rooms(
    State(service): State<Arc<Service>>,
    Params(q): Params<LookupQuery>,
) -> ApiResult<Json<RoomsOut>> {
    let (session, rooms) = service
        .find_rooms(
            given(&q.session),
            given(&q.query).unwrap_or_default(),
            Matching::Fuzzy,
        )
        .await?;
    Ok(Json(RoomsOut {
        rooms: rooms
            .into_iter()
            .map(|r| RoomOut {
                id: r.id,
                topic: r.topic,
                members: r.members,
                owner_id: r.owner_id,
                session: session.name.clone(),
            })
            .collect(),
    }))
}

/// A member of a group chat.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberOut {
    /// Their contact id.
    pub id: String,
    /// Their nickname.
    pub name: String,
    /// The name they use in this room.
    pub room_alias: Option<String>,
    /// Who invited them.
    pub inviter_id: Option<String>,
}

/// The members of a group chat.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersOut {
    /// The room.
    pub room: RoomOut,
    /// Its members.
    pub members: Vec<MemberOut>,
}

/// Which session.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SessionQuery {
    /// Only this session.
    pub session: Option<String>,
}

/// The members of a group chat.
#[utoipa::path(get, path = "/rooms/{id}/members", operation_id = "listRoomMembers", tag = "contacts",
    params(("id" = String, Path, description = "The room id"), SessionQuery),
    responses((status = 200, body = MembersOut), (status = 404, body = Problem)))]
async fn members(
    State(service): State<Arc<Service>>,
    Segment(id): Segment<String>,
    Params(q): Params<SessionQuery>,
) -> ApiResult<Json<MembersOut>> {
    let (session, room, members) = service.room_members(given(&q.session), &id).await?;
    Ok(Json(MembersOut {
        room: RoomOut {
            id: room.id,
            topic: room.topic,
            members: room.members,
            owner_id: room.owner_id,
            session: session.name,
        },
        members: members
            .into_iter()
            .map(|m| MemberOut {
                id: m.id,
                name: m.name,
                room_alias: m.room_alias,
                inviter_id: m.inviter_id,
            })
            .collect(),
    }))
}
