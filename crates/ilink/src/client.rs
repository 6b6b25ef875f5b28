//! The HTTP side of the protocol: one pooled keep-alive connection pool per [`Client`], the
//! headers and envelope of spec §3, error classification (§17), and the authenticated bot
//! endpoints of a logged-in account ([`Bot`]): `getupdates`, `sendmessage`, `getconfig`,
//! `sendtyping`, `msg/notifystart`, `msg/notifystop`. QR login lives in [`crate::login`], media in
//! [`crate::media`].

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use serde::de::DeserializeOwned;
use serde::Serialize;
use url::Url;

use crate::config::{encode_client_version, with_trailing_slash, Config};
use crate::error::{snippet, Error, Result};
use crate::updates::{parse_updates, Updates};
use crate::wire::*;

/// Credentials of a logged-in bot account, as the QR login returns them.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// Bearer token (`bot_token`), stored and sent verbatim.
    pub token: String,
    /// Bot account id (`…@im.bot`).
    pub bot_id: String,
    /// The WeChat user who scanned (`…@im.wechat`), when known.
    pub user_id: Option<String>,
    /// API base for this account (`baseurl` of the login); the config's default when `None`.
    pub base_url: Option<Url>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("token", &"…")
            .field("bot_id", &self.bot_id)
            .field("user_id", &self.user_id)
            .field("base_url", &self.base_url.as_ref().map(Url::as_str))
            .finish()
    }
}

/// An iLink client: configuration plus one pooled HTTP client. Cheap to clone; clones share
/// the connection pool.
#[derive(Clone)]
pub struct Client {
    inner: Arc<ClientInner>,
}

struct ClientInner {
    http: reqwest::Client,
    config: Config,
    app_version: HeaderValue,
    route_tag: Option<HeaderValue>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("config", &self.inner.config)
            .finish()
    }
}

impl Client {
    /// Builds a client. Fails only if the TLS backend cannot start or `route_tag` is not a valid
    /// header value.
    pub fn new(config: Config) -> Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(config.timeouts.connect)
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .user_agent(config.bot_agent.clone())
            .build()
            .map_err(|e| Error::InvalidInput(format!("cannot build the HTTP client: {e}")))?;
        let app_version = HeaderValue::from(encode_client_version(&config.client_version));
        let route_tag = match &config.route_tag {
            Some(tag) => Some(HeaderValue::from_str(tag).map_err(|_| {
                Error::InvalidInput(format!("SKRouteTag {tag:?} is not a valid header value"))
            })?),
            None => None,
        };
        Ok(Client {
            inner: Arc::new(ClientInner {
                http,
                config,
                app_version,
                route_tag,
            }),
        })
    }

    /// The configuration this client was built with.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// A handle for the bot endpoints of a logged-in account.
    pub fn bot(&self, credentials: Credentials) -> Bot {
        let base = with_trailing_slash(
            credentials
                .base_url
                .clone()
                .unwrap_or_else(|| self.inner.config.api_base.clone()),
        );
        let auth = HeaderValue::from_str(&format!("Bearer {}", credentials.token.trim())).ok();
        Bot {
            inner: Arc::new(BotInner {
                client: self.clone(),
                credentials,
                auth,
                base,
                poll_gate: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// The `base_info` sent with every authenticated POST.
    pub fn base_info(&self) -> BaseInfo {
        BaseInfo {
            channel_version: Some(self.inner.config.client_version.clone()),
            bot_agent: Some(self.inner.config.bot_agent.clone()),
            extra: Extra::new(),
        }
    }

    pub(crate) fn http(&self) -> &reqwest::Client {
        &self.inner.http
    }

    /// Headers of spec §3.2. `full` adds the POST set (`Content-Type`, `AuthorizationType`,
    /// a fresh `X-WECHAT-UIN`); the application headers go on every request.
    fn headers(&self, full: bool, auth: Option<&HeaderValue>) -> HeaderMap {
        let mut h = HeaderMap::with_capacity(7);
        if full {
            h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            h.insert(
                "AuthorizationType",
                HeaderValue::from_static("ilink_bot_token"),
            );
            if let Ok(uin) = HeaderValue::from_str(&wechat_uin(rand::random())) {
                h.insert("X-WECHAT-UIN", uin);
            }
        }
        if let Some(auth) = auth {
            h.insert(AUTHORIZATION, auth.clone());
        }
        h.insert("iLink-App-Id", HeaderValue::from_static("bot"));
        h.insert("iLink-App-ClientVersion", self.inner.app_version.clone());
        if let Some(tag) = &self.inner.route_tag {
            h.insert("SKRouteTag", tag.clone());
        }
        h
    }

    /// One API call: send, read the body, parse, classify. `body: None` makes a GET.
    pub(crate) async fn call<Req, Resp>(
        &self,
        endpoint: &'static str,
        url: Url,
        auth: Option<&HeaderValue>,
        body: Option<&Req>,
        timeout: Duration,
    ) -> Result<Resp>
    where
        Req: Serialize,
        Resp: DeserializeOwned + ApiStatus,
    {
        let (status, bytes) = self.send_raw(endpoint, url, auth, body, timeout).await?;
        if !status.is_success() {
            return Err(Error::HttpStatus {
                endpoint,
                status: status.as_u16(),
                body: snippet(&bytes),
            });
        }
        let resp: Resp = serde_json::from_slice(&bytes).map_err(|e| Error::Decode {
            endpoint,
            reason: e.to_string(),
            body: snippet(&bytes),
        })?;
        classify(endpoint, resp)
    }

    /// Sends a request and returns the status and the whole body. `body: None` makes a GET,
    /// anything else a JSON POST.
    pub(crate) async fn send_raw<Req: Serialize>(
        &self,
        endpoint: &'static str,
        url: Url,
        auth: Option<&HeaderValue>,
        body: Option<&Req>,
        timeout: Duration,
    ) -> Result<(reqwest::StatusCode, bytes::Bytes)> {
        let url_text = url.to_string();
        let req = match body {
            Some(body) => {
                let json = serde_json::to_vec(body)
                    .map_err(|e| Error::InvalidInput(format!("cannot encode {endpoint}: {e}")))?;
                self.inner
                    .http
                    .post(url)
                    .headers(self.headers(true, auth))
                    .body(json)
            }
            None => self.inner.http.get(url).headers(self.headers(false, auth)),
        };
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                Error::Timeout {
                    endpoint,
                    secs: timeout.as_secs_f64(),
                }
            } else {
                Error::Transport {
                    endpoint,
                    url: url_text.clone(),
                    source: e,
                }
            }
        };
        let mut resp = req.timeout(timeout).send().await.map_err(transport)?;
        let status = resp.status();
        // Read up to the limit: a body that never ends must not fill memory.
        let too_large = || Error::Decode {
            endpoint,
            reason: format!("the answer is larger than {MAX_ANSWER_BYTES} bytes"),
            body: String::new(),
        };
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_ANSWER_BYTES as u64)
        {
            return Err(too_large());
        }
        let mut body = bytes::BytesMut::new();
        while let Some(chunk) = resp.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok((status, body.freeze()))
    }
}

