//! `aes_key`: `ilink::AesKey::parse` on arbitrary text, and AES-128-ECB/PKCS#7 on arbitrary data
//! (crates/ilink/src/crypto.rs, spec §10.1–§10.2).
//!
//! Input: the key text up to the first `\n`; the rest is data (used as plaintext and as
//! ciphertext). A seed reads `00112233445566778899aabbccddeeff\nhello ilink`.
//!
//! Invariants:
//! - `parse` never panics; a refusal is `BadKey(n)` with `n` the trimmed text's length.
//! - What `parse` accepts is one of the three forms, and the key is what that form says: 32 hex
//!   chars (H) decode to it; otherwise the text is base64 (padded or not) of the 16 key bytes
//!   (B) or of 32 hex chars that decode to it (D).
//! - Every parsed key (and a key made from 16 input bytes) re-encodes in all three forms
//!   (`to_hex`, `to_base64_raw`, `to_base64_hex`), each of which parses back to the same key; the
//!   hex form is 32 lowercase hex chars.
//! - `encrypt` gives `padded_size(len)` bytes (a whole number of blocks) and `decrypt` of that
//!   gives the plaintext back.
//! - `decrypt` of arbitrary bytes never panics: a length that is 0 or not a multiple of 16 is
//!   `BadLength(len)`; whatever it does decrypt re-encrypts to the same ciphertext (PKCS#7 and
//!   ECB are canonical).
//! - `md5_hex` is 32 lowercase hex chars; a key's `Debug` never shows the key.

#![no_main]

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use base64::Engine as _;
use ilink::crypto::{md5_hex, padded_size};
use ilink::{AesKey, CryptoError};
use libfuzzer_sys::fuzz_target;

fn is_lower_hex(s: &str) -> bool {
    s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// The three forms of `key` each parse back to it.
fn check_round_trips(key: &AesKey) {
    let hex = key.to_hex();
    assert_eq!(hex.len(), 32);
    assert!(is_lower_hex(&hex), "{hex}");
    for form in [hex.clone(), key.to_base64_raw(), key.to_base64_hex()] {
        assert_eq!(AesKey::parse(&form).as_ref(), Ok(key), "form {form:?}");
        // Surrounding whitespace is trimmed.
        assert_eq!(AesKey::parse(&format!(" {form}\n")).as_ref(), Ok(key));
    }
    assert_eq!(key.to_base64_raw().len(), 24);
    assert_eq!(key.to_base64_hex().len(), 44);
    let debug = format!("{key:?}");
    assert!(
        !debug.contains(&hex),
        "a key's Debug shows the key: {debug}"
    );
}

/// What the key text `text` says the key is, decoded independently of `parse`.
fn expected_key(text: &str) -> Option<[u8; 16]> {
    let t = text.trim();
    if t.len() == 32 {
        if let Ok(bytes) = hex::decode(t) {
            return bytes.try_into().ok();
        }
    }
    let bytes = STANDARD
        .decode(t)
        .or_else(|_| STANDARD_NO_PAD.decode(t))
        .ok()?;
    match bytes.len() {
        16 => bytes.try_into().ok(),
        32 => {
            let s = std::str::from_utf8(&bytes).ok()?;
            hex::decode(s).ok()?.try_into().ok()
        }
        _ => None,
    }
}

fn check_cipher(key: &AesKey, data: &[u8]) {
    let c = key.encrypt(data);
    assert_eq!(c.len() as u64, padded_size(data.len() as u64));
    assert!(c.len().is_multiple_of(16) && c.len() > data.len());
    assert_eq!(key.decrypt(&c).as_deref(), Ok(data));

    match key.decrypt(data) {
        Ok(plain) => {
            assert!(!data.is_empty() && data.len().is_multiple_of(16));
            assert!(plain.len() < data.len() && plain.len() + 16 >= data.len());
            assert_eq!(
                key.encrypt(&plain),
                data,
                "decrypt then encrypt is not the identity"
            );
        }
        Err(CryptoError::BadLength(n)) => {
            assert_eq!(n, data.len());
            assert!(data.is_empty() || !data.len().is_multiple_of(16));
        }
        Err(CryptoError::BadPadding) => assert!(!data.is_empty() && data.len().is_multiple_of(16)),
        Err(e) => panic!("decrypt: unexpected error {e:?}"),
    }
}

fuzz_target!(|data: &[u8]| {
    let (key_bytes, rest) = match data.iter().position(|&b| b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let text = String::from_utf8_lossy(key_bytes);

    match AesKey::parse(&text) {
        Ok(key) => {
            assert_eq!(
                expected_key(&text),
                Some(key.0),
                "parse({text:?}) is not what the text encodes"
            );
            check_round_trips(&key);
            check_cipher(&key, rest);
        }
        Err(CryptoError::BadKey(n)) => {
            assert_eq!(n, text.trim().len());
            assert_eq!(
                expected_key(&text),
                None,
                "parse refused a valid key {text:?}"
            );
        }
        Err(e) => panic!("parse: unexpected error {e:?}"),
    }

    // Any 16 bytes are a key: all its forms round-trip, and it en/decrypts the data.
    if data.len() >= 16 {
        let mut raw = [0u8; 16];
        raw.copy_from_slice(&data[..16]);
        let key = AesKey(raw);
        check_round_trips(&key);
        check_cipher(&key, &data[16..]);
    }

    let md5 = md5_hex(rest);
    assert!(md5.len() == 32 && is_lower_hex(&md5));
});
