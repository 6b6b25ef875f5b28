//! WeiLink's session tools: `sessions`, `login`, `logout`, `rename_session`, `set_default`.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::service::RequestContext;
use rmcp::{tool, tool_router, ErrorData, RoleServer};

use super::{fail, structured, tool_error, Json};
use crate::error::AppError;
use crate::mcp::login::{self as mcp_login, Progress};
use crate::mcp::params::given;
use crate::mcp::server::WxlinkMcp;
use crate::mcp::types::*;
use crate::qr;

#[tool_router(router = sessions_router, vis = "pub(crate)")]
impl WxlinkMcp {
    /// List sessions.
    #[tool(
        name = "sessions",
        title = "List sessions",
        description = "List the WeChat accounts (sessions) logged in here: status, default, \
                       polling or degraded, last message, users it can answer.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn sessions(&self) -> Result<Json<SessionsOut>, String> {
        let sessions = self.service.list_sessions().await.map_err(fail)?;
        let sessions = sessions
            .iter()
            .map(|s| SessionOut::from_record(&s.record, s.polling))
            .collect::<Result<Vec<_>, _>>()
            .map_err(fail)?;
        Ok(Json(SessionsOut { sessions }))
    }

    /// Log in by QR code.
    #[tool(
        name = "login",
        title = "Log in to WeChat",
        description = "Log a WeChat account in by QR code. The first call returns status `pending` \
                       with the QR code (an image and `qr_url`): show it to the user to scan with \
                       WeChat. Call again to wait up to `timeout` seconds: `scanned`, `confirmed` \
                       (logged in), `expired` (a new QR code to show), `need_verifycode` (call \
                       again with `verify_code` from the phone) or `already_bound`. A connected \
                       session answers `already_logged_in` unless `force`. backend=\"wechaty\" \
                       with `endpoint` and `token` logs in through a Wechaty Puppet Service \
                       (contacts by name, group chats).",
        output_schema = schema_for_output::<LoginOut>(),
        annotations(
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
        let step = mcp_login::step(&self.service, &p, Progress::of(&ctx), ctx.ct.clone()).await;
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
        description = "Log a session out (default: the default session): its credentials are \
                       removed and polling stops; its message history is kept.",
        annotations(
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
        let session = self
            .service
            .logout(given(&p.session_name).as_deref())
            .await
            .map_err(fail)?;
        Ok(Json(LogoutOut {
            success: true,
            session: session.name,
        }))
    }

    /// Rename a session.
    #[tool(
        name = "rename_session",
        title = "Rename a session",
        description = "Rename a session; its history, tokens and default flag follow it.",
        annotations(
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
        let (Some(old), Some(new)) = (given(&p.old_name), given(&p.new_name)) else {
            return Err(fail(AppError::Invalid(
                "give both old_name and new_name (see the `sessions` tool for the names)".into(),
            )));
        };
        self.service
            .rename_session(&old, &new)
            .await
            .map_err(fail)?;
        Ok(Json(RenameOut {
            success: true,
            old_name: old,
            new_name: new,
        }))
    }

    /// Choose the default session.
    #[tool(
        name = "set_default",
        title = "Set the default session",
        description = "Make a session the default one (used when a tool is given no session).",
        annotations(
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
        let Some(name) = given(&p.session_name) else {
            return Err(fail(AppError::Invalid(
                "give session_name (see the `sessions` tool for the names)".into(),
            )));
        };
        self.service.set_default(&name).await.map_err(fail)?;
        Ok(Json(SetDefaultOut {
            success: true,
            default_session: name,
        }))
    }
}
