//! [`WxlinkMcp`]: the MCP server handler — WeiLink's nine tools with the same names, parameters
//! and defaults, plus `typing` and `contacts`, and Wechaty-MCP-SSE's tools (in
//! [`super::wechaty`], a second `#[tool_router]` merged here); the inbox and conversation
//! resources with subscriptions, and the instructions an agent reads first.
//!
//! Every tool here answers structured JSON (`structuredContent`, with the same JSON as text)
//! that matches its `outputSchema` (the Wechaty tools keep Wechaty-MCP-SSE's texts instead);
//! failures are tool errors (`isError: true`) whose text says what to do next. One value serves
//! one client connection; [`Shared`] holds what every client of the process shares (the pending
//! QR logins, iLink and Wechaty, and typing tickets).
//!
//! Utilities: `logging/setLevel` (before 2026-07-28, which removed it), `completion/complete` for
//! the conversation template's `user_id`; no prompts (`prompts/*` is "method not found"); an
//! unknown resource is "resource not found" with the URI in `data` (SEP-2164). With the
//! `conformance-fixtures` feature, `#[cfg]` hooks add the fixtures of `mcp::conformance`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex, MutexGuard};
use std::time::{Duration, Instant};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResult, CompleteRequestParams, CompleteResult, CompletionInfo, ContentBlock,
    GetPromptRequestParams, GetPromptResponse, Implementation, ListPromptsResult,
    ListResourceTemplatesResult, ListResourcesResult, PaginatedRequestParams, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, Reference,
    ResourceUpdatedNotificationParam, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, UnsubscribeRequestParams,
};
// Logging is deprecated by the 2026-07-28 spec (SEP-2577) but part of 2025-11-25.
#[allow(deprecated)]
use rmcp::model::{LoggingLevel, SetLevelRequestParams};
use rmcp::service::{RequestContext, SubscriptionContext, SubscriptionSendError};
use rmcp::{tool, tool_handler, tool_router, ErrorData, Json, Peer, RoleServer, ServerHandler};
use serde::Serialize;
use serde_json::json;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use super::login::{self as mcp_login, LoginSlot, Progress};
use super::params::{self, given, local_path, wait};
use super::qr;
use super::resources::{self, ChangeSignal, Subscriptions, Target};
use super::types::*;
use super::wechaty_login::{self, WechatyLoginSlot};
use crate::app::{App, AppEvent};
use crate::error::{AppError, AppResult};
use crate::poller::is_polled;
use crate::send::SendRequest;
use crate::store::{
    ContextRecord, SessionStatus, StoreError, DEFAULT_CONSUMER, SEND_QUOTA_PER_TOKEN,
};
use crate::timefmt::{iso, now_ms};
use crate::{download, inbox, send};

/// What an agent reads before anything else (`instructions` of the initialize / discover
/// result).
pub const INSTRUCTIONS: &str = "\
wxlink connects you to WeChat through WeChat's official iLink bot API: users write to the bot \
account, you read their messages and answer.

1. Log in once: call `sessions`; if none is connected, call `login`. It returns a QR code (an \
image and `qr_url`): show it to the user and ask them to scan it with WeChat, then call `login` \
again — each call waits up to `timeout` seconds — until the status is `confirmed`. If the \
status is `need_verifycode`, ask the user for the number on their phone and pass it as \
`verify_code`. If it is `expired`, show the new QR code.
2. Read: `recv` waits up to `timeout` seconds and returns as soon as messages arrive (each \
message once per `consumer`). A message's `user` is who to answer; its `id` is what `download` \
takes for images, voice, files and videos.
3. Answer: `send(to=<user>, text=...)`, optionally with image_path / file_path / video_path / \
voice_path (files on this machine). A bot can only answer users who wrote to it, and each \
message a user sends allows at most 10 replies (one per text or file); `contacts` shows the \
replies left. Texts longer than 16 KiB must be split. `typing` shows \"typing…\" while you work.
4. Look back: `history` searches every stored message (Chinese words inside sentences work); \
the resources wxlink://inbox and wxlink://conversation/{user_id} show recent messages and can \
be subscribed to.
5. Contacts by name and group chats need a Wechaty session (a Wechaty Puppet Service; iLink \
carries no group chats): `login` with backend=\"wechaty\", endpoint and token. Then \
findFriend(nickname) and findRoomByTopic(topic) look people and groups up (nickname or remark; \
fuzzy=true matches parts of names), sendMessageToFriend(nickname, message) and \
sendMessageToRoom(topic, message) send by name — when several match, nothing is sent and the \
numbered candidates come back: call again with `index`, or use sendMessageToFriendByWxId / \
sendMessageToRoomByWxId — and getRoomMembers lists a group. file_path sends a file. Group \
messages in recv and history carry room_id (answer there) and speaker (who wrote).
Errors explain what to do next (log in, wait for the user to write, fix a path).";

