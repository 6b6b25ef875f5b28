//! Messages and their items: what `getupdates` returns and `sendmessage` sends (spec §7).

use serde::{Deserialize, Serialize};

use super::Extra;
use crate::lenient;

/// Item types of `MessageItem.type` (spec §7.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ItemType {
    /// `1` text.
    Text,
    /// `2` image.
    Image,
    /// `3` voice.
    Voice,
    /// `4` file.
    File,
    /// `5` video.
    Video,
    /// `11` tool call started (openclaw ≥ 2.4.4, outbound only).
    ToolCallStart,
    /// `12` tool call result.
    ToolCallResult,
}

impl ItemType {
    /// The wire number of this type.
    pub fn code(self) -> i64 {
        match self {
            ItemType::Text => 1,
            ItemType::Image => 2,
            ItemType::Voice => 3,
            ItemType::File => 4,
            ItemType::Video => 5,
            ItemType::ToolCallStart => 11,
            ItemType::ToolCallResult => 12,
        }
    }

    /// The type for a wire number; `None` for numbers the protocol does not define.
    pub fn from_code(code: i64) -> Option<Self> {
        Some(match code {
            1 => ItemType::Text,
            2 => ItemType::Image,
            3 => ItemType::Voice,
            4 => ItemType::File,
            5 => ItemType::Video,
            11 => ItemType::ToolCallStart,
            12 => ItemType::ToolCallResult,
            _ => return None,
        })
    }

    /// Lower-case name used in logs and JSON we emit (`text`, `image`, …).
    pub fn name(self) -> &'static str {
        match self {
            ItemType::Text => "text",
            ItemType::Image => "image",
            ItemType::Voice => "voice",
            ItemType::File => "file",
            ItemType::Video => "video",
            ItemType::ToolCallStart => "tool_call_start",
            ItemType::ToolCallResult => "tool_call_result",
        }
    }
}

/// One message as delivered by `getupdates` or sent by `sendmessage` (spec §7.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WeixinMessage {
    /// Sequence number within the bot's stream.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub seq: Option<i64>,
    /// Server message id (uint64, often above 2^53).
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_id: Option<u64>,
    /// Sender (`…@im.wechat` for users; `""` on outbound).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub from_user_id: Option<String>,
    /// Recipient (`…@im.bot` on inbound; the user on outbound).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_user_id: Option<String>,
    /// Client-generated id (outbound).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub client_id: Option<String>,
    /// Creation time, ms since the epoch.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time_ms: Option<i64>,
    /// Update time, ms.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time_ms: Option<i64>,
    /// Deletion time, ms.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub delete_time_ms: Option<i64>,
    /// Opaque conversation id.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub session_id: Option<String>,
    /// Group id (in the schema; groups are not delivered in practice).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub group_id: Option<String>,
    /// `1` user, `2` bot.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_type: Option<i64>,
    /// `0` new, `1` generating, `2` finish.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_state: Option<i64>,
    /// Content items.
    #[serde(default, with = "lenient::list", skip_serializing_if = "Vec::is_empty")]
    pub item_list: Vec<MessageItem>,
    /// Conversation context to echo in replies (spec §8).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub context_token: Option<String>,
    /// Reply-run id (openclaw ≥ 2.4.4).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub run_id: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// One content item of a message (spec §7.2).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MessageItem {
    /// Item type number; see [`ItemType`].
    #[serde(
        rename = "type",
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub item_type: Option<i64>,
    /// Item creation time, ms.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub create_time_ms: Option<i64>,
    /// Item update time, ms.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub update_time_ms: Option<i64>,
    /// Whether the item is complete.
    #[serde(
        default,
        with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub is_completed: Option<bool>,
    /// Item-level id (uint64 as a string).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub msg_id: Option<String>,
    /// Quoted message.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub ref_msg: Option<Box<RefMessage>>,
    /// Payload of a text item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub text_item: Option<TextItem>,
    /// Payload of an image item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub image_item: Option<ImageItem>,
    /// Payload of a voice item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub voice_item: Option<VoiceItem>,
    /// Payload of a file item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_item: Option<FileItem>,
    /// Payload of a video item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_item: Option<VideoItem>,
    /// Payload of a tool-call-start item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_call_start_item: Option<ToolCallItem>,
    /// Payload of a tool-call-result item.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_call_result_item: Option<ToolCallItem>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

impl MessageItem {
    /// The item's type, if it is one the protocol defines.
    pub fn kind(&self) -> Option<ItemType> {
        self.item_type.and_then(ItemType::from_code)
    }

