//! Finding people and groups to talk to: contacts by nickname or remark and rooms by topic in
//! a session's address book (Wechaty; exact by default, fuzzy on request), contacts and rooms by
//! id, room members — and, for backends without an address book (iLink), the users who have
//! written to the bot, known by id only. Results are sorted by id (so a position in a list means
//! the same thing every time) without duplicates.
//!
//! Which session answers: the one named; else the default session if it has an address book,
//! else the first session with one (connected first). With no such session, a contact search
//! falls back to the users who wrote to a context-token backend, and room lookups say which
//! session cannot carry groups.

use std::sync::Arc;

use crate::error::{AppError, AppResult};
use crate::model::SessionStatus;
use crate::service::sessions::preferred;
use crate::service::Service;
use crate::store::{ContextRecord, SessionRecord};
use crate::timefmt::now_ms;
use crate::upstream::{Contact, Matching, Room, RoomMember, Upstream, UpstreamFailure};

/// A context token older than this is reported stale.
pub const STALE_MS: i64 = 24 * 3600 * 1000;

/// Most address-book contacts [`Service::contacts_overview`] lists for one query.
pub const OVERVIEW_LIMIT: usize = 100;

/// Where contacts were looked up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A session's address book.
    AddressBook,
    /// The users who wrote to the bot (ids only).
    KnownUsers,
}

/// Contacts found by name.
#[derive(Debug, Clone)]
pub struct ContactMatches {
    /// The session searched.
    pub session: SessionRecord,
    /// Where they come from.
    pub source: Source,
    /// The matches, by id.
    pub contacts: Vec<Contact>,
    /// With [`Source::KnownUsers`], the conversations behind the matches (session, last
    /// message), freshest first; empty for an address book.
    pub known: Vec<ContextRecord>,
}

/// A user a session can reply to (a context-token backend).
#[derive(Debug, Clone)]
pub struct KnownUser {
    /// The user id.
    pub user: String,
    /// The session holding the token.
    pub session: String,
    /// Whether that session is connected.
    pub connected: bool,
    /// When the user last wrote, ms.
    pub received_at_ms: i64,
    /// Replies left on the token.
    pub sends_left: u32,
    /// The token is older than a day and may no longer be accepted.
    pub stale: bool,
}

/// Something to say about an address book in an overview.
#[derive(Debug, Clone)]
pub enum OverviewNote {
    /// The session is not connected.
    NotConnected {
        /// The session.
        session: String,
        /// Its status.
        status: SessionStatus,
    },
    /// Its size (no query given).
    Size {
        /// The session.
        session: String,
        /// Contacts.
        contacts: usize,
        /// Rooms.
        rooms: usize,
    },
    /// It could not be asked.
    Failed {
        /// The session.
        session: String,
        /// Why.
        error: String,
    },
    /// More matched than are listed.
    Truncated {
        /// How many matched.
        found: usize,
        /// How many are listed.
        shown: usize,
    },
}

/// Everyone the sessions can write to, for the `contacts` listing.
#[derive(Debug, Clone, Default)]
pub struct Overview {
    /// Users who wrote to context-token sessions, most recent first.
    pub users: Vec<KnownUser>,
    /// Address-book contacts matching the query, by session then id.
    pub contacts: Vec<(String, Contact)>,
    /// About the address books.
    pub notes: Vec<OverviewNote>,
}

fn non_empty<'a>(what: &str, value: &'a str) -> AppResult<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        Err(AppError::Invalid(format!("{what} is empty")))
    } else {
        Ok(v)
    }
}

fn by_id<T>(mut list: Vec<T>, id: impl Fn(&T) -> &str) -> Vec<T> {
    list.sort_by(|a, b| id(a).cmp(id(b)));
    list.dedup_by(|a, b| id(a) == id(b));
    list
}

/// "iLink has no contact list", "iLink does not carry group chats".
fn lacks(session: &SessionRecord, groups: bool) -> AppError {
    AppError::NeedsWechaty {
        session: session.name.clone(),
        backend: session.backend,
        what: if groups {
            format!("{} does not carry group chats", session.backend.label())
        } else {
            format!("{} has no contact list", session.backend.label())
        },
    }
}

impl Service {
    /// The session whose address book answers: the one named (it must have one), else the
    /// default or first session with an address book. `Ok(None)` when no session has one.
    async fn address_book(
        &self,
        session: Option<&str>,
        groups: bool,
    ) -> AppResult<Option<(SessionRecord, Arc<dyn Upstream>)>> {
        let has_book = |s: &SessionRecord| {
            let caps = self.upstream(s.backend).capabilities();
            caps.directory && (!groups || caps.groups)
        };
        let chosen = match session {
            Some(name) => {
                let s = self.resolve_session(Some(name)).await?;
                if !has_book(&s) {
                    return Err(lacks(&s, groups));
                }
                s
            }
            None => {
                let sessions = self.store().sessions().await?;
                let default = self.store().default_session().await?;
                match preferred(&sessions, default.as_deref(), has_book) {
                    Some(s) => s.clone(),
                    None => return Ok(None),
                }
            }
        };
        if !chosen.is_connected() {
            return Err(AppError::NotConnected {
                name: chosen.name,
                status: chosen.status,
            });
        }
        let upstream = self.upstream(chosen.backend).clone();
        Ok(Some((chosen, upstream)))
    }

