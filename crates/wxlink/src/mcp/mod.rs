//! The MCP server: how AI agents (Claude Code, Codex, Cursor, any MCP client) use WeChat
//! through wxlink.
//!
//! - [`server`]: [`WxlinkMcp`], the handler — tools (`recv`, `send`, `download`, `history`,
//!   `sessions`, `login`, `logout`, `rename_session`, `set_default` as in WeiLink, plus
//!   `typing` and `contacts`), resources (`wxlink://inbox`, `wxlink://conversation/{user_id}`)
//!   with legacy and 2026-07-28 subscriptions, and the instructions agents read.
//! - [`stdio`]: `wxlink mcp` over stdin/stdout, with background polling.
//! - [`http`]: `wxlink mcp -t http|streamable-http|sse`: Streamable HTTP on `/mcp`, legacy
//!   HTTP+SSE on `/sse` ([`sse`]) and `/health` on one port, with Host/Origin/token checks.
//! - [`types`]: parameters and results (their docs are the schemas' descriptions).
//! - [`params`]: WeiLink's argument spellings, and errors worded for agents.
//! - [`login`]: the stateful QR login behind the `login` tool.
//! - [`wechaty`], [`wechaty_types`]: Wechaty-MCP-SSE's tools (`findFriend`, `findRoomByTopic`,
//!   `sendMessageToFriend…`, `sendMessageToRoom…`) and `getRoomMembers`, with its texts.
//! - [`wechaty_login`]: the `login` tool's Wechaty backend (the puppet's QR across calls).
//! - [`resources`]: resource URIs, contents and change detection.
//! - [`qr`]: the login QR code as PNG.
//! - `conformance` (feature `conformance-fixtures` only): the official conformance suite's
//!   fixture tools, resources and prompts, behind `wxlink mcp --conformance-fixtures`.
//!
//! The handler only calls the engine ([`crate::inbox`], [`crate::send`], [`crate::download`],
//! the store, [`crate::login`]); it holds no message state of its own, so every transport and
//! every process sharing the data directory see the same inbox.

#[cfg(feature = "conformance-fixtures")]
pub mod conformance;
pub mod http;
pub mod login;
pub mod params;
pub mod qr;
pub mod resources;
pub mod server;
pub mod sse;
pub mod stdio;
pub mod types;
pub mod wechaty;
pub mod wechaty_login;
pub mod wechaty_types;

pub use server::{Shared, WxlinkMcp, INSTRUCTIONS};
