//! The Wechaty backend: any Wechaty Puppet Service over gRPC, through the `wechaty` crate.
//!
//! - [`normalize`]: Wechaty payloads ↔ stored messages (a room is the conversation, the
//!   speaker is kept).
//! - [`listen`]: the listener holding the service's one event stream.
//! - [`login`]: the puppet's QR login as a [`LoginFlow`].
//! - this module: [`WechatyUpstream`] — one client per session (shared by the listener and every
//!   lookup and send, so they share its payload cache), sends, downloads, the address book, and
//!   the classification of `wechaty` errors into [`UpstreamFailure`]s.
//!
//! A session's credentials for this backend are the service's endpoint (kept as the session's
//! `base_url`) and its token. A CA certificate for TLS endpoints can be given in
//! `WXLINK_WECHATY_CA` (a PEM file).

pub mod listen;
pub mod login;
pub mod normalize;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use super::{
    Capabilities, Contact, FileKind, LocalFile, LoginFlow, LoginParams, Matching, MediaFile,
    OutItem, Progress, Room, RoomMember, SendOutcome, SendTarget, Shutdown, Sink, UpResult,
    Upstream, UpstreamError, UpstreamFailure, UpstreamOptions,
};
use crate::model::{BackendKind, Secret};
use crate::store::{SessionRecord, StoredMessage};
use crate::timefmt::now_ms;
use crate::transfer::TransferObserver;

/// The clients of the sessions: `(session, endpoint, token)` → client.
type Clients = HashMap<(String, String, Secret<String>), ::wechaty::Client>;

/// The Wechaty backend and its clients, one per session.
pub struct WechatyUpstream {
    clients: Mutex<Clients>,
    max_file_bytes: u64,
}

impl std::fmt::Debug for WechatyUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WechatyUpstream").finish_non_exhaustive()
    }
}

/// Classifies a `wechaty` error.
pub fn up(e: ::wechaty::Error) -> UpstreamError {
    let failure = match &e {
        ::wechaty::Error::NotFound { .. } => UpstreamFailure::NotFound,
        ::wechaty::Error::Unauthenticated { .. } => UpstreamFailure::Unauthenticated,
        ::wechaty::Error::InvalidArgument(_) | ::wechaty::Error::Config(_) => {
            UpstreamFailure::Invalid
        }
        ::wechaty::Error::Unsupported(_) => UpstreamFailure::Unsupported,
        e if e.is_transient() => UpstreamFailure::Unavailable,
        _ => UpstreamFailure::Other,
    };
    UpstreamError {
        backend: BackendKind::Wechaty,
        failure,
        message: format!("wechaty: {e}"),
        source: Some(Box::new(e)),
    }
}

/// The client configuration for an endpoint: plaintext for `host:port` and `http://`, TLS for
/// `https://` (with the CA in `WXLINK_WECHATY_CA` when set, else the public roots).
pub async fn config(endpoint: &str, token: &Secret<String>) -> UpResult<::wechaty::Config> {
    let config = ::wechaty::Config::new(endpoint, token.expose_str());
    let ca_pem = match std::env::var("WXLINK_WECHATY_CA") {
        Ok(ca) => Some(tokio::fs::read_to_string(&ca).await.map_err(|e| {
            UpstreamError::new(
                BackendKind::Wechaty,
                UpstreamFailure::Invalid,
                format!("cannot read the CA certificate WXLINK_WECHATY_CA={ca}: {e}"),
            )
        })?),
        Err(_) => None,
    };
    if ca_pem.is_some() || endpoint.trim_start().starts_with("https://") {
        return Ok(config.with_tls(::wechaty::TlsConfig::Tls {
            ca_pem,
            server_name: None,
        }));
    }
    Ok(config)
}

impl WechatyUpstream {
    /// The backend, with no client yet.
    pub fn new(options: &UpstreamOptions) -> Self {
        WechatyUpstream {
            clients: Mutex::default(),
            max_file_bytes: options
                .max_upload_bytes
                .unwrap_or(super::DEFAULT_MAX_UPLOAD_BYTES),
        }
    }

