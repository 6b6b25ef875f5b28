//! The application context every frontend shares: the data directory, the store, the upstream
//! configuration (with the iLink client built lazily, so commands that never touch the network
//! start fast), and the in-process event bus pollers use to wake waiting readers at once.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use tokio::sync::broadcast;
use url::Url;

use crate::backend;
use crate::error::{AppError, AppResult};
use crate::paths::DataDir;
use crate::store::{Retention, SessionRecord, SessionStatus, SqliteStore, Store};

/// How to open the application.
#[derive(Debug, Clone, Default)]
pub struct AppOptions {
    /// Data directory (`-d` / `WXLINK_HOME`); `~/.wxlink` when `None`.
    pub data_dir: Option<PathBuf>,
    /// iLink API and QR base (`--ilink-base` / `WXLINK_ILINK_BASE`); the real host when `None`.
    pub ilink_base: Option<Url>,
    /// CDN base (`--cdn-base` / `WXLINK_CDN_BASE`); the real CDN when `None`.
    pub cdn_base: Option<Url>,
    /// Message retention applied by pollers.
    pub retention: Retention,
    /// Poll backoff; the protocol's (2 s, then 30 s after three failures) when `None`.
    pub backoff: Option<ilink::BackoffPolicy>,
}

/// Something that happened that waiting readers may care about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AppEvent {
    /// New inbound messages were stored.
    Inbound {
        /// Session.
        session: String,
        /// Their ids.
        ids: Vec<i64>,
    },
    /// A session's token died upstream.
    SessionExpired {
        /// Session.
        session: String,
    },
    /// Sessions were added, renamed, logged in or out.
    SessionsChanged,
}

/// The shared application context.
pub struct App {
    data: DataDir,
    store: Arc<dyn Store>,
    ilink_config: ilink::Config,
    ilink: OnceLock<ilink::Client>,
    /// One Wechaty client per session (keyed by session name, endpoint and token), shared by
    /// the poller's event stream and every lookup and send, so they share its payload cache.
    wechaty: Mutex<HashMap<(String, String, String), wechaty::Client>>,
    events: broadcast::Sender<AppEvent>,
    retention: Retention,
}

impl std::fmt::Debug for App {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("App")
            .field("data", &self.data.root())
            .finish()
    }
}

impl App {
    /// Opens the data directory and the store. Does no network I/O.
    pub fn open(options: AppOptions) -> AppResult<Arc<App>> {
        let data = DataDir::resolve(options.data_dir.as_deref())?;
        let store = Arc::new(SqliteStore::open(&data.database())?);
        let mut cfg = ilink::Config::default();
        if let Some(base) = &options.ilink_base {
            let base = ilink::config::with_trailing_slash(base.clone());
            cfg.api_base = base.clone();
            cfg.qr_base = base;
        }
        if let Some(backoff) = &options.backoff {
            cfg.backoff = backoff.clone();
        }
        if let Some(cdn) = &options.cdn_base {
            cfg.cdn_base = ilink::config::with_trailing_slash(cdn.clone());
        }
        Ok(Arc::new(App {
            data,
            store,
            ilink_config: cfg,
            ilink: OnceLock::new(),
            wechaty: Mutex::new(HashMap::new()),
            events: broadcast::channel(1024).0,
            retention: options.retention,
        }))
    }

    /// The data directory.
    pub fn data(&self) -> &DataDir {
        &self.data
    }

    /// The store.
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// Retention limits pollers apply.
    pub fn retention(&self) -> Retention {
        self.retention
    }

    /// The iLink client (built on first use).
    pub fn ilink(&self) -> AppResult<&ilink::Client> {
        if let Some(c) = self.ilink.get() {
            return Ok(c);
        }
        let client = ilink::Client::new(self.ilink_config.clone())?;
        Ok(self.ilink.get_or_init(|| client))
    }

