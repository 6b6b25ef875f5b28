//! Credentials encrypted at rest: [`CredentialKey`], the 256-bit key the operator gives
//! (`WXLINK_CREDENTIAL_KEY` or a key file; parsed by [`CredentialKey::parse`]), and the sealing
//! of values with it — AES-256-GCM (RustCrypto's `aes-gcm`) with a fresh random 96-bit nonce per
//! value, stored as text `v1:<base64(nonce ‖ ciphertext ‖ tag)>`.
//!
//! What is sealed: the sessions' bearer tokens (`sessions.token`), the one credential that can
//! act as the account. What is not: context tokens (`contexts.token`, `messages.context_token`)
//! and message bodies stay plain — `reserve_send` compares the context token in SQL (an atomic
//! `UPDATE … WHERE token = $3`), which a randomized ciphertext cannot do, and a context token
//! only lets one reply reach one user for a limited time. The `meta` table holds a sealed
//! known value, so a store opened with another key is refused at once (`StoreError::WrongKey`)
//! instead of failing on the first token it reads.
//!
//! Each purpose seals with its own associated data, so a value sealed for one column does not
//! open as another's.

use std::fmt;

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Key, Nonce};
use base64::Engine as _;
use rand::RngCore;

/// The prefix of a value sealed by this version.
const V1: &str = "v1:";

/// Length of an AES-GCM nonce, bytes.
const NONCE_LEN: usize = 12;

/// Length of an AES-GCM tag, bytes.
const TAG_LEN: usize = 16;

/// A 256-bit key for the credentials a PostgreSQL store keeps. `Debug` and `Display` print
/// `***`; the key's bytes are reached only through [`CredentialKey::expose_base64`].
#[derive(Clone, PartialEq, Eq)]
pub struct CredentialKey([u8; 32]);

impl fmt::Debug for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CredentialKey(***)")
    }
}

impl fmt::Display for CredentialKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Why a text is not a credential key (the text itself is never repeated).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a credential key is 32 bytes written as 64 hexadecimal characters or in base64 \
     (e.g. `openssl rand -base64 32`); this one is {0}"
)]
pub struct InvalidKey(&'static str);

impl CredentialKey {
    /// Reads a key: 64 hexadecimal characters, or the standard base64 of 32 bytes (padded or
    /// not); surrounding whitespace (a key file's newline) is ignored.
    pub fn parse(text: &str) -> Result<CredentialKey, InvalidKey> {
        let text = text.trim();
        if text.is_empty() {
            return Err(InvalidKey("empty"));
        }
        if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut key = [0u8; 32];
            for (byte, pair) in key.iter_mut().zip(text.as_bytes().chunks_exact(2)) {
                *byte = (hex_value(pair[0]) << 4) | hex_value(pair[1]);
            }
            return Ok(CredentialKey(key));
        }
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| InvalidKey("neither hexadecimal nor base64"))?;
        let key: [u8; 32] = decoded
            .try_into()
            .map_err(|_| InvalidKey("not 32 bytes long"))?;
        Ok(CredentialKey(key))
    }

    /// A new random key (from a cryptographically secure generator seeded by the operating
    /// system).
    pub fn generate() -> CredentialKey {
        let mut key = [0u8; 32];
        rand::rng().fill_bytes(&mut key);
        CredentialKey(key)
    }

    /// The key in standard base64, for the one place that must show or save it (a newly
    /// generated key).
    pub fn expose_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.0)
    }

    fn cipher(&self) -> Aes256Gcm {
        Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&self.0))
    }
}

/// The value of one ASCII hexadecimal digit (checked by the caller).
fn hex_value(digit: u8) -> u8 {
    match digit {
        b'0'..=b'9' => digit - b'0',
        b'a'..=b'f' => digit - b'a' + 10,
        b'A'..=b'F' => digit - b'A' + 10,
        _ => 0,
    }
}

/// What a sealed value is for: its associated data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
    /// `sessions.token`.
    SessionToken,
    /// The `meta` row that checks the key.
    KeyCheck,
}

impl Purpose {
    fn aad(self) -> &'static [u8] {
        match self {
            Purpose::SessionToken => b"wxlink/v1/sessions.token",
            Purpose::KeyCheck => b"wxlink/v1/meta.key_check",
        }
    }
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum OpenError {
    /// Not a value this build writes (no `v1:`, bad base64, too short).
    Malformed,
    /// The key (or the purpose) is not the one it was sealed with, or it was altered.
    WrongKey,
}

