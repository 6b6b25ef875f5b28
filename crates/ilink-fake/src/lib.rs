//! # ilink-fake — a wire-faithful fake of WeChat's iLink Bot API
//!
//! One HTTP listener on 127.0.0.1 serves three things:
//! - the iLink JSON API under `/ilink/bot/…` (QR login, long-poll `getupdates`, `sendmessage`,
//!   `getuploadurl`, `getconfig`, `sendtyping`, `msg/notifystart`, `msg/notifystop`), answering
//!   in the shapes every client generation parses (spec §16);
//! - the media CDN under `/c2c/` (`POST upload`, `GET download`), really AES-128-ECB encrypted;
//! - a control API under `/__fake/` to inject inbound messages, script QR logins, expire
//!   sessions, arm faults, flip switches and read back everything clients sent.
//!
//! Tests start it in-process and drive it through [`FakeIlink`]'s methods; other languages (the
//! WeiLink interop test) and `wxlink sandbox` use the same control API over HTTP.
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use ilink_fake::{FakeIlink, InboundSpec};
//! let fake = FakeIlink::start().await?;
//! let bot = fake.create_bot(None);
//! fake.inject(&InboundSpec::text("你好")).unwrap();
//! println!("point clients at {}", fake.base_url());
//! # Ok(()) }
//! ```

#![warn(missing_docs)]

mod api;
mod cdn;
pub mod control;
mod faults;
pub mod inject;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::Notify;
use url::Url;

pub use control::{FaultSpec, QrStep};
pub use inject::{DuplicateSpec, InboundSpec, InjectError, ItemSpec, QuoteSpec};
pub use state::{BotAccount, FakeConfig, RecordedRequest, SentMessage, TypingEvent, UploadRecord};

/// State shared by every handler.
pub(crate) struct Shared {
    state: Mutex<State>,
    /// Woken when a QR login changes (scanned through its URL).
    qr_changed: Notify,
    /// `http://127.0.0.1:PORT/`.
    base: Url,
    /// `http://127.0.0.1:PORT/c2c/`.
    cdn: Url,
}

use state::State;

impl Shared {
    /// Locks the state. A panic while holding the lock cannot leave it half-written in a way
    /// that matters to a test fake, so poisoning is ignored.
    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// A running fake server. Dropping it stops the server.
pub struct FakeIlink {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

impl FakeIlink {
    /// Starts on `127.0.0.1` with an OS-chosen port and test-friendly defaults.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(
            FakeConfig::default(),
            "127.0.0.1:0".parse().expect("valid addr"),
        )
        .await
    }

