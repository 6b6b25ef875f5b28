//! `cdn_params`: the CDN URLs and query parameters of crates/ilink/src/media.rs (spec §10.3,
//! §10.4): `encode_uri_component`, `Client::download_url` for a `CdnMedia`, the upload URL of a
//! `GetUploadUrlResponse` (`Client::upload_url`), and `item_key` for a `MessageItem`.
//!
//! Input: a JSON object `{"component": str, "media": CdnMedia, "upload": GetUploadUrlResponse,
//! "filekey": str, "item": MessageItem}` (every key optional, the wire types as lenient as on
//! the wire); any other input is taken as one string used for all of them (component, both
//! params, the filekey, `full_url`).
//!
//! Invariants (with a CDN base with and without a path of its own):
//! - `encode_uri_component(s)` holds only `A–Z a–z 0–9 - _ . ! ~ * ' ( )` and `%XX` escapes
//!   (uppercase hex), and percent-decodes back to `s`.
//! - `download_url`: a `full_url` that is not blank and parses (trimmed) is used as is;
//!   otherwise a non-empty `encrypt_query_param` gives `<cdn>/download?encrypted_query_param=…`
//!   whose query is exactly that one parameter, decoding back to the param, under the CDN base;
//!   otherwise it is an error.
//! - upload URL: a non-empty `upload_full_url` is used iff it parses (else an error); otherwise a
//!   non-empty `upload_param` gives `<cdn>/upload` with exactly `encrypted_query_param` and
//!   `filekey`, in that order, decoding back to the param and the filekey; otherwise an error.
//! - `item_key`: `Ok(None)` iff the item carries no (non-blank) key; else the key is the parse of
//!   `image_item.aeskey` for an image that has one, else of `media.aes_key`; `Err` iff that text
//!   does not parse.

#![no_main]

use std::sync::OnceLock;

use ilink::wire::{CdnMedia, GetUploadUrlResponse, ItemType, MessageItem};
use ilink::{encode_uri_component, item_key, AesKey, Client, Config};
use libfuzzer_sys::fuzz_target;
use percent_encoding::percent_decode_str;
use serde_json::Value;
use url::Url;

/// Clients are costly to build (a TLS stack each): one per CDN base, for the whole run.
fn clients() -> &'static [Client] {
    static CLIENTS: OnceLock<Vec<Client>> = OnceLock::new();
    CLIENTS.get_or_init(|| {
        let with_path = Url::parse("http://127.0.0.1:8700/some/prefix").unwrap();
        vec![
            Client::new(Config::default()).unwrap(),
            Client::new(Config::for_base(&with_path)).unwrap(),
        ]
    })
}

fn allowed(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-_.!~*'()".contains(&b)
}

fn check_component(s: &str) {
    let e = encode_uri_component(s);
    let b = e.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            assert!(
                i + 3 <= b.len()
                    && b[i + 1..i + 3]
                        .iter()
                        .all(|c| matches!(c, b'0'..=b'9' | b'A'..=b'F')),
                "bad escape in {e:?}"
            );
            i += 3;
        } else {
            assert!(allowed(b[i]), "{:?} left unescaped in {e:?}", b[i] as char);
            i += 1;
        }
    }
    assert_eq!(percent_decode_str(&e).decode_utf8().unwrap(), s);
}