    /// The address book a lookup needs, or why there is none: a session of a backend without
    /// one (iLink) when sessions exist, else "no Wechaty session".
    async fn require_address_book(
        &self,
        session: Option<&str>,
        groups: bool,
    ) -> AppResult<(SessionRecord, Arc<dyn Upstream>)> {
        if let Some(found) = self.address_book(session, groups).await? {
            return Ok(found);
        }
        match self.resolve_session(None).await {
            Ok(s) => Err(lacks(&s, groups)),
            Err(AppError::NoSessions) => Err(AppError::NoWechatySession),
            Err(e) => Err(e),
        }
    }

    /// Contacts whose nickname or remark matches `name`; more than one means the name is
    /// ambiguous. Without an address book (a named iLink session, or no address-book session
    /// at all), the users who wrote to the bot whose id matches.
    pub async fn find_contacts(
        &self,
        session: Option<&str>,
        name: &str,
        matching: Matching,
    ) -> AppResult<ContactMatches> {
        let name = non_empty("the name", name)?;
        let book = match self.address_book(session, false).await {
            Ok(book) => book,
            Err(AppError::NeedsWechaty { session: named, .. }) => {
                return self.known_users_named(Some(&named), name, matching).await
            }
            Err(e) => return Err(e),
        };
        let Some((session, upstream)) = book else {
            return self.known_users_named(None, name, matching).await;
        };
        let found = upstream.find_contacts(&session, name, matching).await?;
        Ok(ContactMatches {
            session,
            source: Source::AddressBook,
            contacts: by_id(found, |c| &c.id),
            known: Vec::new(),
        })
    }

    /// The users who wrote to the bot (context-token sessions; only `session` when given)
    /// whose id matches `name` (see [`Service::known_users`]).
    async fn known_users_named(
        &self,
        session: Option<&str>,
        name: &str,
        matching: Matching,
    ) -> AppResult<ContactMatches> {
        let reported = self.resolve_session(session).await?;
        let known = self.known_users(name, session, matching).await?;
        let contacts = known
            .iter()
            .map(|c| Contact {
                id: c.user_id.clone(),
                name: c.user_id.clone(),
                alias: None,
                kind: "personal",
                friend: false,
            })
            .collect();
        Ok(ContactMatches {
            session: reported,
            source: Source::KnownUsers,
            contacts: by_id(contacts, |c| &c.id),
            known,
        })
    }

    /// Rooms whose topic matches `topic`, by id.
    pub async fn find_rooms(
        &self,
        session: Option<&str>,
        topic: &str,
        matching: Matching,
    ) -> AppResult<(SessionRecord, Vec<Room>)> {
        let topic = non_empty("the topic", topic)?;
        let (session, upstream) = self.require_address_book(session, true).await?;
        let found = upstream.find_rooms(&session, topic, matching).await?;
        Ok((session, by_id(found, |r| &r.id)))
    }

