//! Media transfer (spec §10): encrypt and upload outbound media (`getuploadurl`, then a CDN POST
//! with retries on 5xx only, reading `x-encrypted-param`), build the outbound item, and download
//! and decrypt inbound media via `full_url` or the URL built from `encrypt_query_param`.
//!
//! A file is uploaded without ever being whole in memory: see [`crate::plaintext`].

use bytes::Bytes;
use futures_util::StreamExt;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use url::Url;

use crate::client::{Bot, Client, SendReceipt};
use crate::crypto::{padded_size, random_filekey, AesKey};
use crate::error::{snippet, Error, Result};
use crate::plaintext::{encrypted_file_body, file_error, Plaintext};
use crate::progress::{Progress, Transfer};
use crate::wire::*;

/// JavaScript `encodeURIComponent`: everything but `A–Z a–z 0–9 - _ . ! ~ * ' ( )` is escaped.
const URI_COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'!')
    .remove(b'~')
    .remove(b'*')
    .remove(b'\'')
    .remove(b'(')
    .remove(b')');

/// Percent-encodes a query value the way every iLink client does (`encodeURIComponent`).
pub fn encode_uri_component(s: &str) -> String {
    utf8_percent_encode(s, URI_COMPONENT).to_string()
}

/// The kind of an outbound media upload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// An image (upload type 1, item type 2).
    Image,
    /// A video (upload type 2, item type 5).
    Video,
    /// A file (upload type 3, item type 4).
    File,
    /// A voice clip (upload type 4, item type 3). WeChat does not render these as voice bubbles
    /// (spec §9.2); send audio as a file for it to be playable.
    Voice,
}

impl MediaKind {
    /// `media_type` of `getuploadurl` (spec §10.3 — not the item type).
    pub fn upload_type(self) -> i64 {
        match self {
            MediaKind::Image => 1,
            MediaKind::Video => 2,
            MediaKind::File => 3,
            MediaKind::Voice => 4,
        }
    }

    /// The item type the media goes out as.
    pub fn item_type(self) -> ItemType {
        match self {
            MediaKind::Image => ItemType::Image,
            MediaKind::Video => ItemType::Video,
            MediaKind::File => ItemType::File,
            MediaKind::Voice => ItemType::Voice,
        }
    }
}

/// A file uploaded to the CDN, ready to be referenced by `sendmessage` (and reusable for further
/// sends to the same user).
#[derive(Debug, Clone)]
pub struct UploadedMedia {
    /// What it is.
    pub kind: MediaKind,
    /// `filekey` used for the upload.
    pub filekey: String,
    /// `x-encrypted-param` from the CDN: the download parameter.
    pub download_param: String,
    /// The AES key.
    pub key: AesKey,
    /// Plaintext size.
    pub plain_size: u64,
    /// Ciphertext size.
    pub cipher_size: u64,
    /// Plaintext MD5, hex.
    pub md5: String,
}

impl UploadedMedia {
    /// The outbound item of spec §9.2 for this upload. `file_name` is used by files only.
    pub fn to_item(&self, file_name: &str) -> MessageItem {
        let media = Some(CdnMedia {
            encrypt_query_param: Some(self.download_param.clone()),
            aes_key: Some(self.key.to_base64_hex()),
            encrypt_type: Some(1),
            ..Default::default()
        });
        let mut item = MessageItem {
            item_type: Some(self.kind.item_type().code()),
            ..Default::default()
        };
        match self.kind {
            MediaKind::Image => {
                item.image_item = Some(ImageItem {
                    media,
                    mid_size: Some(self.cipher_size),
                    ..Default::default()
                })
            }
            MediaKind::Video => {
                item.video_item = Some(VideoItem {
                    media,
                    video_size: Some(self.cipher_size),
                    ..Default::default()
                })
            }
            MediaKind::File => {
                item.file_item = Some(FileItem {
                    media,
                    file_name: Some(file_name.to_string()),
                    len: Some(self.plain_size.to_string()),
                    ..Default::default()
                })
            }
            MediaKind::Voice => {
                item.voice_item = Some(VoiceItem {
                    media,
                    ..Default::default()
                })
            }
        }
        item
    }
}

