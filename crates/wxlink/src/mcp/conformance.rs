//! Fixtures of the official MCP conformance suite (`@modelcontextprotocol/conformance`), behind
//! the `conformance-fixtures` cargo feature and the hidden `wxlink mcp --conformance-fixtures`
//! flag. A normal build has none of this; `tests/conformance/run.sh` builds with the feature and
//! runs the suite against `wxlink mcp -t http --conformance-fixtures`.
//!
//! The suite calls tools, reads resources and gets prompts by fixed names (those of its reference
//! "everything server") and checks their exact contents; this module provides them, registered
//! next to the real WeChat tools, so the suite exercises wxlink's own handler and transports:
//!
//! - tools: `test_simple_text`, `test_image_content`, `test_audio_content`,
//!   `test_embedded_resource`, `test_multiple_content_types`, `test_tool_with_logging`,
//!   `test_tool_with_progress`, `test_error_handling`, `test_sampling`, `test_elicitation`,
//!   `test_elicitation_sep1034_defaults`, `test_elicitation_sep1330_enums`, `test_reconnection`,
//!   `json_schema_2020_12_tool`, `test_custom_header` (an `x-mcp-header` parameter), and the
//!   2026-07-28 diagnostics `test_missing_capability`, `test_streaming_elicitation`,
//!   `test_logging_tool` and `test_input_required_result_*` (multi round-trip requests, with
//!   `requestState` sealed by rmcp's HMAC [`RequestStateCodec`]);
//! - resources: `test://static-text`, `test://static-binary`, `test://watched-resource`
//!   (subscribable) and the template `test://template/{id}/data`;
//! - prompts: `test_simple_prompt`, `test_prompt_with_arguments`,
//!   `test_prompt_with_embedded_resource`, `test_prompt_with_image`,
//!   `test_input_required_result_prompt`; completions for their arguments.
//!
//! The Tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`) is declared too, with rmcp's
//! [`TaskManager`] behind `tasks/get`, `tasks/update` and `tasks/cancel` and the fixture tools
//! `greet` (synchronous), `slow_compute`, `failing_job`, `protocol_error_job`, `confirm_delete`,
//! `multi_input` and `test_tool_with_task` (task-supporting); wxlink's own tools never make tasks.
//!
//! The fixtures also declare `listChanged` for tools and prompts: `test_trigger_tool_change` and
//! `test_trigger_prompt_change` announce a change to every `subscriptions/listen` stream that
//! asked for it (and to the calling legacy session).
//!
//! The fixtures are process-wide: [`enable`] switches them on before the server starts and
//! [`active`] is what the hooks in [`super::server`] check.

// Logging and sampling are deprecated by the 2026-07-28 spec (SEP-2577) but still part of the
// 2025-11-25 protocol the suite tests.
#![allow(deprecated)]

use std::collections::{BTreeMap, HashSet};
use std::hash::{BuildHasher, Hasher};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use rmcp::handler::server::tool::{InputResponses, RequestState};
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities, CompletionInfo,
    ContentBlock, CreateMessageRequestParams, CreateTaskResult, ElicitRequestParams,
    GetPromptRequestParams, GetPromptResponse, GetPromptResult, GetTaskParams, GetTaskResult,
    InputRequest, InputRequests, InputRequiredResult, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, Prompt, PromptArgument,
    PromptMessage, PromptsCapability, Reference, RequestStateCodec, Resource, ResourceContents,
    ResourceTemplate, Role, ServerCapabilities, SubscriptionFilter, SubscriptionFilterBuilder,
    UpdateTaskParams, TASKS_EXTENSION_ID,
};
use rmcp::service::{RequestContext, SubscriptionSink};
use rmcp::task_manager::{TaskContext, TaskExit, TaskManager, TaskOptions};
use rmcp::{tool, tool_router, ErrorData, RoleServer};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use super::qr;
use super::server::{is_modern, WxlinkMcp};

/// The text resource.
const STATIC_TEXT: &str = "test://static-text";
/// The binary resource.
const STATIC_BINARY: &str = "test://static-binary";
/// The subscribable resource.
const WATCHED: &str = "test://watched-resource";
/// The resource template.
const TEMPLATE: &str = "test://template/{id}/data";
const TEMPLATE_PREFIX: &str = "test://template/";
const TEMPLATE_SUFFIX: &str = "/data";

/// Process-wide fixture state.
pub struct Fixtures {
    /// Seals and opens `requestState` (HMAC-SHA256 with a per-process key).
    codec: RequestStateCodec,
    /// URIs subscribed with the legacy `resources/subscribe`.
    subscribed: Mutex<HashSet<String>>,
    /// Announced list changes, fanned out to `subscriptions/listen` streams.
    changes: broadcast::Sender<ListChange>,
    /// Tasks of the Tasks extension (process-wide: 2026-07-28 requests are stateless).
    tasks: TaskManager,
}

/// A list whose change the trigger tools announce.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ListChange {
    Tools,
    Prompts,
}

/// Aborts a forwarding task when the subscription ends.
#[derive(Debug)]
pub struct Forwarding(JoinHandle<()>);

impl Drop for Forwarding {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for Fixtures {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fixtures")
            .field("subscribed", &self.subscribed)
            .field("running_tasks", &self.tasks.running_task_count())
            .finish_non_exhaustive()
    }
}

static FIXTURES: OnceLock<Fixtures> = OnceLock::new();

/// Registers the fixtures for the rest of the process (idempotent).
pub fn enable() {
    FIXTURES.get_or_init(|| Fixtures {
        codec: RequestStateCodec::new(process_key()),
        subscribed: Mutex::default(),
        changes: broadcast::channel(16).0,
        tasks: TaskManager::new(),
    });
}

/// The fixtures, when [`enable`] was called.
pub fn active() -> Option<&'static Fixtures> {
    FIXTURES.get()
}

/// 32 unpredictable bytes from the standard library's randomly seeded hasher (no extra
/// dependency for a test-only key).
fn process_key() -> Vec<u8> {
    let state = std::collections::hash_map::RandomState::new();
    (0u64..4)
        .flat_map(|i| {
            let mut h = state.build_hasher();
            h.write_u64(i);
            h.finish().to_le_bytes()
        })
        .collect()
}

