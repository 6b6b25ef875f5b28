//! A gRPC client for a **Wechaty Puppet Service** (`wechaty.Puppet`, npm `wechaty-grpc` 1.5.2):
//! the protocol that `wechaty-puppet-service` and `wechaty gateway` serve in front of any
//! Wechaty puppet (PadLocal, WorkPro, ...). It knows nothing of storage, MCP or the wxlink
//! application.
//!
//! ```no_run
//! # async fn demo() -> wechaty::Result<()> {
//! use futures_util::StreamExt;
//! use wechaty::{Client, Config, MatchMode, ContactField, PuppetEvent};
//!
//! let client = Client::connect(Config::new("127.0.0.1:8788", "insecure_<uuid>")).await?;
//! let mut events = client.events()?;          // one stream; reconnects by itself
//! while let Some(ev) = events.next().await {
//!     match ev {
//!         PuppetEvent::Ready => break,
//!         PuppetEvent::Scan { qrcode, .. } => println!("scan {qrcode:?}"),
//!         _ => {}
//!     }
//! }
//! let found = client.find_contacts("张三", ContactField::NameOrAlias, MatchMode::Exact).await?;
//! if let [one] = found.as_slice() {
//!     client.send_text(&one.id, "你好").await?;
//! }
//! # Ok(()) }
//! ```
//!
//! Modules, each owning one concern:
//! - [`config`]: endpoint, token, TLS, timeouts, the reconnect [`Backoff`].
//! - [`error`]: [`Error`] and the classification of gRPC statuses and transport failures.
//! - `transport` (private): the tonic channel and the `authorization` interceptor.
//! - [`client`]: [`Client`], every call (contacts, rooms, members, messages, sends, files).
//! - [`stream`]: [`EventStream`], the one supervised event stream with reconnect.
//! - [`event`]: [`PuppetEvent`] and its lenient decoding, [`LoginState`].
//! - [`cache`]: the dirty-aware payload cache ([`CacheStats`]).
//! - [`find`]: client-side search ([`MatchMode`], [`ContactField`]).
//! - [`contact`], [`room`], [`message`], [`filebox`]: the payload types.
//! - `proto` (private): the generated protobuf code of `proto/`.
//!
//! Wire facts this crate relies on are in the project's research notes; the important ones:
//! message types use wechaty-puppet's numbering (7 = Text, see [`MessageType`]); the service
//! allows one event stream at a time; there is no server-side search; rustls refuses the
//! service's built-in TLS certificate ([`Error::InsecureBuiltinCertificate`]).

#![warn(missing_docs)]

pub mod cache;
pub mod client;
pub mod config;
pub mod contact;
pub mod error;
pub mod event;
pub mod filebox;
pub mod find;
pub mod message;
mod proto;
pub mod room;
pub mod stream;
mod transport;

pub use cache::CacheStats;
pub use client::{Client, DownloadedFile};
pub use config::{token_server_name, Backoff, Config, TlsConfig};
pub use contact::{Contact, ContactType, Gender};
pub use error::{Error, Result};
pub use event::{LoginState, PayloadType, PuppetEvent, ScanStatus};
pub use filebox::FileBox;
pub use find::{ContactField, MatchMode};
pub use message::{ImageType, Message, MessageType};
#[doc(hidden)] // the wire payload a `Message` is made from, for the fuzz targets (fuzz/)
pub use proto::wechaty::puppet::MessagePayloadResponse;
pub use room::{Room, RoomMember};
pub use stream::EventStream;
