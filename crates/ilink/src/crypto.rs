//! Media crypto (spec §10.1–§10.2): AES-128-ECB with PKCS#7, the three textual key forms, file
//! keys, ciphertext sizes and plaintext MD5.

use aes::Aes128;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine as _;
use ecb::cipher::block_padding::Pkcs7;
use ecb::cipher::{BlockDecryptMut, BlockEncryptMut, KeyInit};
use md5::{Digest, Md5};

/// Why a key could not be read or a ciphertext could not be decrypted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key text is none of hex (H), base64 of 16 bytes (B) or base64 of 32 hex chars (D).
    #[error("unrecognised AES key encoding ({0} characters): expected 32 hex chars, or base64 of 16 raw bytes or of 32 hex chars")]
    BadKey(usize),
    /// The ciphertext length is not a non-zero multiple of 16.
    #[error("ciphertext of {0} bytes is not a whole number of AES blocks")]
    BadLength(usize),
    /// PKCS#7 padding did not check out: almost always the wrong key.
    #[error("decryption failed (bad PKCS#7 padding): the AES key does not match this media")]
    BadPadding,
}

/// A 16-byte AES-128 key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AesKey(pub [u8; 16]);

impl std::fmt::Debug for AesKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys never appear in logs.
        f.write_str("AesKey(…)")
    }
}

impl AesKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn random() -> Self {
        AesKey(rand::random())
    }

    /// Form H: 32 lowercase hex chars (`getuploadurl.aeskey`, `image_item.aeskey`).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    /// Form B: base64 of the 16 raw bytes.
    pub fn to_base64_raw(&self) -> String {
        B64.encode(self.0)
    }

    /// Form D: base64 of the 32 hex chars — what every client puts in outbound `media.aes_key`.
    pub fn to_base64_hex(&self) -> String {
        B64.encode(self.to_hex())
    }

    /// Reads any of the three forms (spec §10.2): 32 hex chars → H; else base64 that decodes to
    /// 16 bytes → B, or to 32 hex digits → D.
    pub fn parse(text: &str) -> Result<Self, CryptoError> {
        let text = text.trim();
        if let Some(key) = Self::from_hex(text) {
            return Ok(key);
        }
        let bad = || CryptoError::BadKey(text.len());
        let bytes = B64
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| bad())?;
        match bytes.len() {
            16 => Ok(AesKey(bytes.try_into().map_err(|_| bad())?)),
            32 => std::str::from_utf8(&bytes)
                .ok()
                .and_then(Self::from_hex)
                .ok_or_else(bad),
            _ => Err(bad()),
        }
    }

    fn from_hex(text: &str) -> Option<Self> {
        if text.len() != 32 {
            return None;
        }
        let mut key = [0u8; 16];
        hex::decode_to_slice(text, &mut key).ok()?;
        Some(AesKey(key))
    }

    /// Encrypts `plain` with AES-128-ECB and PKCS#7 padding.
    pub fn encrypt(&self, plain: &[u8]) -> Vec<u8> {
        ecb::Encryptor::<Aes128>::new(&self.0.into()).encrypt_padded_vec_mut::<Pkcs7>(plain)
    }

    /// Encrypts whole blocks in place (`data.len()` a multiple of 16; a trailing partial
    /// block is left as is): AES-128-ECB without padding. ECB encrypts every block on its own,
    /// so a plaintext encrypted piece by piece this way, with its last piece through
    /// [`AesKey::encrypt`], equals the plaintext encrypted at once.
    pub fn encrypt_blocks(&self, data: &mut [u8]) {
        use aes::cipher::{generic_array::GenericArray, BlockEncrypt};
        let cipher = Aes128::new(&self.0.into());
        for block in data.chunks_exact_mut(16) {
            cipher.encrypt_block(GenericArray::from_mut_slice(block));
        }
    }

    /// Decrypts an AES-128-ECB/PKCS#7 ciphertext.
    pub fn decrypt(&self, cipher: &[u8]) -> Result<Vec<u8>, CryptoError> {
        if cipher.is_empty() || !cipher.len().is_multiple_of(16) {
            return Err(CryptoError::BadLength(cipher.len()));
        }
        ecb::Decryptor::<Aes128>::new(&self.0.into())
            .decrypt_padded_vec_mut::<Pkcs7>(cipher)
            .map_err(|_| CryptoError::BadPadding)
    }
}

/// Ciphertext size for a plaintext of `raw` bytes: `ceil((raw + 1) / 16) * 16`.
pub fn padded_size(raw: u64) -> u64 {
    (raw / 16 + 1) * 16
}

/// Lowercase hex MD5 of `data`.
pub fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// A fresh `filekey`: 16 random bytes as 32 hex chars.
pub fn random_filekey() -> String {
    hex::encode(rand::random::<[u8; 16]>())
}

#[cfg(test)]
mod tests {
    //! The vectors of spec §18.1, all of them.
    use super::*;

    const V1_KEY: &str = "00112233445566778899aabbccddeeff";

    fn key(hex_text: &str) -> AesKey {
        AesKey::parse(hex_text).unwrap()
    }

