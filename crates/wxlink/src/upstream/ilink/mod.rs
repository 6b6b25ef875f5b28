//! The iLink backend: WeChat's official Bot API through the `ilink` crate.
//!
//! - [`normalize`]: iLink messages ↔ stored messages.
//! - [`poll`]: the long-poll listener (batches and cursors committed together, pipelined).
//! - [`login`]: the QR login as a [`LoginFlow`].
//! - this module: [`IlinkUpstream`] — sends (one item per request, media uploaded through the
//!   CDN first), downloads, typing (with its ticket cache), and the classification of `ilink`
//!   errors into [`UpstreamFailure`]s.
//!
//! iLink bots answer only users who wrote to them, with the context token the user's last
//! message carried (10 replies per token), one-to-one only: no contact list, no groups.

pub mod login;
pub mod normalize;
pub mod poll;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

use ::ilink::wire::ItemType;
use ::ilink::{MediaKind, MessageItem};
use async_trait::async_trait;
use url::Url;

use super::{
    Capabilities, FileKind, LoginFlow, LoginParams, MediaFile, OutItem, SendOutcome, SendTarget,
    Shutdown, Sink, UpResult, Upstream, UpstreamError, UpstreamFailure, UpstreamOptions,
};
use crate::model::BackendKind;
use crate::store::{SessionRecord, StoredMessage};
use crate::timefmt::now_ms;
use crate::transfer::TransferObserver;
use ::ilink::Progress;

/// Largest text iLink accepts, in UTF-8 bytes (spec §9.4).
pub const MAX_TEXT_BYTES: usize = 16 * 1024;

/// Sends allowed per context token before the server refuses (spec §8).
pub const SEND_QUOTA_PER_TOKEN: u32 = 10;

/// How long a typing ticket (`getconfig`) is reused.
const TICKET_TTL: Duration = Duration::from_secs(24 * 3600);

/// The iLink backend: its configuration, the HTTP client (built on first use, so commands that
/// never touch the network start fast) and the typing tickets it has fetched.
pub struct IlinkUpstream {
    config: ::ilink::Config,
    max_file_bytes: u64,
    client: OnceLock<::ilink::Client>,
    /// `(session, user)` → typing ticket and when it was fetched.
    tickets: Mutex<HashMap<(String, String), (String, Instant)>>,
}

impl std::fmt::Debug for IlinkUpstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IlinkUpstream")
            .field("api_base", &self.config.api_base.as_str())
            .finish_non_exhaustive()
    }
}

/// Classifies an `ilink` error (spec §17): `-14` anywhere is expiry, `ret -2` a refusal,
/// timeouts, transport errors, 5xx and bad bodies are transient.
pub fn up(e: ::ilink::Error) -> UpstreamError {
    let failure = if e.is_session_expired() {
        UpstreamFailure::SessionExpired
    } else if matches!(e, ::ilink::Error::Rejected { .. }) {
        UpstreamFailure::Rejected
    } else if e.is_transient() {
        UpstreamFailure::Unavailable
    } else if matches!(e, ::ilink::Error::InvalidInput(_)) {
        UpstreamFailure::Invalid
    } else {
        UpstreamFailure::Other
    };
    UpstreamError {
        backend: BackendKind::Ilink,
        failure,
        message: e.to_string(),
        source: Some(Box::new(e)),
    }
}

impl IlinkUpstream {
    /// The backend with the hosts and backoff of `options` (the real ones by default).
    pub fn new(options: &UpstreamOptions) -> Self {
        let mut config = ::ilink::Config::default();
        if let Some(base) = &options.ilink_base {
            let base = ::ilink::config::with_trailing_slash(base.clone());
            config.api_base = base.clone();
            config.qr_base = base;
        }
        if let Some(backoff) = &options.backoff {
            config.backoff = backoff.clone();
        }
        if let Some(cdn) = &options.cdn_base {
            config.cdn_base = ::ilink::config::with_trailing_slash(cdn.clone());
        }
        IlinkUpstream {
            config,
            max_file_bytes: options
                .max_upload_bytes
                .unwrap_or(super::DEFAULT_MAX_UPLOAD_BYTES),
            client: OnceLock::new(),
            tickets: Mutex::new(HashMap::new()),
        }
    }

    /// The HTTP client (built on first use).
    pub fn client(&self) -> UpResult<&::ilink::Client> {
        if let Some(c) = self.client.get() {
            return Ok(c);
        }
        let client = ::ilink::Client::new(self.config.clone()).map_err(up)?;
        Ok(self.client.get_or_init(|| client))
    }

