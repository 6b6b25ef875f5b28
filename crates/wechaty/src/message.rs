//! Messages: the [`Message`] payload and [`MessageType`] with the numbering that really travels
//! on the wire (wechaty-puppet's TypeScript enum, where 7 is Text — not the proto's names).

use crate::contact::non_empty;
use crate::proto::wechaty::puppet as pb;

/// One message, sent or received by the bot's account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// The message id.
    pub id: String,
    /// Text, image, file, ...
    pub kind: MessageType,
    /// The text (for non-text messages the puppet may put a description or XML here).
    pub text: String,
    /// File name of an attachment, image, video or audio, if any.
    pub filename: Option<String>,
    /// Who sent it (contact id). For messages the bot sent, the bot's id.
    pub talker_id: Option<String>,
    /// The room it was said in; `None` for a one-to-one message.
    pub room_id: Option<String>,
    /// The receiver of a one-to-one message (contact id); usually `None` in rooms.
    pub listener_id: Option<String>,
    /// Contact ids @-mentioned in a room message.
    pub mention_ids: Vec<String>,
    /// When the service received it, in milliseconds since the Unix epoch.
    pub timestamp_ms: Option<i64>,
}

impl Message {
    /// Whether it was said in a room.
    pub fn is_room(&self) -> bool {
        self.room_id.is_some()
    }

    /// The conversation to answer in: the room, or else the other party of a one-to-one
    /// message as seen by the bot `self_id` (the talker, or the listener if the bot talked).
    pub fn conversation_id(&self, self_id: Option<&str>) -> Option<&str> {
        if let Some(room) = self.room_id.as_deref() {
            return Some(room);
        }
        match (self.talker_id.as_deref(), self_id) {
            (Some(talker), Some(me)) if talker == me => self.listener_id.as_deref(),
            (Some(talker), _) => Some(talker),
            (None, _) => self.listener_id.as_deref(),
        }
    }

    /// Whether `contact_id` is @-mentioned.
    pub fn mentions(&self, contact_id: &str) -> bool {
        self.mention_ids.iter().any(|m| m == contact_id)
    }
}

impl From<pb::MessagePayloadResponse> for Message {
    fn from(p: pb::MessagePayloadResponse) -> Message {
        let from_receive_time = p.receive_time.and_then(|t| {
            t.seconds
                .checked_mul(1000)
                .and_then(|ms| ms.checked_add(i64::from(t.nanos) / 1_000_000))
        });
        let deprecated = i64::try_from(p.timestamp_deprecated)
            .ok()
            .filter(|ms| *ms > 0);
        Message {
            id: p.id,
            kind: MessageType::from_wire(p.r#type),
            text: p.text,
            filename: non_empty(p.filename),
            talker_id: non_empty(p.talker_id),
            room_id: non_empty(p.room_id),
            listener_id: non_empty(p.listener_id),
            mention_ids: p
                .mention_ids
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect(),
            timestamp_ms: from_receive_time.filter(|ms| *ms > 0).or(deprecated),
        }
    }
}

/// The kind of a message, numbered as in wechaty-puppet's `MessageType` (the numbers the
/// service really sends; see wechaty/grpc#65).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MessageType {
    /// 1: a file.
    Attachment,
    /// 2: a voice message.
    Audio,
    /// 3: a contact card.
    Contact,
    /// 4: forwarded chat history.
    ChatHistory,
    /// 5: a sticker.
    Emoticon,
    /// 6: an image.
    Image,
    /// 7: text.
    Text,
    /// 8: a location.
    Location,
    /// 9: a mini program.
    MiniProgram,
    /// 10: a group note.
    GroupNote,
    /// 11: a money transfer.
    Transfer,
    /// 12: a red envelope.
    RedEnvelope,
    /// 13: a recalled message.
    Recalled,
    /// 14: a link.
    Url,
    /// 15: a video.
    Video,
    /// 16: a post (moments).
    Post,
    /// 0 (unknown) or a number this crate does not know.
    Unknown(i32),
}

