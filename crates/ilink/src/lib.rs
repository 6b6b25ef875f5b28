//! # ilink — a client for WeChat's iLink Bot API
//!
//! iLink is Tencent's official bot channel for personal WeChat: a bot logs in by QR code,
//! long-polls `getupdates` for the messages users send it, replies with `sendmessage` using the
//! `context_token` each inbound message carries, and moves media through an AES-128-ECB
//! encrypted CDN. This crate speaks all of it, and nothing else: it knows no storage, no MCP,
//! no CLI.
//!
//! ```no_run
//! # async fn demo() -> ilink::Result<()> {
//! use ilink::{Client, Config, LoginEvent, LoginFlow, LoginOptions};
//!
//! let client = Client::new(Config::default())?;
//! let mut login = LoginFlow::start(&client, LoginOptions::default()).await?;
//! println!("scan: {}", login.qr().content);
//! let credentials = loop {
//!     match login.poll().await? {
//!         LoginEvent::Confirmed(c) => break c,
//!         LoginEvent::NewQr(qr, _) => println!("new QR: {}", qr.content),
//!         _ => {}
//!     }
//! };
//! let bot = client.bot(credentials);
//! bot.notify_start().await?;
//! let mut cursor = String::new();
//! let mut wait = None;
//! loop {
//!     let updates = bot.get_updates(&cursor, wait).await?;
//!     for received in &updates.messages {
//!         if let Ok(msg) = &received.message {
//!             let from = msg.from_user_id.as_deref().unwrap_or_default();
//!             bot.send_text(from, "got it", msg.context_token.as_deref()).await?;
//!         }
//!     }
//!     cursor = updates.cursor;
//!     wait = updates.next_timeout;
//! }
//! # }
//! ```
//!
//! Module map: [`wire`] (every body as serde types), [`json`] (repairing what the server writes
//! before parsing), [`updates`] (`getupdates` answers, message by message), [`client`] (HTTP,
//! headers, errors, bot endpoints), [`login`] (QR flow), [`media`] (upload, download),
//! [`plaintext`] (what an upload reads; files streamed), [`progress`] (byte progress of those),
//! [`crypto`] (AES, key forms), [`config`] (hosts, timeouts, backoff), [`error`].

#![warn(missing_docs)]

pub mod client;
pub mod config;
pub mod crypto;
pub mod error;
pub mod json;
mod lenient;
pub mod login;
pub mod media;
pub mod plaintext;
pub mod progress;
pub mod updates;
pub mod wire;

pub use client::{new_client_id, wechat_uin, Bot, Client, Credentials, SendReceipt, TypingStatus};
pub use config::{BackoffPolicy, Config, Timeouts};
pub use crypto::{AesKey, CryptoError};
pub use error::{Error, Result};
pub use login::{LoginEvent, LoginFlow, LoginOptions, QrCode, QrRenewal, QrStatus};
pub use media::{encode_uri_component, item_key, MediaKind, UploadedMedia};
pub use plaintext::Plaintext;
pub use progress::{Progress, Transfer};
pub use updates::{parse_updates, Received, Updates, UpdatesReply};
pub use wire::{ItemType, MessageItem, WeixinMessage};