/// A JSON object literal as a tool input schema.
fn schema(value: Value) -> Arc<JsonObject> {
    match value {
        Value::Object(map) => Arc::new(map),
        _ => Arc::new(JsonObject::new()),
    }
}

/// A small PNG (wxlink's own encoder: a QR code).
fn png_base64() -> String {
    qr::png("wxlink conformance").map_or_else(String::new, |png| qr::base64(&png))
}

/// A tiny WAV file: 8 kHz mono 16-bit, 16 samples of silence.
fn wav_base64() -> String {
    let samples = 16u32;
    let data_len = samples * 2;
    let mut wav = Vec::with_capacity(44 + data_len as usize);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes()); // fmt chunk size
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&8000u32.to_le_bytes()); // sample rate
    wav.extend_from_slice(&16000u32.to_le_bytes()); // byte rate
    wav.extend_from_slice(&2u16.to_le_bytes()); // block align
    wav.extend_from_slice(&16u16.to_le_bytes()); // bits per sample
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    wav.resize(44 + data_len as usize, 0);
    qr::base64(&wav)
}

fn text(s: impl Into<String>) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(s)])
}

fn from_json<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, ErrorData> {
    serde_json::from_value(value)
        .map_err(|e| ErrorData::internal_error(format!("bad fixture: {e}"), None))
}

/// One MRTR input request, from its wire form.
fn input_request(method: &str, params: Value) -> Result<InputRequest, ErrorData> {
    from_json(json!({ "method": method, "params": params }))
}

fn ask_name(message: &str) -> Result<InputRequest, ErrorData> {
    ask(message, "name")
}

/// An `elicitation/create` asking for one required string field.
fn ask(message: &str, field: &str) -> Result<InputRequest, ErrorData> {
    input_request(
        "elicitation/create",
        json!({
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { field: { "type": "string" } },
                "required": [field],
            },
        }),
    )
}

fn sample(prompt: &str, max_tokens: u32) -> Result<InputRequest, ErrorData> {
    input_request(
        "sampling/createMessage",
        json!({
            "messages": [{ "role": "user", "content": { "type": "text", "text": prompt } }],
            "maxTokens": max_tokens,
        }),
    )
}

fn roots() -> Result<InputRequest, ErrorData> {
    input_request("roots/list", json!({}))
}

fn requests<const N: usize>(items: [(&str, InputRequest); N]) -> InputRequests {
    items
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect::<BTreeMap<_, _>>()
}

/// The accepted content field `field` of an elicitation response, if that is what it is.
fn accepted(response: Option<&Value>, field: &str) -> Option<String> {
    let response = response?.as_object()?;
    if response.get("action")?.as_str()? != "accept" {
        return None;
    }
    Some(
        response
            .get("content")?
            .get(field)
            .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
            .unwrap_or_default(),
    )
}

/// The text of a sampling response (`CreateMessageResult`).
fn sampled(response: Option<&Value>) -> Option<String> {
    let content = response?.get("content")?;
    let block = content
        .as_array()
        .and_then(|a| a.first())
        .unwrap_or(content);
    block.get("text")?.as_str().map(str::to_owned)
}

/// The root URIs of a `ListRootsResult`.
fn root_uris(response: Option<&Value>) -> Option<Vec<String>> {
    let roots = response?.get("roots")?.as_array()?;
    Some(
        roots
            .iter()
            .filter_map(|r| r.get("uri")?.as_str().map(str::to_owned))
            .collect(),
    )
}

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

/// Whether a log notification at `level` may go to the client of this request: a 2026-07-28
/// request opts in with `_meta["io.modelcontextprotocol/logLevel"]`; older sessions use the
/// level of `logging/setLevel` (info until set).
fn may_log(server: &WxlinkMcp, ctx: &RequestContext<RoleServer>, level: LoggingLevel) -> bool {
    let threshold = if is_modern(ctx) {
        match ctx.meta.log_level() {
            Some(l) => l,
            None => return false,
        }
    } else {
        server.log_level().unwrap_or(LoggingLevel::Info)
    };
    log_rank(level) >= log_rank(threshold)
}

/// Arguments of `test_sampling`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct SamplingArgs {
    /// The prompt to send to the LLM.
    pub prompt: String,
}

/// Arguments of `test_elicitation`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ElicitationArgs {
    /// The message to show the user.
    pub message: String,
}

/// Arguments of `json_schema_2020_12_tool` (its advertised schema is the suite's, verbatim).
#[derive(Debug, Default, Deserialize)]
pub struct NameArgs {
    #[serde(default)]
    name: Option<String>,
}

/// Arguments of `test_custom_header`.
#[derive(Debug, Deserialize)]
pub struct CustomHeaderArgs {
    value: String,
}

/// Arguments of `greet`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct GreetArgs {
    /// Who to greet.
    pub name: String,
}

/// Arguments of `slow_compute`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct ComputeArgs {
    /// How long the computation takes, in seconds (0: immediate).
    #[serde(default)]
    pub seconds: f64,
    /// A label echoed in the result.
    #[serde(default)]
    pub label: Option<String>,
}

/// Arguments of `confirm_delete`.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
pub struct DeleteArgs {
    /// The (imaginary) file to delete.
    #[serde(default)]
    pub filename: Option<String>,
}

/// Whether this request's client declared the Tasks extension (per request or per session).
fn tasks_declared(ctx: &RequestContext<RoleServer>) -> bool {
    ctx.client_capabilities()
        .is_some_and(|caps| caps.supports_tasks())
}

/// `-32021` naming the Tasks extension, for tools that only run as tasks.
fn tasks_required() -> ErrorData {
    ErrorData::missing_required_client_capability(
        ClientCapabilities::builder().enable_tasks().build(),
    )
}

/// Runs `work` as a task of the process-wide manager: a `CreateTaskResult`.
fn spawn_task<F, Fut>(work: F) -> Result<CallToolResponse, ErrorData>
where
    F: FnOnce(TaskContext) -> Fut,
    Fut: std::future::Future<Output = Result<CallToolResult, TaskExit>> + Send + 'static,
{
    let fixtures = active().ok_or_else(|| ErrorData::internal_error("no fixtures", None))?;
    let task = fixtures
        .tasks
        .spawn(TaskOptions::new().with_poll_interval_ms(100), |ctx| {
            Box::pin(work(ctx))
        });
    Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
}