impl Bot {
    /// Encrypts `data` with a fresh key and uploads it for `to` (spec §10.3 steps 1–2).
    pub async fn upload(&self, to: &str, kind: MediaKind, data: &[u8]) -> Result<UploadedMedia> {
        self.upload_with_progress(to, kind, data, &Progress::none())
            .await
    }

    /// [`Bot::upload`], reporting the ciphertext bytes sent to the CDN to `progress`.
    pub async fn upload_with_progress(
        &self,
        to: &str,
        kind: MediaKind,
        data: &[u8],
        progress: &Progress,
    ) -> Result<UploadedMedia> {
        let plain = Plaintext::Bytes(Bytes::copy_from_slice(data));
        self.upload_plaintext(to, kind, plain, progress).await
    }

    /// Uploads `plain` for `to` with a fresh key, reporting the ciphertext bytes sent to
    /// `progress`. A file is streamed: read, encrypted and sent piece by piece.
    pub async fn upload_plaintext(
        &self,
        to: &str,
        kind: MediaKind,
        plain: Plaintext,
        progress: &Progress,
    ) -> Result<UploadedMedia> {
        let key = AesKey::random();
        let filekey = random_filekey();
        let plain_size = plain.len();
        let cipher_size = padded_size(plain_size);
        let md5 = plain.md5().await?;
        let resp = self
            .get_upload_url(GetUploadUrlRequest {
                filekey: Some(filekey.clone()),
                media_type: Some(kind.upload_type()),
                to_user_id: Some(to.to_string()),
                rawsize: Some(plain_size),
                rawfilemd5: Some(md5.clone()),
                filesize: Some(cipher_size),
                no_need_thumb: Some(true),
                aeskey: Some(key.to_hex()),
                ..Default::default()
            })
            .await?;
        let url = self.client().upload_url(&resp, &filekey)?;
        let download_param = match &plain {
            Plaintext::Bytes(data) => {
                let cipher = Bytes::from(key.encrypt(data));
                self.client()
                    .upload_to_cdn_with_progress(url, cipher, progress)
                    .await?
            }
            Plaintext::File { file, len } => {
                let body = || encrypted_file_body(file.clone(), *len, key, progress.clone());
                self.client().post_to_cdn(url, cipher_size, body).await?
            }
        };
        Ok(UploadedMedia {
            kind,
            filekey,
            download_param,
            key,
            plain_size,
            cipher_size,
            md5,
        })
    }

    /// Uploads `data` and sends it to `to` as one message (spec §10.3 step 3).
    pub async fn send_media(
        &self,
        to: &str,
        kind: MediaKind,
        data: &[u8],
        file_name: &str,
        context_token: Option<&str>,
    ) -> Result<(UploadedMedia, SendReceipt)> {
        let uploaded = self.upload(to, kind, data).await?;
        let receipt = self
            .send_item(to, uploaded.to_item(file_name), context_token)
            .await?;
        Ok((uploaded, receipt))
    }
}

impl Client {
    /// `upload_full_url` when given, else `<cdn>/upload?encrypted_query_param=…&filekey=…`.
    #[doc(hidden)] // public for the fuzz targets (fuzz/)
    pub fn upload_url(&self, resp: &GetUploadUrlResponse, filekey: &str) -> Result<Url> {
        if let Some(full) = resp.upload_full_url.as_deref().filter(|u| !u.is_empty()) {
            return Url::parse(full).map_err(|e| Error::Api {
                endpoint: "ilink/bot/getuploadurl",
                ret: resp.ret,
                errcode: resp.errcode,
                errmsg: format!("upload_full_url {full:?} is not a URL: {e}"),
            });
        }
        let Some(param) = resp.upload_param.as_deref().filter(|p| !p.is_empty()) else {
            return Err(Error::Api {
                endpoint: "ilink/bot/getuploadurl",
                ret: resp.ret,
                errcode: resp.errcode,
                errmsg: "the answer has neither upload_full_url nor upload_param".into(),
            });
        };
        self.cdn_url(&format!(
            "upload?encrypted_query_param={}&filekey={}",
            encode_uri_component(param),
            encode_uri_component(filekey)
        ))
    }

