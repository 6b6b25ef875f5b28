//! Messages: payloads, sends (text, mentions, files), uploads and downloads.

use futures_util::stream;

use super::{require, Client};
use crate::error::{Error, Result};
use crate::filebox::FileBox;
use crate::message::{ImageType, Message};
use crate::proto::wechaty::puppet as pb;

/// Chunk size of `Upload`.
const UPLOAD_CHUNK: usize = 64 * 1024;
/// Largest file `download` collects in memory.
const MAX_DOWNLOAD: usize = 512 * 1024 * 1024;

/// A file fetched from a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DownloadedFile {
    /// The file name the service gave (may be empty).
    pub name: String,
    /// The bytes.
    pub bytes: Vec<u8>,
}

impl Client {
    /// A message's payload (after a [`PuppetEvent::Message`](crate::event::PuppetEvent::Message)).
    pub async fn message(&self, id: &str) -> Result<Message> {
        require("message id", id)?;
        let req = pb::MessagePayloadRequest { id: id.to_owned() };
        let p = self
            .call("MessagePayload", "message", id, |mut c| async move {
                c.message_payload(req).await
            })
            .await?;
        let mut m = Message::from(p);
        if m.id.is_empty() {
            m.id = id.to_owned();
        }
        Ok(m)
    }

    /// Sends text to a contact or a room (`conversation_id`). Returns the new message's id if
    /// the puppet gives one.
    pub async fn send_text(&self, conversation_id: &str, text: &str) -> Result<Option<String>> {
        self.send_text_mentioning(conversation_id, text, &[]).await
    }

    /// Sends text to a room, @-mentioning `mention_ids` (the text should contain the `@names`
    /// too, as WeChat shows them).
    pub async fn send_text_mentioning(
        &self,
        conversation_id: &str,
        text: &str,
        mention_ids: &[String],
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        let req = pb::MessageSendTextRequest {
            conversation_id: conversation_id.to_owned(),
            text: text.to_owned(),
            mentional_ids: mention_ids.to_vec(),
        };
        let r = self
            .call(
                "MessageSendText",
                "conversation",
                conversation_id,
                |mut c| async move { c.message_send_text(req).await },
            )
            .await?;
        Ok((!r.id.is_empty()).then_some(r.id))
    }

    /// Sends a file (an image if the name says so, e.g. `.png`) to a contact or room. Files up
    /// to [`Config::inline_file_limit`](crate::config::Config::inline_file_limit) go inline as a Base64 FileBox, larger ones through
    /// `Upload` as a UUID FileBox.
    pub async fn send_file(
        &self,
        conversation_id: &str,
        name: &str,
        bytes: Vec<u8>,
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        require("file name", name)?;
        let file_box = if bytes.len() <= self.inner.config.inline_file_limit {
            FileBox::from_bytes(name, &bytes)
        } else {
            let size = bytes.len() as u64;
            let uuid = self.upload(bytes).await?;
            FileBox::Uuid {
                name: name.to_owned(),
                uuid,
                size: Some(size),
            }
        };
        self.send_file_box(conversation_id, &file_box).await
    }

    /// Sends a FileBox as it is (e.g. a URL box) to a contact or room.
    pub async fn send_file_box(
        &self,
        conversation_id: &str,
        file_box: &FileBox,
    ) -> Result<Option<String>> {
        require("conversation id", conversation_id)?;
        let req = pb::MessageSendFileRequest {
            conversation_id: conversation_id.to_owned(),
            file_box: file_box.to_json(),
        };
        let after = self.inner.config.transfer_timeout;
        let call = async move { self.rpc().message_send_file(req).await };
        match tokio::time::timeout(after, call).await {
            Err(_) => Err(Error::Timeout {
                what: "MessageSendFile".into(),
                after,
            }),
            Ok(Err(status)) => Err(Error::from_status(
                "MessageSendFile",
                "conversation",
                conversation_id,
                &status,
            )),
            Ok(Ok(r)) => {
                let id = r.into_inner().id;
                Ok((!id.is_empty()).then_some(id))
            }
        }
    }

    /// Uploads bytes to the service; returns the UUID for a [`FileBox::Uuid`].
    pub async fn upload(&self, bytes: Vec<u8>) -> Result<String> {
        let chunks: Vec<Vec<u8>> = bytes.chunks(UPLOAD_CHUNK).map(<[u8]>::to_vec).collect();
        drop(bytes);
        self.upload_stream(stream::iter(chunks)).await
    }