/// Seals and opens values with one key.
#[derive(Clone)]
pub(super) struct Sealer {
    cipher: Aes256Gcm,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Sealer(***)")
    }
}

impl Sealer {
    pub(super) fn new(key: &CredentialKey) -> Sealer {
        Sealer {
            cipher: key.cipher(),
        }
    }

    /// `v1:<base64(nonce ‖ ciphertext ‖ tag)>` with a fresh random nonce.
    pub(super) fn seal(&self, purpose: Purpose, plain: &str) -> String {
        let mut nonce = [0u8; NONCE_LEN];
        rand::rng().fill_bytes(&mut nonce);
        let payload = Payload {
            msg: plain.as_bytes(),
            aad: purpose.aad(),
        };
        // Encryption fails only for inputs past GCM's limit (64 GiB); a token never is.
        let sealed = self
            .cipher
            .encrypt(Nonce::from_slice(&nonce), payload)
            .unwrap_or_default();
        let mut bytes = Vec::with_capacity(NONCE_LEN + sealed.len());
        bytes.extend_from_slice(&nonce);
        bytes.extend_from_slice(&sealed);
        format!(
            "{V1}{}",
            base64::engine::general_purpose::STANDARD.encode(bytes)
        )
    }

    /// The plain text of a value [`Sealer::seal`] made with the same key and purpose.
    pub(super) fn open(&self, purpose: Purpose, sealed: &str) -> Result<String, OpenError> {
        let encoded = sealed.strip_prefix(V1).ok_or(OpenError::Malformed)?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| OpenError::Malformed)?;
        if bytes.len() < NONCE_LEN + TAG_LEN {
            return Err(OpenError::Malformed);
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_LEN);
        let payload = Payload {
            msg: ciphertext,
            aad: purpose.aad(),
        };
        let plain = self
            .cipher
            .decrypt(Nonce::from_slice(nonce), payload)
            .map_err(|_| OpenError::WrongKey)?;
        String::from_utf8(plain).map_err(|_| OpenError::Malformed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_parse_from_hex_and_base64_and_never_print() {
        let hex = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF";
        let key = CredentialKey::parse(&format!("  {hex}\n")).unwrap();
        let b64 = key.expose_base64();
        assert_eq!(CredentialKey::parse(&b64).unwrap(), key);
        assert_eq!(
            CredentialKey::parse(b64.trim_end_matches('=')).unwrap(),
            key
        );
        assert_eq!(format!("{key:?}"), "CredentialKey(***)");
        assert_eq!(format!("{key}"), "***");
        for bad in ["", "  ", "abc", &hex[..62], "!!!!", "AAAA"] {
            assert!(CredentialKey::parse(bad).is_err(), "{bad:?}");
        }
        let err = CredentialKey::parse(&hex[..62]).unwrap_err().to_string();
        assert!(
            !err.contains(&hex[..10]),
            "the text is never repeated: {err}"
        );
        assert_ne!(CredentialKey::generate(), CredentialKey::generate());
    }

    #[test]
    fn sealed_values_open_only_with_their_key_and_purpose() {
        let key = CredentialKey::generate();
        let sealer = Sealer::new(&key);
        let a = sealer.seal(Purpose::SessionToken, "bearer-token-123");
        let b = sealer.seal(Purpose::SessionToken, "bearer-token-123");
        assert!(a.starts_with("v1:"));
        assert_ne!(a, b, "a fresh nonce per value");
        assert!(!a.contains("bearer"));
        assert_eq!(
            sealer.open(Purpose::SessionToken, &a).unwrap(),
            "bearer-token-123"
        );
        assert_eq!(sealer.open(Purpose::KeyCheck, &a), Err(OpenError::WrongKey));
        let other = Sealer::new(&CredentialKey::generate());
        assert_eq!(
            other.open(Purpose::SessionToken, &a),
            Err(OpenError::WrongKey)
        );
        for bad in ["plain", "v1:", "v1:not base64!", "v1:AAAA"] {
            assert_eq!(
                sealer.open(Purpose::SessionToken, bad),
                Err(OpenError::Malformed)
            );
        }
        assert_eq!(format!("{sealer:?}"), "Sealer(***)");
    }
}
