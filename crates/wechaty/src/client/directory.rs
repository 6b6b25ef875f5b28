//! Contacts, rooms and room members, read through the cache (ids listed by the puppet, payloads
//! fetched a few at a time and kept), and lookups by name.

use std::future::Future;

use futures_util::{stream, StreamExt};

use super::{require, Client};
use crate::cache::CacheStats;
use crate::contact::Contact;
use crate::error::{Error, Result};
use crate::find::{self, ContactField, MatchMode};
use crate::proto::wechaty::puppet as pb;
use crate::room::{Room, RoomMember};

impl Client {
    /// What the cache holds.
    pub fn cache_stats(&self) -> CacheStats {
        self.inner.cache.stats()
    }

    /// Empties the cache.
    pub fn clear_cache(&self) {
        self.inner.cache.clear();
    }

    /// Fetches many payloads with bounded concurrency, in order; ids the service no longer
    /// knows are skipped.
    async fn fetch_all<T, F, Fut>(&self, ids: Vec<String>, fetch: F) -> Result<Vec<T>>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T>>,
    {
        let n = self.inner.config.fetch_concurrency.max(1);
        let results: Vec<Result<T>> = stream::iter(ids.into_iter().map(fetch))
            .buffered(n)
            .collect()
            .await;
        let mut out = Vec::with_capacity(results.len());
        for r in results {
            match r {
                Ok(v) => out.push(v),
                Err(Error::NotFound { what, id, .. }) => {
                    tracing::debug!(%what, %id, "listed but not found; skipped");
                }
                Err(e) => return Err(e),
            }
        }
        Ok(out)
    }

    // ------------------------------------------------------------------ contacts

    /// Ids of all contacts the puppet knows (friends, room members met, official accounts, and
    /// the bot itself).
    pub async fn contact_ids(&self) -> Result<Vec<String>> {
        if let Some(ids) = self.inner.cache.contact_ids() {
            return Ok(ids);
        }
        let ticket = self.inner.cache.ticket();
        let r = self
            .call("ContactList", "contact list", "", |mut c| async move {
                c.contact_list(pb::ContactListRequest {}).await
            })
            .await?;
        let ids: Vec<String> = r.ids.into_iter().filter(|id| !id.is_empty()).collect();
        self.inner.cache.put_contact_ids(ticket, &ids);
        Ok(ids)
    }

    /// One contact's payload.
    pub async fn contact(&self, id: &str) -> Result<Contact> {
        require("contact id", id)?;
        if let Some(c) = self.inner.cache.contact(id) {
            return Ok(c);
        }
        let ticket = self.inner.cache.ticket();
        let req = pb::ContactPayloadRequest { id: id.to_owned() };
        let p = self
            .call("ContactPayload", "contact", id, |mut c| async move {
                c.contact_payload(req).await
            })
            .await?;
        let mut contact = Contact::from(p);
        if contact.id.is_empty() {
            contact.id = id.to_owned();
        }
        self.inner.cache.put_contact(ticket, &contact);
        Ok(contact)
    }

    /// Every contact's payload (see [`Client::contact_ids`]).
    pub async fn contacts(&self) -> Result<Vec<Contact>> {
        let ids = self.contact_ids().await?;
        self.fetch_all(ids, |id| async move { self.contact(&id).await })
            .await
    }

    /// Contacts whose nickname and/or remark (`by`) matches `query` (`mode`). Returns every
    /// match, so more than one means the name is ambiguous.
    pub async fn find_contacts(
        &self,
        query: &str,
        by: ContactField,
        mode: MatchMode,
    ) -> Result<Vec<Contact>> {
        require("the search text", query)?;
        if let Some(found) = self
            .inner
            .cache
            .contacts_matching(|c| find::contact_matches(c, query, by, mode))
        {
            return Ok(found);
        }
        let all = self.contacts().await?;
        Ok(all
            .into_iter()
            .filter(|c| find::contact_matches(c, query, by, mode))
            .collect())
    }