    /// A text item.
    pub fn text(text: impl Into<String>) -> Self {
        MessageItem {
            item_type: Some(ItemType::Text.code()),
            text_item: Some(TextItem {
                text: Some(text.into()),
                extra: Extra::new(),
            }),
            ..Default::default()
        }
    }

    /// The CDN reference of a media item (image, voice, file or video), if any.
    pub fn media(&self) -> Option<&CdnMedia> {
        match self.kind()? {
            ItemType::Image => self.image_item.as_ref()?.media.as_ref(),
            ItemType::Voice => self.voice_item.as_ref()?.media.as_ref(),
            ItemType::File => self.file_item.as_ref()?.media.as_ref(),
            ItemType::Video => self.video_item.as_ref()?.media.as_ref(),
            _ => None,
        }
    }
}

/// `text_item`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TextItem {
    /// The text.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A CDN reference (spec §7.4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CdnMedia {
    /// Opaque download parameter.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub encrypt_query_param: Option<String>,
    /// The AES key, base64 of the raw key (form B) or of its hex text (form D).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub aes_key: Option<String>,
    /// `0` or `1`; outbound always `1`.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub encrypt_type: Option<i64>,
    /// Complete download URL supplied by the server; preferred over building one.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub full_url: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `image_item` (spec §7.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImageItem {
    /// The image.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub media: Option<CdnMedia>,
    /// The thumbnail.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_media: Option<CdnMedia>,
    /// The raw key as 32 hex chars (form H); preferred for decryption.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub aeskey: Option<String>,
    /// Optional URL (unused by clients).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub url: Option<String>,
    /// Size of the mid image (outbound: ciphertext size).
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub mid_size: Option<u64>,
    /// Thumbnail size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_size: Option<u64>,
    /// Thumbnail width in pixels.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_width: Option<u64>,
    /// Thumbnail height in pixels.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_height: Option<u64>,
    /// HD image size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub hd_size: Option<u64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `voice_item` (spec §7.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VoiceItem {
    /// The audio.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub media: Option<CdnMedia>,
    /// Codec: 1 pcm, 2 adpcm, 3 feature, 4 speex, 5 amr, 6 silk, 7 mp3, 8 ogg-speex.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub encode_type: Option<i64>,
    /// Bit depth.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub bits_per_sample: Option<i64>,
    /// Sample rate in Hz.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub sample_rate: Option<i64>,
    /// Duration in milliseconds.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub playtime: Option<i64>,
    /// Server speech-to-text transcript.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub text: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `file_item` (spec §7.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FileItem {
    /// The file.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub media: Option<CdnMedia>,
    /// Display name.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub file_name: Option<String>,
    /// Plaintext MD5, hex.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub md5: Option<String>,
    /// Plaintext size as a decimal string (a number is accepted too).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub len: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `video_item` (spec §7.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VideoItem {
    /// The video.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub media: Option<CdnMedia>,
    /// Size (outbound: ciphertext size).
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_size: Option<u64>,
    /// Play length (unit undocumented).
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub play_length: Option<i64>,
    /// Video MD5.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub video_md5: Option<String>,
    /// Thumbnail.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_media: Option<CdnMedia>,
    /// Thumbnail size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_size: Option<u64>,
    /// Thumbnail height.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_height: Option<u64>,
    /// Thumbnail width.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_width: Option<u64>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `tool_call_start_item` / `tool_call_result_item` (spec §7.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCallItem {
    /// Tool name.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_name: Option<String>,
    /// Tool call id.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub tool_call_id: Option<String>,
    /// Result status: `completed`, `failed`, `blocked`, `unknown`.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// A quoted message (`ref_msg`, spec §7.5).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RefMessage {
    /// The quoted item, when the client sent it.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub message_item: Option<MessageItem>,
    /// Summary text.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub title: Option<String>,
    /// Server id of the quoted message (uint64 as a string).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub svr_id: Option<String>,
    /// The quoted substring, when only part was quoted.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub partial_text: Option<PartialText>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ref_msg.partial_text`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct PartialText {
    /// Text at the start of the selection.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub start: Option<String>,
    /// Text at the end of the selection.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub end: Option<String>,
    /// Occurrence index of `start`.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub startindex: Option<i64>,
    /// Occurrence index of `end`.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub endindex: Option<i64>,
    /// MD5 of the selected substring.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub quotemd5: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