/// A yes/no elicitation for `confirm_delete` and `multi_input`.
fn ask_confirm(message: &str) -> Result<InputRequest, ErrorData> {
    input_request(
        "elicitation/create",
        json!({
            "message": message,
            "requestedSchema": {
                "type": "object",
                "properties": { "confirm": { "type": "boolean" } },
                "required": ["confirm"]
            }
        }),
    )
}

fn json_schema_2020_12() -> Arc<JsonObject> {
    schema(json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "type": "object",
        "$defs": {
            "address": {
                "$anchor": "addressDef",
                "type": "object",
                "properties": {
                    "street": { "type": "string" },
                    "city": { "type": "string" }
                }
            }
        },
        "properties": {
            "name": { "type": "string" },
            "address": { "$ref": "#/$defs/address" },
            "contactMethod": { "type": "string", "enum": ["phone", "email"] },
            "phone": { "type": "string" },
            "email": { "type": "string" }
        },
        "allOf": [{ "anyOf": [{ "required": ["phone"] }, { "required": ["email"] }] }],
        "if": {
            "properties": { "contactMethod": { "const": "phone" } },
            "required": ["contactMethod"]
        },
        "then": { "required": ["phone"] },
        "else": { "required": ["email"] },
        "additionalProperties": false
    }))
}

fn custom_header_schema() -> Arc<JsonObject> {
    schema(json!({
        "type": "object",
        "properties": {
            "value": {
                "type": "string",
                "description": "Echoed back; also sent as the Mcp-Param-Value header",
                "x-mcp-header": "Value"
            }
        },
        "required": ["value"]
    }))
}

/// Result of an elicitation, as the suite's reference server words it.
fn elicited(prefix: &str, result: Result<Value, String>) -> CallToolResult {
    match result {
        Ok(v) => text(format!(
            "{prefix}: action={}, content={}",
            v.get("action").and_then(Value::as_str).unwrap_or("unknown"),
            v.get("content").cloned().unwrap_or(Value::Null)
        )),
        Err(e) => {
            CallToolResult::error(vec![ContentBlock::text(format!("Elicitation error: {e}"))])
        }
    }
}

impl WxlinkMcp {
    /// Sends a form elicitation to the client (legacy sessions: a server→client request).
    async fn elicit_form(
        &self,
        ctx: &RequestContext<RoleServer>,
        message: &str,
        requested_schema: Value,
    ) -> Result<Value, String> {
        let params: ElicitRequestParams = serde_json::from_value(json!({
            "message": message,
            "requestedSchema": requested_schema,
        }))
        .map_err(|e| e.to_string())?;
        let result = ctx
            .peer
            .create_elicitation(params)
            .await
            .map_err(|e| e.to_string())?;
        serde_json::to_value(result).map_err(|e| e.to_string())
    }

    /// Requires a sealed `requestState` carrying `expected`, else a protocol error.
    fn open_state(state: Option<&str>, expected: &str) -> Result<(), ErrorData> {
        let fixtures = active().ok_or_else(|| ErrorData::internal_error("no fixtures", None))?;
        let state =
            state.ok_or_else(|| ErrorData::invalid_params("requestState is missing", None))?;
        let payload = fixtures.codec.open(state).map_err(|e| {
            ErrorData::invalid_params(format!("requestState failed verification: {e}"), None)
        })?;
        if payload != expected.as_bytes() {
            return Err(ErrorData::invalid_params(
                "requestState belongs to another step",
                None,
            ));
        }
        Ok(())
    }

    fn seal(payload: &str) -> Option<String> {
        active().map(|f| f.codec.seal(payload.as_bytes()))
    }
}

#[tool_router(router = conformance_router, vis = "pub(super)")]
impl WxlinkMcp {
    #[tool(name = "test_simple_text", description = "Returns simple text content")]
    async fn test_simple_text(&self) -> CallToolResult {
        text("This is a simple text response for testing.")
    }

