//! [`ConformanceMcp`], the wrapper handler: it holds wxlink's real handler ([`WxlinkMcp`]) and
//! implements [`ServerHandler`] itself. Fixture tools, resources, prompts, completions and tasks
//! are answered here; everything else goes to the inner handler, whose answers are extended
//! (tool, resource and template lists, capabilities, accepted subscription filters) rather than
//! replaced. [`ConformanceFactory`] makes one per connection for wxlink's HTTP server.
//!
//! The level a session sets with `logging/setLevel` is recorded here (wxlink sends no log
//! notifications, so it keeps none) after the inner handler accepted the request.

// Logging is deprecated by the 2026-07-28 spec (SEP-2577) but still part of the 2025-11-25
// protocol the suite tests.
#![allow(deprecated)]

use std::borrow::Cow;
use std::sync::{Arc, Mutex};

use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CancelTaskParams, CancelledNotificationParam,
    CompleteRequestParams, CompleteResult, CustomNotification, CustomRequest, CustomResult,
    ErrorCode, GetPromptRequestParams, GetPromptResponse, GetTaskParams, GetTaskResult,
    ListPromptsResult, ListResourceTemplatesResult, ListResourcesResult, ListToolsResult,
    LoggingLevel, PaginatedRequestParams, ProgressNotificationParam, ProtocolVersion,
    ReadResourceRequestParams, ReadResourceResponse, ReadResourceResult, ServerConfig,
    SetLevelRequestParams, SubscribeRequestParams, SubscriptionFilter, Tool,
    UnsubscribeRequestParams, UpdateTaskParams,
};
use rmcp::service::{NotificationContext, RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler};
use wxlink::mcp::server::is_modern;
use wxlink::mcp::{Endpoint, HandlerFactory, WxlinkFactory, WxlinkMcp};

use crate::fixtures::Fixtures;

/// Makes a [`ConformanceMcp`] around each connection's [`WxlinkMcp`]; every handler shares one
/// [`Fixtures`].
#[derive(Debug, Clone)]
pub struct ConformanceFactory {
    inner: WxlinkFactory,
    fixtures: Arc<Fixtures>,
}

impl ConformanceFactory {
    /// Wraps the handlers `inner` makes.
    pub fn new(inner: WxlinkFactory) -> Self {
        ConformanceFactory {
            inner,
            fixtures: Arc::new(Fixtures::new()),
        }
    }
}

impl HandlerFactory for ConformanceFactory {
    type Handler = ConformanceMcp;

    fn handler(&self, endpoint: Endpoint) -> ConformanceMcp {
        ConformanceMcp::new(self.inner.handler(endpoint), self.fixtures.clone())
    }
}

/// wxlink's handler of one connection, with the suite's fixtures around it.
#[derive(Clone)]
pub struct ConformanceMcp {
    /// The real handler.
    inner: WxlinkMcp,
    /// State shared by every connection.
    pub(crate) fixtures: Arc<Fixtures>,
    /// The level this session set with `logging/setLevel` (info until set).
    log_level: Arc<Mutex<Option<LoggingLevel>>>,
    /// The fixture tools.
    router: ToolRouter<Self>,
}

impl std::fmt::Debug for ConformanceMcp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConformanceMcp")
            .field("inner", &self.inner)
            .field("log_level", &self.log_level)
            .finish_non_exhaustive()
    }
}

/// Severity order of log levels.
fn log_rank(level: LoggingLevel) -> u8 {
    match level {
        LoggingLevel::Debug => 0,
        LoggingLevel::Info => 1,
        LoggingLevel::Notice => 2,
        LoggingLevel::Warning => 3,
        LoggingLevel::Error => 4,
        LoggingLevel::Critical => 5,
        LoggingLevel::Alert => 6,
        LoggingLevel::Emergency => 7,
    }
}

impl ConformanceMcp {
    /// `inner` with the fixtures of `fixtures`.
    pub fn new(inner: WxlinkMcp, fixtures: Arc<Fixtures>) -> Self {
        ConformanceMcp {
            inner,
            fixtures,
            log_level: Arc::default(),
            router: Self::content_router()
                + Self::interaction_router()
                + Self::input_router()
                + Self::tasks_router(),
        }
    }

    /// Whether a log notification at `level` may go to the client of this request: a
    /// 2026-07-28 request opts in with `_meta["io.modelcontextprotocol/logLevel"]`; older
    /// sessions use the level of `logging/setLevel` (info until set).
    pub(crate) fn may_log(&self, ctx: &RequestContext<RoleServer>, level: LoggingLevel) -> bool {
        let threshold = if is_modern(ctx) {
            match ctx.meta.log_level() {
                Some(l) => l,
                None => return false,
            }
        } else {
            self.log_level
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or(LoggingLevel::Info)
        };
        log_rank(level) >= log_rank(threshold)
    }
}

impl ServerHandler for ConformanceMcp {
    /// The inner handler's capabilities, plus what the fixtures declare.
    fn get_info(&self) -> ServerConfig {
        let mut info = self.inner.get_info();
        self.fixtures.declare(&mut info.capabilities);
        info
    }

