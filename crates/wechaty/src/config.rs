//! Configuration: where the puppet service is, the token, TLS, timeouts, the reconnect policy
//! of the event stream, and the cache switch.

use std::time::Duration;

use crate::error::{Error, Result};

/// How to reach and use one Wechaty Puppet Service.
///
/// Build it with [`Config::new`] and adjust the public fields; the defaults suit a service on
/// localhost or a private network. `Debug` never shows the token.
#[derive(Clone)]
pub struct Config {
    /// `host:port`, `http://host:port` (plaintext h2c) or `https://host:port` (TLS). A bare
    /// `host:port` uses plaintext unless [`Config::tls`] is [`TlsConfig::Tls`].
    pub endpoint: String,
    /// The puppet service token, sent as `authorization: Wechaty <token>` on every call.
    pub token: String,
    /// Plaintext or TLS.
    pub tls: TlsConfig,
    /// Limit for establishing the connection (TCP + TLS). Default 10 s.
    pub connect_timeout: Duration,
    /// Limit for one unary call. Default 30 s.
    pub request_timeout: Duration,
    /// Limit for one file upload or download. Default 5 min.
    pub transfer_timeout: Duration,
    /// When the event stream ends or cannot be opened, wait this long before trying again.
    pub reconnect: Backoff,
    /// Call `Start` after each (re)opened event stream, as the Node client does (`Event` first,
    /// then `Start`; both are idempotent on the service). Default `true`.
    pub start_on_connect: bool,
    /// An event stream with no event at all for this long is considered dead and reopened.
    /// Puppets send a heartbeat at least every minute. `None` disables. Default 150 s.
    pub idle_timeout: Option<Duration>,
    /// Events buffered for a slow consumer before the stream waits for it. Default 1024.
    pub event_buffer: usize,
    /// Cache contact and room payloads while the event stream is connected (the only time we
    /// hear of `dirty` events). Default `true`.
    pub cache: bool,
    /// Files up to this size are sent inline as a Base64 FileBox; larger ones are uploaded with
    /// the `Upload` stream and sent as a UUID FileBox. Default 1 MiB.
    pub inline_file_limit: usize,
    /// How many payload requests run at once when listing contacts, rooms or members (the Node
    /// client uses 16). Default 16.
    pub fetch_concurrency: usize,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("endpoint", &self.endpoint)
            .field("token", &"***")
            .field("tls", &self.tls)
            .field("connect_timeout", &self.connect_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("transfer_timeout", &self.transfer_timeout)
            .field("reconnect", &self.reconnect)
            .field("start_on_connect", &self.start_on_connect)
            .field("idle_timeout", &self.idle_timeout)
            .field("event_buffer", &self.event_buffer)
            .field("cache", &self.cache)
            .field("inline_file_limit", &self.inline_file_limit)
            .field("fetch_concurrency", &self.fetch_concurrency)
            .finish()
    }
}

impl Config {
    /// A plaintext configuration for `endpoint` with `token` and the defaults.
    pub fn new(endpoint: impl Into<String>, token: impl Into<String>) -> Config {
        Config {
            endpoint: endpoint.into(),
            token: token.into(),
            tls: TlsConfig::Plaintext,
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(30),
            transfer_timeout: Duration::from_secs(300),
            reconnect: Backoff::default(),
            start_on_connect: true,
            idle_timeout: Some(Duration::from_secs(150)),
            event_buffer: 1024,
            cache: true,
            inline_file_limit: 1024 * 1024,
            fetch_concurrency: 16,
        }
    }

    /// The same configuration with `tls`.
    pub fn with_tls(mut self, tls: TlsConfig) -> Config {
        self.tls = tls;
        self
    }

    /// The same configuration with the reconnect policy `reconnect`.
    pub fn with_reconnect(mut self, reconnect: Backoff) -> Config {
        self.reconnect = reconnect;
        self
    }

    /// The URI to dial (`http://...` or `https://...`), checked against [`Config::tls`].
    pub(crate) fn uri(&self) -> Result<String> {
        let raw = self.endpoint.trim().trim_end_matches('/');
        if raw.is_empty() {
            return Err(Error::Config("the endpoint is empty".into()));
        }
        let tls = matches!(self.tls, TlsConfig::Tls { .. });
        let (scheme, rest) = match raw.split_once("://") {
            Some((scheme, rest)) => (Some(scheme.to_ascii_lowercase()), rest),
            None => (None, raw),
        };
        match (scheme.as_deref(), tls) {
            (None, _) | (Some("http"), false) | (Some("https"), true) => {}
            (Some("http"), true) => {
                return Err(Error::Config(format!(
                    "endpoint {raw} is http:// but TLS is configured; use https:// or host:port"
                )))
            }
            (Some("https"), false) => {
                return Err(Error::Config(format!(
                    "endpoint {raw} is https:// but no TLS is configured; set Config::tls to \
                     TlsConfig::Tls {{ .. }}"
                )))
            }
            (Some(other), _) => {
                return Err(Error::Config(format!(
                    "endpoint {raw}: unsupported scheme {other}:// (use host:port, http:// or https://)"
                )))
            }
        }
        if rest.is_empty() || rest.contains('/') {
            return Err(Error::Config(format!(
                "endpoint {raw}: expected host:port without a path"
            )));
        }
        Ok(format!("{}://{rest}", if tls { "https" } else { "http" }))
    }