    #[tool(name = "test_image_content", description = "Returns image content")]
    async fn test_image_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::image(png_base64(), "image/png")])
    }

    #[tool(name = "test_audio_content", description = "Returns audio content")]
    async fn test_audio_content(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::audio(wav_base64(), "audio/wav")])
    }

    #[tool(
        name = "test_embedded_resource",
        description = "Returns embedded resource content"
    )]
    async fn test_embedded_resource(&self) -> CallToolResult {
        CallToolResult::success(vec![ContentBlock::resource(
            ResourceContents::text(
                "This is an embedded resource content.",
                "test://embedded-resource",
            )
            .with_mime_type("text/plain"),
        )])
    }

    #[tool(
        name = "test_multiple_content_types",
        description = "Returns text, image and resource content"
    )]
    async fn test_multiple_content_types(&self) -> CallToolResult {
        CallToolResult::success(vec![
            ContentBlock::text("Multiple content types test:"),
            ContentBlock::image(png_base64(), "image/png"),
            ContentBlock::resource(
                ResourceContents::text(
                    r#"{"test":"data","value":123}"#,
                    "test://mixed-content-resource",
                )
                .with_mime_type("application/json"),
            ),
        ])
    }

    #[tool(
        name = "test_tool_with_logging",
        description = "Sends three info log notifications while it runs"
    )]
    async fn test_tool_with_logging(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        for (i, message) in [
            "Tool execution started",
            "Tool processing data",
            "Tool execution completed",
        ]
        .into_iter()
        .enumerate()
        {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if may_log(self, &ctx, LoggingLevel::Info) {
                let note = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
                    .with_logger("wxlink-conformance");
                let _ = ctx.peer.notify_logging_message(note).await;
            }
        }
        text("Logging test completed")
    }

    #[tool(
        name = "test_tool_with_progress",
        description = "Reports progress 0, 50 and 100 of 100"
    )]
    async fn test_tool_with_progress(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        let token = ctx.meta.get_progress_token();
        for (i, (progress, message)) in [(0.0, "Starting"), (50.0, "Halfway"), (100.0, "Complete")]
            .into_iter()
            .enumerate()
        {
            if i > 0 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if let Some(token) = &token {
                let note = ProgressNotificationParam::new(token.clone(), progress)
                    .with_total(100.0)
                    .with_message(message);
                let _ = ctx.peer.notify_progress(note).await;
            }
        }
        text("Progress test completed")
    }

    #[tool(
        name = "test_error_handling",
        description = "Always fails (isError: true)"
    )]
    async fn test_error_handling(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )])
    }

    #[tool(
        name = "test_sampling",
        description = "Asks the client's LLM (sampling/createMessage)"
    )]
    async fn test_sampling(
        &self,
        Parameters(args): Parameters<SamplingArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let params: CreateMessageRequestParams = match from_json(json!({
            "messages": [{ "role": "user", "content": { "type": "text", "text": args.prompt } }],
            "maxTokens": 100,
        })) {
            Ok(p) => p,
            Err(e) => return CallToolResult::error(vec![ContentBlock::text(e.message)]),
        };
        match ctx.peer.create_message(params).await {
            Ok(result) => {
                let value = serde_json::to_value(&result).unwrap_or(Value::Null);
                let answer = sampled(value.get("message").or(Some(&value)))
                    .unwrap_or_else(|| "No text response".into());
                text(format!("LLM response: {answer}"))
            }
            Err(e) => {
                CallToolResult::error(vec![ContentBlock::text(format!("Sampling error: {e}"))])
            }
        }
    }

    #[tool(
        name = "test_elicitation",
        description = "Asks the user for a username and email (elicitation/create)"
    )]
    async fn test_elicitation(
        &self,
        Parameters(args): Parameters<ElicitationArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let schema = json!({
            "type": "object",
            "properties": {
                "username": { "type": "string", "description": "User's response" },
                "email": { "type": "string", "description": "User's email address" }
            },
            "required": ["username", "email"]
        });
        elicited(
            "User response",
            self.elicit_form(&ctx, &args.message, schema).await,
        )
    }

    #[tool(
        name = "test_elicitation_sep1034_defaults",
        description = "Elicitation whose fields all have defaults (SEP-1034)"
    )]
    async fn test_elicitation_sep1034_defaults(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let schema = json!({
            "type": "object",
            "properties": {
                "name": { "type": "string", "description": "User's name", "default": "John Doe" },
                "age": { "type": "integer", "description": "User's age", "default": 30 },
                "score": { "type": "number", "description": "User's score", "default": 95.5 },
                "status": {
                    "type": "string",
                    "description": "User's status",
                    "enum": ["active", "inactive", "pending"],
                    "default": "active"
                },
                "verified": {
                    "type": "boolean",
                    "description": "Whether user is verified",
                    "default": true
                }
            }
        });
        elicited(
            "Elicitation completed",
            self.elicit_form(&ctx, "Please provide values (all have defaults)", schema)
                .await,
        )
    }

    #[tool(
        name = "test_elicitation_sep1330_enums",
        description = "Elicitation with the five enum forms (SEP-1330)"
    )]
    async fn test_elicitation_sep1330_enums(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> CallToolResult {
        let schema = json!({
            "type": "object",
            "properties": {
                "untitledSingle": { "type": "string", "enum": ["option1", "option2", "option3"] },
                "titledSingle": {
                    "type": "string",
                    "oneOf": [
                        { "const": "value1", "title": "First Option" },
                        { "const": "value2", "title": "Second Option" },
                        { "const": "value3", "title": "Third Option" }
                    ]
                },
                "legacyEnum": {
                    "type": "string",
                    "enum": ["opt1", "opt2", "opt3"],
                    "enumNames": ["Option One", "Option Two", "Option Three"]
                },
                "untitledMulti": {
                    "type": "array",
                    "items": { "type": "string", "enum": ["option1", "option2", "option3"] }
                },
                "titledMulti": {
                    "type": "array",
                    "items": {
                        "anyOf": [
                            { "const": "value1", "title": "First Choice" },
                            { "const": "value2", "title": "Second Choice" },
                            { "const": "value3", "title": "Third Choice" }
                        ]
                    }
                }
            }
        });
        elicited(
            "Elicitation completed",
            self.elicit_form(&ctx, "Test enum schema improvements", schema)
                .await,
        )
    }

    #[tool(
        name = "test_reconnection",
        description = "A short call for the SSE polling scenario (SEP-1699)"
    )]
    async fn test_reconnection(&self) -> CallToolResult {
        tokio::time::sleep(Duration::from_millis(100)).await;
        text("Reconnection test completed")
    }

    #[tool(
        name = "json_schema_2020_12_tool",
        description = "Tool with JSON Schema 2020-12 features",
        input_schema = json_schema_2020_12()
    )]
    async fn json_schema_2020_12_tool(
        &self,
        Parameters(args): Parameters<NameArgs>,
    ) -> CallToolResult {
        text(format!(
            "Hello, {}!",
            args.name.as_deref().unwrap_or("world")
        ))
    }

    #[tool(
        name = "test_custom_header",
        description = "Echoes `value`, which clients also send as the Mcp-Param-Value header",
        input_schema = custom_header_schema()
    )]
    async fn test_custom_header(
        &self,
        Parameters(args): Parameters<CustomHeaderArgs>,
    ) -> CallToolResult {
        text(format!("value={}", args.value))
    }

    #[tool(
        name = "test_trigger_tool_change",
        description = "Announces a change of the tool list (notifications/tools/list_changed)"
    )]
    async fn test_trigger_tool_change(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        announce(&ctx, ListChange::Tools).await;
        text("Tool list change announced")
    }

    #[tool(
        name = "test_trigger_prompt_change",
        description = "Announces a change of the prompt list (notifications/prompts/list_changed)"
    )]
    async fn test_trigger_prompt_change(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        announce(&ctx, ListChange::Prompts).await;
        text("Prompt list change announced")
    }

    #[tool(name = "greet", description = "Says hello (synchronous; never a task)")]
    async fn greet(&self, Parameters(args): Parameters<GreetArgs>) -> CallToolResult {
        text(format!("Hello, {}!", args.name))
    }

    #[tool(
        name = "slow_compute",
        description = "Sleeps `seconds`, then answers; a task when the client supports tasks"
    )]
    async fn slow_compute(
        &self,
        Parameters(args): Parameters<ComputeArgs>,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let delay = Duration::from_secs_f64(args.seconds.clamp(0.0, 3600.0));
        let answer = format!(
            "computed {} in {}s",
            args.label.as_deref().unwrap_or("result"),
            args.seconds
        );
        if !tasks_declared(&ctx) {
            tokio::time::sleep(delay).await;
            return Ok(text(answer).into());
        }
        spawn_task(move |task| async move {
            tokio::select! {
                _ = task.cancelled() => Err(TaskExit::Cancelled),
                _ = tokio::time::sleep(delay) => Ok(text(answer)),
            }
        })
    }

    #[tool(
        name = "failing_job",
        description = "Only runs as a task; the task ends with a tool error (isError)"
    )]
    async fn failing_job(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !tasks_declared(&ctx) {
            return Err(tasks_required());
        }
        spawn_task(|_| async {
            tokio::time::sleep(Duration::from_millis(500)).await;
            Ok(CallToolResult::error(vec![ContentBlock::text(
                "The job failed (on purpose)",
            )]))
        })
    }

    #[tool(
        name = "protocol_error_job",
        description = "A task that fails with a protocol error (status failed)"
    )]
    async fn protocol_error_job(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let error = ErrorData::internal_error("the job crashed (on purpose)", None);
        if !tasks_declared(&ctx) {
            return Err(error);
        }
        spawn_task(|_| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Err(TaskExit::Error(error))
        })
    }

    #[tool(
        name = "confirm_delete",
        description = "Asks the user to confirm before it 'deletes' a file: as a task when the \
                       client supports tasks, else with an InputRequiredResult (2026-07-28)"
    )]
    async fn confirm_delete(
        &self,
        Parameters(args): Parameters<DeleteArgs>,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let file = args.filename.unwrap_or_else(|| "the file".into());
        let question = ask_confirm(&format!("Delete {file}?"))?;
        let outcome = move |answer: &Value| {
            let yes = answer.get("action").and_then(Value::as_str) == Some("accept")
                && answer.pointer("/content/confirm") == Some(&Value::Bool(true));
            text(if yes {
                format!("Deleted {file}")
            } else {
                format!("Kept {file}")
            })
        };
        if tasks_declared(&ctx) {
            return spawn_task(move |task| async move {
                let answer = task.request_input("confirm", question).await?;
                Ok(outcome(&answer))
            });
        }
        if !is_modern(&ctx) {
            return Err(tasks_required());
        }
        let responses = responses.unwrap_or_default();
        Ok(match responses.get("confirm").filter(|v| v.is_object()) {
            Some(answer) => outcome(answer).into(),
            None => {
                InputRequiredResult::from_input_requests(requests([("confirm", question)])).into()
            }
        })
    }

    #[tool(
        name = "multi_input",
        description = "A task that asks two questions at once"
    )]
    async fn multi_input(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        if !tasks_declared(&ctx) {
            return Err(tasks_required());
        }
        let first = ask_confirm("First question: proceed?")?;
        let second = ask_confirm("Second question: really proceed?")?;
        spawn_task(move |task| async move {
            let (a, b) = tokio::join!(
                task.request_input("first", first),
                task.request_input("second", second)
            );
            let (a, b) = (a?, b?);
            Ok(text(format!(
                "answers: {} / {}",
                a.get("action").and_then(Value::as_str).unwrap_or("?"),
                b.get("action").and_then(Value::as_str).unwrap_or("?")
            )))
        })
    }

    #[tool(
        name = "test_tool_with_task",
        description = "Asks for a name (InputRequiredResult), then finishes as a task"
    )]
    async fn test_tool_with_task(
        &self,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        if !tasks_declared(&ctx) {
            return Err(tasks_required());
        }
        let responses = responses.unwrap_or_default();
        let Some(name) = accepted(responses.get("user_name"), "name") else {
            return Ok(InputRequiredResult::from_input_requests(requests([(
                "user_name",
                ask_name("What is your name?")?,
            )]))
            .into());
        };
        spawn_task(move |_| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(text(format!("Hello, {name}! (finished as a task)")))
        })
    }

    #[tool(
        name = "test_missing_capability",
        description = "Needs the client's sampling capability (-32021 without it)"
    )]
    async fn test_missing_capability(
        &self,
        ctx: RequestContext<RoleServer>,
    ) -> Result<CallToolResult, ErrorData> {
        let declared = ctx
            .client_capabilities()
            .is_some_and(|c| c.sampling.is_some());
        if !declared {
            let required: ClientCapabilities = from_json(json!({ "sampling": {} }))?;
            return Err(ErrorData::missing_required_client_capability(required));
        }
        Ok(text("The client declared sampling"))
    }

    #[tool(
        name = "test_streaming_elicitation",
        description = "Reports progress, then asks for input with an InputRequiredResult"
    )]
    async fn test_streaming_elicitation(
        &self,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        if let Some(token) = ctx.meta.get_progress_token() {
            let note = ProgressNotificationParam::new(token, 50.0).with_total(100.0);
            let _ = ctx.peer.notify_progress(note).await;
        }
        let responses = responses.unwrap_or_default();
        match accepted(responses.get("user_name"), "name") {
            Some(name) => Ok(text(format!("Hello, {name}!")).into()),
            None => Ok(InputRequiredResult::from_input_requests(requests([(
                "user_name",
                ask_name("What is your name?")?,
            )]))
            .into()),
        }
    }

    #[tool(
        name = "test_logging_tool",
        description = "Logs only when the request asks for it (_meta logLevel)"
    )]
    async fn test_logging_tool(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        if may_log(self, &ctx, LoggingLevel::Info) {
            let note =
                LoggingMessageNotificationParam::new(LoggingLevel::Info, json!("logging tool ran"))
                    .with_logger("wxlink-conformance");
            let _ = ctx.peer.notify_logging_message(note).await;
        }
        text("Logging tool completed")
    }

    #[tool(
        name = "test_input_required_result_elicitation",
        description = "Asks for a name with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_elicitation(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match accepted(responses.get("user_name"), "name") {
            Some(name) => text(format!("Hello, {name}!")).into(),
            None => InputRequiredResult::from_input_requests(requests([(
                "user_name",
                ask_name("What is your name?")?,
            )]))
            .into(),
        })
    }

    #[tool(
        name = "test_input_required_result_sampling",
        description = "Asks the client's LLM with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_sampling(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match sampled(responses.get("capital_question")) {
            Some(answer) => text(format!("LLM response: {answer}")).into(),
            None => InputRequiredResult::from_input_requests(requests([(
                "capital_question",
                sample("What is the capital of France?", 100)?,
            )]))
            .into(),
        })
    }

    #[tool(
        name = "test_input_required_result_list_roots",
        description = "Asks for the client's roots with an InputRequiredResult (SEP-2322)"
    )]
    async fn test_input_required_result_list_roots(
        &self,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        let responses = responses.unwrap_or_default();
        Ok(match root_uris(responses.get("client_roots")) {
            Some(uris) => text(format!("Client roots: {}", uris.join(", "))).into(),
            None => {
                InputRequiredResult::from_input_requests(requests([("client_roots", roots()?)]))
                    .into()
            }
        })
    }

    #[tool(
        name = "test_input_required_result_request_state",
        description = "Round-trips a sealed requestState (SEP-2322)"
    )]
    async fn test_input_required_result_request_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "request-state:confirm";
        let responses = responses.unwrap_or_default();
        if responses.contains_key("confirm") {
            Self::open_state(state.as_deref(), STEP)?;
            return Ok(text("state-ok: requestState verified").into());
        }
        let confirm = input_request(
            "elicitation/create",
            json!({
                "message": "Please confirm",
                "requestedSchema": {
                    "type": "object",
                    "properties": { "ok": { "type": "boolean" } },
                    "required": ["ok"]
                }
            }),
        )?;
        Ok(
            InputRequiredResult::new(Some(requests([("confirm", confirm)])), Self::seal(STEP))
                .into(),
        )
    }

    #[tool(
        name = "test_input_required_result_multiple_inputs",
        description = "Asks for elicitation, sampling and roots at once (SEP-2322)"
    )]
    async fn test_input_required_result_multiple_inputs(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "multiple-inputs";
        let responses = responses.unwrap_or_default();
        let name = accepted(responses.get("user_name"), "name");
        let greeting = sampled(responses.get("greeting"));
        let client_roots = root_uris(responses.get("client_roots"));
        if let (Some(name), Some(greeting), Some(client_roots)) = (&name, &greeting, &client_roots)
        {
            Self::open_state(state.as_deref(), STEP)?;
            return Ok(text(format!(
                "name={name}; greeting={greeting}; roots={}",
                client_roots.join(", ")
            ))
            .into());
        }
        let mut missing = InputRequests::new();
        if name.is_none() {
            missing.insert("user_name".into(), ask_name("What is your name?")?);
        }
        if greeting.is_none() {
            missing.insert("greeting".into(), sample("Generate a greeting", 50)?);
        }
        if client_roots.is_none() {
            missing.insert("client_roots".into(), roots()?);
        }
        Ok(InputRequiredResult::new(Some(missing), Self::seal(STEP)).into())
    }

    #[tool(
        name = "test_input_required_result_multi_round",
        description = "Two rounds of questions with an evolving requestState (SEP-2322)"
    )]
    async fn test_input_required_result_multi_round(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const ROUND1: &str = "multi-round:1";
        const ROUND2: &str = "multi-round:2";
        let responses = responses.unwrap_or_default();
        if let Some(color) = accepted(responses.get("step2"), "color") {
            Self::open_state(state.as_deref(), ROUND2)?;
            return Ok(text(format!("Favorite color: {color}")).into());
        }
        if accepted(responses.get("step1"), "name").is_some() {
            Self::open_state(state.as_deref(), ROUND1)?;
            return Ok(InputRequiredResult::new(
                Some(requests([(
                    "step2",
                    ask("Step 2: What is your favorite color?", "color")?,
                )])),
                Self::seal(ROUND2),
            )
            .into());
        }
        Ok(InputRequiredResult::new(
            Some(requests([(
                "step1",
                ask_name("Step 1: What is your name?")?,
            )])),
            Self::seal(ROUND1),
        )
        .into())
    }

    #[tool(
        name = "test_input_required_result_tampered_state",
        description = "Rejects a requestState that fails its HMAC check (SEP-2322)"
    )]
    async fn test_input_required_result_tampered_state(
        &self,
        InputResponses(responses): InputResponses,
        RequestState(state): RequestState,
    ) -> Result<CallToolResponse, ErrorData> {
        const STEP: &str = "tampered-state:confirm";
        if responses.is_some_and(|r| !r.is_empty()) {
            Self::open_state(state.as_deref(), STEP)?;
            return Ok(text("state-ok").into());
        }
        let confirm = input_request(
            "elicitation/create",
            json!({
                "message": "Please confirm",
                "requestedSchema": {
                    "type": "object",
                    "properties": { "ok": { "type": "boolean" } },
                    "required": ["ok"]
                }
            }),
        )?;
        Ok(
            InputRequiredResult::new(Some(requests([("confirm", confirm)])), Self::seal(STEP))
                .into(),
        )
    }

    #[tool(
        name = "test_input_required_result_capabilities",
        description = "Only asks for what the client declared it can answer (SEP-2322)"
    )]
    async fn test_input_required_result_capabilities(
        &self,
        ctx: RequestContext<RoleServer>,
        InputResponses(responses): InputResponses,
    ) -> Result<CallToolResponse, ErrorData> {
        if responses.is_some_and(|r| !r.is_empty()) {
            return Ok(text("Thanks for the input").into());
        }
        let caps = ctx.client_capabilities().unwrap_or_default();
        let mut wanted = InputRequests::new();
        if caps.elicitation.is_some() {
            wanted.insert("user_name".into(), ask_name("What is your name?")?);
        }
        if caps.sampling.is_some() {
            wanted.insert(
                "capital_question".into(),
                sample("What is the capital of France?", 100)?,
            );
        }
        if caps.roots.is_some() {
            wanted.insert("client_roots".into(), roots()?);
        }
        if wanted.is_empty() {
            return Ok(text("The client declared no capability to ask with").into());
        }
        Ok(InputRequiredResult::from_input_requests(wanted).into())
    }
}

