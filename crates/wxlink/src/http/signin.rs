//! Sign-in for browsers (the admin panel): the server's token, entered once, becomes an
//! `HttpOnly`, `SameSite=Strict` cookie that `/api/v1` accepts in place of the bearer header.
//!
//! The cookie is stateless — `v1.<issued ms>.<HMAC-SHA256 of the issue time, keyed by the
//! token>` — so it survives restarts, any replica with the same token accepts it, and changing
//! the token signs every browser out. It lasts [`MAX_AGE`]. Requests that change something and
//! are authenticated by the cookie must also carry `X-CSRF-Token`, an HMAC of the cookie that
//! only a page of this origin can read (from `GET /admin/session`): a cross-site form can send
//! the cookie (not even that, with `SameSite=Strict`) but never the header.

use std::time::Duration;

use axum::http::{header, HeaderMap};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::model::Secret;

/// The cookie's name.
pub const COOKIE: &str = "wxlink_admin";
/// The header that proves a change comes from a page of this origin.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long a sign-in lasts.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// Issues and checks sign-in cookies and CSRF tokens.
pub struct SignIn {
    key: Secret<Vec<u8>>,
}

impl std::fmt::Debug for SignIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SignIn(***)")
    }
}

type HmacSha256 = Hmac<Sha256>;

fn mac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC takes keys of any length.
    let mut m = <HmacSha256 as KeyInit>::new_from_slice(key).expect("HMAC accepts any key length");
    for p in parts {
        m.update(p);
        m.update(b"\0");
    }
    m.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl SignIn {
    /// Keyed by the server's token; without one, by a random key (nothing needs signing in
    /// then, but CSRF tokens still exist for the panel's uniform requests).
    pub fn new(token: Option<&Secret<String>>) -> SignIn {
        let key = match token {
            Some(t) => mac(t.expose_str().as_bytes(), &[b"wxlink admin sign-in"]),
            None => rand::random::<[u8; 32]>().to_vec(),
        };
        SignIn {
            key: Secret::new(key),
        }
    }

    /// A new cookie value, issued at `now_ms`.
    pub fn issue(&self, now_ms: i64) -> String {
        let issued = now_ms.to_string();
        let tag = hex(&mac(self.key.expose(), &[b"cookie", issued.as_bytes()]));
        format!("v1.{issued}.{tag}")
    }

    /// Whether `value` is a cookie this server issued that has not expired at `now_ms`.
    pub fn verify(&self, value: &str, now_ms: i64) -> bool {
        let mut parts = value.split('.');
        let (Some("v1"), Some(issued), Some(tag), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return false;
        };
        let Ok(at) = issued.parse::<i64>() else {
            return false;
        };
        let age = now_ms.saturating_sub(at);
        if !(0..=MAX_AGE.as_millis() as i64).contains(&age) {
            return false;
        }
        let want = hex(&mac(self.key.expose(), &[b"cookie", issued.as_bytes()]));
        bool::from(want.as_bytes().ct_eq(tag.as_bytes()))
    }

    /// The CSRF token that goes with a cookie value (`""` without one).
    pub fn csrf(&self, cookie: &str) -> String {
        hex(&mac(self.key.expose(), &[b"csrf", cookie.as_bytes()])[..16])
    }

    /// Whether the request's CSRF header is the one for `cookie`.
    pub fn csrf_ok(&self, headers: &HeaderMap, cookie: &str) -> bool {
        let want = self.csrf(cookie);
        headers
            .get(CSRF_HEADER)
            .is_some_and(|v| bool::from(v.as_bytes().ct_eq(want.as_bytes())))
    }
}

/// The sign-in cookie's value in a request, if any.
pub fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.trim())
}

/// `Set-Cookie` for a new sign-in.
pub fn set_cookie(value: &str) -> String {
    format!(
        "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}",
        MAX_AGE.as_secs()
    )
}

/// `Set-Cookie` that signs out.
pub fn clear_cookie() -> String {
    format!("{COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn cookies_verify_until_they_expire() {
        let s = SignIn::new(Some(&Secret::new("a-long-enough-token".into())));
        let c = s.issue(1_000);
        assert!(s.verify(&c, 1_000));
        assert!(s.verify(&c, 1_000 + MAX_AGE.as_millis() as i64));
        assert!(!s.verify(&c, 1_001 + MAX_AGE.as_millis() as i64));
        assert!(!s.verify(&c, 999), "issued in the future");
        let forged = c.replace("v1.1000.", "v1.2000.");
        assert!(!s.verify(&forged, 2_000));
        assert!(!s.verify("v1.1000", 1_000));
        assert!(!s.verify("", 1_000));
        let other = SignIn::new(Some(&Secret::new("another-token-entirely".into())));
        assert!(!other.verify(&c, 1_000), "a new token signs everyone out");
    }

    #[test]
    fn csrf_is_bound_to_the_cookie() {
        let s = SignIn::new(Some(&Secret::new("a-long-enough-token".into())));
        let (a, b) = (s.issue(1), s.issue(2));
        assert_ne!(s.csrf(&a), s.csrf(&b));
        let mut h = HeaderMap::new();
        h.insert(CSRF_HEADER, HeaderValue::from_str(&s.csrf(&a)).unwrap());
        assert!(s.csrf_ok(&h, &a));
        assert!(!s.csrf_ok(&h, &b));
        assert!(!s.csrf_ok(&HeaderMap::new(), &a));
    }

    #[test]
    fn finds_the_cookie_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; wxlink_admin=v1.2.ab ; b=2"),
        );
        assert_eq!(cookie(&h), Some("v1.2.ab"));
        assert_eq!(cookie(&HeaderMap::new()), None);
    }
}
