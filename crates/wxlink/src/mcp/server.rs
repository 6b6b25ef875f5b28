//! [`WxlinkMcp`]: the MCP handler of one client connection — the tools of [`super::tools`]
//! (listed as the connection's [`ToolSurface`] says), the inbox and conversation resources with
//! subscriptions, completions, and the instructions an agent reads first.
//!
//! Change notifications ([`super::notify`]), from the service's change feed ([`Service::changes`]):
//! - `notifications/tools/list_changed` when a Wechaty session appears or goes (the default
//!   surface lists the Wechaty tools only while one exists);
//! - `notifications/resources/list_changed` when a new conversation appears (a new user wrote);
//! - `notifications/resources/updated` for subscribed resources.
//!
//! Sessions before 2026-07-28 get them on their connection once initialized (resource updates
//! after `resources/subscribe`); 2026-07-28 requests open `subscriptions/listen` and get what
//! they asked for. `resources/subscribe` is not a 2026-07-28 method: it answers "method not
//! found" there, on every transport.
//!
//! Utilities: `logging/setLevel` (before 2026-07-28), `completion/complete` for the
//! conversation template's `user_id`; no prompts (`prompts/*` is "method not found"); an
//! unknown resource is "resource not found" with the URI in `data` (SEP-2164).

use std::sync::{Arc, Mutex as StdMutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CacheScope, CallToolRequestParams, CallToolResponse, CompleteRequestParams, CompleteResult,
    CompletionInfo, CustomNotification, CustomRequest, CustomResult, GetPromptRequestParams,
    GetPromptResponse, Implementation, InitializeRequestParams, InitializeResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    PaginatedRequestParams, ProtocolVersion, ReadResourceRequestParams, ReadResourceResponse,
    ReadResourceResult, Reference, ServerCapabilities, ServerConfig, SubscribeRequestParams,
    SubscriptionFilter, Tool, UnsubscribeRequestParams,
};
// Logging is deprecated by the 2026-07-28 spec (SEP-2577) but part of 2025-11-25.
#[allow(deprecated)]
use rmcp::model::SetLevelRequestParams;
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer, ServerHandler};
use serde_json::json;
use tokio::sync::Mutex;
use tokio::task::JoinHandle;

use super::channel::{Channel, CHANNEL_INSTRUCTIONS, PERMISSION_REQUEST_METHOD};
use super::notify::{Listed, Listening, Wanted};
use super::rendered;
use super::resources::{self, Subscriptions, Target};
use super::tools::{self, fail, ToolSurface};
use crate::service::changes::conversations_print;
use crate::service::send::SentBy;
use crate::service::Service;

/// What an agent reads before anything else (`instructions` of the initialize / discover
/// result).
pub const INSTRUCTIONS: &str = "\
wxlink connects you to WeChat: users write to a bot account (WeChat's official iLink bot API), \
or a Wechaty session gives you contacts and group chats; you read their messages and answer.

1. Log in once: call `sessions`; if none is connected, call `login`. It returns a QR code (an \
image and `qr_url`): show it to the user and ask them to scan it with WeChat, then call `login` \
again — each call waits up to `timeout` seconds — until the status is `confirmed`. If the \
status is `need_verifycode`, ask the user for the number on their phone and pass it as \
`verify_code`. If it is `expired`, show the new QR code.
2. Read: `recv` waits up to `timeout` seconds and returns as soon as messages arrive (each \
message once per `consumer`). A message's `user` is who to answer; its `id` is what `download` \
takes for images, voice, files and videos.
3. Answer: `send(to=<user>, text=...)`, optionally with image_path / file_path / video_path / \
voice_path (files on this machine). An iLink bot can only answer users who wrote to it, and \
each message a user sends allows at most 10 replies (one per text or file); `contacts` shows \
the replies left. Texts longer than 16 KiB must be split. `typing` shows \"typing…\" while you \
work.
4. Look back: `history` searches every stored message (Chinese words inside sentences work); \
the resources wxlink://inbox and wxlink://conversation/{user_id} show recent messages and can \
be subscribed to.
5. Contacts by name and group chats need a Wechaty session (a Wechaty Puppet Service; iLink \
carries no group chats): `login` with backend=\"wechaty\", endpoint and token. Its tools then \
appear: findFriend(nickname) and findRoomByTopic(topic) look people and groups up (nickname or \
remark; fuzzy=true matches parts of names), sendMessageToFriend(nickname, message) and \
sendMessageToRoom(topic, message) send by name — when several match, nothing is sent and the \
numbered candidates come back: call again with `index`, or use sendMessageToFriendByWxId / \
sendMessageToRoomByWxId — and getRoomMembers lists a group. Group messages in recv and history \
carry room_id (answer there) and speaker (who wrote).
Errors explain what to do next (log in, wait for the user to write, fix a path).";

