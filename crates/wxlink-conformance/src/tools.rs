//! The fixture tools the suite calls by name (those of its reference "everything server"),
//! in two routers over [`ConformanceMcp`]:
//!
//! - `content_router`: results of every content type (`test_simple_text`,
//!   `test_image_content`, `test_audio_content`, `test_embedded_resource`,
//!   `test_multiple_content_types`), `test_error_handling`, `test_reconnection`,
//!   `json_schema_2020_12_tool`, `test_custom_header` (an `x-mcp-header` parameter, SEP-2243)
//!   and the list-change triggers `test_trigger_tool_change` / `test_trigger_prompt_change`;
//! - `interaction_router`: tools that talk back while they run — logging
//!   (`test_tool_with_logging`, `test_logging_tool`), progress (`test_tool_with_progress`,
//!   `test_streaming_elicitation`), server→client requests of legacy sessions
//!   (`test_sampling`, `test_elicitation`, `test_elicitation_sep1034_defaults`,
//!   `test_elicitation_sep1330_enums`) and `test_missing_capability` (-32021).
//!
//! The multi round-trip tools are in [`crate::input`], the task tools in [`crate::tasks`].

// Logging and sampling are deprecated by the 2026-07-28 spec (SEP-2577) but still part of the
// 2025-11-25 protocol the suite tests.
#![allow(deprecated)]

use std::sync::Arc;
use std::time::Duration;

use rmcp::handler::server::tool::InputResponses;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, ClientCapabilities, ContentBlock, CreateMessageRequestParams,
    ElicitRequestParams, InputRequiredResult, JsonObject, LoggingLevel,
    LoggingMessageNotificationParam, ProgressNotificationParam, ResourceContents,
};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, ErrorData, RoleServer};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::content::{
    accepted, ask_name, from_json, png_base64, requests, sampled, schema, text, wav_base64,
};
use crate::fixtures::ListChange;
use crate::handler::ConformanceMcp;

/// The logger name of the fixtures' log notifications.
const LOGGER: &str = "wxlink-conformance";

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

/// Sends a form elicitation to the client (legacy sessions: a server→client request).
async fn elicit_form(
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

impl ConformanceMcp {
    /// An info log notification to the client of `ctx`, if it asked for that level.
    async fn log_info(&self, ctx: &RequestContext<RoleServer>, message: &str) {
        if self.may_log(ctx, LoggingLevel::Info) {
            let note = LoggingMessageNotificationParam::new(LoggingLevel::Info, json!(message))
                .with_logger(LOGGER);
            let _ = ctx.peer.notify_logging_message(note).await;
        }
    }
}

#[tool_router(router = content_router, vis = "pub(crate)")]
impl ConformanceMcp {
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
        name = "test_error_handling",
        description = "Always fails (isError: true)"
    )]
    async fn test_error_handling(&self) -> CallToolResult {
        CallToolResult::error(vec![ContentBlock::text(
            "This tool intentionally returns an error for testing",
        )])
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
        self.fixtures.announce(&ctx, ListChange::Tools).await;
        text("Tool list change announced")
    }

    #[tool(
        name = "test_trigger_prompt_change",
        description = "Announces a change of the prompt list (notifications/prompts/list_changed)"
    )]
    async fn test_trigger_prompt_change(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.fixtures.announce(&ctx, ListChange::Prompts).await;
        text("Prompt list change announced")
    }
}

#[tool_router(router = interaction_router, vis = "pub(crate)")]
impl ConformanceMcp {
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
            self.log_info(&ctx, message).await;
        }
        text("Logging test completed")
    }

    #[tool(
        name = "test_logging_tool",
        description = "Logs only when the request asks for it (_meta logLevel)"
    )]
    async fn test_logging_tool(&self, ctx: RequestContext<RoleServer>) -> CallToolResult {
        self.log_info(&ctx, "logging tool ran").await;
        text("Logging tool completed")
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
            elicit_form(&ctx, &args.message, schema).await,
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
            elicit_form(&ctx, "Please provide values (all have defaults)", schema).await,
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
            elicit_form(&ctx, "Test enum schema improvements", schema).await,
        )
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
}