    /// The endpoints of a session's bot account.
    pub fn bot(&self, session: &SessionRecord) -> UpResult<::ilink::Bot> {
        let (Some(token), Some(bot_id)) = (&session.token, &session.bot_id) else {
            return Err(UpstreamError::no_credentials(BackendKind::Ilink, session));
        };
        Ok(self.client()?.bot(::ilink::Credentials {
            token: token.expose_str().to_owned(),
            bot_id: bot_id.clone(),
            user_id: session.user_id.clone(),
            base_url: session.base_url.as_deref().and_then(|u| Url::parse(u).ok()),
        }))
    }

    fn tickets(&self) -> MutexGuard<'_, HashMap<(String, String), (String, Instant)>> {
        self.tickets.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Uploads a file item (if any) and sends it; the item as sent.
    async fn send_item(
        &self,
        bot: &::ilink::Bot,
        target: &SendTarget<'_>,
        item: &OutItem,
        client_id: &str,
        progress: &Progress,
    ) -> (MessageItem, ::ilink::Result<::ilink::SendReceipt>) {
        let token = target.context.map(|c| c.token.expose_str());
        let message_item = match item {
            OutItem::Text(text) => MessageItem::text(text.clone()),
            OutItem::File { kind, name, file } => {
                let media = match kind {
                    FileKind::Image => MediaKind::Image,
                    FileKind::Voice => MediaKind::Voice,
                    FileKind::File => MediaKind::File,
                    FileKind::Video => MediaKind::Video,
                };
                let plain = ::ilink::Plaintext::File {
                    file: file.file.clone(),
                    len: file.size,
                };
                match bot
                    .upload_plaintext(target.to, media, plain, progress)
                    .await
                {
                    Ok(uploaded) => uploaded.to_item(name),
                    Err(e) => {
                        // Recorded as a failed file send (no CDN reference: nothing went out).
                        let failed = MessageItem {
                            item_type: Some(media.item_type().code()),
                            ..MessageItem::default()
                        };
                        return (failed, Err(e));
                    }
                }
            }
        };
        let result = bot
            .send_item_as(client_id, target.to, message_item.clone(), token)
            .await;
        (message_item, result)
    }
}