    /// Uploads what `chunks` yields with `Upload`, piece by piece (the file is never whole in
    /// memory); the file id, for a [`FileBox::Uuid`].
    pub async fn upload_stream<S>(&self, chunks: S) -> Result<String>
    where
        S: futures_util::Stream<Item = Vec<u8>> + Send + 'static,
    {
        use futures_util::StreamExt as _;
        let requests = chunks.map(|chunk| pb::UploadRequest { chunk });
        let after = self.inner.config.transfer_timeout;
        let call = async move { self.rpc().upload(requests).await };
        match tokio::time::timeout(after, call).await {
            Err(_) => Err(Error::Timeout {
                what: "Upload".into(),
                after,
            }),
            Ok(Err(status)) => Err(Error::from_status("Upload", "file", "", &status)),
            Ok(Ok(r)) => {
                let id = r.into_inner().id;
                if id.is_empty() {
                    Err(Error::Malformed {
                        what: "Upload response".into(),
                        message: "no file id".into(),
                    })
                } else {
                    Ok(id)
                }
            }
        }
    }

    /// The file of an attachment, image, video, audio or emoticon message, as the service
    /// describes it (fetch the bytes with [`Client::file_bytes`]).
    pub async fn message_file(&self, message_id: &str) -> Result<FileBox> {
        require("message id", message_id)?;
        let req = pb::MessageFileRequest {
            id: message_id.to_owned(),
        };
        let r = self
            .call(
                "MessageFile",
                "message file",
                message_id,
                |mut c| async move { c.message_file(req).await },
            )
            .await?;
        FileBox::from_json(&r.file_box)
    }

    /// An image message's picture in the given rendition.
    pub async fn message_image(&self, message_id: &str, kind: ImageType) -> Result<FileBox> {
        require("message id", message_id)?;
        let req = pb::MessageImageRequest {
            id: message_id.to_owned(),
            r#type: kind.to_wire(),
        };
        let r = self
            .call(
                "MessageImage",
                "message image",
                message_id,
                |mut c| async move { c.message_image(req).await },
            )
            .await?;
        FileBox::from_json(&r.file_box)
    }

    /// Downloads a file the service keeps (a [`FileBox::Uuid`]'s `uuid`).
    pub async fn download(&self, uuid: &str) -> Result<Vec<u8>> {
        require("file uuid", uuid)?;
        let after = self.inner.config.transfer_timeout;
        let req = pb::DownloadRequest {
            id: uuid.to_owned(),
        };
        let fetch = async move {
            let mut stream = self
                .rpc()
                .download(req)
                .await
                .map_err(|s| Error::from_status("Download", "file", uuid, &s))?
                .into_inner();
            let mut out = Vec::new();
            while let Some(chunk) = stream
                .message()
                .await
                .map_err(|s| Error::from_status("Download", "file", uuid, &s))?
            {
                if out.len() + chunk.chunk.len() > MAX_DOWNLOAD {
                    return Err(Error::Unsupported(format!(
                        "file {uuid} is larger than {MAX_DOWNLOAD} bytes"
                    )));
                }
                out.extend_from_slice(&chunk.chunk);
            }
            Ok(out)
        };
        match tokio::time::timeout(after, fetch).await {
            Err(_) => Err(Error::Timeout {
                what: "Download".into(),
                after,
            }),
            Ok(r) => r,
        }
    }

    /// The bytes of a FileBox: decoded inline Base64, or downloaded by UUID. URL and QR code
    /// boxes are [`Error::Unsupported`] (the URL is in the error: fetch it with an HTTP client).
    pub async fn file_bytes(&self, file_box: &FileBox) -> Result<Vec<u8>> {
        match file_box {
            FileBox::Base64 { base64, .. } => crate::filebox::decode_base64(base64),
            FileBox::Uuid { uuid, .. } => self.download(uuid).await,
            FileBox::Url { url, .. } => Err(Error::Unsupported(format!(
                "a FileBox of type URL must be fetched over HTTP: {url}"
            ))),
            FileBox::QrCode { .. } => Err(Error::Unsupported(
                "a FileBox of type QR code has no file to fetch".into(),
            )),
            FileBox::Other { box_type, .. } => {
                Err(Error::Unsupported(format!("a FileBox of type {box_type}")))
            }
        }
    }

    /// [`Client::message_file`] then [`Client::file_bytes`].
    pub async fn download_message_file(&self, message_id: &str) -> Result<DownloadedFile> {
        let file_box = self.message_file(message_id).await?;
        let bytes = self.file_bytes(&file_box).await?;
        Ok(DownloadedFile {
            name: file_box.name().unwrap_or_default().to_owned(),
            bytes,
        })
    }
}
