//! Finding people and groups to talk to, for every frontend: contacts by nickname or
//! remark/alias and rooms by topic on Wechaty sessions (exact by default, fuzzy on request),
//! room members, and on iLink sessions the users who have written to the bot (iLink has no
//! contact list and no group chats).

use crate::app::App;
use crate::backend;
use crate::error::{AppError, AppResult};
use crate::store::SessionRecord;

/// How names are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Matching {
    /// The whole name, exactly (what Wechaty-MCP-SSE did).
    #[default]
    Exact,
    /// Case-insensitive substring.
    Fuzzy,
}

impl Matching {
    /// `Fuzzy` when `fuzzy`, else `Exact`.
    pub fn fuzzy(fuzzy: bool) -> Self {
        if fuzzy {
            Matching::Fuzzy
        } else {
            Matching::Exact
        }
    }

    fn mode(self) -> wechaty::MatchMode {
        match self {
            Matching::Exact => wechaty::MatchMode::Exact,
            Matching::Fuzzy => wechaty::MatchMode::Fuzzy,
        }
    }
}

/// Contacts of a Wechaty session whose nickname or remark/alias matches `name`. All matches
/// are returned: more than one means the name is ambiguous.
pub async fn find_contacts(
    app: &App,
    session: Option<&str>,
    name: &str,
    matching: Matching,
) -> AppResult<(SessionRecord, Vec<wechaty::Contact>)> {
    let name = non_empty("nickname", name)?;
    let (session, client) = app.wechaty_session(
        session,
        "iLink has no contact list (its users are the people who wrote to the bot: see `contacts`)",
    )?;
    let found = client
        .find_contacts(name, wechaty::ContactField::NameOrAlias, matching.mode())
        .await?;
    Ok((session, found))
}

/// Rooms (group chats) of a Wechaty session whose topic matches `topic`.
pub async fn find_rooms(
    app: &App,
    session: Option<&str>,
    topic: &str,
    matching: Matching,
) -> AppResult<(SessionRecord, Vec<wechaty::Room>)> {
    let topic = non_empty("topic", topic)?;
    let (session, client) = app.wechaty_session(session, "iLink does not carry group chats")?;
    let found = client.find_rooms(topic, matching.mode()).await?;
    Ok((session, found))
}

/// A contact of a Wechaty session by id; [`AppError::NotFound`] when there is none.
pub async fn contact_by_id(
    app: &App,
    session: Option<&str>,
    id: &str,
) -> AppResult<(SessionRecord, wechaty::Contact)> {
    let id = non_empty("wxid", id)?;
    let (session, client) = app.wechaty_session(
        session,
        "iLink has no contact list (its users are the people who wrote to the bot: see `contacts`)",
    )?;
    match client.contact(id).await {
        Ok(c) => Ok((session, c)),
        Err(wechaty::Error::NotFound { .. }) => Err(AppError::NotFound {
            what: "contact",
            name: id.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// A room of a Wechaty session by id; [`AppError::NotFound`] when there is none.
pub async fn room_by_id(
    app: &App,
    session: Option<&str>,
    id: &str,
) -> AppResult<(SessionRecord, wechaty::Room)> {
    let id = non_empty("wxid", id)?;
    let (session, client) = app.wechaty_session(session, "iLink does not carry group chats")?;
    match client.room(id).await {
        Ok(r) => Ok((session, r)),
        Err(wechaty::Error::NotFound { .. }) => Err(AppError::NotFound {
            what: "room",
            name: id.to_string(),
        }),
        Err(e) => Err(e.into()),
    }
}

/// The members of a room (with their room alias).
pub async fn room_members(
    app: &App,
    session: Option<&str>,
    room_id: &str,
) -> AppResult<(SessionRecord, Vec<wechaty::RoomMember>)> {
    let (session, room) = room_by_id(app, session, room_id).await?;
    let client = app.wechaty_for(&session)?;
    let members = client.room_members(&room.id).await?;
    Ok((session, members))
}

/// Users of iLink sessions who have written to the bot and whose id contains `query`
/// (case-insensitively): iLink knows no names, only these ids.
pub fn ilink_users(app: &App, query: &str) -> AppResult<Vec<crate::store::ContextRecord>> {
    let q = query.trim().to_lowercase();
    let ilink_sessions: Vec<String> = app
        .store()
        .sessions()?
        .into_iter()
        .filter(|s| s.backend != backend::wechaty::BACKEND)
        .map(|s| s.name)
        .collect();
    Ok(app
        .store()
        .contexts(None)?
        .into_iter()
        .filter(|c| ilink_sessions.contains(&c.session) && c.user_id.to_lowercase().contains(&q))
        .collect())
}

fn non_empty<'a>(what: &str, value: &'a str) -> AppResult<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        Err(AppError::Invalid(format!("{what} is empty")))
    } else {
        Ok(v)
    }
}