    #[test]
    fn v1_hello_ilink() {
        let k = key(V1_KEY);
        assert_eq!(k.to_base64_raw(), "ABEiM0RVZneImaq7zN3u/w==");
        assert_eq!(
            k.to_base64_hex(),
            "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY="
        );
        let plain = b"hello ilink";
        assert_eq!(md5_hex(plain), "a0e581bef9105ace19c7d2e59e66374d");
        assert_eq!(padded_size(plain.len() as u64), 16);
        let c = k.encrypt(plain);
        assert_eq!(hex::encode(&c), "b7b86f6a7e5ca4c39d8da094d17d2f95");
        assert_eq!(B64.encode(&c), "t7hvan5cpMOdjaCU0X0vlQ==");
        assert_eq!(k.decrypt(&c).unwrap(), plain);
    }

    #[test]
    fn v2_empty_plaintext_is_one_padding_block() {
        let k = key(V1_KEY);
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        let c = k.encrypt(b"");
        assert_eq!(hex::encode(&c), "00657ea140655a44782747705d422fad");
        assert_eq!(k.decrypt(&c).unwrap(), b"");
    }

    #[test]
    fn v3_exact_block_gains_a_block() {
        let k = key("000102030405060708090a0b0c0d0e0f");
        assert_eq!(k.to_base64_raw(), "AAECAwQFBgcICQoLDA0ODw==");
        assert_eq!(
            k.to_base64_hex(),
            "MDAwMTAyMDMwNDA1MDYwNzA4MDkwYTBiMGMwZDBlMGY="
        );
        let plain = b"0123456789abcdef";
        assert_eq!(md5_hex(plain), "4032af8d61035123906e58e067140cc5");
        let c = k.encrypt(plain);
        assert_eq!(
            hex::encode(&c),
            "281567ab2f4cf0d73d3198225b8b8393954f64f2e4e86e9eee82d20216684899"
        );
        assert_eq!(k.decrypt(&c).unwrap(), plain);
    }

    #[test]
    fn v4_nist_block() {
        let k = key("2b7e151628aed2a6abf7158809cf4f3c");
        assert_eq!(k.to_base64_raw(), "K34VFiiu0qar9xWICc9PPA==");
        assert_eq!(
            k.to_base64_hex(),
            "MmI3ZTE1MTYyOGFlZDJhNmFiZjcxNTg4MDljZjRmM2M="
        );
        let plain = hex::decode("6bc1bee22e409f96e93d7e117393172a").unwrap();
        let c = k.encrypt(&plain);
        assert_eq!(
            hex::encode(&c),
            "3ad77bb40d7a3660a89ecaf32466ef97a254be88e037ddd9d79fb6411c3f9df8"
        );
    }

    #[test]
    fn all_three_key_forms_decode_to_the_same_key() {
        let expected = hex::decode(V1_KEY).unwrap();
        for form in [
            V1_KEY,
            "ABEiM0RVZneImaq7zN3u/w==",
            "MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=",
        ] {
            assert_eq!(
                AesKey::parse(form).unwrap().0.as_slice(),
                expected,
                "{form}"
            );
        }
    }

    #[test]
    fn real_capture_keys() {
        let img = AesKey::parse("7716ac836c2fc1faae223956cff3dbf7").unwrap();
        let media = AesKey::parse("NzcxNmFjODM2YzJmYzFmYWFlMjIzOTU2Y2ZmM2RiZjc=").unwrap();
        assert_eq!(img, media);
        let file = AesKey::parse("Y2MwYjIzODNiYzgwNjVjZWQ0YWRjNWFmNDI0ZmEwMmE=").unwrap();
        assert_eq!(file.to_hex(), "cc0b2383bc8065ced4adc5af424fa02a");
    }

    #[test]
    fn padded_sizes_of_spec_18_3() {
        for (raw, want) in [(0, 16), (10, 16), (15, 16), (16, 32), (31, 32), (32, 48)] {
            assert_eq!(padded_size(raw), want, "rawsize {raw}");
        }
    }

    #[test]
    fn garbage_keys_and_ciphertexts_are_errors_not_panics() {
        for bad in ["", "zz", "not base64 at all!", "AAAA", "MDAx"] {
            assert!(AesKey::parse(bad).is_err(), "{bad}");
        }
        // base64 of 32 bytes that are not hex digits
        let not_hex = B64.encode([b'z'; 32]);
        assert!(AesKey::parse(&not_hex).is_err());
        let k = key(V1_KEY);
        assert_eq!(k.decrypt(b""), Err(CryptoError::BadLength(0)));
        assert_eq!(k.decrypt(&[0u8; 17]), Err(CryptoError::BadLength(17)));
        let wrong = key("000102030405060708090a0b0c0d0e0f");
        let c = k.encrypt(b"hello ilink");
        assert_eq!(wrong.decrypt(&c), Err(CryptoError::BadPadding));
    }

    #[test]
    fn random_keys_and_filekeys_are_fresh() {
        assert_ne!(AesKey::random(), AesKey::random());
        let fk = random_filekey();
        assert_eq!(fk.len(), 32);
        assert!(fk.bytes().all(|b| b.is_ascii_hexdigit()));
        assert_ne!(fk, random_filekey());
    }
}
