//! Client configuration: hosts, identity, timeouts, retries and backoff. Everything has the
//! protocol's defaults (spec §2, §14) and everything can be pointed elsewhere (tests, proxies).

use std::time::Duration;

use url::Url;

/// Default API base (spec §2).
pub const DEFAULT_API_BASE: &str = "https://ilinkai.weixin.qq.com/";
/// Default CDN base (spec §2).
pub const DEFAULT_CDN_BASE: &str = "https://novac2c.cdn.weixin.qq.com/c2c/";

/// How an [`crate::Client`] talks to iLink.
#[derive(Debug, Clone)]
pub struct Config {
    /// Base of the JSON API used when a session has no stored base URL.
    pub api_base: Url,
    /// Base of the QR login calls.
    pub qr_base: Url,
    /// Base of the media CDN (`…/upload`, `…/download`), used when the server supplies no full URL.
    pub cdn_base: Url,
    /// Optional `SKRouteTag` header value.
    pub route_tag: Option<String>,
    /// Our version: `base_info.channel_version` and, encoded, `iLink-App-ClientVersion`.
    pub client_version: String,
    /// `base_info.bot_agent`.
    pub bot_agent: String,
    /// Per-operation timeouts.
    pub timeouts: Timeouts,
    /// CDN upload attempts in total (retries on 5xx and network errors only).
    pub cdn_upload_attempts: u32,
    /// Pause between CDN upload attempts.
    pub cdn_retry_pause: Duration,
    /// Largest media download accepted, in bytes.
    pub max_download_bytes: u64,
    /// Backoff policy for callers that poll in a loop.
    pub backoff: BackoffPolicy,
}

/// Timeouts per operation (spec §14).
#[derive(Debug, Clone)]
pub struct Timeouts {
    /// TCP + TLS connect.
    pub connect: Duration,
    /// `sendmessage`, `getuploadurl`, `get_bot_qrcode`.
    pub api: Duration,
    /// `getconfig`, `sendtyping`, `notifystart`, `notifystop`.
    pub short: Duration,
    /// A `getupdates` poll when the server has suggested nothing yet.
    pub long_poll: Duration,
    /// Added to the server-suggested `longpolling_timeout_ms`.
    pub long_poll_margin: Duration,
    /// One `get_qrcode_status` long poll.
    pub qr_status: Duration,
    /// One CDN upload attempt.
    pub cdn_upload: Duration,
    /// One CDN download.
    pub cdn_download: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect: Duration::from_secs(10),
            api: Duration::from_secs(15),
            short: Duration::from_secs(10),
            long_poll: Duration::from_secs(35),
            long_poll_margin: Duration::from_secs(5),
            qr_status: Duration::from_secs(40),
            cdn_upload: Duration::from_secs(120),
            cdn_download: Duration::from_secs(60),
        }
    }
}

/// Backoff after failed polls: `short` after each of the first `failures_before_long - 1`
/// consecutive failures, `long` from then on (spec §6.5: 2 s, then 30 s after 3).
#[derive(Debug, Clone)]
pub struct BackoffPolicy {
    /// Pause after an isolated failure.
    pub short: Duration,
    /// Pause once failures pile up.
    pub long: Duration,
    /// Consecutive failures at which `long` starts.
    pub failures_before_long: u32,
}

impl Default for BackoffPolicy {
    fn default() -> Self {
        BackoffPolicy {
            short: Duration::from_secs(2),
            long: Duration::from_secs(30),
            failures_before_long: 3,
        }
    }
}

impl BackoffPolicy {
    /// The pause after `consecutive_failures` failures in a row (`0` means no pause).
    pub fn pause(&self, consecutive_failures: u32) -> Duration {
        match consecutive_failures {
            0 => Duration::ZERO,
            n if n >= self.failures_before_long => self.long,
            _ => self.short,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        let version = env!("CARGO_PKG_VERSION").to_string();
        Config {
            api_base: Url::parse(DEFAULT_API_BASE).expect("constant URL parses"),
            qr_base: Url::parse(DEFAULT_API_BASE).expect("constant URL parses"),
            cdn_base: Url::parse(DEFAULT_CDN_BASE).expect("constant URL parses"),
            route_tag: None,
            bot_agent: format!("wxlink/{version}"),
            client_version: version,
            timeouts: Timeouts::default(),
            cdn_upload_attempts: 3,
            cdn_retry_pause: Duration::from_millis(200),
            max_download_bytes: 100 * 1024 * 1024,
            backoff: BackoffPolicy::default(),
        }
    }
}

impl Config {
    /// A config whose API, QR and CDN bases all point at one server (the fake, a proxy):
    /// `<base>/` for the API and QR, `<base>/c2c/` for the CDN.
    pub fn for_base(base: &Url) -> Self {
        let api = with_trailing_slash(base.clone());
        let cdn = api.join("c2c/").unwrap_or_else(|_| api.clone());
        Config {
            api_base: api.clone(),
            qr_base: api,
            cdn_base: cdn,
            ..Config::default()
        }
    }
}

/// `base` with a trailing slash on its path, so that relative joins append instead of replace.
pub fn with_trailing_slash(mut base: Url) -> Url {
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base
}

/// `iLink-App-ClientVersion`: `major << 16 | minor << 8 | patch`, each masked to a byte (spec §3.4).
pub fn encode_client_version(version: &str) -> u32 {
    let mut parts = version
        .split(['.', '-', '+'])
        .map(|p| p.parse::<u32>().unwrap_or(0) & 0xff);
    let major = parts.next().unwrap_or(0);
    let minor = parts.next().unwrap_or(0);
    let patch = parts.next().unwrap_or(0);
    major << 16 | minor << 8 | patch
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_version_vectors() {
        assert_eq!(encode_client_version("2.4.9"), 132105);
        assert_eq!(encode_client_version("2.1.1"), 131329);
        assert_eq!(encode_client_version("1.0.2"), 65538);
        assert_eq!(encode_client_version("2.2.0"), 131584);
        assert_eq!(encode_client_version("2"), 131072);
        assert_eq!(encode_client_version("garbage"), 0);
    }

    #[test]
    fn backoff_follows_the_spec() {
        let p = BackoffPolicy::default();
        assert_eq!(p.pause(0), Duration::ZERO);
        assert_eq!(p.pause(1), Duration::from_secs(2));
        assert_eq!(p.pause(2), Duration::from_secs(2));
        assert_eq!(p.pause(3), Duration::from_secs(30));
        assert_eq!(p.pause(9), Duration::from_secs(30));
    }

    #[test]
    fn bases_with_path_prefixes_keep_them() {
        let c = Config::for_base(&Url::parse("http://127.0.0.1:9/prefix").unwrap());
        assert_eq!(c.api_base.as_str(), "http://127.0.0.1:9/prefix/");
        assert_eq!(c.cdn_base.as_str(), "http://127.0.0.1:9/prefix/c2c/");
        assert_eq!(
            c.api_base.join("ilink/bot/getupdates").unwrap().as_str(),
            "http://127.0.0.1:9/prefix/ilink/bot/getupdates"
        );
    }
}