impl MessageType {
    /// From the number on the wire.
    pub fn from_wire(n: i32) -> MessageType {
        use MessageType::*;
        match n {
            1 => Attachment,
            2 => Audio,
            3 => Contact,
            4 => ChatHistory,
            5 => Emoticon,
            6 => Image,
            7 => Text,
            8 => Location,
            9 => MiniProgram,
            10 => GroupNote,
            11 => Transfer,
            12 => RedEnvelope,
            13 => Recalled,
            14 => Url,
            15 => Video,
            16 => Post,
            n => Unknown(n),
        }
    }

    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        use MessageType::*;
        match self {
            Attachment => 1,
            Audio => 2,
            Contact => 3,
            ChatHistory => 4,
            Emoticon => 5,
            Image => 6,
            Text => 7,
            Location => 8,
            MiniProgram => 9,
            GroupNote => 10,
            Transfer => 11,
            RedEnvelope => 12,
            Recalled => 13,
            Url => 14,
            Video => 15,
            Post => 16,
            Unknown(n) => n,
        }
    }

    /// A lowercase name: `text`, `image`, `attachment`, ..., `unknown`.
    pub fn name(self) -> &'static str {
        use MessageType::*;
        match self {
            Attachment => "attachment",
            Audio => "audio",
            Contact => "contact",
            ChatHistory => "chat_history",
            Emoticon => "emoticon",
            Image => "image",
            Text => "text",
            Location => "location",
            MiniProgram => "mini_program",
            GroupNote => "group_note",
            Transfer => "transfer",
            RedEnvelope => "red_envelope",
            Recalled => "recalled",
            Url => "url",
            Video => "video",
            Post => "post",
            Unknown(_) => "unknown",
        }
    }

    /// Whether [`Client::message_file`](crate::Client::message_file) can fetch a file for it.
    pub fn has_file(self) -> bool {
        matches!(
            self,
            MessageType::Attachment
                | MessageType::Audio
                | MessageType::Emoticon
                | MessageType::Image
                | MessageType::Video
        )
    }
}

/// Which rendition of an image message to fetch (wechaty-puppet `ImageType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum ImageType {
    /// 1: a small preview.
    Thumbnail,
    /// 2: high definition.
    #[default]
    Hd,
    /// 3: the original.
    Artwork,
}

impl ImageType {
    /// The number on the wire.
    pub fn to_wire(self) -> i32 {
        match self {
            ImageType::Thumbnail => 1,
            ImageType::Hd => 2,
            ImageType::Artwork => 3,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_numbers_round_trip() {
        for n in -2..40 {
            assert_eq!(MessageType::from_wire(n).to_wire(), n);
        }
        assert_eq!(MessageType::from_wire(7), MessageType::Text);
        assert_eq!(MessageType::from_wire(6), MessageType::Image);
        assert_eq!(MessageType::from_wire(0), MessageType::Unknown(0));
    }

    #[test]
    fn payload_conversion() {
        let p = pb::MessagePayloadResponse {
            id: "m".into(),
            r#type: 7,
            talker_id: "a".into(),
            room_id: String::new(),
            listener_id: "bot".into(),
            timestamp_deprecated: 1_700_000_000_123,
            receive_time: Some(prost_types::Timestamp {
                seconds: 1_700_000_000,
                nanos: 123_000_000,
            }),
            ..Default::default()
        };
        let m = Message::from(p);
        assert_eq!(m.kind, MessageType::Text);
        assert_eq!(m.timestamp_ms, Some(1_700_000_000_123));
        assert_eq!(m.room_id, None);
        assert_eq!(m.conversation_id(Some("bot")), Some("a"));
        let p = pb::MessagePayloadResponse {
            receive_time: Some(prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: -5,
            }),
            ..Default::default()
        };
        assert_eq!(Message::from(p).timestamp_ms, None);
    }
}