    fn cdn_url(&self, relative: &str) -> Result<Url> {
        let base = crate::config::with_trailing_slash(self.config().cdn_base.clone());
        base.join(relative)
            .map_err(|e| Error::InvalidInput(format!("bad CDN base {base}: {e}")))
    }

    /// POSTs a ciphertext to the CDN and returns `x-encrypted-param`. Retries network errors, 5xx
    /// and a missing header up to `cdn_upload_attempts` in total; a 4xx fails at once.
    pub async fn upload_to_cdn(&self, url: Url, cipher: Bytes) -> Result<String> {
        self.upload_to_cdn_with_progress(url, cipher, &Progress::none())
            .await
    }

    /// [`Client::upload_to_cdn`], reporting the bytes handed to the connection to `progress`
    /// (each attempt starts again from zero).
    pub async fn upload_to_cdn_with_progress(
        &self,
        url: Url,
        cipher: Bytes,
        progress: &Progress,
    ) -> Result<String> {
        let len = cipher.len() as u64;
        self.post_to_cdn(url, len, || {
            body_with_progress(cipher.clone(), progress.clone())
        })
        .await
    }

    /// POSTs `len` ciphertext bytes, a fresh body from `body` for each attempt, and returns
    /// `x-encrypted-param`.
    async fn post_to_cdn(
        &self,
        url: Url,
        len: u64,
        body: impl Fn() -> reqwest::Body,
    ) -> Result<String> {
        let attempts = self.config().cdn_upload_attempts.max(1);
        let mut last_err = None;
        for attempt in 1..=attempts {
            if attempt > 1 {
                tokio::time::sleep(self.config().cdn_retry_pause).await;
            }
            let sent = self
                .http()
                .post(url.clone())
                .header(CONTENT_TYPE, "application/octet-stream")
                .header(CONTENT_LENGTH, len)
                .timeout(self.config().timeouts.cdn_upload)
                .body(body())
                .send()
                .await;
            let resp = match sent {
                Ok(r) => r,
                Err(e) if file_error(&e).is_some() => {
                    // The file could not be read: trying again will not help.
                    let source = file_error(&e).map_or_else(
                        || std::io::Error::other("read failed"),
                        |io| std::io::Error::new(io.kind(), io.to_string()),
                    );
                    return Err(Error::ReadFile(source));
                }
                Err(e) => {
                    tracing::debug!(attempt, error = %e, "CDN upload failed; retrying");
                    last_err = Some(cdn_transport("cdn upload", &url, e, self));
                    continue;
                }
            };
            let status = resp.status();
            let header = |name: &str| {
                resp.headers()
                    .get(name)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string)
            };
            if status.is_client_error() {
                let message = match header("x-error-message") {
                    Some(m) => m,
                    None => snippet(&resp.bytes().await.unwrap_or_default()),
                };
                return Err(Error::Cdn {
                    op: "upload",
                    status: status.as_u16(),
                    message,
                });
            }
            if status.as_u16() != 200 {
                tracing::debug!(attempt, %status, "CDN upload answered an error; retrying");
                last_err = Some(Error::HttpStatus {
                    endpoint: "cdn upload",
                    status: status.as_u16(),
                    body: header("x-error-message").unwrap_or_default(),
                });
                continue;
            }
            match header("x-encrypted-param").filter(|p| !p.is_empty()) {
                Some(param) => return Ok(param),
                None => {
                    tracing::debug!(attempt, "CDN upload answered 200 without x-encrypted-param");
                    last_err = Some(Error::CdnMissingParam { attempts });
                }
            }
        }
        Err(last_err.unwrap_or(Error::CdnMissingParam { attempts }))
    }

    /// The URL a media reference downloads from: `full_url`, else
    /// `<cdn>/download?encrypted_query_param=…`.
    pub fn download_url(&self, media: &CdnMedia) -> Result<Url> {
        if let Some(full) = media.full_url.as_deref().filter(|u| !u.trim().is_empty()) {
            if let Ok(url) = Url::parse(full.trim()) {
                return Ok(url);
            }
        }
        let param = media
            .encrypt_query_param
            .as_deref()
            .filter(|p| !p.is_empty())
            .ok_or_else(|| {
                Error::InvalidInput(
                    "the media has neither full_url nor encrypt_query_param to download from"
                        .into(),
                )
            })?;
        self.cdn_url(&format!(
            "download?encrypted_query_param={}",
            encode_uri_component(param)
        ))
    }

    /// Downloads and decrypts the media of an inbound item (image, voice, file or video).
    /// Images prefer `image_item.aeskey`; an image with no key at all is taken as plaintext.
    pub async fn download_item(&self, item: &MessageItem) -> Result<Vec<u8>> {
        self.download_item_with_progress(item, &Progress::none())
            .await
    }

    /// [`Client::download_item`], reporting the ciphertext bytes received to `progress`.
    pub async fn download_item_with_progress(
        &self,
        item: &MessageItem,
        progress: &Progress,
    ) -> Result<Vec<u8>> {
        let media = item.media().ok_or_else(|| {
            Error::InvalidInput(format!(
                "item of type {:?} carries no media to download",
                item.item_type
            ))
        })?;
        let key = item_key(item)?;
        if key.is_none() && item.kind() != Some(ItemType::Image) {
            return Err(Error::InvalidInput(
                "the media has no aes_key, so it cannot be decrypted".into(),
            ));
        }
        let cipher = self.fetch_cdn(&self.download_url(media)?, progress).await?;
        match key {
            Some(key) => Ok(key.decrypt(&cipher)?),
            None => Ok(cipher.to_vec()),
        }
    }

    async fn fetch_cdn(&self, url: &Url, progress: &Progress) -> Result<Vec<u8>> {
        let max = self.config().max_download_bytes;
        let mut resp = self
            .http()
            .get(url.clone())
            .timeout(self.config().timeouts.cdn_download)
            .send()
            .await
            .map_err(|e| cdn_transport("cdn download", url, e, self))?;
        let status = resp.status();
        if !status.is_success() {
            let message = resp
                .headers()
                .get("x-error-message")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string);
            let message = match message {
                Some(m) => m,
                None => snippet(&resp.bytes().await.unwrap_or_default()),
            };
            return Err(Error::Cdn {
                op: "download",
                status: status.as_u16(),
                message,
            });
        }
        let too_big = || {
            Error::InvalidInput(format!(
                "the media is larger than the {max}-byte download limit"
            ))
        };
        let total = resp.content_length();
        if total.is_some_and(|n| n > max) {
            return Err(too_big());
        }
        // Read chunk by chunk: progress can be shown, and a body without a length that runs
        // past the limit is cut off as soon as it does, not after it filled memory.
        let capacity = total.unwrap_or(0).min(max);
        let mut body = Vec::with_capacity(usize::try_from(capacity).unwrap_or(0));
        progress.report(Transfer { done: 0, total });
        while let Some(chunk) = resp
            .chunk()
            .await
            .map_err(|e| cdn_transport("cdn download", url, e, self))?
        {
            if (body.len() + chunk.len()) as u64 > max {
                return Err(too_big());
            }
            body.extend_from_slice(&chunk);
            progress.report(Transfer {
                done: body.len() as u64,
                total,
            });
        }
        Ok(body)
    }
}