    /// The client of a session (connected lazily, on first use; reused while the session keeps
    /// its endpoint and token).
    pub async fn client(&self, session: &SessionRecord) -> UpResult<::wechaty::Client> {
        let (Some(token), Some(endpoint)) = (&session.token, &session.base_url) else {
            return Err(UpstreamError::no_credentials(BackendKind::Wechaty, session));
        };
        let key = (session.name.clone(), endpoint.clone(), token.clone());
        if let Some(c) = self.lock().get(&key) {
            return Ok(c.clone());
        }
        let client = ::wechaty::Client::connect_lazy(config(endpoint, token).await?).map_err(up)?;
        let mut clients = self.lock();
        clients.retain(|(name, _, _), _| name != &session.name);
        Ok(clients.entry(key).or_insert(client).clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Clients> {
        self.clients.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A contact as the service sees it.
fn contact(c: ::wechaty::Contact) -> Contact {
    Contact {
        kind: match c.kind {
            ::wechaty::ContactType::Individual => "personal",
            ::wechaty::ContactType::Official => "official",
            ::wechaty::ContactType::Corporation => "corporation",
            ::wechaty::ContactType::Unknown(_) => "unknown",
        },
        id: c.id,
        name: c.name,
        alias: c.alias,
        friend: c.friend,
    }
}

fn room(r: ::wechaty::Room) -> Room {
    Room {
        members: r.member_ids.len(),
        id: r.id,
        topic: r.topic,
        owner_id: r.owner_id,
    }
}

fn mode(m: Matching) -> ::wechaty::MatchMode {
    match m {
        Matching::Exact => ::wechaty::MatchMode::Exact,
        Matching::Fuzzy => ::wechaty::MatchMode::Fuzzy,
    }
}

#[async_trait]
impl Upstream for WechatyUpstream {
    fn kind(&self) -> BackendKind {
        BackendKind::Wechaty
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            needs_context: false,
            reply_quota: None,
            max_text_bytes: None,
            directory: true,
            groups: true,
            typing: false,
            login_needs_endpoint: true,
            exclusive_listener: true,
            max_file_bytes: Some(self.max_file_bytes),
        }
    }

    fn default_session_name(&self) -> &'static str {
        "wechaty"
    }

    /// One event stream per account and endpoint (the service refuses a second one).
    fn listener_lock(&self, session: &SessionRecord) -> Option<String> {
        let bot_id = session.bot_id.as_deref()?;
        let endpoint = session.base_url.as_deref().unwrap_or_default();
        let digest = ::ilink::crypto::md5_hex(endpoint.as_bytes());
        Some(format!("wechaty-{bot_id}-{}", &digest[..8]))
    }

    async fn begin_login(&self, params: &LoginParams) -> UpResult<Box<dyn LoginFlow>> {
        Ok(Box::new(login::WechatyLogin::connect(params).await?))
    }

    async fn listen(&self, session: SessionRecord, sink: Arc<dyn Sink>, shutdown: Shutdown) {
        let client = match self.client(&session).await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(session = %session.name, error = %e, "cannot listen");
                return;
            }
        };
        listen::run(&session, &client, sink.as_ref(), shutdown).await;
    }

    async fn send(
        &self,
        target: SendTarget<'_>,
        item: &OutItem,
        client_id: &str,
        progress: &Progress,
    ) -> SendOutcome {
        let session = target.session;
        let sent = sent_of(item);
        let (result, total) = match self.client(session).await {
            Err(e) => (Err(e), None),
            Ok(client) => match item {
                OutItem::Text(text) => (client.send_text(target.to, text).await.map_err(up), None),
                OutItem::File { name, file, .. } => (
                    send_file(&client, target.to, name, file).await,
                    Some(file.size),
                ),
            },
        };
        if let (Ok(_), Some(total)) = (&result, total) {
            progress.report(::ilink::Transfer {
                done: total,
                total: Some(total),
            });
        }
        let upstream_id = result.as_ref().ok().cloned().flatten();
        let record = normalize::outbound(
            session,
            target.to,
            &sent,
            upstream_id.as_deref(),
            client_id,
            now_ms(),
            result.as_ref().err().map(|e| e.to_string()),
        );
        SendOutcome { record, result }
    }