    /// Starts on `addr` with `config`.
    pub async fn start_with(config: FakeConfig, addr: SocketAddr) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let base = Url::parse(&format!("http://{addr}/")).map_err(std::io::Error::other)?;
        let cdn = base.join("c2c/").map_err(std::io::Error::other)?;
        let shared = Arc::new(Shared {
            state: Mutex::new(State::new(config)),
            qr_changed: Notify::new(),
            base,
            cdn,
        });
        let app = api::router(shared.clone())
            .merge(cdn::router(shared.clone()))
            .layer(axum::middleware::from_fn_with_state(
                shared.clone(),
                faults::apply,
            ))
            .merge(control::router(shared.clone()));
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(e) = serve.await {
                tracing::warn!(error = %e, "fake iLink server stopped");
            }
        });
        Ok(FakeIlink {
            shared,
            addr,
            shutdown: Some(tx),
        })
    }

    /// The socket address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT/`: the API base (and QR base) for clients.
    pub fn base_url(&self) -> Url {
        self.shared.base.clone()
    }

    /// `http://127.0.0.1:PORT/c2c/`: the CDN base.
    pub fn cdn_url(&self) -> Url {
        self.shared.cdn.clone()
    }

    /// Changes switches.
    pub fn configure(&self, f: impl FnOnce(&mut FakeConfig)) {
        f(&mut self.shared.lock().config);
    }

    /// The current switches.
    pub fn config(&self) -> FakeConfig {
        self.shared.lock().config.clone()
    }

    /// Creates a logged-in bot directly, skipping the QR flow. `user_id` defaults to a fresh id.
    pub fn create_bot(&self, user_id: Option<&str>) -> BotAccount {
        let user = user_id
            .map(str::to_string)
            .unwrap_or_else(control::fresh_user_id);
        self.shared.lock().mint_bot(&user)
    }

    /// All bots.
    pub fn bots(&self) -> Vec<BotAccount> {
        let st = self.shared.lock();
        st.bot_order
            .iter()
            .filter_map(|id| st.bots.get(id).cloned())
            .collect()
    }

    /// Queues an inbound message and returns it as it will be delivered.
    pub fn inject(&self, spec: &InboundSpec) -> Result<serde_json::Value, InjectError> {
        control::inject_and_schedule(&self.shared, spec)
    }

    /// Expires a bot's session: every endpoint answers `-14` for its token from now on.
    pub fn expire(&self, bot_id: &str) -> bool {
        match self.shared.lock().bots.get_mut(bot_id) {
            Some(b) => {
                b.expired = true;
                true
            }
            None => false,
        }
    }

    /// Scripts the status sequence of the next QR code handed out (one script per code).
    pub fn script_qr(&self, steps: Vec<QrStep>) {
        self.shared.lock().qr_scripts.push_back(steps);
    }

    /// Arms a fault on `endpoint` (`getupdates`, `sendmessage`, `cdn_upload`, …, or `*`) for
    /// the next `times` requests.
    pub fn fault(&self, endpoint: &str, fault: FaultSpec, times: u32) {
        self.shared.lock().faults.push(state::ArmedFault {
            endpoint: endpoint.to_string(),
            bot_id: None,
            fault,
            remaining: times,
        });
    }

    /// Like [`FakeIlink::fault`], but only for requests carrying `bot_id`'s token.
    pub fn fault_for_bot(&self, bot_id: &str, endpoint: &str, fault: FaultSpec, times: u32) {
        self.shared.lock().faults.push(state::ArmedFault {
            endpoint: endpoint.to_string(),
            bot_id: Some(bot_id.to_string()),
            fault,
            remaining: times,
        });
    }

    /// Recorded requests, optionally only those to `endpoint`.
    pub fn requests(&self, endpoint: Option<&str>) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|r| endpoint.is_none_or(|e| r.endpoint == e))
            .cloned()
            .collect()
    }

    /// Accepted sends.
    pub fn sent(&self) -> Vec<SentMessage> {
        self.shared.lock().sent.clone()
    }

    /// Completed uploads (with their decrypted content).
    pub fn uploads(&self) -> Vec<UploadRecord> {
        self.shared.lock().uploads.clone()
    }

    /// `sendtyping` calls.
    pub fn typing(&self) -> Vec<TypingEvent> {
        self.shared.lock().typing.clone()
    }

    /// Everything queued for `bot_id` so far, as delivered.
    pub fn delivered(&self, bot_id: &str) -> Vec<serde_json::Value> {
        self.shared
            .lock()
            .inboxes
            .get(bot_id)
            .map(|i| i.messages.clone())
            .unwrap_or_default()
    }

    /// The most `getupdates` calls that were ever in flight at once for `bot_id`.
    pub fn max_concurrent_polls(&self, bot_id: &str) -> u32 {
        self.shared
            .lock()
            .max_polls_in_flight
            .get(bot_id)
            .copied()
            .unwrap_or(0)
    }

    /// The `getupdates` calls in flight now (held or being answered), over every bot.
    pub fn polls_in_flight(&self) -> u32 {
        self.shared.lock().polls_in_flight.values().sum()
    }

    /// Forgets everything but the switches.
    pub fn reset(&self) {
        self.shared.lock().reset();
    }
}

impl Drop for FakeIlink {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}