    /// A contact by id ([`AppError::NotFound`] when there is none).
    pub async fn contact_by_id(
        &self,
        session: Option<&str>,
        id: &str,
    ) -> AppResult<(SessionRecord, Contact)> {
        let id = non_empty("the id", id)?;
        let (session, upstream) = self.require_address_book(session, false).await?;
        match upstream.contact(&session, id).await {
            Ok(c) => Ok((session, c)),
            Err(e) if e.failure == UpstreamFailure::NotFound => Err(AppError::NotFound {
                what: "contact",
                name: id.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// A room by id ([`AppError::NotFound`] when there is none).
    pub async fn room_by_id(
        &self,
        session: Option<&str>,
        id: &str,
    ) -> AppResult<(SessionRecord, Room)> {
        let id = non_empty("the id", id)?;
        let (session, upstream) = self.require_address_book(session, true).await?;
        match upstream.room(&session, id).await {
            Ok(r) => Ok((session, r)),
            Err(e) if e.failure == UpstreamFailure::NotFound => Err(AppError::NotFound {
                what: "room",
                name: id.to_string(),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// The members of a room (with their room alias).
    pub async fn room_members(
        &self,
        session: Option<&str>,
        room_id: &str,
    ) -> AppResult<(SessionRecord, Room, Vec<RoomMember>)> {
        let (session, room) = self.room_by_id(session, room_id).await?;
        let members = self
            .upstream(session.backend)
            .room_members(&session, &room.id)
            .await?;
        Ok((session, room, members))
    }

    /// The users of context-token sessions (only `session`, when given) who wrote to the bot
    /// and whose id is `query` — or, fuzzily, contains it in any case — freshest first.
    async fn known_users(
        &self,
        query: &str,
        session: Option<&str>,
        matching: Matching,
    ) -> AppResult<Vec<ContextRecord>> {
        let query = query.trim();
        let q = query.to_lowercase();
        let matches = |id: &str| match matching {
            Matching::Exact => id == query,
            Matching::Fuzzy => id.to_lowercase().contains(&q),
        };
        let sessions: Vec<String> = self
            .store()
            .sessions()
            .await?
            .into_iter()
            .filter(|s| self.upstream(s.backend).capabilities().needs_context)
            .filter(|s| session.is_none_or(|n| n == s.name))
            .map(|s| s.name)
            .collect();
        Ok(self
            .store()
            .contexts(session)
            .await?
            .into_iter()
            .filter(|c| sessions.contains(&c.session) && matches(&c.user_id))
            .collect())
    }

    /// The users who wrote to context-token sessions (only `session`, when given), with their
    /// replies left, most recent first.
    pub(crate) async fn users_with_tokens(
        &self,
        sessions: &[SessionRecord],
        session: Option<&str>,
        now: i64,
    ) -> AppResult<Vec<KnownUser>> {
        Ok(self
            .store()
            .contexts(session)
            .await?
            .into_iter()
            .map(|c| KnownUser {
                connected: sessions
                    .iter()
                    .any(|s| s.name == c.session && s.is_connected()),
                received_at_ms: c.received_at_ms,
                sends_left: sessions
                    .iter()
                    .find(|s| s.name == c.session)
                    .and_then(|s| self.upstream(s.backend).capabilities().reply_quota)
                    .map_or(0, |quota| c.sends_left(quota)),
                stale: now.saturating_sub(c.received_at_ms) > STALE_MS,
                user: c.user_id,
                session: c.session,
            })
            .collect())
    }

    /// Everyone the sessions (only `session`, when given) can write to: the users who wrote to
    /// context-token sessions with their replies left, and — with a query — the address-book
    /// contacts whose nickname or remark contains it (at most [`OVERVIEW_LIMIT`]); without a
    /// query, address books are only counted (they can hold thousands).
    pub async fn contacts_overview(
        &self,
        query: Option<&str>,
        session: Option<&str>,
    ) -> AppResult<Overview> {
        let sessions = self.store().sessions().await?;
        if let Some(name) = session {
            self.resolve_session(Some(name)).await?;
        }
        let query = query.map(str::trim).filter(|q| !q.is_empty());
        let lower = query.map(str::to_lowercase);
        let now = now_ms();
        let mut overview = Overview {
            users: Vec::new(),
            contacts: Vec::new(),
            notes: Vec::new(),
        };
        overview.users = self
            .users_with_tokens(&sessions, session, now)
            .await?
            .into_iter()
            .filter(|u| {
                lower
                    .as_deref()
                    .is_none_or(|q| u.user.to_lowercase().contains(q))
            })
            .collect();
        let books = sessions.iter().filter(|s| {
            self.upstream(s.backend).capabilities().directory && session.is_none_or(|n| n == s.name)
        });
        for s in books {
            if !s.is_connected() {
                overview.notes.push(OverviewNote::NotConnected {
                    session: s.name.clone(),
                    status: s.status,
                });
                continue;
            }
            let upstream = self.upstream(s.backend);
            let Some(q) = query else {
                overview.notes.push(match upstream.directory_size(s).await {
                    Ok((contacts, rooms)) => OverviewNote::Size {
                        session: s.name.clone(),
                        contacts,
                        rooms,
                    },
                    Err(e) => OverviewNote::Failed {
                        session: s.name.clone(),
                        error: e.to_string(),
                    },
                });
                continue;
            };
            match upstream.find_contacts(s, q, Matching::Fuzzy).await {
                Ok(found) => overview.contacts.extend(
                    by_id(found, |c| &c.id)
                        .into_iter()
                        .map(|c| (s.name.clone(), c)),
                ),
                Err(e) => overview.notes.push(OverviewNote::Failed {
                    session: s.name.clone(),
                    error: e.to_string(),
                }),
            }
        }
        if overview.contacts.len() > OVERVIEW_LIMIT {
            overview.notes.push(OverviewNote::Truncated {
                found: overview.contacts.len(),
                shown: OVERVIEW_LIMIT,
            });
            overview.contacts.truncate(OVERVIEW_LIMIT);
        }
        Ok(overview)
    }
}
