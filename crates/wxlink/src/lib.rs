//! wxlink: lets AI agents use WeChat. The binary (`main.rs`) is a thin shell over this library,
//! whose layout follows the data:
//!
//! ```text
//! upstream backends ──► normalize ──► store ──► service ──► frontends
//! (iLink, Wechaty)                              (rules)     (CLI, MCP, REST, admin panel)
//! ```
//!
//! - [`model`]: the shared vocabulary — backend kinds, statuses, directions, [`model::Secret`],
//!   [`model::Items`] (a message's items as JSON text).
//! - [`error`]: [`error::AppError`] and its kinds (one exit code, MCP text and HTTP status each).
//! - [`store`]: the durable store — the async [`store::Store`] trait, its behaviour suite, and
//!   the SQLite implementation.
//! - [`upstream`]: the [`upstream::Upstream`] trait and its backends, `ilink` and `wechaty`:
//!   login, listening, sending, media, contacts, each normalizing into store rows.
//! - [`coord`]: who listens to which account (one listener per account across processes and,
//!   on PostgreSQL, hosts): leases, which a shared store can lose.
//! - [`service`]: THE rules — inbox, send and routing, typing, download, sessions and logins,
//!   contacts, background listeners, events and change feeds. Every frontend calls only this.
//! - [`mcp`]: the MCP frontend — handler, tools, resources, stdio transport.
//! - [`rest`]: the REST frontend — `/api/v1` resources, problem+json errors, the OpenAPI
//!   document generated from the handlers, the event stream.
//! - [`admin`]: the admin panel — its embedded web pages and the browser sign-in.
//! - [`http`]: the HTTP server — guard (token or sign-in cookie, Host, Origin), `/health`,
//!   `/mcp`, `/sse`, and the routes of [`rest`] and [`admin`].
//! - [`cli`]: the command line, one module per subcommand.
//! - [`paths`], [`timefmt`], [`transfer`], [`views`], [`qr`]: the data directory, time
//!   formats, byte progress of transfers, the JSON shapes every frontend emits, the login QR as
//!   PNG and SVG.
//!
//! `docs/ARCHITECTURE.md` has the same map with the invariants and the data flow.

pub mod admin;
pub mod cli;
pub mod coord;
pub mod error;
pub mod http;
pub mod mcp;
pub mod model;
pub mod paths;
pub mod qr;
pub mod rest;
pub mod service;
pub mod store;
pub mod timefmt;
pub mod transfer;
pub mod upstream;
pub mod views;