    async fn download(
        &self,
        session: &SessionRecord,
        message: &StoredMessage,
        observer: &dyn TransferObserver,
    ) -> UpResult<Vec<MediaFile>> {
        let msg = &message.message;
        let (Some(upstream), true) = (&msg.upstream_id, normalize::has_media(&msg.kind)) else {
            return Ok(Vec::new());
        };
        let client = self.client(session).await?;
        let progress = observer.start(&format!("Downloading {}", msg.kind));
        let file = client.download_message_file(upstream).await.map_err(up)?;
        let size = file.bytes.len() as u64;
        progress.report(::ilink::Transfer {
            done: size,
            total: Some(size),
        });
        let stored_name = msg
            .items
            .value()
            .get(0)
            .and_then(|i| i.get("file_name"))
            .and_then(|n| n.as_str())
            .map(str::to_string);
        let name = Some(file.name)
            .filter(|n| !n.trim().is_empty())
            .or(stored_name)
            .unwrap_or_else(|| format!("{upstream}.bin"));
        Ok(vec![MediaFile {
            kind: msg.kind.clone(),
            name,
            data: file.bytes,
        }])
    }

    async fn find_contacts(
        &self,
        session: &SessionRecord,
        name: &str,
        matching: Matching,
    ) -> UpResult<Vec<Contact>> {
        let client = self.client(session).await?;
        let found = client
            .find_contacts(name, ::wechaty::ContactField::NameOrAlias, mode(matching))
            .await
            .map_err(up)?;
        Ok(found.into_iter().map(contact).collect())
    }

    async fn find_rooms(
        &self,
        session: &SessionRecord,
        topic: &str,
        matching: Matching,
    ) -> UpResult<Vec<Room>> {
        let client = self.client(session).await?;
        let found = client.find_rooms(topic, mode(matching)).await.map_err(up)?;
        Ok(found.into_iter().map(room).collect())
    }

    async fn contact(&self, session: &SessionRecord, id: &str) -> UpResult<Contact> {
        let client = self.client(session).await?;
        client.contact(id).await.map(contact).map_err(up)
    }

    async fn room(&self, session: &SessionRecord, id: &str) -> UpResult<Room> {
        let client = self.client(session).await?;
        client.room(id).await.map(room).map_err(up)
    }

    async fn room_members(
        &self,
        session: &SessionRecord,
        room_id: &str,
    ) -> UpResult<Vec<RoomMember>> {
        let client = self.client(session).await?;
        let members = client.room_members(room_id).await.map_err(up)?;
        Ok(members
            .into_iter()
            .map(|m| RoomMember {
                id: m.id,
                name: m.name,
                room_alias: m.room_alias,
                inviter_id: m.inviter_id,
            })
            .collect())
    }

    async fn directory_size(&self, session: &SessionRecord) -> UpResult<(usize, usize)> {
        let client = self.client(session).await?;
        let contacts = client.contact_ids().await.map_err(up)?.len();
        let rooms = client.room_ids().await.map_err(up)?.len();
        Ok((contacts, rooms))
    }
}

/// Sends a file: inline when small (one message), else streamed through `Upload` piece by
/// piece and sent only once every byte was read.
async fn send_file(
    client: &::wechaty::Client,
    to: &str,
    name: &str,
    file: &LocalFile,
) -> UpResult<Option<String>> {
    let unreadable = |e: std::io::Error| UpstreamError {
        backend: BackendKind::Wechaty,
        failure: UpstreamFailure::Invalid,
        message: format!("cannot read {}: {e}", file.path.display()),
        source: Some(Box::new(e)),
    };
    if file.size <= client.config().inline_file_limit as u64 {
        let data = file.read_all().await.map_err(unreadable)?;
        return client.send_file(to, name, data).await.map_err(up);
    }
    let (pieces, read) = file.pieces(UPLOAD_PIECE);
    let uuid = client.upload_stream(pieces).await.map_err(up)?;
    match read.await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => return Err(unreadable(e)),
        Err(_) => return Err(unreadable(std::io::Error::other("the reader stopped"))),
    }
    let file_box = ::wechaty::FileBox::Uuid {
        name: name.to_string(),
        uuid,
        size: Some(file.size),
    };
    client.send_file_box(to, &file_box).await.map_err(up)
}

/// Pieces a streamed upload is read in.
const UPLOAD_PIECE: usize = 64 * 1024;

/// The row shape of an item that could not even be tried.
fn sent_of(item: &OutItem) -> normalize::Sent<'_> {
    match item {
        OutItem::Text(t) => normalize::Sent::Text(t),
        OutItem::File { kind, name, file } => normalize::Sent::File {
            kind: if *kind == FileKind::Image {
                "image"
            } else {
                "file"
            },
            name,
            size: file.size,
        },
    }
}