/// Tells listen streams (2026-07-28) or the calling session (older) that a list changed.
async fn announce(ctx: &RequestContext<RoleServer>, change: ListChange) {
    if let Some(fixtures) = active() {
        let _ = fixtures.changes.send(change);
    }
    if !is_modern(ctx) {
        let _ = match change {
            ListChange::Tools => ctx.peer.notify_tool_list_changed().await,
            ListChange::Prompts => ctx.peer.notify_prompt_list_changed().await,
        };
    }
}

impl Fixtures {
    /// Declares what the fixtures add: prompts, and `listChanged` for tools and prompts.
    pub fn declare(&self, capabilities: &mut ServerCapabilities) {
        let mut prompts = PromptsCapability::default();
        prompts.list_changed = Some(true);
        capabilities.prompts = Some(prompts);
        let mut tools = capabilities.tools.take().unwrap_or_default();
        tools.list_changed = Some(true);
        capabilities.tools = Some(tools);
        capabilities
            .extensions
            .get_or_insert_with(Default::default)
            .insert(TASKS_EXTENSION_ID.to_string(), JsonObject::new());
    }

    /// `tasks/get`.
    pub fn get_task(&self, request: &GetTaskParams) -> Result<GetTaskResult, ErrorData> {
        Ok(GetTaskResult::new(self.tasks.get_task(&request.task_id)?))
    }