    /// The remark (备注) the bot's account gave the contact, asked fresh from the service.
    pub async fn contact_alias(&self, id: &str) -> Result<Option<String>> {
        require("contact id", id)?;
        let req = pb::ContactAliasRequest {
            id: id.to_owned(),
            alias: None,
        };
        let r = self
            .call("ContactAlias", "contact", id, |mut c| async move {
                c.contact_alias(req).await
            })
            .await?;
        Ok((!r.alias.is_empty()).then_some(r.alias))
    }

    // ------------------------------------------------------------------ rooms

    /// Ids of all rooms the bot is in.
    pub async fn room_ids(&self) -> Result<Vec<String>> {
        if let Some(ids) = self.inner.cache.room_ids() {
            return Ok(ids);
        }
        let ticket = self.inner.cache.ticket();
        let r = self
            .call("RoomList", "room list", "", |mut c| async move {
                c.room_list(pb::RoomListRequest {}).await
            })
            .await?;
        let ids: Vec<String> = r.ids.into_iter().filter(|id| !id.is_empty()).collect();
        self.inner.cache.put_room_ids(ticket, &ids);
        Ok(ids)
    }

    /// One room's payload.
    pub async fn room(&self, id: &str) -> Result<Room> {
        require("room id", id)?;
        if let Some(r) = self.inner.cache.room(id) {
            return Ok(r);
        }
        let ticket = self.inner.cache.ticket();
        let req = pb::RoomPayloadRequest { id: id.to_owned() };
        let p = self
            .call("RoomPayload", "room", id, |mut c| async move {
                c.room_payload(req).await
            })
            .await?;
        let mut room = Room::from(p);
        if room.id.is_empty() {
            room.id = id.to_owned();
        }
        self.inner.cache.put_room(ticket, &room);
        Ok(room)
    }

    /// Every room's payload.
    pub async fn rooms(&self) -> Result<Vec<Room>> {
        let ids = self.room_ids().await?;
        self.fetch_all(ids, |id| async move { self.room(&id).await })
            .await
    }

    /// Rooms whose topic matches `topic` (`mode`). Returns every match.
    pub async fn find_rooms(&self, topic: &str, mode: MatchMode) -> Result<Vec<Room>> {
        require("the search text", topic)?;
        let all = self.rooms().await?;
        Ok(all
            .into_iter()
            .filter(|r| find::room_matches(r, topic, mode))
            .collect())
    }

    /// Contact ids of a room's members.
    pub async fn room_member_ids(&self, room_id: &str) -> Result<Vec<String>> {
        require("room id", room_id)?;
        if let Some(ids) = self.inner.cache.member_ids(room_id) {
            return Ok(ids);
        }
        let ticket = self.inner.cache.ticket();
        let req = pb::RoomMemberListRequest {
            id: room_id.to_owned(),
        };
        let r = self
            .call("RoomMemberList", "room", room_id, |mut c| async move {
                c.room_member_list(req).await
            })
            .await?;
        let ids: Vec<String> = r
            .member_ids
            .into_iter()
            .filter(|id| !id.is_empty())
            .collect();
        self.inner.cache.put_member_ids(ticket, room_id, &ids);
        Ok(ids)
    }

    /// One member of one room (with the member's room alias).
    pub async fn room_member(&self, room_id: &str, member_id: &str) -> Result<RoomMember> {
        require("room id", room_id)?;
        require("member id", member_id)?;
        if let Some(m) = self.inner.cache.member(room_id, member_id) {
            return Ok(m);
        }
        let ticket = self.inner.cache.ticket();
        let req = pb::RoomMemberPayloadRequest {
            id: room_id.to_owned(),
            member_id: member_id.to_owned(),
        };
        let p = self
            .call(
                "RoomMemberPayload",
                "room member",
                member_id,
                |mut c| async move { c.room_member_payload(req).await },
            )
            .await?;
        let member = RoomMember::from_pb(room_id, member_id, p);
        self.inner.cache.put_member(ticket, &member);
        Ok(member)
    }

    /// Every member of a room.
    pub async fn room_members(&self, room_id: &str) -> Result<Vec<RoomMember>> {
        let ids = self.room_member_ids(room_id).await?;
        self.fetch_all(
            ids,
            |id| async move { self.room_member(room_id, &id).await },
        )
        .await
    }
}