/// The MCP server for one client connection.
#[derive(Clone)]
pub struct WxlinkMcp {
    pub(crate) service: Arc<Service>,
    surface: ToolSurface,
    /// Legacy (`resources/subscribe`) subscriptions of this connection.
    subscriptions: Arc<Mutex<Subscriptions>>,
    /// The task sending this connection's notifications (sessions before 2026-07-28); it ends
    /// when the client goes away.
    notifier: Arc<StdMutex<Option<JoinHandle<()>>>>,
    /// What this connection last listed (a listener that starts later compares).
    pub(super) listed: Arc<Listed>,
    router: &'static ToolRouter<Self>,
    /// The Claude Code channel, when this server is one (`--channel`).
    channel: Option<Arc<Channel>>,
    /// Whether the transport writes tool answers with [`rendered::encode`]; if not, their
    /// stand-ins are expanded here.
    rendered_answers: bool,
}

impl std::fmt::Debug for WxlinkMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WxlinkMcp")
            .field("surface", &self.surface)
            .finish_non_exhaustive()
    }
}

/// Whether the request speaks 2026-07-28 or later (stateless, no `logging/setLevel`).
pub fn is_modern(context: &RequestContext<RoleServer>) -> bool {
    context
        .protocol_version()
        .is_some_and(|v| v.as_str() >= ProtocolVersion::V_2026_07_28.as_str())
}