    /// `tasks/update`: the client's answers to a task's input requests.
    pub fn update_task(&self, request: UpdateTaskParams) -> Result<(), ErrorData> {
        self.tasks
            .update_task(&request.task_id, request.input_responses)
    }

    /// `tasks/cancel` (cooperative: the task settles as `cancelled`).
    pub fn cancel_task(&self, request: &CancelTaskParams) -> Result<(), ErrorData> {
        self.tasks.cancel_task(&request.task_id)
    }

    /// Accepts the list-change notifications a `subscriptions/listen` request asks for.
    pub fn accept(
        &self,
        requested: &SubscriptionFilter,
        mut accepted: SubscriptionFilterBuilder,
    ) -> SubscriptionFilterBuilder {
        if requested.tools_list_changed == Some(true) {
            accepted = accepted.tools_list_changed();
        }
        if requested.prompts_list_changed == Some(true) {
            accepted = accepted.prompts_list_changed();
        }
        accepted
    }

    /// Forwards announced list changes to one listen stream while the returned guard lives
    /// (`None` when the stream accepted no list changes).
    pub fn forward(&self, sink: &SubscriptionSink) -> Option<Forwarding> {
        let accepted = sink.accepted();
        let tools = accepted.tools_list_changed == Some(true);
        let prompts = accepted.prompts_list_changed == Some(true);
        if !tools && !prompts {
            return None;
        }
        let sink = sink.clone();
        let mut changes = self.changes.subscribe();
        Some(Forwarding(tokio::spawn(async move {
            loop {
                let sent = match changes.recv().await {
                    Ok(ListChange::Tools) if tools => sink.notify_tool_list_changed().await,
                    Ok(ListChange::Prompts) if prompts => sink.notify_prompt_list_changed().await,
                    Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => Ok(()),
                    Err(broadcast::error::RecvError::Closed) => return,
                };
                if sent.is_err() {
                    return;
                }
            }
        })))
    }

