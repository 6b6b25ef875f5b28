//! The Tasks extension (SEP-2663, `io.modelcontextprotocol/tasks`): `tasks/get`,
//! `tasks/update` and `tasks/cancel` over the shared [`TaskManager`] of
//! [`Fixtures`], and `tasks_router`, the fixture tools that run as tasks:
//! `greet` (synchronous, never a task), `slow_compute` (a task when the client supports tasks),
//! `failing_job`, `protocol_error_job`, `confirm_delete` (a task, else an `InputRequiredResult`
//! at 2026-07-28), `multi_input` and `test_tool_with_task`. wxlink's own tools never make tasks.
//!
//! [`TaskManager`]: rmcp::task_manager::TaskManager

use std::time::Duration;

use rmcp::handler::server::tool::InputResponses;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{
    CallToolResponse, CallToolResult, CancelTaskParams, ClientCapabilities, ContentBlock,
    CreateTaskResult, GetTaskParams, GetTaskResult, InputRequiredResult, UpdateTaskParams,
};
use rmcp::service::RequestContext;
use rmcp::task_manager::{TaskContext, TaskExit, TaskOptions};
use rmcp::{tool, tool_router, ErrorData, RoleServer};
use serde::Deserialize;
use serde_json::Value;
use wxlink::mcp::server::is_modern;

use crate::content::{accepted, ask_bool, ask_name, requests, text};
use crate::fixtures::Fixtures;
use crate::handler::ConformanceMcp;

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

impl Fixtures {
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

    /// Runs `work` as a task of the shared manager: a `CreateTaskResult`.
    fn spawn_task<F, Fut>(&self, work: F) -> Result<CallToolResponse, ErrorData>
    where
        F: FnOnce(TaskContext) -> Fut,
        Fut: std::future::Future<Output = Result<CallToolResult, TaskExit>> + Send + 'static,
    {
        let task = self
            .tasks
            .spawn(TaskOptions::new().with_poll_interval_ms(100), |ctx| {
                Box::pin(work(ctx))
            });
        Ok(CallToolResponse::Task(CreateTaskResult::new(task)))
    }
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

#[tool_router(router = tasks_router, vis = "pub(crate)")]
impl ConformanceMcp {
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
        self.fixtures.spawn_task(move |task| async move {
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
        self.fixtures.spawn_task(|_| async {
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
        self.fixtures.spawn_task(|_| async move {
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
        let question = ask_bool(&format!("Delete {file}?"), "confirm")?;
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
            return self.fixtures.spawn_task(move |task| async move {
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
        let first = ask_bool("First question: proceed?", "confirm")?;
        let second = ask_bool("Second question: really proceed?", "confirm")?;
        self.fixtures.spawn_task(move |task| async move {
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
        self.fixtures.spawn_task(move |_| async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok(text(format!("Hello, {name}! (finished as a task)")))
        })
    }
}
