//! The payload cache: contacts, rooms and room members (payloads and id lists), kept only
//! while the event stream is connected, because `dirty` events — which invalidate entries by
//! payload type and id — arrive only then. Emptied on every (re)connect and disconnect.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use crate::contact::Contact;
use crate::event::PayloadType;
use crate::room::{Room, RoomMember};

/// Counts of what the cache holds (for diagnostics and tests).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheStats {
    /// Whether the cache is in use (an event stream is connected and caching is enabled).
    pub live: bool,
    /// Cached contact payloads.
    pub contacts: usize,
    /// Whether the contact id list is cached.
    pub contact_list: bool,
    /// Cached room payloads.
    pub rooms: usize,
    /// Whether the room id list is cached.
    pub room_list: bool,
    /// Rooms whose member id list is cached.
    pub member_lists: usize,
    /// Cached room member payloads (all rooms).
    pub members: usize,
    /// Invalidations so far (each dirty event, reconnect or clear counts one).
    pub invalidations: u64,
}

#[derive(Default)]
struct State {
    live: bool,
    /// Bumped on every invalidation: a fetch that started before it must not store its
    /// (possibly stale) result.
    generation: u64,
    invalidations: u64,
    contacts: HashMap<String, Contact>,
    contact_ids: Option<Vec<String>>,
    rooms: HashMap<String, Room>,
    room_ids: Option<Vec<String>>,
    member_ids: HashMap<String, Vec<String>>,
    members: HashMap<String, HashMap<String, RoomMember>>,
}

/// A ticket from [`Cache::ticket`]: stores succeed only if nothing was invalidated since.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket(Option<u64>);

pub(crate) struct Cache {
    enabled: bool,
    state: Mutex<State>,
}