    fn supported_protocol_versions(&self) -> Cow<'static, [ProtocolVersion]> {
        self.inner.supported_protocol_versions()
    }

    async fn on_initialized(&self, context: NotificationContext<RoleServer>) {
        self.inner.on_initialized(context).await;
    }

    async fn on_cancelled(
        &self,
        notification: CancelledNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner.on_cancelled(notification, context).await;
    }

    async fn on_progress(
        &self,
        notification: ProgressNotificationParam,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner.on_progress(notification, context).await;
    }

    async fn on_roots_list_changed(&self, context: NotificationContext<RoleServer>) {
        self.inner.on_roots_list_changed(context).await;
    }

    async fn on_custom_notification(
        &self,
        notification: CustomNotification,
        context: NotificationContext<RoleServer>,
    ) {
        self.inner
            .on_custom_notification(notification, context)
            .await;
    }

    async fn on_custom_request(
        &self,
        request: CustomRequest,
        context: RequestContext<RoleServer>,
    ) -> Result<CustomResult, ErrorData> {
        self.inner.on_custom_request(request, context).await
    }

    /// A fixture tool by name, else wxlink's.
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if self.router.has_route(&request.name) {
            let call = ToolCallContext::new(self, request, context);
            return self.router.call(call).await;
        }
        self.inner.call_tool(request, context).await
    }

    /// wxlink's tools (as its handler lists them, caching hints included), then the fixtures'.
    async fn list_tools(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut result = self.inner.list_tools(request, context).await?;
        result.tools.extend(self.router.list_all());
        Ok(result)
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        self.router
            .get(name)
            .cloned()
            .or_else(|| self.inner.get_tool(name))
    }

    async fn list_resources(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        let mut result = self.inner.list_resources(request, context).await?;
        result.resources.extend(self.fixtures.resources());
        Ok(result)
    }

    async fn list_resource_templates(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        let mut result = self.inner.list_resource_templates(request, context).await?;
        result.resource_templates.extend(self.fixtures.templates());
        Ok(result)
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        if let Some(contents) = self.fixtures.read(&request.uri) {
            return Ok(ReadResourceResult::new(vec![contents]).into());
        }
        self.inner.read_resource(request, context).await
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !is_modern(&context) && self.fixtures.subscribe(&request.uri) {
            return Ok(());
        }
        self.inner.subscribe(request, context).await
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        if !is_modern(&context) && self.fixtures.unsubscribe(&request.uri) {
            return Ok(());
        }
        self.inner.unsubscribe(request, context).await
    }

    /// What wxlink accepts, plus the list changes the fixtures announce.
    fn accepted_subscription_filter(
        &self,
        requested: &SubscriptionFilter,
    ) -> Option<SubscriptionFilter> {
        let mut accepted = self
            .inner
            .accepted_subscription_filter(requested)
            .unwrap_or_default();
        self.fixtures.accept(requested, &mut accepted);
        Some(accepted)
    }

    /// wxlink's stream, with the fixtures' list changes forwarded into it while it lasts.
    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let _changes = self.fixtures.forward(context.sink());
        self.inner.listen(context).await
    }

    /// Delegated (wxlink refuses it from 2026-07-28); the level is kept once accepted.
    async fn set_level(
        &self,
        request: SetLevelRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let level = request.level;
        self.inner.set_level(request, context).await?;
        *self.log_level.lock().unwrap_or_else(|p| p.into_inner()) = Some(level);
        Ok(())
    }

    async fn complete(
        &self,
        request: CompleteRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        if let Some(info) = self.fixtures.complete(
            &request.r#ref,
            &request.argument.name,
            &request.argument.value,
        ) {
            return Ok(CompleteResult::new(info));
        }
        self.inner.complete(request, context).await
    }

    /// wxlink's prompts (it has none: "method not found") and the fixtures'.
    async fn list_prompts(
        &self,
        request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        let mut result = match self.inner.list_prompts(request, context).await {
            Ok(result) => result,
            Err(e) if e.code == ErrorCode::METHOD_NOT_FOUND => ListPromptsResult::default(),
            Err(e) => return Err(e),
        };
        result.prompts.extend(self.fixtures.prompts());
        Ok(result)
    }

    /// A fixture prompt, else wxlink's; a prompt neither has is an invalid parameter (the
    /// prompts capability is declared, so "method not found" would be wrong).
    async fn get_prompt(
        &self,
        request: GetPromptRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<GetPromptResponse, ErrorData> {
        if self.fixtures.has_prompt(&request.name) {
            return self.fixtures.get_prompt(&request);
        }
        let name = request.name.clone();
        self.inner
            .get_prompt(request, context)
            .await
            .map_err(|e| match e.code {
                ErrorCode::METHOD_NOT_FOUND => {
                    ErrorData::invalid_params(format!("unknown prompt {name:?}"), None)
                }
                _ => e,
            })
    }

    async fn get_task(
        &self,
        request: GetTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<GetTaskResult, ErrorData> {
        self.fixtures.get_task(&request)
    }

    async fn update_task(
        &self,
        request: UpdateTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.fixtures.update_task(request)
    }

    async fn cancel_task(
        &self,
        request: CancelTaskParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.fixtures.cancel_task(&request)
    }
}