/// The largest API answer read (a `getupdates` batch is a few hundred KB at most): bigger
/// answers are refused, not buffered.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

/// Turns a parsed response into an error when its `ret`/`errcode` say so (spec §17).
pub(crate) fn classify<Resp: ApiStatus>(endpoint: &'static str, resp: Resp) -> Result<Resp> {
    let ret = resp.ret().filter(|&r| r != 0);
    let errcode = resp.errcode().filter(|&c| c != 0);
    let errmsg = || resp.errmsg().unwrap_or_default().to_string();
    if ret == Some(-14) || errcode == Some(-14) {
        return Err(Error::SessionExpired {
            endpoint,
            errmsg: errmsg(),
        });
    }
    if ret == Some(-2) {
        return Err(Error::Rejected {
            endpoint,
            errmsg: errmsg(),
        });
    }
    if ret.is_some() || errcode.is_some() {
        return Err(Error::Api {
            endpoint,
            ret,
            errcode,
            errmsg: errmsg(),
        });
    }
    Ok(resp)
}

/// `X-WECHAT-UIN`: base64 of the decimal text of a uint32 (spec §3.3).
pub fn wechat_uin(n: u32) -> String {
    B64.encode(n.to_string())
}

/// A fresh `client_id`: `wxlink:<unix-ms>-<8 hex>`.
pub fn new_client_id() -> String {
    format!("wxlink:{}-{:08x}", now_ms(), rand::random::<u32>())
}

pub(crate) fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// The bot endpoints of one logged-in account. Cheap to clone; clones share the HTTP pool and
/// the one-poll-at-a-time gate.
#[derive(Clone)]
pub struct Bot {
    inner: Arc<BotInner>,
}

struct BotInner {
    client: Client,
    credentials: Credentials,
    auth: Option<HeaderValue>,
    base: Url,
    /// Never more than one `getupdates` in flight per account (spec §17).
    poll_gate: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Bot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bot")
            .field("bot_id", &self.inner.credentials.bot_id)
            .field("base", &self.inner.base.as_str())
            .finish()
    }
}

/// What `sendmessage` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SendReceipt {
    /// Our `client_id` for the message.
    pub client_id: String,
    /// The server's id for it, when returned.
    pub message_id: Option<u64>,
}

