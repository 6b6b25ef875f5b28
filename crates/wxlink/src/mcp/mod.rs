//! The MCP frontend: how AI agents (Claude Code, Codex, Cursor, any MCP client) use WeChat. A
//! thin adapter over [`Service`]: tool arguments in, service calls, structured results and
//! agent-worded errors out. It holds no message state of its own, so every transport and every
//! process sharing the data directory see the same inbox.
//!
//! - [`server`]: [`WxlinkMcp`], the handler of one connection — tools, resources with legacy and
//!   2026-07-28 subscriptions, completions, the instructions agents read.
//! - [`channel`]: the Claude Code channel (`--channel`): new messages pushed as
//!   `notifications/claude/channel`, tool approvals relayed to WeChat.
//! - [`notify`]: one loop from the service's change feed to a connection's notifications.
//! - [`tools`]: the tools, one file per group (messages, sessions, contacts, Wechaty-MCP-SSE's),
//!   and which of them a connection lists ([`ToolSurface`]).
//! - [`types`], [`wechaty_types`]: parameters and results (their docs are the schemas'
//!   descriptions); [`schema`] makes those schemas portable.
//! - [`params`]: WeiLink's argument spellings; errors worded for agents.
//! - [`login`]: the `login` tool over the service's pending logins.
//! - [`resources`]: `wxlink://inbox`, `wxlink://conversation/{user_id}`.
//! - [`rendered`]: structured answers serialized once, written as objects by the transport.
//! - [`stdio`]: `wxlink mcp` over stdin/stdout. The HTTP transports (`/mcp`, `/sse`) are served
//!   by [`crate::http`] with a [`HandlerFactory`].

pub mod channel;
pub mod jsonrpc;
pub mod login;
mod notify;
pub mod params;
pub mod rendered;
pub mod resources;
pub mod schema;
pub mod server;
pub mod stdio;
pub mod tools;
pub mod types;
pub mod wechaty_types;

use std::sync::Arc;

use crate::service::Service;

pub use server::{WxlinkMcp, INSTRUCTIONS};
pub use tools::{ToolMode, ToolSurface};

/// Where a client connection came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoint {
    /// stdin/stdout.
    Stdio,
    /// Streamable HTTP on `/mcp`.
    Streamable,
    /// Legacy HTTP+SSE on `/sse`.
    Sse,
}

/// Makes the MCP handler of each client connection (the HTTP server calls it per session).
pub trait HandlerFactory: Clone + Send + Sync + 'static {
    /// The handler.
    type Handler: rmcp::ServerHandler;
    /// A handler for one connection that came in at `endpoint`.
    fn handler(&self, endpoint: Endpoint) -> Self::Handler;
}

/// Makes [`WxlinkMcp`] handlers over one service.
#[derive(Debug, Clone)]
pub struct WxlinkFactory {
    service: Arc<Service>,
    tools: ToolMode,
    sse_compat: bool,
    channel: Option<channel::ChannelOptions>,
}

impl WxlinkFactory {
    /// Handlers over `service`, listing tools as `tools` says. With `sse_compat` (`-t sse`), a
    /// connection to `/sse` is served as Wechaty-MCP-SSE served it: every tool, aliases too.
    pub fn new(service: Arc<Service>, tools: ToolMode, sse_compat: bool) -> Self {
        WxlinkFactory {
            service,
            tools,
            sse_compat,
            channel: None,
        }
    }

    /// Handlers that are Claude Code channels (`wxlink mcp --channel`).
    pub fn with_channel(mut self, options: channel::ChannelOptions) -> Self {
        self.channel = Some(options);
        self
    }

    /// The tool surface of a connection at `endpoint`.
    pub fn surface(&self, endpoint: Endpoint) -> ToolSurface {
        if self.sse_compat && endpoint == Endpoint::Sse && self.tools == ToolMode::Auto {
            return ToolSurface::new(ToolMode::All);
        }
        ToolSurface::new(self.tools)
    }
}

impl HandlerFactory for WxlinkFactory {
    type Handler = WxlinkMcp;

    fn handler(&self, endpoint: Endpoint) -> WxlinkMcp {
        let handler = WxlinkMcp::new(self.service.clone(), self.surface(endpoint));
        // stdio and legacy SSE write their messages with `rendered::encode`.
        let handler = match endpoint {
            Endpoint::Stdio | Endpoint::Sse => handler.with_rendered_answers(),
            Endpoint::Streamable => handler,
        };
        match &self.channel {
            Some(options) => handler.with_channel(channel::Channel::new(options.clone())),
            None => handler,
        }
    }
}