    /// The fixture resources.
    pub fn resources(&self) -> Vec<Resource> {
        vec![
            Resource::new(STATIC_TEXT, "Static Text Resource")
                .with_description("A static text resource for testing")
                .with_mime_type("text/plain"),
            Resource::new(STATIC_BINARY, "Static Binary Resource")
                .with_description("A static binary (PNG) resource for testing")
                .with_mime_type("image/png"),
            Resource::new(WATCHED, "Watched Resource")
                .with_description("A resource clients can subscribe to")
                .with_mime_type("text/plain"),
        ]
    }

    /// The fixture resource template.
    pub fn templates(&self) -> Vec<ResourceTemplate> {
        vec![ResourceTemplate::new(TEMPLATE, "Dynamic Resource")
            .with_description("A dynamic resource with parameter substitution")
            .with_mime_type("application/json")]
    }

    /// Whether `uri` is one of the fixture resources.
    pub fn knows(&self, uri: &str) -> bool {
        matches!(uri, STATIC_TEXT | STATIC_BINARY | WATCHED) || template_id(uri).is_some()
    }

    /// The contents of a fixture resource, `None` for other URIs.
    pub fn read(&self, uri: &str) -> Option<ResourceContents> {
        Some(match uri {
            STATIC_TEXT => {
                ResourceContents::text("This is the content of the static text resource.", uri)
                    .with_mime_type("text/plain")
            }
            STATIC_BINARY => ResourceContents::blob(png_base64(), uri).with_mime_type("image/png"),
            WATCHED => ResourceContents::text("Watched resource content.", uri)
                .with_mime_type("text/plain"),
            _ => {
                let id = template_id(uri)?;
                let body =
                    json!({ "id": id, "templateTest": true, "data": format!("Data for ID: {id}") });
                ResourceContents::text(body.to_string(), uri).with_mime_type("application/json")
            }
        })
    }

    /// Legacy `resources/subscribe` of a fixture resource (`false` for other URIs).
    pub fn subscribe(&self, uri: &str) -> bool {
        if !self.knows(uri) {
            return false;
        }
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(uri.to_string());
        true
    }

    /// Legacy `resources/unsubscribe`.
    pub fn unsubscribe(&self, uri: &str) {
        self.subscribed
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(uri);
    }