/// "Resource not found" (`-32002` before 2026-07-28, `-32602` after, rmcp maps the code) with the
/// URI in `data` as SEP-2164 asks.
fn resource_not_found(uri: &str, message: String) -> ErrorData {
    ErrorData::resource_not_found(message, Some(json!({ "uri": uri })))
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

impl WxlinkMcp {
    /// A server for one client connection over `service`, listing the tools of `surface`.
    pub fn new(service: Arc<Service>, surface: ToolSurface) -> WxlinkMcp {
        WxlinkMcp {
            service,
            surface,
            subscriptions: Arc::default(),
            notifier: Arc::default(),
            listed: Arc::default(),
            router: tools::router(),
            channel: None,
            rendered_answers: false,
        }
    }

    /// This server on a transport that writes its messages with [`rendered::encode`] (stdio,
    /// legacy SSE), which writes each structured answer from its JSON text.
    pub fn with_rendered_answers(mut self) -> WxlinkMcp {
        self.rendered_answers = true;
        self
    }

    /// This server as a Claude Code channel.
    pub fn with_channel(mut self, channel: Arc<Channel>) -> WxlinkMcp {
        self.channel = Some(channel);
        self
    }

    /// Whether this server is a Claude Code channel (its agent is held to the access gate).
    pub(crate) fn is_channel(&self) -> bool {
        self.channel.is_some()
    }

    /// Who this connection's sends come from: a channel is always held to the access gate,
    /// other agents once the owner turned the gate on for them.
    pub(crate) fn sent_by(&self) -> SentBy {
        if self.channel.is_some() {
            SentBy::Channel
        } else {
            SentBy::Agent
        }
    }

    /// The service behind this handler.
    pub fn service(&self) -> &Arc<Service> {
        &self.service
    }

    /// Whether a session with an address book (Wechaty) exists, which decides the default
    /// surface.
    pub(super) async fn has_address_book(&self) -> bool {
        match self.service.address_book_sessions().await {
            Ok(n) => n > 0,
            Err(e) => {
                tracing::debug!(error = %e, "cannot list sessions; listing the core tools");
                false
            }
        }
    }

    /// The tools this connection lists now (and remembers that it listed them).
    pub async fn listed_tools(&self) -> Vec<Tool> {
        let book = self.has_address_book().await;
        self.listed.tools(book);
        self.router
            .list_all()
            .into_iter()
            .filter(|t| self.surface.lists(&t.name, book))
            .collect()
    }

    /// Starts this connection's notifier (once): notifications on the session itself, for
    /// clients before spec 2026-07-28.
    fn start_notifier(&self, peer: Peer<RoleServer>) {
        let mut slot = self.notifier.lock().unwrap_or_else(|p| p.into_inner());
        if slot.as_ref().is_some_and(|t| !t.is_finished()) {
            return;
        }
        let this = self.clone();
        let wanted = Wanted {
            updates: true,
            tools: self.surface.is_dynamic(),
            resources: true,
        };
        *slot = Some(tokio::spawn(async move {
            let subs = this.subscriptions.clone();
            this.notify(peer, &subs, wanted).await
        }));
    }
}

impl ServerHandler for WxlinkMcp {
    #[allow(deprecated)]
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_logging()
            .enable_completions()
            .enable_tools()
            .enable_tool_list_changed()
            .enable_resources()
            .enable_resources_subscribe()
            .enable_resources_list_changed()
            .build();
        let mut capabilities = capabilities;
        let mut instructions = INSTRUCTIONS.to_string();
        if let Some(channel) = &self.channel {
            capabilities.experimental = Some(channel.experimental());
            instructions.push_str(CHANNEL_INSTRUCTIONS);
        }
        ServerConfig::new(capabilities)
            .with_server_info(
                Implementation::new("wxlink", env!("CARGO_PKG_VERSION"))
                    .with_title("wxlink: WeChat for AI agents"),
            )
            .with_instructions(instructions)
    }

    async fn initialize(
        &self,
        request: InitializeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<InitializeResult, ErrorData> {
        context.peer.set_peer_info(request.clone());
        self.remember_initial_lists().await;
        self.negotiate_initialize(&request)
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        if let Some(channel) = &self.channel {
            channel.start(self.service.clone(), context.peer.clone());
        }
        self.start_notifier(context.peer);
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        _context: NotificationContext<RoleServer>,
    ) {
        match &self.channel {
            Some(channel) if notification.method == PERMISSION_REQUEST_METHOD => {
                channel
                    .permission_request(&self.service, notification.params)
                    .await;
            }
            _ => tracing::debug!(method = notification.method, "notification ignored"),
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let call = ToolCallContext::new(self, request, context);
        let mut response = self.router.call(call).await?;
        if !self.rendered_answers {
            rendered::expand(&mut response)?;
        }
        Ok(response)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let result = ListToolsResult::with_all_items(self.listed_tools().await);
        if !is_modern(&context) {
            return Ok(result);
        }
        // The list changes with the sessions: clients must not cache it.
        Ok(result.with_ttl_ms(0).with_cache_scope(CacheScope::Private))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.router.get(name).cloned()
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        _context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        // rmcp hands over what it could not read as a known request: an unknown method, or a
        // served one with params of the wrong shape.
        Err(super::jsonrpc::unrecognised(
            &request.method,
            request.params.as_ref(),
        ))
    }

    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let users = self
            .service
            .conversations()
            .await
            .map_err(|e| ErrorData::internal_error(fail(e), None))?;
        self.listed.conversations(conversations_print(&users));
        Ok(ListResourcesResult::with_all_items(resources::list(&users)))
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(
            resources::templates(),
        ))
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
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
        let contents = resources::read(&self.service, &target, &request.uri)
            .await
            .map_err(|e| ErrorData::internal_error(fail(e), None))?;
        Ok(ReadResourceResult::new(vec![contents]).into())
    }

    #[allow(deprecated)]
    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SubscribeRequestMethod,
            >());
        }
        let Some(target) = Target::parse(&request.uri) else {
            return Err(resource_not_found(
                &request.uri,
                format!("unknown resource {:?}", request.uri),
            ));
        };
        self.subscriptions
            .lock()
            .await
            .add(&self.service, &request.uri, target)
            .await;
        self.start_notifier(context.peer);
        Ok(())
    }

    #[allow(deprecated)]
    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::method_not_found::<
                rmcp::model::UnsubscribeRequestMethod,
            >());
        }
        self.subscriptions.lock().await.remove(&request.uri);
        Ok(())
    }

    /// `logging/setLevel` (sessions before 2026-07-28; removed from 2026-07-28, where a
    /// request asks for logs in its `_meta`). wxlink sends no log notifications of its own.
    #[allow(deprecated)]
    async fn set_level(
        &self,
        _request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if is_modern(&context) {
            return Err(ErrorData::method_not_found::<
                rmcp::model::SetLevelRequestMethod,
            >());
        }
        Ok(())
    }

    /// Completes the `user_id` of `wxlink://conversation/{user_id}` from the users wxlink knows.
    async fn complete(
        &self,
        request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        match &request.r#ref {
            Reference::Resource(r)
                if r.uri == resources::CONVERSATION_TEMPLATE
                    && request.argument.name == "user_id" =>
            {
                let users = self
                    .service
                    .conversations()
                    .await
                    .map_err(|e| ErrorData::internal_error(fail(e), None))?;
                Ok(completion(users, &request.argument.value))
            }
            _ => Ok(completion(Vec::new(), "")),
        }
    }

    /// wxlink has no prompts: `prompts/list` is "method not found" (rmcp's default would
    /// answer an empty list).
    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<
            rmcp::model::ListPromptsRequestMethod,
        >())
    }

    async fn get_prompt(
        &self,
        _request: GetPromptRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        Err(ErrorData::method_not_found::<
            rmcp::model::GetPromptRequestMethod,
        >())
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
        let mut accepted = SubscriptionFilter::builder()
            .tools_list_changed()
            .resources_list_changed();
        if !uris.is_empty() {
            accepted = accepted.resource_subscriptions(uris);
        }
        Some(accepted.build())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let accepted = context.accepted().clone();
        let mut subs = Subscriptions::default();
        for uri in accepted.resource_subscriptions.iter().flatten() {
            if let Some(target) = Target::parse(uri) {
                subs.add(&self.service, uri, target).await;
            }
        }
        let wanted = Wanted {
            updates: !subs.is_empty(),
            tools: accepted.tools_list_changed == Some(true) && self.surface.is_dynamic(),
            resources: accepted.resources_list_changed == Some(true),
        };
        self.notify(Listening(&context), &Mutex::new(subs), wanted)
            .await;
        Ok(())
    }
}