/// How long a typing ticket (`getconfig`) is reused.
const TICKET_TTL: Duration = Duration::from_secs(24 * 3600);
/// A context token older than this is reported stale by `contacts`.
const STALE_MS: i64 = 24 * 3600 * 1000;
/// How often a legacy subscription watcher checks that its client is still connected.
const PEER_CHECK: Duration = Duration::from_secs(2);

/// State shared by every client connection of one process.
#[derive(Debug, Default)]
pub struct Shared {
    login: LoginSlot,
    wechaty_login: WechatyLoginSlot,
    typing_tickets: StdMutex<HashMap<(String, String), (String, Instant)>>,
}

impl Shared {
    /// Fresh shared state.
    pub fn new() -> Arc<Shared> {
        Arc::new(Shared::default())
    }

    fn tickets(&self) -> MutexGuard<'_, HashMap<(String, String), (String, Instant)>> {
        self.typing_tickets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Legacy (`resources/subscribe`) subscriptions of one connection and their watcher.
#[derive(Debug, Default)]
struct LegacySubscriptions {
    subs: Subscriptions,
    watcher: Option<JoinHandle<()>>,
}

/// The MCP server for one client connection.
#[derive(Clone)]
pub struct WxlinkMcp {
    pub(super) app: Arc<App>,
    shared: Arc<Shared>,
    legacy: Arc<StdMutex<LegacySubscriptions>>,
    /// The level of `logging/setLevel` (sessions before 2026-07-28), `None` until set.
    #[allow(deprecated)]
    log_level: Arc<StdMutex<Option<LoggingLevel>>>,
    tool_router: ToolRouter<Self>,
}

impl std::fmt::Debug for WxlinkMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WxlinkMcp")
            .field("app", &self.app)
            .finish_non_exhaustive()
    }
}

/// The message an agent gets for a failure.
fn fail(e: AppError) -> String {
    params::error_message(&e)
}

/// A structured result (the JSON also as text), marked as an error when `is_error`.
fn structured<T: Serialize>(value: &T, is_error: bool) -> Result<CallToolResult, ErrorData> {
    let json = serde_json::to_value(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot serialize a result: {e}"), None))?;
    Ok(if is_error {
        CallToolResult::structured_error(json)
    } else {
        CallToolResult::structured(json)
    })
}

fn tool_error(e: AppError) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(fail(e))])
}

/// "Resource not found" (`-32002` before 2026-07-28, `-32602` after, rmcp maps the code) with the
/// URI in `data` as SEP-2164 asks.
fn resource_not_found(uri: &str, message: String) -> ErrorData {
    ErrorData::resource_not_found(message, Some(json!({ "uri": uri })))
}

/// Whether the request speaks 2026-07-28 or later (stateless, no `logging/setLevel`).
pub(crate) fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// Completion candidates: the known values starting with what was typed, at most 100.
fn completion(values: impl IntoIterator<Item = String>, typed: &str) -> CompleteResult {
    let mut matches: Vec<String> = values
        .into_iter()
        .filter(|v| v.starts_with(typed))
        .collect();
    matches.sort();
    matches.dedup();
    let total = matches.len();
    matches.truncate(CompletionInfo::MAX_VALUES);
    let more = total > matches.len();
    let info = CompletionInfo::with_pagination(matches, u32::try_from(total).ok(), more)
        .unwrap_or_default();
    CompleteResult::new(info)
}

fn session_error(e: StoreError) -> AppError {
    match e {
        StoreError::UnknownSession(name) => AppError::UnknownSession(name),
        other => AppError::Store(other),
    }
}

