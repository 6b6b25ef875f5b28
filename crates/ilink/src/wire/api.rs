//! The request and response bodies of every endpoint, and the status fields every response
//! may carry (spec §3.7).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::{BaseInfo, Extra, WeixinMessage};
use crate::lenient;

/// Fields every response may carry: `ret`, `errcode`, `errmsg` (spec §3.7).
pub trait ApiStatus {
    /// `ret`, `0` or absent on success.
    fn ret(&self) -> Option<i64>;
    /// `errcode`, absent on success.
    fn errcode(&self) -> Option<i64>;
    /// `errmsg`.
    fn errmsg(&self) -> Option<&str>;
}

macro_rules! response {
    ($(#[$meta:meta])* pub struct $name:ident { $($(#[$fmeta:meta])* pub $field:ident : $ty:ty,)* }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
        pub struct $name {
            /// `0` on success.
            #[serde(default, with = "lenient::int", skip_serializing_if = "Option::is_none")]
            pub ret: Option<i64>,
            /// Application error code (e.g. `-14`).
            #[serde(default, with = "lenient::int", skip_serializing_if = "Option::is_none")]
            pub errcode: Option<i64>,
            /// Error text.
            #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
            pub errmsg: Option<String>,
            $($(#[$fmeta])* pub $field: $ty,)*
            /// Unknown fields.
            #[serde(flatten)]
            pub extra: Extra,
        }

        impl ApiStatus for $name {
            fn ret(&self) -> Option<i64> { self.ret }
            fn errcode(&self) -> Option<i64> { self.errcode }
            fn errmsg(&self) -> Option<&str> { self.errmsg.as_deref() }
        }
    };
}

response! {
    /// A response that carries nothing but the status (`sendtyping`, `notifystart`, …).
    pub struct StatusResponse {}
}

/// Body of `POST get_bot_qrcode` (spec §5.1 variant A). No `base_info`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct QrCodeRequest {
    /// Recently issued local bot tokens, newest first (at most 10).
    #[serde(default, with = "lenient::list")]
    pub local_token_list: Vec<String>,
}

response! {
    /// Answer of `get_bot_qrcode`.
    pub struct QrCodeResponse {
        /// Handle to poll with.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub qrcode: Option<String>,
        /// Text to render as the QR (a URL).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub qrcode_img_content: Option<String>,
    }
}

response! {
    /// Answer of `get_qrcode_status` (spec §5.2).
    pub struct QrStatusResponse {
        /// One of the eight statuses of spec §5.3.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub status: Option<String>,
        /// Bearer token (`confirmed`).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub bot_token: Option<String>,
        /// Bot account id (`confirmed`).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub ilink_bot_id: Option<String>,
        /// The WeChat user who scanned (`confirmed`).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub ilink_user_id: Option<String>,
        /// API base URL for later calls (`confirmed`).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub baseurl: Option<String>,
        /// Host to continue polling at (`scaned_but_redirect`).
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub redirect_host: Option<String>,
    }
}

/// Body of `getupdates` (spec §6.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetUpdatesRequest {
    /// The cursor; `""` on the first call.
    #[serde(default, with = "lenient::string_or_empty")]
    pub get_updates_buf: String,
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields (e.g. the deprecated `sync_buf`).
    #[serde(flatten)]
    pub extra: Extra,
}

response! {
    /// Answer of `getupdates` (spec §6.2). Messages stay raw JSON here so that one message the
    /// model cannot read never costs the rest of the batch; see [`crate::Received`].
    pub struct GetUpdatesResponse {
        /// New messages.
        #[serde(default, with = "lenient::list", skip_serializing_if = "Vec::is_empty")]
        pub msgs: Vec<Value>,
        /// The cursor to send next time.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub get_updates_buf: Option<String>,
        /// Deprecated duplicate of the cursor.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub sync_buf: Option<String>,
        /// Server-suggested client timeout for the next poll.
        #[serde(default, with = "lenient::int", skip_serializing_if = "Option::is_none")]
        pub longpolling_timeout_ms: Option<u64>,
    }
}

/// Body of `sendmessage` (spec §9.1).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendMessageRequest {
    /// The message; exactly one item.
    #[serde(default)]
    pub msg: WeixinMessage,
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

response! {
    /// Answer of `sendmessage` (spec §9.3).
    pub struct SendMessageResponse {
        /// Server id of the sent message, when returned.
        #[serde(default, with = "lenient::int", skip_serializing_if = "Option::is_none")]
        pub message_id: Option<u64>,
    }
}

/// Body of `getuploadurl` (spec §10.3).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetUploadUrlRequest {
    /// 32 hex chars, client-generated.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub filekey: Option<String>,
    /// Upload type: 1 image, 2 video, 3 file, 4 voice.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub media_type: Option<i64>,
    /// Recipient.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub to_user_id: Option<String>,
    /// Plaintext size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub rawsize: Option<u64>,
    /// Plaintext MD5, hex.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub rawfilemd5: Option<String>,
    /// Ciphertext size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub filesize: Option<u64>,
    /// Thumbnail plaintext size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_rawsize: Option<u64>,
    /// Thumbnail MD5.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_rawfilemd5: Option<String>,
    /// Thumbnail ciphertext size.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub thumb_filesize: Option<u64>,
    /// `true`: no thumbnail upload wanted.
    #[serde(
        default,
        with = "lenient::boolean",
        skip_serializing_if = "Option::is_none"
    )]
    pub no_need_thumb: Option<bool>,
    /// The key as hex (form H).
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub aeskey: Option<String>,
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

response! {
    /// Answer of `getuploadurl`.
    pub struct GetUploadUrlResponse {
        /// Complete CDN upload URL; preferred.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub upload_full_url: Option<String>,
        /// Parameter to build the upload URL from.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub upload_param: Option<String>,
        /// Thumbnail parameter.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub thumb_upload_param: Option<String>,
    }
}

/// Body of `getconfig` (spec §11).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GetConfigRequest {
    /// The user.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ilink_user_id: Option<String>,
    /// The user's latest context token, optional.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub context_token: Option<String>,
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

response! {
    /// Answer of `getconfig`.
    pub struct GetConfigResponse {
        /// Ticket for `sendtyping`.
        #[serde(default, with = "lenient::string", skip_serializing_if = "Option::is_none")]
        pub typing_ticket: Option<String>,
    }
}

/// Body of `sendtyping` (spec §11).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SendTypingRequest {
    /// The user.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub ilink_user_id: Option<String>,
    /// Ticket from `getconfig`.
    #[serde(
        default,
        with = "lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub typing_ticket: Option<String>,
    /// `1` typing, `2` cancel.
    #[serde(
        default,
        with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub status: Option<i64>,
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}

/// Body of `msg/notifystart` and `msg/notifystop` (spec §12).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct NotifyRequest {
    /// Client description.
    #[serde(
        default,
        with = "lenient::object",
        skip_serializing_if = "Option::is_none"
    )]
    pub base_info: Option<BaseInfo>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