/// The query pairs of `url`, percent-decoded (`+` is never produced by the encoder, so the
/// form-decoding of `+` as a space cannot interfere).
fn pairs(url: &Url) -> Vec<(String, String)> {
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

fn under_cdn(client: &Client, url: &Url, endpoint: &str) {
    let base = client
        .config()
        .cdn_base
        .as_str()
        .trim_end_matches('/')
        .to_string();
    let expected = format!("{base}/{endpoint}");
    let without_query = url.as_str().split('?').next().unwrap();
    assert_eq!(
        without_query, expected,
        "{url} is not {endpoint} under the CDN base"
    );
}

fn check_download(client: &Client, media: &CdnMedia) {
    let got = client.download_url(media);
    let full = media
        .full_url
        .as_deref()
        .filter(|u| !u.trim().is_empty())
        .and_then(|u| Url::parse(u.trim()).ok());
    if let Some(full) = full {
        assert_eq!(got.unwrap(), full, "a parseable full_url is used as is");
        return;
    }
    match media
        .encrypt_query_param
        .as_deref()
        .filter(|p| !p.is_empty())
    {
        Some(param) => {
            let url = got.unwrap_or_else(|e| panic!("download_url({param:?}): {e}"));
            under_cdn(client, &url, "download");
            assert_eq!(
                pairs(&url),
                vec![("encrypted_query_param".to_string(), param.to_string())]
            );
            // The query is the encoded param as written, but for `'`, which the URL parser
            // escapes in the query of http(s) URLs (WHATWG "special-query" set).
            let expected = format!("encrypted_query_param={}", encode_uri_component(param));
            assert_eq!(
                url.query(),
                Some(expected.replace('\'', "%27").as_str()),
                "the URL parser changed the encoded query"
            );
        }
        None => assert!(got.is_err(), "no full_url and no param, yet a URL"),
    }
}

fn check_upload(client: &Client, resp: &GetUploadUrlResponse, filekey: &str) {
    let got = client.upload_url(resp, filekey);
    if let Some(full) = resp.upload_full_url.as_deref().filter(|u| !u.is_empty()) {
        match Url::parse(full) {
            Ok(url) => assert_eq!(got.unwrap(), url),
            Err(_) => assert!(got.is_err(), "an unparseable upload_full_url was accepted"),
        }
        return;
    }
    match resp.upload_param.as_deref().filter(|p| !p.is_empty()) {
        Some(param) => {
            let url = got.unwrap_or_else(|e| panic!("upload_url({param:?}): {e}"));
            under_cdn(client, &url, "upload");
            assert_eq!(
                pairs(&url),
                vec![
                    ("encrypted_query_param".to_string(), param.to_string()),
                    ("filekey".to_string(), filekey.to_string()),
                ]
            );
        }
        None => assert!(
            got.is_err(),
            "no upload_full_url and no upload_param, yet a URL"
        ),
    }
}

fn check_item_key(item: &MessageItem) {
    let got = item_key(item);
    let image_key = item
        .image_item
        .as_ref()
        .filter(|_| item.kind() == Some(ItemType::Image))
        .and_then(|i| i.aeskey.as_deref())
        .filter(|k| !k.trim().is_empty());
    let media_key = item
        .media()
        .and_then(|m| m.aes_key.as_deref())
        .filter(|k| !k.trim().is_empty());
    match image_key.or(media_key) {
        None => assert!(matches!(got, Ok(None)), "no key text, yet {got:?}"),
        Some(text) => match AesKey::parse(text) {
            Ok(key) => assert_eq!(got.unwrap(), Some(key)),
            Err(_) => assert!(got.is_err(), "a key text that does not parse was accepted"),
        },
    }
    if let Some(media) = item.media() {
        for client in clients() {
            check_download(client, media);
        }
    }
}

fn from<T: serde::de::DeserializeOwned + Default>(v: Option<&Value>) -> T {
    v.and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default()
}

fuzz_target!(|data: &[u8]| {
    let (component, media, upload, filekey, item) = match serde_json::from_slice::<Value>(data) {
        Ok(Value::Object(map)) => (
            map.get("component")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string(),
            from::<CdnMedia>(map.get("media")),
            from::<GetUploadUrlResponse>(map.get("upload")),
            map.get("filekey")
                .and_then(Value::as_str)
                .unwrap_or("00112233445566778899aabbccddeeff")
                .to_string(),
            from::<MessageItem>(map.get("item")),
        ),
        _ => {
            let s = String::from_utf8_lossy(data).into_owned();
            let media = CdnMedia {
                encrypt_query_param: Some(s.clone()),
                full_url: Some(s.clone()),
                ..Default::default()
            };
            let upload = GetUploadUrlResponse {
                upload_param: Some(s.clone()),
                ..Default::default()
            };
            (s.clone(), media, upload, s, MessageItem::default())
        }
    };

    check_component(&component);
    check_component(&filekey);
    for client in clients() {
        check_download(client, &media);
        // The same param without a full_url: the built URL.
        let built = CdnMedia {
            full_url: None,
            ..media.clone()
        };
        check_download(client, &built);
        check_upload(client, &upload, &filekey);
        let built = GetUploadUrlResponse {
            upload_full_url: None,
            ..upload.clone()
        };
        check_upload(client, &built, &filekey);
    }
    check_item_key(&item);
});
