//! wxlink: lets AI agents use WeChat. The binary is a thin shell over this library; see
//! `docs/ARCHITECTURE.md` for the map.
//!
//! - [`app`]: the shared context (data directory, store, upstream client, events).
//! - [`store`]: the durable store (sessions, cursors, context tokens, messages, consumers).
//! - [`backend`]: upstream messages ↔ stored messages.
//! - [`poller`]: background long polling, one poller per account across processes.
//! - [`inbox`], [`send`], [`download`], [`login`], [`contacts`]: what frontends call.
//! - [`transfer`]: byte progress of uploads and downloads, for whoever draws it.
//! - [`views`]: the JSON shapes we emit.
//! - [`mcp`]: the MCP server (tools, resources, stdio transport).
//! - [`cli`]: the command line, one module per subcommand.

pub mod app;
pub mod backend;
pub mod cli;
pub mod contacts;
pub mod download;
pub mod error;
pub mod inbox;
pub mod login;
pub mod mcp;
pub mod paths;
pub mod poller;
pub mod send;
pub mod store;
pub mod timefmt;
pub mod transfer;
pub mod views;