#[tool_router]
impl WxlinkMcp {
    /// A server for one client connection over `app`, sharing `shared` with the other
    /// connections of the process.
    pub fn new(app: Arc<App>, shared: Arc<Shared>) -> WxlinkMcp {
        #[allow(unused_mut)]
        let mut tool_router = Self::tool_router() + Self::wechaty_router();
        // `wxlink mcp --conformance-fixtures`: the suite's fixture tools next to the real ones.
        #[cfg(feature = "conformance-fixtures")]
        if super::conformance::active().is_some() {
            tool_router += Self::conformance_router();
        }
        WxlinkMcp {
            app,
            shared,
            legacy: Arc::default(),
            log_level: Arc::default(),
            tool_router,
        }
    }

    /// The level the client set with `logging/setLevel`, if any.
    #[cfg(feature = "conformance-fixtures")]
    #[allow(deprecated)]
    pub(crate) fn log_level(&self) -> Option<LoggingLevel> {
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Receive new WeChat messages.
    #[tool(
        name = "recv",
        title = "Receive messages",
        description = "Receive new WeChat messages sent to the bot. Waits up to `timeout` seconds \
                       (default 5, at most 300) and returns as soon as at least one message is \
                       there. Each message is returned once per `consumer`: the read position is \
                       kept on disk, so nothing is lost across restarts. Reply to a message's \
                       `user` with `send`; pass its `id` to `download` for media.",
        annotations(
            title = "Receive messages",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn recv(
        &self,
        Parameters(p): Parameters<RecvParams>,
        ct: CancellationToken,
    ) -> Result<Json<RecvOut>, String> {
        self.do_recv(p, ct).await.map(Json).map_err(fail)
    }

    /// Send text and media.
    #[tool(
        name = "send",
        title = "Send a message",
        description = "Send text and/or media to a WeChat user who has written to the bot. The text \
                       goes first, then each file as its own message. Paths are files on the \
                       machine running wxlink. Limits, checked before anything is sent: the user \
                       must have messaged the bot, each message they send allows at most 10 \
                       replies (`quota_left` says how many remain), and a text is at most 16 KiB. \
                       The session holding the user's freshest context token is used.",
        output_schema = schema_for_output::<SendOut>(),
        annotations(
            title = "Send a message",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn send(
        &self,
        Parameters(p): Parameters<SendParams>,
    ) -> Result<CallToolResult, ErrorData> {
        match self.do_send(p).await {
            Ok(report) => {
                let failed = !report.success;
                structured(&SendOut::from(report), failed)
            }
            Err(e) => Ok(tool_error(e)),
        }
    }

    /// Download media.
    #[tool(
        name = "download",
        title = "Download media",
        description = "Download the image, voice, file or video of a message (by the `id` from \
                       `recv` or `history`) into `save_dir` (default: wxlink's media directory). \
                       Returns the files written; existing files are never overwritten.",
        annotations(
            title = "Download media",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn download(
        &self,
        Parameters(p): Parameters<DownloadParams>,
    ) -> Result<Json<DownloadOut>, String> {
        let dir = local_path(&p.save_dir);
        download::download(&self.app, &p.message_id, dir.as_deref())
            .await
            .map(|files| {
                Json(DownloadOut {
                    files: files
                        .into_iter()
                        .map(|f| FileOut {
                            path: f.path,
                            size: f.size,
                            kind: f.kind,
                        })
                        .collect(),
                })
            })
            .map_err(fail)
    }

    /// Search stored messages.
    #[tool(
        name = "history",
        title = "Search message history",
        description = "Search every stored message, received and sent, newest first. All filters \
                       are optional: user_id, bot_id, session, msg_type (text, image, voice, file, \
                       video), direction (received or sent), since/until (ISO 8601 or unix ms) and \
                       text_contains (finds Chinese words inside sentences). Pages with limit \
                       (at most 200) and offset; `total` counts every match.",
        annotations(
            title = "Search message history",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn history(
        &self,
        Parameters(p): Parameters<HistoryParams>,
    ) -> Result<Json<HistoryOut>, String> {
        self.do_history(&p).map(Json).map_err(fail)
    }

    /// List sessions.
    #[tool(
        name = "sessions",
        title = "List sessions",
        description = "List the WeChat accounts (sessions) logged in here: name, status (connected, \
                       expired, logged_out), bot id, whether it is the default and being polled, \
                       its last message and how many users it can answer.",
        annotations(
            title = "List sessions",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn sessions(&self) -> Result<Json<SessionsOut>, String> {
        self.do_sessions().map(Json).map_err(fail)
    }

    /// Log in by QR code.
    #[tool(
        name = "login",
        title = "Log in to WeChat",
        description = "Log a WeChat account in by QR code. The first call returns status `pending` \
                       with the QR code (an image and `qr_url`): show it to the user to scan with \
                       WeChat. Call again to wait up to `timeout` seconds for progress: `scanned`, \
                       then `confirmed` (logged in; messages start arriving), `expired` (a new QR \
                       code to show), `need_verifycode` (call again with `verify_code`, the number \
                       the phone shows) or `already_bound`. A connected session answers \
                       `already_logged_in` unless `force` is true. backend=\"wechaty\" with \
                       `endpoint` (HOST:PORT of a Wechaty Puppet Service) and `token` logs in \
                       through Wechaty instead (contacts by name and group chats); the same \
                       statuses apply, and `confirmed` comes at once when the service's account \
                       is already logged in.",
        output_schema = schema_for_output::<LoginOut>(),
        annotations(
            title = "Log in to WeChat",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = true
        )
    )]
    async fn login(
        &self,
        Parameters(p): Parameters<LoginParams>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let hint = wechaty_login::hinted(&self.app, &self.shared.wechaty_login, &p);
        let step = match wechaty_login::wants_wechaty(&p, hint) {
            Err(e) => Err(e),
            Ok(true) => {
                wechaty_login::step(
                    &self.app,
                    &self.shared.wechaty_login,
                    &p,
                    Progress::of(&ctx),
                    ctx.ct.clone(),
                )
                .await
            }
            Ok(false) => {
                mcp_login::step(
                    &self.app,
                    &self.shared.login,
                    &p,
                    Progress::of(&ctx),
                    ctx.ct.clone(),
                )
                .await
            }
        };
        match step {
            Ok(step) => {
                let mut result = structured(&step.out, false)?;
                if let Some(png) = step.qr_png {
                    result
                        .content
                        .push(ContentBlock::image(qr::base64(&png), "image/png"));
                }
                Ok(result)
            }
            Err(e) => Ok(tool_error(e)),
        }
    }

    /// Log out.
    #[tool(
        name = "logout",
        title = "Log out",
        description = "Log a session out (default: the default session): its credentials are removed \
                       and polling stops; its message history is kept. Log in again with `login`.",
        annotations(
            title = "Log out",
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn logout(
        &self,
        Parameters(p): Parameters<LogoutParams>,
    ) -> Result<Json<LogoutOut>, String> {
        self.do_logout(&p).map(Json).map_err(fail)
    }

    /// Rename a session.
    #[tool(
        name = "rename_session",
        title = "Rename a session",
        description = "Rename a session; its history, tokens and default flag follow it.",
        annotations(
            title = "Rename a session",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false,
            open_world_hint = false
        )
    )]
    async fn rename_session(
        &self,
        Parameters(p): Parameters<RenameParams>,
    ) -> Result<Json<RenameOut>, String> {
        self.do_rename(&p).map(Json).map_err(fail)
    }

    /// Choose the default session.
    #[tool(
        name = "set_default",
        title = "Set the default session",
        description = "Make a session the default one (used by `login` and `logout` without a name).",
        annotations(
            title = "Set the default session",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn set_default(
        &self,
        Parameters(p): Parameters<SetDefaultParams>,
    ) -> Result<Json<SetDefaultOut>, String> {
        self.do_set_default(&p).map(Json).map_err(fail)
    }

    /// Show or cancel "typing…".
    #[tool(
        name = "typing",
        title = "Show typing",
        description = "Show \"typing…\" to a user in WeChat (on=true) or cancel it (on=false), e.g. \
                       while you prepare a long answer. Does not use the reply quota. Works for users \
                       who have written to the bot.",
        annotations(
            title = "Show typing",
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn typing(
        &self,
        Parameters(p): Parameters<TypingParams>,
    ) -> Result<Json<TypingOut>, String> {
        self.do_typing(&p).await.map(Json).map_err(fail)
    }

    /// Users that can be answered.
    #[tool(
        name = "contacts",
        title = "List contacts",
        description = "List the users each iLink session can answer (everyone who has written to \
                       the bot), most recent first: when they last wrote, how many replies are \
                       left on their context token (10 per message they send) and whether the \
                       token is stale (older than 24 hours). With `query`: only iLink users whose \
                       id contains it, plus the contacts of Wechaty sessions whose nickname or \
                       remark contains it (`wechaty`, at most 100). Without a query, Wechaty \
                       sessions are only counted in `notes` (they can hold thousands of \
                       contacts): search them with `query`, findFriend or findRoomByTopic.",
        annotations(
            title = "List contacts",
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn contacts(
        &self,
        Parameters(p): Parameters<ContactsParams>,
    ) -> Result<Json<ContactsOut>, String> {
        self.do_contacts(&p).await.map(Json).map_err(fail)
    }
}

/// The tools' work, in engine terms.
impl WxlinkMcp {
    async fn do_recv(&self, p: RecvParams, ct: CancellationToken) -> AppResult<RecvOut> {
        let sessions = self.app.store().sessions()?;
        if sessions.is_empty() {
            return Err(AppError::NoSessions);
        }
        let consumer = p
            .consumer
            .as_deref()
            .and_then(given)
            .unwrap_or_else(|| DEFAULT_CONSUMER.to_string());
        // With no session connected nothing new can arrive: hand out what is unread, else say
        // why waiting is pointless.
        let live = sessions
            .iter()
            .any(|s| s.status == SessionStatus::Connected);
        let timeout = if live {
            wait(p.timeout)
        } else {
            Duration::ZERO
        };
        let messages = tokio::select! {
            r = inbox::recv(&self.app, &consumer, timeout) => r?,
            _ = ct.cancelled() => Vec::new(),
        };
        if messages.is_empty() && !live {
            let s = sessions
                .iter()
                .find(|s| s.is_default)
                .or_else(|| sessions.first())
                .ok_or(AppError::NoSessions)?;
            return Err(AppError::NotConnected {
                name: s.name.clone(),
                status: s.status,
            });
        }
        Ok(RecvOut {
            messages: MessageOut::list(&messages)?,
        })
    }

    async fn do_send(&self, p: SendParams) -> AppResult<send::SendReport> {
        if p.to.trim().is_empty() {
            return Err(AppError::Invalid(
                "`to` is empty: give the `user` of a received message".into(),
            ));
        }
        let req = SendRequest {
            to: p.to.trim().to_string(),
            text: Some(p.text).filter(|t| !t.is_empty()),
            images: local_path(&p.image_path).into_iter().collect(),
            voices: local_path(&p.voice_path).into_iter().collect(),
            files: local_path(&p.file_path)
                .map(|path| (path, given(&p.file_name)))
                .into_iter()
                .collect(),
            videos: local_path(&p.video_path).into_iter().collect(),
            session: given(&p.session),
        };
        send::send(&self.app, &req)
            .await
            .map_err(|e| self.explain_no_context(e))
    }

    /// "No context token" for a user whose token sits in a session that is not connected
    /// (expired, logged out) means "log that session in again": say so.
    fn explain_no_context(&self, e: AppError) -> AppError {
        let AppError::NoContext {
            user,
            session: None,
        } = &e
        else {
            return e;
        };
        let store = self.app.store();
        let (Ok(contexts), Ok(sessions)) = (store.contexts_for_user(user), store.sessions()) else {
            return e;
        };
        contexts
            .iter()
            .find_map(|c| {
                sessions
                    .iter()
                    .find(|s| s.name == c.session && s.status != SessionStatus::Connected)
            })
            .map_or(e, |s| AppError::NotConnected {
                name: s.name.clone(),
                status: s.status,
            })
    }

    fn do_history(&self, p: &HistoryParams) -> AppResult<HistoryOut> {
        let sessions = self.app.store().sessions()?;
        let (query, note) = params::history_query(p, &sessions)?;
        let limit = p.limit.clamp(1, 200);
        let Some(query) = query else {
            return Ok(HistoryOut {
                messages: Vec::new(),
                total: 0,
                limit,
                offset: p.offset,
                note,
            });
        };
        let page = self.app.store().history(&query)?;
        Ok(HistoryOut {
            messages: MessageOut::list(&page.messages)?,
            total: page.total,
            limit: query.limit,
            offset: query.offset,
            note,
        })
    }

    fn do_sessions(&self) -> AppResult<SessionsOut> {
        let sessions = self
            .app
            .store()
            .sessions()?
            .iter()
            .map(|s| {
                let polling = is_polled(&self.app, s);
                SessionOut::from_record(s, polling)
            })
            .collect::<AppResult<Vec<_>>>()?;
        Ok(SessionsOut { sessions })
    }

    fn do_logout(&self, p: &LogoutParams) -> AppResult<LogoutOut> {
        let session = self
            .app
            .resolve_session(given(&p.session_name).as_deref())?;
        self.app
            .store()
            .logout(&session.name)
            .map_err(session_error)?;
        self.app.emit(AppEvent::SessionsChanged);
        Ok(LogoutOut {
            success: true,
            session: session.name,
        })
    }

    fn do_rename(&self, p: &RenameParams) -> AppResult<RenameOut> {
        let (Some(old), Some(new)) = (given(&p.old_name), given(&p.new_name)) else {
            return Err(AppError::Invalid(
                "give both old_name and new_name (see the `sessions` tool for the names)".into(),
            ));
        };
        self.app
            .store()
            .rename_session(&old, &new)
            .map_err(session_error)?;
        self.app.emit(AppEvent::SessionsChanged);
        Ok(RenameOut {
            success: true,
            old_name: old,
            new_name: new,
        })
    }

    fn do_set_default(&self, p: &SetDefaultParams) -> AppResult<SetDefaultOut> {
        let Some(name) = given(&p.session_name) else {
            return Err(AppError::Invalid(
                "give session_name (see the `sessions` tool for the names)".into(),
            ));
        };
        self.app.store().set_default(&name).map_err(session_error)?;
        self.app.emit(AppEvent::SessionsChanged);
        Ok(SetDefaultOut {
            success: true,
            default_session: name,
        })
    }

    /// The session and context token to reach `to` with (as `send` routes).
    fn route(&self, to: &str, session: Option<&str>) -> AppResult<ContextRecord> {
        let store = self.app.store();
        if let Some(name) = session {
            let s = self.app.resolve_session(Some(name))?;
            if s.status != SessionStatus::Connected {
                return Err(AppError::NotConnected {
                    name: s.name,
                    status: s.status,
                });
            }
            return store
                .contexts(Some(name))?
                .into_iter()
                .find(|c| c.user_id == to)
                .ok_or_else(|| AppError::NoContext {
                    user: to.to_string(),
                    session: Some(name.to_string()),
                });
        }
        let sessions = store.sessions()?;
        if sessions.is_empty() {
            return Err(AppError::NoSessions);
        }
        let connected = |name: &str| {
            sessions
                .iter()
                .any(|s| s.name == name && s.status == SessionStatus::Connected)
        };
        store
            .contexts_for_user(to)?
            .into_iter()
            .find(|c| connected(&c.session))
            .ok_or_else(|| {
                self.explain_no_context(AppError::NoContext {
                    user: to.to_string(),
                    session: None,
                })
            })
    }

    async fn do_typing(&self, p: &TypingParams) -> AppResult<TypingOut> {
        let Some(to) = given(&p.to) else {
            return Err(AppError::Invalid("`to` is empty: give a user id".into()));
        };
        let ctx = self.route(&to, given(&p.session).as_deref())?;
        let session = self.app.resolve_session(Some(&ctx.session))?;
        let bot = self.app.bot_for(&session)?;
        let key = (ctx.session.clone(), to.clone());
        let cached = self
            .shared
            .tickets()
            .get(&key)
            .filter(|(_, at)| at.elapsed() < TICKET_TTL)
            .map(|(t, _)| t.clone());
        let result = async {
            let ticket = match cached {
                Some(t) => t,
                None => {
                    let t = bot.get_config(&to, Some(&ctx.token)).await?;
                    self.shared
                        .tickets()
                        .insert(key.clone(), (t.clone(), Instant::now()));
                    t
                }
            };
            let status = if p.on {
                ilink::TypingStatus::Typing
            } else {
                ilink::TypingStatus::Cancel
            };
            bot.send_typing(&to, &ticket, status).await
        }
        .await;
        if let Err(e) = result {
            self.shared.tickets().remove(&key);
            if e.is_session_expired() {
                let _ = self
                    .app
                    .store()
                    .set_status(&ctx.session, SessionStatus::Expired);
                self.app.emit(AppEvent::SessionExpired {
                    session: ctx.session.clone(),
                });
            }
            return Err(e.into());
        }
        Ok(TypingOut {
            success: true,
            session: ctx.session,
            to,
            on: p.on,
        })
    }

    async fn do_contacts(&self, p: &ContactsParams) -> AppResult<ContactsOut> {
        let store = self.app.store();
        let sessions = store.sessions()?;
        let only = given(&p.session);
        if let Some(name) = &only {
            self.app.resolve_session(Some(name))?;
        }
        let query = given(&p.query);
        let lower = query.as_deref().map(str::to_lowercase);
        let now = now_ms();
        let contacts = store
            .contexts(only.as_deref())?
            .into_iter()
            .filter(|c| {
                lower
                    .as_deref()
                    .is_none_or(|q| c.user_id.to_lowercase().contains(q))
            })
            .map(|c| ContactOut {
                connected: sessions
                    .iter()
                    .any(|s| s.name == c.session && s.status == SessionStatus::Connected),
                received_at: iso(c.received_at_ms),
                sends_left: SEND_QUOTA_PER_TOKEN.saturating_sub(c.send_count),
                stale: now.saturating_sub(c.received_at_ms) > STALE_MS,
                user: c.user_id,
                session: c.session,
            })
            .collect();
        let wechaty_sessions: Vec<&crate::store::SessionRecord> = sessions
            .iter()
            .filter(|s| s.backend == crate::backend::wechaty::BACKEND)
            .filter(|s| only.as_deref().is_none_or(|n| n == s.name))
            .collect();
        let (wechaty, notes) =
            super::wechaty::wechaty_contacts(&self.app, &wechaty_sessions, query.as_deref()).await;
        Ok(ContactsOut {
            contacts,
            wechaty,
            notes,
        })
    }

    fn legacy(&self) -> MutexGuard<'_, LegacySubscriptions> {
        self.legacy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts this connection's watcher for legacy subscriptions, unless it runs.
    fn ensure_legacy_watcher(&self, peer: Peer<RoleServer>) {
        let mut legacy = self.legacy();
        if legacy.watcher.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let app = self.app.clone();
        let state = self.legacy.clone();
        legacy.watcher = Some(tokio::spawn(async move {
            let mut signal = ChangeSignal::new(app.clone());
            loop {
                tokio::select! {
                    _ = signal.changed() => {}
                    _ = tokio::time::sleep(PEER_CHECK) => {
                        if peer.is_transport_closed() {
                            return;
                        }
                        continue;
                    }
                }
                let changed = {
                    let mut s = state.lock().unwrap_or_else(|p| p.into_inner());
                    s.subs.changed(&app)
                };
                for uri in changed {
                    let note = ResourceUpdatedNotificationParam::new(uri);
                    if let Err(e) = peer.notify_resource_updated(note).await {
                        tracing::debug!(error = %e, "subscriber gone; stopping its watcher");
                        return;
                    }
                }
            }
        }));
    }
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for WxlinkMcp {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        #[allow(unused_mut)]
        let mut capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_tools()
            .enable_resources()
            .enable_resources_subscribe()
            .build();
        // wxlink itself has no prompts; the conformance fixtures do.
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            fixtures.declare(&mut capabilities);
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("wxlink", env!("CARGO_PKG_VERSION"))
                    .with_title("wxlink: WeChat for AI agents"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        #[allow(unused_mut)]
        let mut list =
            resources::list(&self.app).map_err(|e| ErrorData::internal_error(fail(e), None))?;
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            list.extend(fixtures.resources());
        }
        Ok(ListResourcesResult::with_all_items(list))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        #[allow(unused_mut)]
        let mut templates = resources::templates();
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            templates.extend(fixtures.templates());
        }
        Ok(ListResourceTemplatesResult::with_all_items(templates))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(contents) = super::conformance::active().and_then(|f| f.read(&request.uri)) {
            return Ok(ReadResourceResult::new(vec![contents]).into());
        }
        let Some(target) = Target::parse(&request.uri) else {
            return Err(resource_not_found(
                &request.uri,
                format!(
                    "unknown resource {:?}: use {} or {}",
                    request.uri,
                    resources::INBOX,
                    resources::CONVERSATION_TEMPLATE
                ),
            ));
        };
        let contents = resources::read(&self.app, &target, &request.uri)
            .map_err(|e| ErrorData::internal_error(fail(e), None))?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if super::conformance::active().is_some_and(|f| f.subscribe(&request.uri)) {
            return Ok(());
        }
        let Some(target) = Target::parse(&request.uri) else {
            return Err(resource_not_found(
                &request.uri,
                format!("unknown resource {:?}", request.uri),
            ));
        };
        self.legacy().subs.add(&self.app, &request.uri, target);
        self.ensure_legacy_watcher(context.peer);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            fixtures.unsubscribe(&request.uri);
        }
        self.legacy().subs.remove(&request.uri);
        Ok(())
    }

    /// `logging/setLevel` (sessions before 2026-07-28; removed from 2026-07-28, where a
    /// request asks for logs in its `_meta`).
    #[allow(deprecated)]
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SetLevelRequestMethod,
            >());
        }
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = Some(request.level);
        Ok(())
    }

    /// Completes the `user_id` of `wxlink://conversation/{user_id}` from the users wxlink knows.
    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(info) = super::conformance::active().and_then(|f| {
            f.complete(
                &request.r#ref,
                &request.argument.name,
                &request.argument.value,
            )
        }) {
            return Ok(CompleteResult::new(info));
        }
        match &request.r#ref {
            Reference::Resource(r)
                if r.uri == resources::CONVERSATION_TEMPLATE
                    && request.argument.name == "user_id" =>
            {
                let users = self
                    .app
                    .store()
                    .contexts(None)
                    .map_err(|e| ErrorData::internal_error(fail(e.into()), None))?
                    .into_iter()
                    .map(|c| c.user_id);
                Ok(completion(users, &request.argument.value))
            }
            _ => Ok(completion(Vec::new(), "")),
        }
    }

    /// wxlink has no prompts: `prompts/list` is "method not found" unless the conformance
    /// fixtures declare the capability (rmcp's default would answer an empty list).
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            return Ok(ListPromptsResult::with_all_items(fixtures.prompts()));
        }
        Err(ErrorData::method_not_found::<
            rmcp::model::ListPromptsRequestMethod,
        >())
    }

    async fn get_prompt(
        &self,
        _request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            return fixtures.get_prompt(&_request);
        }
        Err(ErrorData::method_not_found::<
            rmcp::model::GetPromptRequestMethod,
        >())
    }

    #[cfg(feature = "conformance-fixtures")]
    async fn get_task(
        &self,
        request: rmcp::model::GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<rmcp::model::GetTaskResult, ErrorData> {
        match super::conformance::active() {
            Some(fixtures) => fixtures.get_task(&request),
            None => Err(ErrorData::method_not_found::<rmcp::model::GetTaskMethod>()),
        }
    }

    #[cfg(feature = "conformance-fixtures")]
    async fn update_task(
        &self,
        request: rmcp::model::UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        match super::conformance::active() {
            Some(fixtures) => fixtures.update_task(request),
            None => Err(ErrorData::method_not_found::<rmcp::model::UpdateTaskMethod>()),
        }
    }

    #[cfg(feature = "conformance-fixtures")]
    async fn cancel_task(
        &self,
        request: rmcp::model::CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        match super::conformance::active() {
            Some(fixtures) => fixtures.cancel_task(&request),
            None => Err(ErrorData::method_not_found::<rmcp::model::CancelTaskMethod>()),
        }
    }

    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let uris: Vec<String> = requested
            .resource_subscriptions
            .iter()
            .flatten()
            .filter(|uri| Target::parse(uri).is_some())
            .cloned()
            .collect();
        let mut accepted = SubscriptionFilter::builder();
        if !uris.is_empty() {
            accepted = accepted.resource_subscriptions(uris);
        }
        #[cfg(feature = "conformance-fixtures")]
        if let Some(fixtures) = super::conformance::active() {
            accepted = fixtures.accept(requested, accepted);
        }
        Some(accepted.build())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        #[cfg(feature = "conformance-fixtures")]
        let _changes = super::conformance::active().and_then(|f| f.forward(context.sink()));
        let mut subs = Subscriptions::default();
        for uri in context.accepted().resource_subscriptions.iter().flatten() {
            if let Some(target) = Target::parse(uri) {
                subs.add(&self.app, uri, target);
            }
        }
        if subs.is_empty() {
            context.cancelled().await;
            return Ok(());
        }
        let mut signal = ChangeSignal::new(self.app.clone());
        loop {
            tokio::select! {
                _ = context.cancelled() => return Ok(()),
                _ = signal.changed() => {}
            }
            for uri in subs.changed(&self.app) {
                match context.sink().notify_resource_updated(uri).await {
                    Ok(()) => {}
                    Err(SubscriptionSendError::SubscriptionClosed) => return Ok(()),
                    Err(e) => {
                        tracing::debug!(error = %e, "cannot notify a subscriber; ending it");
                        return Ok(());
                    }
                }
            }
        }
    }
}