/// `sendtyping` status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypingStatus {
    /// `1`: show "typing…".
    Typing,
    /// `2`: cancel it.
    Cancel,
}

impl Bot {
    /// The credentials this handle uses.
    pub fn credentials(&self) -> &Credentials {
        &self.inner.credentials
    }

    /// The client this handle belongs to.
    pub fn client(&self) -> &Client {
        &self.inner.client
    }

    /// The API base this account talks to.
    pub fn base_url(&self) -> &Url {
        &self.inner.base
    }

    fn url(&self, path: &str) -> Result<Url> {
        self.inner
            .base
            .join(path)
            .map_err(|e| Error::InvalidInput(format!("bad API base {}: {e}", self.inner.base)))
    }

    async fn post<Req: Serialize, Resp: DeserializeOwned + ApiStatus>(
        &self,
        endpoint: &'static str,
        body: &Req,
        timeout: Duration,
    ) -> Result<Resp> {
        let url = self.url(endpoint)?;
        self.inner
            .client
            .call(endpoint, url, self.inner.auth.as_ref(), Some(body), timeout)
            .await
    }

    /// Long-polls `getupdates` with `cursor` (`""` at first). `suggested` is the previous
    /// answer's [`Updates::next_timeout`]; the client waits that long (or 35 s) plus a margin. A
    /// client-side timeout is a normal empty answer keeping the old cursor.
    pub async fn get_updates(&self, cursor: &str, suggested: Option<Duration>) -> Result<Updates> {
        let _one_at_a_time = self.inner.poll_gate.lock().await;
        let t = &self.inner.client.config().timeouts;
        let timeout = suggested.unwrap_or(t.long_poll) + t.long_poll_margin;
        let body = GetUpdatesRequest {
            get_updates_buf: cursor.to_string(),
            base_info: Some(self.inner.client.base_info()),
            extra: Extra::new(),
        };
        let url = self.url("ilink/bot/getupdates")?;
        let endpoint = "ilink/bot/getupdates";
        let sent = self
            .inner
            .client
            .send_raw(
                endpoint,
                url,
                self.inner.auth.as_ref(),
                Some(&body),
                timeout,
            )
            .await;
        let (status, bytes) = match sent {
            Ok(answer) => answer,
            Err(Error::Timeout { .. }) => {
                return Ok(Updates {
                    cursor: cursor.to_string(),
                    next_timeout: suggested,
                    timed_out: true,
                    ..Default::default()
                })
            }
            Err(e) => return Err(e),
        };
        if !status.is_success() {
            return Err(Error::HttpStatus {
                endpoint,
                status: status.as_u16(),
                body: snippet(&bytes),
            });
        }
        let reply = parse_updates(&bytes).map_err(|e| Error::Decode {
            endpoint,
            reason: e.to_string(),
            body: snippet(&bytes),
        })?;
        classify(endpoint, reply.status)?;
        Ok(Updates {
            messages: reply.messages,
            cursor: reply.cursor.unwrap_or_else(|| cursor.to_string()),
            next_timeout: reply.next_timeout_ms.map(Duration::from_millis),
            timed_out: false,
            skipped: reply.skipped,
        })
    }

    /// Sends a prepared message as is (the caller fills every field).
    pub async fn send_message(&self, msg: WeixinMessage) -> Result<SendMessageResponse> {
        let body = SendMessageRequest {
            msg,
            base_info: Some(self.inner.client.base_info()),
            extra: Extra::new(),
        };
        let t = self.inner.client.config().timeouts.api;
        self.post("ilink/bot/sendmessage", &body, t).await
    }

    /// Sends one item to `to` with a fresh `client_id` (spec §9.1: one item per request).
    pub async fn send_item(
        &self,
        to: &str,
        item: MessageItem,
        context_token: Option<&str>,
    ) -> Result<SendReceipt> {
        self.send_item_as(&new_client_id(), to, item, context_token)
            .await
    }

    /// [`Bot::send_item`] with the caller's `client_id` (one it recorded before sending).
    pub async fn send_item_as(
        &self,
        client_id: &str,
        to: &str,
        item: MessageItem,
        context_token: Option<&str>,
    ) -> Result<SendReceipt> {
        if to.trim().is_empty() {
            return Err(Error::InvalidInput("recipient user id is empty".into()));
        }
        let client_id = client_id.to_string();
        let msg = WeixinMessage {
            from_user_id: Some(String::new()),
            to_user_id: Some(to.to_string()),
            client_id: Some(client_id.clone()),
            message_type: Some(MESSAGE_TYPE_BOT),
            message_state: Some(MESSAGE_STATE_FINISH),
            item_list: vec![item],
            context_token: context_token.filter(|t| !t.is_empty()).map(str::to_string),
            ..Default::default()
        };
        let resp = self.send_message(msg).await?;
        Ok(SendReceipt {
            client_id,
            message_id: resp.message_id,
        })
    }

