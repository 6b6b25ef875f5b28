//! The client: [`Client`] holds one connection to the puppet service and makes every call
//! (lifecycle, contacts, rooms, room members, messages, sends, files), each with a timeout,
//! reading contacts and rooms through the cache.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::{stream, StreamExt};
use tokio::sync::watch;

use crate::cache::{Cache, CacheStats};
use crate::config::Config;
use crate::contact::Contact;
use crate::error::{Error, Result};
use crate::event::{LoginState, PayloadType, PuppetEvent};
use crate::filebox::FileBox;
use crate::find::{self, ContactField, MatchMode};
use crate::message::{ImageType, Message};
use crate::proto::wechaty::puppet as pb;
use crate::room::{Room, RoomMember};
use crate::stream::{self as event_stream, EventStream};
use crate::transport::{self, Rpc};

/// Chunk size of `Upload`.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Largest file `download` collects in memory.
const MAX_DOWNLOAD: usize = 512 * 1024 * 1024;

/// A client of one Wechaty Puppet Service. Cheap to clone (all clones share the connection,
/// the cache, the login state and the one event stream).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
}

pub(crate) struct Inner {
    pub(crate) config: Config,
    rpc: Rpc,
    pub(crate) cache: Cache,
    login: watch::Sender<LoginState>,
    pub(crate) events_open: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.config.endpoint)
            .field("login", &*self.inner.login.borrow())
            .finish_non_exhaustive()
    }
}

/// A file fetched from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// The file name the service gave (may be empty).
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

fn require(what: &str, value: &str) -> Result<()> {
    if value.trim().is_empty() {
        Err(Error::InvalidArgument(format!("{what} is empty")))
    } else {
        Ok(())
    }
}

impl Client {
    /// Connects (TCP, TLS if configured) and checks the token with a `Version` call, so that a
    /// wrong endpoint, TLS setup or token fails here.
    pub async fn connect(config: Config) -> Result<Client> {
        let endpoint = transport::endpoint(&config)?;
        let auth = transport::auth(&config)?;
        let limit = config.connect_timeout + Duration::from_secs(1);
        let channel = match tokio::time::timeout(limit, endpoint.connect()).await {
            Err(_) => {
                return Err(Error::Timeout {
                    what: format!("connecting to {}", config.endpoint),
                    after: limit,
                })
            }
            Ok(Err(e)) => return Err(Error::from_transport(&e)),
            Ok(Ok(channel)) => channel,
        };
        let client = Client::with_channel(config, transport::rpc(channel, auth));
        client.version().await?;
        Ok(client)
    }

