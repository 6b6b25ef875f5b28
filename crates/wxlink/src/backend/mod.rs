//! Upstream backends: how each one's messages become stored messages and how sends go out.
//! - [`ilink`]: iLink Bot API messages (one-to-one chats with users who wrote to the bot).
//! - [`wechaty`]: Wechaty Puppet Service messages (contacts and group chats).

pub mod ilink;
pub mod wechaty;
