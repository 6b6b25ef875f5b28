//! The iLink wire model: every request and response body as serde types.
//!
//! Rules that hold for every type here (spec §3.8, §17):
//! - every field is optional and defaults when absent or `null`;
//! - unknown fields are kept in `extra` and written back out unchanged;
//! - integers are accepted as JSON numbers *or* decimal strings, and u64 ids above 2^53 keep
//!   every digit (`message_id`, `msg_id`, `svr_id`);
//! - `file_item.len` is a decimal string on the wire and is accepted as a number too.
//!
//! Outbound bodies leave out absent fields, so what we send is exactly what we set.
//!
//! - `message`: messages and their items (text, image, voice, file, video, …);
//! - `api`: the request and response bodies of every endpoint.
//!
//! Both are re-exported here: `wire::WeixinMessage`, `wire::GetUpdatesRequest`, ….

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

mod api;
mod message;
#[cfg(test)]
mod tests;

pub use api::*;
pub use message::*;

/// Unknown fields of a wire object, kept for forward compatibility and written back verbatim.
pub type Extra = Map<String, Value>;

/// `message_type` of a user's message (inbound).
pub const MESSAGE_TYPE_USER: i64 = 1;
/// `message_type` of a bot's message (outbound).
pub const MESSAGE_TYPE_BOT: i64 = 2;
/// `message_state` FINISH: the only state any client sends.
pub const MESSAGE_STATE_FINISH: i64 = 2;

/// `base_info` carried at the top level of every authenticated POST body (spec §3.6).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct BaseInfo {
    /// Client version, e.g. `"0.1.0"`.
    #[serde(
        default,
        with = "crate::lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub channel_version: Option<String>,
    /// UA-style self description, e.g. `"wxlink/0.1.0"`.
    #[serde(
        default,
        with = "crate::lenient::string",
        skip_serializing_if = "Option::is_none"
    )]
    pub bot_agent: Option<String>,
    /// Unknown fields.
    #[serde(flatten)]
    pub extra: Extra,
}