impl Cache {
    pub(crate) fn new(enabled: bool) -> Cache {
        Cache {
            enabled,
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // a panic while holding the lock cannot leave the maps inconsistent in a harmful way
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Start or stop using the cache; either way it is emptied.
    pub(crate) fn set_live(&self, live: bool) {
        let mut s = self.lock();
        let invalidations = s.invalidations + 1;
        let generation = s.generation + 1;
        *s = State {
            live: live && self.enabled,
            generation,
            invalidations,
            ..State::default()
        };
    }

    /// Empties the cache (stays live or not).
    pub(crate) fn clear(&self) {
        let live = self.lock().live;
        self.set_live(live);
    }

    pub(crate) fn stats(&self) -> CacheStats {
        let s = self.lock();
        CacheStats {
            live: s.live,
            contacts: s.contacts.len(),
            contact_list: s.contact_ids.is_some(),
            rooms: s.rooms.len(),
            room_list: s.room_ids.is_some(),
            member_lists: s.member_ids.len(),
            members: s.members.values().map(HashMap::len).sum(),
            invalidations: s.invalidations,
        }
    }

    /// Take before fetching from the service, pass to the `put_*` afterwards.
    pub(crate) fn ticket(&self) -> Ticket {
        let s = self.lock();
        Ticket(s.live.then_some(s.generation))
    }

    fn store(&self, t: Ticket, f: impl FnOnce(&mut State)) {
        let mut s = self.lock();
        if s.live && t.0 == Some(s.generation) {
            f(&mut s);
        }
    }

    fn read<T>(&self, f: impl FnOnce(&State) -> Option<T>) -> Option<T> {
        let s = self.lock();
        if s.live {
            f(&s)
        } else {
            None
        }
    }

    pub(crate) fn contact(&self, id: &str) -> Option<Contact> {
        self.read(|s| s.contacts.get(id).cloned())
    }
    pub(crate) fn put_contact(&self, t: Ticket, c: &Contact) {
        self.store(t, |s| {
            s.contacts.insert(c.id.clone(), c.clone());
        })
    }
    pub(crate) fn contact_ids(&self) -> Option<Vec<String>> {
        self.read(|s| s.contact_ids.clone())
    }
    pub(crate) fn put_contact_ids(&self, t: Ticket, ids: &[String]) {
        self.store(t, |s| s.contact_ids = Some(ids.to_vec()))
    }

    /// The listed contacts that `keep` accepts, in list order, read under one lock without
    /// copying the others — when the list and every payload on it are cached; else `None`.
    pub(crate) fn contacts_matching(
        &self,
        keep: impl Fn(&Contact) -> bool,
    ) -> Option<Vec<Contact>> {
        self.read(|s| {
            let ids = s.contact_ids.as_ref()?;
            let mut out = Vec::new();
            for id in ids {
                let c = s.contacts.get(id)?;
                if keep(c) {
                    out.push(c.clone());
                }
            }
            Some(out)
        })
    }

    pub(crate) fn room(&self, id: &str) -> Option<Room> {
        self.read(|s| s.rooms.get(id).cloned())
    }
    pub(crate) fn put_room(&self, t: Ticket, r: &Room) {
        self.store(t, |s| {
            s.rooms.insert(r.id.clone(), r.clone());
        })
    }
    pub(crate) fn room_ids(&self) -> Option<Vec<String>> {
        self.read(|s| s.room_ids.clone())
    }
    pub(crate) fn put_room_ids(&self, t: Ticket, ids: &[String]) {
        self.store(t, |s| s.room_ids = Some(ids.to_vec()))
    }

    pub(crate) fn member_ids(&self, room_id: &str) -> Option<Vec<String>> {
        self.read(|s| s.member_ids.get(room_id).cloned())
    }
    pub(crate) fn put_member_ids(&self, t: Ticket, room_id: &str, ids: &[String]) {
        self.store(t, |s| {
            s.member_ids.insert(room_id.to_owned(), ids.to_vec());
        })
    }
    pub(crate) fn member(&self, room_id: &str, member_id: &str) -> Option<RoomMember> {
        self.read(|s| s.members.get(room_id)?.get(member_id).cloned())
    }
    pub(crate) fn put_member(&self, t: Ticket, m: &RoomMember) {
        self.store(t, |s| {
            s.members
                .entry(m.room_id.clone())
                .or_default()
                .insert(m.id.clone(), m.clone());
        })
    }

    /// Drops what a `dirty` event (or a room event) makes stale.
    pub(crate) fn invalidate(&self, kind: PayloadType, id: &str) {
        let mut s = self.lock();
        s.generation += 1;
        s.invalidations += 1;
        match kind {
            PayloadType::Contact | PayloadType::Friendship => {
                // a changed or new contact: its payload, and the list it may have joined;
                // its room member payloads carry its name too
                s.contacts.remove(id);
                s.contact_ids = None;
                for members in s.members.values_mut() {
                    members.remove(id);
                }
            }
            PayloadType::Room => {
                s.rooms.remove(id);
                s.room_ids = None;
                s.member_ids.remove(id);
                s.members.remove(id);
            }
            PayloadType::RoomMember => {
                // the id is the room's
                s.rooms.remove(id);
                s.member_ids.remove(id);
                s.members.remove(id);
            }
            PayloadType::Message | PayloadType::Post => {}
            PayloadType::Unknown(_) => {
                // we cannot tell what changed: forget everything
                let live = s.live;
                let (generation, invalidations) = (s.generation, s.invalidations);
                *s = State {
                    live,
                    generation,
                    invalidations,
                    ..State::default()
                };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contact::{ContactType, Gender};

    fn contact(id: &str) -> Contact {
        Contact {
            id: id.into(),
            name: "n".into(),
            alias: None,
            kind: ContactType::Individual,
            gender: Gender::Unknown(0),
            avatar: None,
            friend: true,
            handle: None,
            city: None,
            province: None,
            address: None,
            signature: None,
            star: false,
            phones: vec![],
            corporation: None,
            title: None,
            description: None,
            coworker: false,
        }
    }

    #[test]
    fn only_live_and_current_stores_stick() {
        let c = Cache::new(true);
        let t = c.ticket();
        c.put_contact(t, &contact("a"));
        assert_eq!(c.contact("a"), None, "not live yet");
        c.set_live(true);
        let t = c.ticket();
        c.put_contact(t, &contact("a"));
        c.put_contact_ids(t, &["a".into()]);
        assert!(c.contact("a").is_some());
        let stale = c.ticket();
        c.invalidate(PayloadType::Contact, "a");
        assert_eq!(c.contact("a"), None);
        assert_eq!(c.contact_ids(), None);
        c.put_contact(stale, &contact("a"));
        assert_eq!(c.contact("a"), None, "fetched before the invalidation");
        let t = c.ticket();
        c.put_contact(t, &contact("b"));
        c.set_live(false);
        assert_eq!(c.stats().contacts, 0);
        let disabled = Cache::new(false);
        disabled.set_live(true);
        assert!(!disabled.stats().live);
    }
}