/// The key that decrypts an inbound item: `image_item.aeskey` for images, else `media.aes_key`.
/// `Ok(None)` when the item has no key at all.
pub fn item_key(item: &MessageItem) -> Result<Option<AesKey>> {
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
        Some(text) => Ok(Some(AesKey::parse(text)?)),
        None => Ok(None),
    }
}

fn cdn_transport(endpoint: &'static str, url: &Url, e: reqwest::Error, client: &Client) -> Error {
    if e.is_timeout() {
        let t = &client.config().timeouts;
        let secs = if endpoint == "cdn upload" {
            t.cdn_upload
        } else {
            t.cdn_download
        };
        Error::Timeout {
            endpoint,
            secs: secs.as_secs_f64(),
        }
    } else {
        Error::Transport {
            endpoint,
            url: url
                .as_str()
                .split('?')
                .next()
                .unwrap_or_default()
                .to_string(),
            source: e,
        }
    }
}

/// Size of the pieces an upload body is handed to the connection in, and so the granularity of
/// upload progress.
const UPLOAD_CHUNK: usize = 64 * 1024;

/// `cipher` as a streamed request body that reports each piece to `progress` as the connection
/// takes it. The pieces are slices of one buffer: nothing is copied.
fn body_with_progress(cipher: Bytes, progress: Progress) -> reqwest::Body {
    let total = cipher.len() as u64;
    progress.report(Transfer {
        done: 0,
        total: Some(total),
    });
    let pieces = (0..cipher.len())
        .step_by(UPLOAD_CHUNK)
        .map(move |start| cipher.slice(start..(start + UPLOAD_CHUNK).min(cipher.len())));
    let mut done = 0u64;
    let stream = futures_util::stream::iter(pieces).map(move |piece| {
        done += piece.len() as u64;
        progress.report(Transfer {
            done,
            total: Some(total),
        });
        Ok::<_, std::convert::Infallible>(piece)
    });
    reqwest::Body::wrap_stream(stream)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_component_matches_javascript() {
        assert_eq!(encode_uri_component("ab+/cd=="), "ab%2B%2Fcd%3D%3D");
        assert_eq!(encode_uri_component("a b-_.!~*'()"), "a%20b-_.!~*'()");
    }

    #[test]
    fn outbound_file_item_matches_the_worked_example() {
        let up = UploadedMedia {
            kind: MediaKind::File,
            filekey: "f".repeat(32),
            download_param: "<DL>".into(),
            key: AesKey::parse("00112233445566778899aabbccddeeff").unwrap(),
            plain_size: 11,
            cipher_size: 16,
            md5: "a0e581bef9105ace19c7d2e59e66374d".into(),
        };
        let v = serde_json::to_value(up.to_item("hello.txt")).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"type":4,"file_item":{"media":{"encrypt_query_param":"<DL>",
                "aes_key":"MDAxMTIyMzM0NDU1NjY3Nzg4OTlhYWJiY2NkZGVlZmY=","encrypt_type":1},
                "file_name":"hello.txt","len":"11"}})
        );
        let img = UploadedMedia {
            kind: MediaKind::Image,
            ..up.clone()
        };
        assert_eq!(
            serde_json::to_value(img.to_item(""))
                .unwrap()
                .pointer("/image_item/mid_size"),
            Some(&serde_json::json!(16))
        );
        let vid = UploadedMedia {
            kind: MediaKind::Video,
            ..up
        };
        assert_eq!(
            serde_json::to_value(vid.to_item(""))
                .unwrap()
                .pointer("/video_item/video_size"),
            Some(&serde_json::json!(16))
        );
    }

    #[test]
    fn image_key_wins_over_media_key() {
        let item: MessageItem = serde_json::from_value(serde_json::json!({"type": 2,
            "image_item": {"aeskey": "00112233445566778899aabbccddeeff",
                "media": {"aes_key": "AAECAwQFBgcICQoLDA0ODw=="}}}))
        .unwrap();
        assert_eq!(
            item_key(&item).unwrap().unwrap().to_hex(),
            "00112233445566778899aabbccddeeff"
        );
        let keyless: MessageItem =
            serde_json::from_value(serde_json::json!({"type": 2, "image_item": {"media": {}}}))
                .unwrap();
        assert!(item_key(&keyless).unwrap().is_none());
    }
}