#[async_trait]
impl Upstream for IlinkUpstream {
    fn kind(&self) -> BackendKind {
        BackendKind::Ilink
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            needs_context: true,
            reply_quota: Some(SEND_QUOTA_PER_TOKEN),
            max_text_bytes: Some(MAX_TEXT_BYTES),
            directory: false,
            groups: false,
            typing: true,
            login_needs_endpoint: false,
            exclusive_listener: false,
            max_file_bytes: Some(self.max_file_bytes),
        }
    }

    fn default_session_name(&self) -> &'static str {
        "default"
    }

    fn owns_id(&self, id: &str) -> bool {
        id.ends_with("@im.wechat")
    }

    fn listener_lock(&self, session: &SessionRecord) -> Option<String> {
        session.bot_id.clone()
    }

    async fn begin_login(&self, params: &LoginParams) -> UpResult<Box<dyn LoginFlow>> {
        let flow = login::IlinkLogin::start(self.client()?, params).await?;
        Ok(Box::new(flow))
    }

    async fn listen(&self, session: SessionRecord, sink: Arc<dyn Sink>, shutdown: Shutdown) {
        let bot = match self.bot(&session) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(session = %session.name, error = %e, "cannot poll");
                return;
            }
        };
        let degraded = session.problem.is_some();
        poll::run(&session.name, &bot, sink, shutdown, degraded).await;
    }

    async fn send(
        &self,
        target: SendTarget<'_>,
        item: &OutItem,
        client_id: &str,
        progress: &Progress,
    ) -> SendOutcome {
        let session = target.session;
        let token = target.context.map(|c| c.token.expose_str());
        let (message_item, result) = match self.bot(session) {
            Ok(bot) => {
                self.send_item(&bot, &target, item, client_id, progress)
                    .await
            }
            Err(e) => {
                let record = normalize::outbound(
                    &session.name,
                    session.bot_id.as_deref(),
                    target.to,
                    &MessageItem::default(),
                    token,
                    client_id,
                    None,
                    now_ms(),
                    Some(e.to_string()),
                );
                return SendOutcome {
                    record,
                    result: Err(e),
                };
            }
        };
        let (upstream_id, error) = match &result {
            Ok(receipt) => (receipt.message_id, None),
            Err(e) => (None, Some(e.to_string())),
        };
        let record = normalize::outbound(
            &session.name,
            session.bot_id.as_deref(),
            target.to,
            &message_item,
            token,
            client_id,
            upstream_id,
            now_ms(),
            error,
        );
        SendOutcome {
            record,
            result: result
                .map(|r| r.message_id.map(|id| id.to_string()))
                .map_err(up),
        }
    }

    async fn download(
        &self,
        _session: &SessionRecord,
        message: &StoredMessage,
        observer: &dyn TransferObserver,
    ) -> UpResult<Vec<MediaFile>> {
        let items: Vec<_> = normalize::upstream_items(message.message.raw.as_ref())
            .into_iter()
            .filter(|i| i.media().is_some())
            .collect();
        let client = self.client()?;
        let stem = message
            .message
            .upstream_id
            .clone()
            .unwrap_or_else(|| message.id.to_string());
        let mut out = Vec::with_capacity(items.len());
        for (n, item) in items.iter().enumerate() {
            let kind = normalize::kind_name(item);
            let label = if items.len() > 1 {
                format!("Downloading {kind} {} of {}", n + 1, items.len())
            } else {
                format!("Downloading {kind}")
            };
            let data = client
                .download_item_with_progress(item, &observer.start(&label))
                .await
                .map_err(up)?;
            let stem = if items.len() > 1 {
                format!("{stem}-{}", n + 1)
            } else {
                stem.clone()
            };
            out.push(MediaFile {
                kind: kind.to_string(),
                name: file_name_for(item, &stem, &data),
                data,
            });
        }
        Ok(out)
    }

    async fn typing(&self, target: SendTarget<'_>, on: bool) -> UpResult<()> {
        let session = target.session;
        let bot = self.bot(session)?;
        let key = (session.name.clone(), target.to.to_string());
        let cached = self
            .tickets()
            .get(&key)
            .filter(|(_, at)| at.elapsed() < TICKET_TTL)
            .map(|(t, _)| t.clone());
        let result = async {
            let ticket = match cached {
                Some(t) => t,
                None => {
                    let token = target.context.map(|c| c.token.expose_str());
                    let t = bot.get_config(target.to, token).await?;
                    self.tickets()
                        .insert(key.clone(), (t.clone(), Instant::now()));
                    t
                }
            };
            let status = if on {
                ::ilink::TypingStatus::Typing
            } else {
                ::ilink::TypingStatus::Cancel
            };
            bot.send_typing(target.to, &ticket, status).await
        }
        .await;
        if result.is_err() {
            self.tickets().remove(&key);
        }
        result.map_err(up)
    }
}

/// The name to save an item under: a file's own name, else `<stem>.<ext>` with an extension
/// that fits the content.
fn file_name_for(item: &MessageItem, stem: &str, data: &[u8]) -> String {
    if let Some(name) = item
        .file_item
        .as_ref()
        .and_then(|f| f.file_name.as_deref())
        .filter(|n| !n.trim().is_empty())
    {
        return name.to_string();
    }
    let ext = match item.kind() {
        Some(ItemType::Image) => sniff_image(data).unwrap_or("jpg"),
        Some(ItemType::Video) => "mp4",
        Some(ItemType::Voice) => match item.voice_item.as_ref().and_then(|v| v.encode_type) {
            Some(1) => "pcm",
            Some(4) => "spx",
            Some(5) => "amr",
            Some(7) => "mp3",
            Some(8) => "ogg",
            _ => "silk",
        },
        _ => "bin",
    };
    format!("{stem}.{ext}")
}

fn sniff_image(data: &[u8]) -> Option<&'static str> {
    Some(match data {
        [0x89, b'P', b'N', b'G', ..] => "png",
        [0xff, 0xd8, 0xff, ..] => "jpg",
        [b'G', b'I', b'F', b'8', ..] => "gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "webp",
        [b'B', b'M', ..] => "bmp",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(sniff_image(b"\x89PNG\r\n"), Some("png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("jpg"));
        assert_eq!(sniff_image(b"RIFF1234WEBPVP8"), Some("webp"));
        assert_eq!(sniff_image(b"nope"), None);
    }

    #[test]
    fn errors_are_classified() {
        let e = up(::ilink::Error::SessionExpired {
            endpoint: "getupdates",
            errmsg: String::new(),
        });
        assert!(e.is_session_expired());
        assert!(up(::ilink::Error::Timeout {
            endpoint: "x",
            secs: 1.0
        })
        .is_transient());
        let r = up(::ilink::Error::Rejected {
            endpoint: "sendmessage",
            errmsg: String::new(),
        });
        assert_eq!(r.failure, UpstreamFailure::Rejected);
    }
}
