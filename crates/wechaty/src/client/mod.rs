//! The client: [`Client`] holds one connection to the puppet service and makes every call,
//! each with a timeout. This module has the connection, the lifecycle calls, events and the
//! login state;
//! - `directory`: contacts, rooms and room members, read through the cache;
//! - `messages`: message payloads, sends, uploads and downloads.

use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

mod directory;
mod messages;

pub use messages::DownloadedFile;

use crate::cache::Cache;
use crate::config::Config;
use crate::contact::Contact;
use crate::error::{Error, Result};
use crate::event::{LoginState, PayloadType, PuppetEvent};
use crate::proto::wechaty::puppet as pb;
use crate::stream::{self as event_stream, EventStream};
use crate::transport::{self, Rpc};

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
}