    /// The `authorization` header value, checked.
    pub(crate) fn authorization(
        &self,
    ) -> Result<tonic::metadata::MetadataValue<tonic::metadata::Ascii>> {
        let token = self.token.trim();
        if token.is_empty() {
            return Err(Error::Config("the token is empty".into()));
        }
        format!("Wechaty {token}").parse().map_err(|_| {
            Error::Config("the token contains characters not allowed in an HTTP header".into())
        })
    }
}

/// Plaintext (h2c) or TLS.
#[derive(Debug, Clone, Default)]
pub enum TlsConfig {
    /// No TLS: the service must run with `WECHATY_PUPPET_SERVICE_NO_TLS_INSECURE_SERVER=true`.
    /// Keep it on localhost, a private network or an SSH tunnel.
    #[default]
    Plaintext,
    /// TLS with rustls.
    ///
    /// Note that the certificate that ships inside `wechaty-puppet-service` (used when the
    /// service has no certificate of its own) is X.509 v1 and rustls refuses it: connecting
    /// to such a service fails with [`Error::InsecureBuiltinCertificate`].
    Tls {
        /// PEM of the CA (or self-signed certificate) to trust. `None`: the public WebPKI roots.
        ca_pem: Option<String>,
        /// The name the certificate must be valid for. `None`: the endpoint's host. (The Node
        /// client uses the token's prefix before its last `_` instead; pass that here if the
        /// service's certificate is made for it.)
        server_name: Option<String>,
    },
}

/// Exponential backoff between reconnect attempts: `initial`, `initial * multiplier`, ... up
/// to `max`, for at most `max_attempts` failures in a row (`None`: forever).
#[derive(Debug, Clone, PartialEq)]
pub struct Backoff {
    /// The first delay. Default 500 ms.
    pub initial: Duration,
    /// The longest delay. Default 30 s.
    pub max: Duration,
    /// Growth factor per failed attempt (values below 1 count as 1). Default 2.
    pub multiplier: f64,
    /// Give up after this many failures in a row; `None` retries forever. Default `None`.
    pub max_attempts: Option<u32>,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff {
            initial: Duration::from_millis(500),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            max_attempts: None,
        }
    }
}

impl Backoff {
    /// The delay before retry number `attempt` (0 = the first retry).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = if self.multiplier.is_finite() {
            self.multiplier.max(1.0)
        } else {
            1.0
        };
        let secs = self.initial.as_secs_f64() * factor.powi(attempt.min(64) as i32);
        let max = self.max.max(self.initial);
        if !secs.is_finite() || secs >= max.as_secs_f64() {
            max
        } else {
            Duration::from_secs_f64(secs.max(0.0))
        }
    }
}

/// The TLS server name a Node client would use for `token`: the part before its last `_`,
/// lowercased (`insecure_<uuid>` → `insecure`, `puppet_padlocal_<hex>` → `puppet_padlocal`).
pub fn token_server_name(token: &str) -> Option<String> {
    let (sni, _) = token.trim().rsplit_once('_')?;
    (!sni.is_empty()).then(|| sni.to_lowercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints() {
        let c = Config::new("127.0.0.1:8788", "t");
        assert_eq!(c.uri().ok().as_deref(), Some("http://127.0.0.1:8788"));
        let c = Config::new("http://127.0.0.1:8788/", "t");
        assert_eq!(c.uri().ok().as_deref(), Some("http://127.0.0.1:8788"));
        let c = Config::new("https://h:1", "t");
        assert!(c.uri().is_err());
        let c = Config::new("h:1", "t").with_tls(TlsConfig::Tls {
            ca_pem: None,
            server_name: None,
        });
        assert_eq!(c.uri().ok().as_deref(), Some("https://h:1"));
        assert!(Config::new("", "t").uri().is_err());
        assert!(Config::new("ftp://h:1", "t").uri().is_err());
        assert!(Config::new("h:1/x", "t").uri().is_err());
    }

    #[test]
    fn debug_hides_the_token() {
        let c = Config::new("127.0.0.1:8788", "puppet_padlocal_s3cret");
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cret"), "{shown}");
        assert!(shown.contains("127.0.0.1:8788"), "{shown}");
    }

    #[test]
    fn tokens() {
        assert!(Config::new("h:1", "").authorization().is_err());
        assert!(Config::new("h:1", "a\nb").authorization().is_err());
        assert!(Config::new("h:1", "insecure_x").authorization().is_ok());
        assert_eq!(
            token_server_name("insecure_abc").as_deref(),
            Some("insecure")
        );
        assert_eq!(
            token_server_name("puppet_PadLocal_abc").as_deref(),
            Some("puppet_padlocal")
        );
        assert_eq!(token_server_name("nounderscore"), None);
    }

    #[test]
    fn backoff_grows_and_caps() {
        let b = Backoff::default();
        assert_eq!(b.delay(0), Duration::from_millis(500));
        assert_eq!(b.delay(1), Duration::from_secs(1));
        assert_eq!(b.delay(3), Duration::from_secs(4));
        assert_eq!(b.delay(20), Duration::from_secs(30));
        assert_eq!(b.delay(u32::MAX), Duration::from_secs(30));
        let odd = Backoff {
            multiplier: f64::NAN,
            ..Backoff::default()
        };
        assert_eq!(odd.delay(5), Duration::from_millis(500));
    }
}