    /// The bot endpoints of a connected session.
    pub fn bot_for(&self, session: &SessionRecord) -> AppResult<ilink::Bot> {
        let (Some(token), Some(bot_id), SessionStatus::Connected) =
            (&session.token, &session.bot_id, session.status)
        else {
            return Err(AppError::NotConnected {
                name: session.name.clone(),
                status: session.status,
            });
        };
        Ok(self.ilink()?.bot(ilink::Credentials {
            token: token.clone(),
            bot_id: bot_id.clone(),
            user_id: session.user_id.clone(),
            base_url: session.base_url.as_deref().and_then(|u| Url::parse(u).ok()),
        }))
    }

    /// The Wechaty client of a connected Wechaty session (connected lazily, on first use). A CA
    /// certificate for TLS endpoints can be given in `WXLINK_WECHATY_CA` (a PEM file).
    pub fn wechaty_for(&self, session: &SessionRecord) -> AppResult<wechaty::Client> {
        let (Some(token), Some(endpoint), SessionStatus::Connected) =
            (&session.token, &session.base_url, session.status)
        else {
            return Err(AppError::NotConnected {
                name: session.name.clone(),
                status: session.status,
            });
        };
        let key = (session.name.clone(), endpoint.clone(), token.clone());
        let mut clients = self.wechaty.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(c) = clients.get(&key) {
            return Ok(c.clone());
        }
        let client = wechaty::Client::connect_lazy(wechaty_config(endpoint, token)?)?;
        clients.retain(|(name, _, _), _| name != &session.name);
        clients.insert(key, client.clone());
        Ok(client)
    }

    /// The Wechaty session called `name`, or when `None` the default session if it is a
    /// Wechaty one, else the first connected Wechaty session — with its client.
    pub fn wechaty_session(
        &self,
        name: Option<&str>,
        what: &str,
    ) -> AppResult<(SessionRecord, wechaty::Client)> {
        let session = match name {
            Some(_) => self.resolve_session(name)?,
            None => {
                let default = self.resolve_session(None).ok();
                match default.filter(|s| s.backend == backend::wechaty::BACKEND) {
                    Some(s) => s,
                    None => self
                        .store
                        .sessions()?
                        .into_iter()
                        .filter(|s| s.backend == backend::wechaty::BACKEND)
                        .min_by_key(|s| s.status != SessionStatus::Connected)
                        .ok_or(AppError::NoWechatySession)?,
                }
            }
        };
        if session.backend != backend::wechaty::BACKEND {
            return Err(AppError::NeedsWechaty {
                session: session.name,
                what: what.to_string(),
            });
        }
        let client = self.wechaty_for(&session)?;
        Ok((session, client))
    }

    /// A session by name, or the default one when `name` is `None`.
    pub fn resolve_session(&self, name: Option<&str>) -> AppResult<SessionRecord> {
        let name = match name {
            Some(n) => n.to_string(),
            None => self.store.default_session()?.ok_or(AppError::NoSessions)?,
        };
        self.store
            .session(&name)?
            .ok_or(AppError::UnknownSession(name))
    }

    /// Subscribes to in-process events.
    pub fn subscribe(&self) -> broadcast::Receiver<AppEvent> {
        self.events.subscribe()
    }

    /// Publishes an event (nobody listening is fine).
    pub fn emit(&self, event: AppEvent) {
        let _ = self.events.send(event);
    }
}

/// The client configuration for a Wechaty endpoint: plaintext for `host:port` and `http://`,
/// TLS for `https://` (with the CA in `WXLINK_WECHATY_CA` when set, else the public roots).
pub fn wechaty_config(endpoint: &str, token: &str) -> AppResult<wechaty::Config> {
    let config = wechaty::Config::new(endpoint, token);
    let ca_pem = match std::env::var("WXLINK_WECHATY_CA") {
        Ok(ca) => Some(std::fs::read_to_string(&ca).map_err(|source| AppError::Io {
            path: ca.clone().into(),
            source,
        })?),
        Err(_) => None,
    };
    if ca_pem.is_some() || endpoint.trim_start().starts_with("https://") {
        return Ok(config.with_tls(wechaty::TlsConfig::Tls {
            ca_pem,
            server_name: None,
        }));
    }
    Ok(config)
}