    /// Sends a text message.
    pub async fn send_text(
        &self,
        to: &str,
        text: &str,
        context_token: Option<&str>,
    ) -> Result<SendReceipt> {
        self.send_item(to, MessageItem::text(text), context_token)
            .await
    }

    /// `getconfig`: the typing ticket for `user` (spec §11).
    pub async fn get_config(&self, user: &str, context_token: Option<&str>) -> Result<String> {
        let body = GetConfigRequest {
            ilink_user_id: Some(user.to_string()),
            context_token: context_token.map(str::to_string),
            base_info: Some(self.inner.client.base_info()),
            extra: Extra::new(),
        };
        let t = self.inner.client.config().timeouts.short;
        let resp: GetConfigResponse = self.post("ilink/bot/getconfig", &body, t).await?;
        resp.typing_ticket
            .filter(|t| !t.is_empty())
            .ok_or(Error::Api {
                endpoint: "ilink/bot/getconfig",
                ret: resp.ret,
                errcode: resp.errcode,
                errmsg: "no typing_ticket in the answer".into(),
            })
    }

    /// `sendtyping`: show or cancel "typing…" for `user`.
    pub async fn send_typing(&self, user: &str, ticket: &str, status: TypingStatus) -> Result<()> {
        let body = SendTypingRequest {
            ilink_user_id: Some(user.to_string()),
            typing_ticket: Some(ticket.to_string()),
            status: Some(match status {
                TypingStatus::Typing => 1,
                TypingStatus::Cancel => 2,
            }),
            base_info: Some(self.inner.client.base_info()),
            extra: Extra::new(),
        };
        let t = self.inner.client.config().timeouts.short;
        let _: StatusResponse = self.post("ilink/bot/sendtyping", &body, t).await?;
        Ok(())
    }

    /// `msg/notifystart`: tell the server this account is starting (before the first poll).
    pub async fn notify_start(&self) -> Result<()> {
        self.notify("ilink/bot/msg/notifystart").await
    }

    /// `msg/notifystop`: tell the server this account is stopping.
    pub async fn notify_stop(&self) -> Result<()> {
        self.notify("ilink/bot/msg/notifystop").await
    }

    async fn notify(&self, endpoint: &'static str) -> Result<()> {
        let body = NotifyRequest {
            base_info: Some(self.inner.client.base_info()),
            extra: Extra::new(),
        };
        let t = self.inner.client.config().timeouts.short;
        let _: StatusResponse = self.post(endpoint, &body, t).await?;
        Ok(())
    }

    /// `getuploadurl` (spec §10.3 step 1). Usually called through [`Bot::upload`].
    pub async fn get_upload_url(&self, req: GetUploadUrlRequest) -> Result<GetUploadUrlResponse> {
        let req = GetUploadUrlRequest {
            base_info: Some(self.inner.client.base_info()),
            ..req
        };
        let t = self.inner.client.config().timeouts.api;
        self.post("ilink/bot/getuploadurl", &req, t).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uin_vectors() {
        assert_eq!(wechat_uin(0), "MA==");
        assert_eq!(wechat_uin(12345), "MTIzNDU=");
        assert_eq!(wechat_uin(305419896), "MzA1NDE5ODk2");
        assert_eq!(wechat_uin(4294967295), "NDI5NDk2NzI5NQ==");
    }

    #[test]
    fn classification_follows_spec_17() {
        let r = |json: &str| classify("x", serde_json::from_str::<StatusResponse>(json).unwrap());
        assert!(matches!(
            r(r#"{"errcode":-14,"errmsg":"session timeout"}"#),
            Err(Error::SessionExpired { .. })
        ));
        assert!(matches!(
            r(r#"{"ret":-14}"#),
            Err(Error::SessionExpired { .. })
        ));
        assert!(matches!(
            r(r#"{"ret":-2,"errmsg":"prepare failed"}"#),
            Err(Error::Rejected { errmsg, .. }) if errmsg == "prepare failed"
        ));
        assert!(matches!(
            r(r#"{"ret":-1}"#),
            Err(Error::Api { ret: Some(-1), .. })
        ));
        assert!(matches!(
            r(r#"{"errcode":5}"#),
            Err(Error::Api {
                errcode: Some(5),
                ..
            })
        ));
        assert!(r(r#"{"ret":0,"errcode":0}"#).is_ok());
        assert!(r(r#"{}"#).is_ok());
    }

    #[test]
    fn client_ids_are_fresh_and_prefixed() {
        let a = new_client_id();
        assert!(a.starts_with("wxlink:"));
        assert_ne!(a, new_client_id());
    }
}