    /// A client that connects on its first call (and reconnects whenever needed). Fails only on
    /// a configuration that cannot work. Must be called inside a Tokio runtime.
    pub fn connect_lazy(config: Config) -> Result<Client> {
        let endpoint = transport::endpoint(&config)?;
        let auth = transport::auth(&config)?;
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "Client::connect_lazy must be called inside a Tokio runtime".into(),
            ));
        }
        let channel = endpoint.connect_lazy();
        Ok(Client::with_channel(config, transport::rpc(channel, auth)))
    }

    fn with_channel(config: Config, rpc: Rpc) -> Client {
        let cache = Cache::new(config.cache);
        Client {
            inner: Arc::new(Inner {
                config,
                rpc,
                cache,
                login: watch::Sender::new(LoginState::Unknown),
                events_open: AtomicBool::new(false),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// One unary call with the request timeout and error classification.
    async fn call<T, F, Fut>(
        &self,
        rpc: &'static str,
        what: &'static str,
        id: &str,
        f: F,
    ) -> Result<T>
    where
        F: FnOnce(Rpc) -> Fut,
        Fut: Future<Output = std::result::Result<tonic::Response<T>, tonic::Status>>,
    {
        let after = self.inner.config.request_timeout;
        match tokio::time::timeout(after, f(self.inner.rpc.clone())).await {
            Err(_) => Err(Error::Timeout {
                what: rpc.to_owned(),
                after,
            }),
            Ok(Err(status)) => Err(Error::from_status(rpc, what, id, &status)),
            Ok(Ok(response)) => Ok(response.into_inner()),
        }
    }

    pub(crate) fn rpc(&self) -> Rpc {
        self.inner.rpc.clone()
    }

    // ------------------------------------------------------------------ lifecycle

    /// The service's version string (e.g. `1.19.4<1.21.3>`). Also a cheap token check.
    pub async fn version(&self) -> Result<String> {
        let r = self
            .call("Version", "", "", |mut c| async move {
                c.version(pb::VersionRequest {}).await
            })
            .await?;
        Ok(r.version)
    }

    /// Starts the puppet (idempotent; the event stream does it on connect unless
    /// [`Config::start_on_connect`] is off). The service waits up to 15 s for the puppet.
    pub async fn start(&self) -> Result<()> {
        self.call("Start", "", "", |mut c| async move {
            c.start(pb::StartRequest {}).await
        })
        .await?;
        Ok(())
    }

    /// Stops the puppet. **This logs the account out** and ends the event stream; do not call
    /// it on a shared service just to disconnect (drop the client instead).
    pub async fn stop(&self) -> Result<()> {
        self.call("Stop", "", "", |mut c| async move {
            c.stop(pb::StopRequest {}).await
        })
        .await?;
        Ok(())
    }

    /// Logs the bot's account out.
    pub async fn logout(&self) -> Result<()> {
        self.call("Logout", "", "", |mut c| async move {
            c.logout(pb::LogoutRequest {}).await
        })
        .await?;
        Ok(())
    }

    /// Asks the puppet to answer with a [`PuppetEvent::Dong`] carrying `data`.
    pub async fn ding(&self, data: &str) -> Result<()> {
        let data = data.to_owned();
        self.call("Ding", "", "", |mut c| async move {
            c.ding(pb::DingRequest { data }).await
        })
        .await?;
        Ok(())
    }

    /// Asks the service to drop its cached payload (it answers with a `dirty` event), and drops
    /// ours at once.
    pub async fn dirty_payload(&self, kind: PayloadType, id: &str) -> Result<()> {
        require("payload id", id)?;
        self.inner.cache.invalidate(kind, id);
        let req = pb::DirtyPayloadRequest {
            r#type: kind.to_wire(),
            id: id.to_owned(),
        };
        self.call("DirtyPayload", "payload", id, |mut c| async move {
            c.dirty_payload(req).await
        })
        .await?;
        Ok(())
    }

    // ------------------------------------------------------------------ events and login

    /// Opens the event stream: a task that keeps one `Event` stream open, reconnecting with
    /// [`Config::reconnect`], and yields [`PuppetEvent`]s (with `Connected`/`Disconnected`).
    /// One per client at a time ([`Error::EventStreamBusy`] otherwise); it also drives
    /// [`Client::login_state`] and the cache. Must be called inside a Tokio runtime.
    pub fn events(&self) -> Result<EventStream> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(Error::Config(
                "Client::events must be called inside a Tokio runtime".into(),
            ));
        }
        if self
            .inner
            .events_open
            .compare_exchange(false, true, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return Err(Error::EventStreamBusy {
                message: "this client already has an event stream open".into(),
            });
        }
        Ok(event_stream::spawn(self.clone()))
    }

    /// What the event stream has told of the login.
    pub fn login_state(&self) -> LoginState {
        self.inner.login.borrow().clone()
    }

    /// The bot's contact id, if the event stream says it is logged in.
    pub fn current_user_id(&self) -> Option<String> {
        self.inner.login.borrow().user_id().map(str::to_owned)
    }

    /// A receiver that sees every change of [`Client::login_state`].
    pub fn watch_login(&self) -> watch::Receiver<LoginState> {
        self.inner.login.subscribe()
    }

    /// Waits until the event stream reports a login (needs [`Client::events`] running);
    /// returns the bot's contact id.
    pub async fn wait_logged_in(&self, timeout: Duration) -> Result<String> {
        let mut rx = self.watch_login();
        let wait = async move {
            rx.wait_for(|s| matches!(s, LoginState::LoggedIn { .. }))
                .await
                .map(|state| state.user_id().unwrap_or_default().to_owned())
        };
        match tokio::time::timeout(timeout, wait).await {
            Ok(Ok(user_id)) => Ok(user_id),
            Ok(Err(_)) => Err(Error::Unavailable {
                message: "the client was dropped".into(),
            }),
            Err(_) => Err(Error::Timeout {
                what: "waiting for login".into(),
                after: timeout,
            }),
        }
    }

    /// The bot's own contact, if logged in.
    pub async fn current_user(&self) -> Result<Option<Contact>> {
        match self.current_user_id() {
            Some(id) => Ok(Some(self.contact(&id).await?)),
            None => Ok(None),
        }
    }

    /// Updates login state and cache from one event (called by the event stream task).
    pub(crate) fn observe(&self, ev: &PuppetEvent) {
        let cache = &self.inner.cache;
        match ev {
            PuppetEvent::Connected => {
                cache.set_live(true);
                self.inner.login.send_replace(LoginState::Unknown);
            }
            PuppetEvent::Disconnected { .. } => {
                cache.set_live(false);
                self.inner.login.send_replace(LoginState::Unknown);
            }
            PuppetEvent::Login { contact_id } => {
                self.inner.login.send_replace(LoginState::LoggedIn {
                    user_id: contact_id.clone(),
                });
            }
            PuppetEvent::Logout { .. } => {
                cache.clear();
                self.inner.login.send_replace(LoginState::LoggedOut);
            }
            PuppetEvent::Scan { status, qrcode, .. } => {
                self.inner.login.send_modify(|s| {
                    let qrcode = qrcode.clone().or_else(|| match s {
                        LoginState::Scanning { qrcode, .. } => qrcode.clone(),
                        _ => None,
                    });
                    *s = LoginState::Scanning {
                        status: *status,
                        qrcode,
                    };
                });
            }
            PuppetEvent::Dirty {
                payload_type,
                payload_id,
            } => cache.invalidate(*payload_type, payload_id),
            PuppetEvent::RoomJoin { room_id, .. } | PuppetEvent::RoomLeave { room_id, .. } => {
                cache.invalidate(PayloadType::RoomMember, room_id)
            }
            PuppetEvent::RoomTopic { room_id, .. } => cache.invalidate(PayloadType::Room, room_id),
            PuppetEvent::Friendship { friendship_id } => {
                cache.invalidate(PayloadType::Friendship, friendship_id)
            }
            _ => {}
        }
    }

    /// Called by the event stream task when it ends.
    pub(crate) fn event_stream_closed(&self) {
        self.inner.cache.set_live(false);
        self.inner.login.send_replace(LoginState::Unknown);
        self.inner.events_open.store(false, Ordering::SeqCst);
    }

    // ------------------------------------------------------------------ cache

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

    // ------------------------------------------------------------------ messages

    /// A message's payload (after a [`PuppetEvent::Message`]).
    pub async fn message(&self, id: &str) -> Result<Message> {
        require("message id", id)?;
        let req = pb::MessagePayloadRequest { id: id.to_owned() };
        let p = self
            .call("MessagePayload", "message", id, |mut c| async move {
                c.message_payload(req).await
            })
            .await?;
        let mut m = Message::from(p);
        if m.id.is_empty() {
            m.id = id.to_owned();
        }
        Ok(m)
    }

    /// Sends text to a contact or a room (`conversation_id`). Returns the new message's id if
    /// the puppet gives one.
    pub async fn send_text(&self, conversation_id: &str, text: &str) -> Result<Option<String>> {
        self.send_text_mentioning(conversation_id, text, &[]).await
    }

    /// Sends text to a room, @-mentioning `mention_ids` (the text should contain the `@names`
    /// too, as WeChat shows them).
    pub async fn send_text_mentioning(
        &self,
        conversation_id: &str,
        text: &str,
        mention_ids: &[String],
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        let req = pb::MessageSendTextRequest {
            conversation_id: conversation_id.to_owned(),
            text: text.to_owned(),
            mentional_ids: mention_ids.to_vec(),
        };
        let r = self
            .call(
                "MessageSendText",
                "conversation",
                conversation_id,
                |mut c| async move { c.message_send_text(req).await },
            )
            .await?;
        Ok((!r.id.is_empty()).then_some(r.id))
    }

    /// Sends a file (an image if the name says so, e.g. `.png`) to a contact or room. Files up
    /// to [`Config::inline_file_limit`] go inline as a Base64 FileBox, larger ones through
    /// `Upload` as a UUID FileBox.
    pub async fn send_file(
        &self,
        conversation_id: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        require("file name", name)?;
        let file_box = if bytes.len() <= self.inner.config.inline_file_limit {
            FileBox::from_bytes(name, &bytes)
        } else {
            let size = bytes.len() as u64;
            let uuid = self.upload(bytes).await?;
            FileBox::Uuid {
                name: name.to_owned(),
                uuid,
                size: Some(size),
            }
        };
        self.send_file_box(conversation_id, &file_box).await
    }

    /// Sends a FileBox as it is (e.g. a URL box) to a contact or room.
    pub async fn send_file_box(
        &self,
        conversation_id: &str,
        file_box: &FileBox,
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        let req = pb::MessageSendFileRequest {
            conversation_id: conversation_id.to_owned(),
            file_box: file_box.to_json(),
        };
        let after = self.inner.config.transfer_timeout;
        let call = async move { self.rpc().message_send_file(req).await };
        match tokio::time::timeout(after, call).await {
            Err(_) => Err(Error::Timeout {
                what: "MessageSendFile".into(),
                after,
            }),
            Ok(Err(status)) => Err(Error::from_status(
                "MessageSendFile",
                "conversation",
                conversation_id,
                &status,
            )),
            Ok(Ok(r)) => {
                let id = r.into_inner().id;
                Ok((!id.is_empty()).then_some(id))
            }
        }
    }

    /// Uploads bytes to the service; returns the UUID for a [`FileBox::Uuid`].
    pub async fn upload(&self, bytes: Vec<u8>) -> Result<String> {
        let chunks: Vec<pb::UploadRequest> = bytes
            .chunks(UPLOAD_CHUNK)
            .map(|c| pb::UploadRequest { chunk: c.to_vec() })
            .collect();
        drop(bytes);
        let after = self.inner.config.transfer_timeout;
        let call = async move { self.rpc().upload(stream::iter(chunks)).await };
        match tokio::time::timeout(after, call).await {
            Err(_) => Err(Error::Timeout {
                what: "Upload".into(),
                after,
            }),
            Ok(Err(status)) => Err(Error::from_status("Upload", "file", "", &status)),
            Ok(Ok(r)) => {
                let id = r.into_inner().id;
                if id.is_empty() {
                    Err(Error::Malformed {
                        what: "Upload response".into(),
                        message: "no file id".into(),
                    })
                } else {
                    Ok(id)
                }
            }
        }
    }

    /// The file of an attachment, image, video, audio or emoticon message, as the service
    /// describes it (fetch the bytes with [`Client::file_bytes`]).
    pub async fn message_file(&self, message_id: &str) -> Result<FileBox> {
        require("message id", message_id)?;
        let req = pb::MessageFileRequest {
            id: message_id.to_owned(),
        };
        let r = self
            .call(
                "MessageFile",
                "message file",
                message_id,
                |mut c| async move { c.message_file(req).await },
            )
            .await?;
        FileBox::from_json(&r.file_box)
    }

    /// An image message's picture in the given rendition.
    pub async fn message_image(&self, message_id: &str, kind: ImageType) -> Result<FileBox> {
        require("message id", message_id)?;
        let req = pb::MessageImageRequest {
            id: message_id.to_owned(),
            r#type: kind.to_wire(),
        };
        let r = self
            .call(
                "MessageImage",
                "message image",
                message_id,
                |mut c| async move { c.message_image(req).await },
            )
            .await?;
        FileBox::from_json(&r.file_box)
    }

    /// Downloads a file the service keeps (a [`FileBox::Uuid`]'s `uuid`).
    pub async fn download(&self, uuid: &str) -> Result<Vec<u8>> {
        require("file uuid", uuid)?;
        let after = self.inner.config.transfer_timeout;
        let req = pb::DownloadRequest {
            id: uuid.to_owned(),
        };
        let fetch = async move {
            let mut stream = self
                .rpc()
                .download(req)
                .await
                .map_err(|s| Error::from_status("Download", "file", uuid, &s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(chunk) = stream
                .message()
                .await
                .map_err(|s| Error::from_status("Download", "file", uuid, &s))?
            {
                if out.len() + chunk.chunk.len() > MAX_DOWNLOAD {
                    return Err(Error::Unsupported(format!(
                        "file {uuid} is larger than {MAX_DOWNLOAD} bytes"
                    )));
                }
                out.extend_from_slice(&chunk.chunk);
            }
            Ok(out)
        };
        match tokio::time::timeout(after, fetch).await {
            Err(_) => Err(Error::Timeout {
                what: "Download".into(),
                after,
            }),
            Ok(r) => r,
        }
    }

    /// The bytes of a FileBox: decoded inline Base64, or downloaded by UUID. URL and QR code
    /// boxes are [`Error::Unsupported`] (the URL is in the error: fetch it with an HTTP client).
    pub async fn file_bytes(&self, file_box: &FileBox) -> Result<Vec<u8>> {
        match file_box {
            FileBox::Base64 { base64, .. } => crate::filebox::decode_base64(base64),
            FileBox::Uuid { uuid, .. } => self.download(uuid).await,
            FileBox::Url { url, .. } => Err(Error::Unsupported(format!(
                "a FileBox of type URL must be fetched over HTTP: {url}"
            ))),
            FileBox::QrCode { .. } => Err(Error::Unsupported(
                "a FileBox of type QR code has no file to fetch".into(),
            )),
            FileBox::Other { box_type, .. } => {
                Err(Error::Unsupported(format!("a FileBox of type {box_type}")))
            }
        }
    }

    /// [`Client::message_file`] then [`Client::file_bytes`].
    pub async fn download_message_file(&self, message_id: &str) -> Result<DownloadedFile> {
        let file_box = self.message_file(message_id).await?;
        let bytes = self.file_bytes(&file_box).await?;
        Ok(DownloadedFile {
            name: file_box.name().unwrap_or_default().to_owned(),
            bytes,
        })
    }
}