    /// The fixture prompts.
    pub fn prompts(&self) -> Vec<Prompt> {
        let arg = |name: &str, description: &str| {
            PromptArgument::new(name)
                .with_description(description)
                .with_required(true)
        };
        vec![
            Prompt::new(
                "test_simple_prompt",
                Some("A simple prompt without arguments"),
                None,
            ),
            Prompt::new(
                "test_prompt_with_arguments",
                Some("A prompt with two required arguments"),
                Some(vec![
                    arg("arg1", "First test argument"),
                    arg("arg2", "Second test argument"),
                ]),
            ),
            Prompt::new(
                "test_prompt_with_embedded_resource",
                Some("A prompt that embeds a resource"),
                Some(vec![arg("resourceUri", "URI of the resource to embed")]),
            ),
            Prompt::new(
                "test_prompt_with_image",
                Some("A prompt with an image"),
                None,
            ),
            Prompt::new(
                "test_input_required_result_prompt",
                Some("A prompt that first asks the user for context (SEP-2322)"),
                None,
            ),
        ]
    }

    /// `prompts/get` of a fixture prompt.
    pub fn get_prompt(
        &self,
        request: &GetPromptRequestParams,
    ) -> Result<GetPromptResponse, ErrorData> {
        let arg = |name: &str| {
            request
                .arguments
                .as_ref()
                .and_then(|a| a.get(name))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let messages = match request.name.as_str() {
            "test_simple_prompt" => vec![PromptMessage::new_text(
                Role::User,
                "This is a simple prompt for testing.",
            )],
            "test_prompt_with_arguments" => {
                let (Some(arg1), Some(arg2)) = (arg("arg1"), arg("arg2")) else {
                    return Err(ErrorData::invalid_params(
                        "arguments arg1 and arg2 are required",
                        None,
                    ));
                };
                vec![PromptMessage::new_text(
                    Role::User,
                    format!("Prompt with arguments: arg1='{arg1}', arg2='{arg2}'"),
                )]
            }
            "test_prompt_with_embedded_resource" => {
                let Some(uri) = arg("resourceUri") else {
                    return Err(ErrorData::invalid_params(
                        "argument resourceUri is required",
                        None,
                    ));
                };
                vec![
                    PromptMessage::new(
                        Role::User,
                        ContentBlock::resource(
                            ResourceContents::text("Embedded resource content for testing.", uri)
                                .with_mime_type("text/plain"),
                        ),
                    ),
                    PromptMessage::new_text(
                        Role::User,
                        "Please process the embedded resource above.",
                    ),
                ]
            }
            "test_prompt_with_image" => vec![
                PromptMessage::new(Role::User, ContentBlock::image(png_base64(), "image/png")),
                PromptMessage::new_text(Role::User, "Please analyze the image above."),
            ],
            "test_input_required_result_prompt" => {
                let responses = request.input_responses.clone().unwrap_or_default();
                match accepted(responses.get("user_context"), "context") {
                    Some(context) => vec![PromptMessage::new_text(
                        Role::User,
                        format!("Answer with this context in mind: {context}"),
                    )],
                    None => {
                        return Ok(InputRequiredResult::from_input_requests(requests([(
                            "user_context",
                            ask("What context should the prompt use?", "context")?,
                        )]))
                        .into())
                    }
                }
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!("unknown prompt {other:?}"),
                    None,
                ))
            }
        };
        Ok(GetPromptResult::new(messages).into())
    }

    /// Completions of fixture prompt arguments and template variables (`None` when the
    /// reference is not a fixture).
    pub fn complete(
        &self,
        reference: &Reference,
        argument: &str,
        value: &str,
    ) -> Option<CompletionInfo> {
        let candidates: &[&str] = match reference {
            Reference::Prompt(p) if p.name == "test_prompt_with_arguments" => match argument {
                "arg1" => &["paris", "park", "party"],
                "arg2" => &["hello", "world"],
                _ => &[],
            },
            Reference::Prompt(p) if p.name == "test_prompt_with_embedded_resource" => {
                &[STATIC_TEXT, STATIC_BINARY, WATCHED]
            }
            Reference::Prompt(p) if p.name.starts_with("test_") => &[],
            Reference::Resource(r) if r.uri == TEMPLATE => &["1", "2", "3"],
            _ => return None,
        };
        let values = candidates
            .iter()
            .filter(|c| c.starts_with(value))
            .map(|c| (*c).to_string())
            .collect();
        CompletionInfo::with_all_values(values).ok()
    }
}

/// The `{id}` of a `test://template/{id}/data` URI.
fn template_id(uri: &str) -> Option<&str> {
    let id = uri
        .strip_prefix(TEMPLATE_PREFIX)?
        .strip_suffix(TEMPLATE_SUFFIX)?;
    (!id.is_empty() && !id.contains('/')).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_ids() {
        assert_eq!(template_id("test://template/123/data"), Some("123"));
        assert_eq!(template_id("test://template//data"), None);
        assert_eq!(template_id("test://template/1/2/data"), None);
        assert_eq!(template_id("test://static-text"), None);
    }

    #[test]
    fn request_state_is_sealed() {
        enable();
        let sealed = WxlinkMcp::seal("step").expect("fixtures enabled");
        assert!(WxlinkMcp::open_state(Some(&sealed), "step").is_ok());
        assert!(WxlinkMcp::open_state(Some(&sealed), "other").is_err());
        assert!(WxlinkMcp::open_state(Some(&format!("{sealed}-TAMPERED")), "step").is_err());
        assert!(WxlinkMcp::open_state(None, "step").is_err());
    }

    #[test]
    fn media_fixtures_decode() {
        assert!(!png_base64().is_empty());
        // RIFF header + 32 bytes of samples, base64: 4 * ceil(76 / 3).
        assert_eq!(wav_base64().len(), 4 * 76_usize.div_ceil(3));
    }

    #[test]
    fn elicitation_answers() {
        let ok = json!({ "action": "accept", "content": { "name": "Alice" } });
        assert_eq!(accepted(Some(&ok), "name").as_deref(), Some("Alice"));
        assert_eq!(accepted(Some(&json!(12345)), "name"), None);
        assert_eq!(
            accepted(Some(&json!({ "action": "decline" })), "name"),
            None
        );
        assert_eq!(accepted(None, "name"), None);
    }
}
