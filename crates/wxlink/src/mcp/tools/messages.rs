//! WeiLink's message tools: `recv`, `send`, `download`, `history` — same names, parameters
//! and defaults.

use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::CallToolResult;
use rmcp::{tool, tool_router, ErrorData};
use tokio_util::sync::CancellationToken;

use super::{fail, structured, tool_error, Json};
use crate::error::AppError;
use crate::mcp::params::{given, local_path, wait};
use crate::mcp::server::WxlinkMcp;
use crate::mcp::types::*;
use crate::service::history::HistoryFilter;
use crate::service::send::{Attachment, SendRequest};
use crate::transfer::Unobserved;
use crate::upstream::FileKind;

#[tool_router(router = messages_router, vis = "pub(crate)")]
impl WxlinkMcp {
    /// Receive new WeChat messages.
    #[tool(
        name = "recv",
        title = "Receive messages",
        description = "Receive new WeChat messages: waits up to `timeout` seconds, returning as \
                       soon as one arrives. Each message comes once per `consumer`, across \
                       restarts. Reply to a message's `user` (or `room_id`) with `send`; pass its \
                       `id` to `download`.",
        annotations(
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
        let consumer = p.consumer.as_deref().and_then(given).unwrap_or_default();
        let after = match p.after.as_deref().and_then(given) {
            None => None,
            Some(a) => Some(a.parse::<i64>().map_err(|_| {
                fail(AppError::Invalid(format!(
                    "`after` must be a message id (the `cursor` of an answer), not {a:?}"
                )))
            })?),
        };
        let messages = tokio::select! {
            r = self.service.recv_gated(&consumer, wait(p.timeout), after, self.is_channel())
                => r.map_err(fail)?,
            _ = ct.cancelled() => Vec::new(),
        };
        let cursor = messages.last().map(|m| m.id).or(after);
        Ok(Json(RecvOut {
            messages: MessageOut::list(messages),
            cursor: cursor.map(|c| c.to_string()),
        }))
    }

    /// Send text and media.
    #[tool(
        name = "send",
        title = "Send a message",
        description = "Send text and/or files (paths on the machine running wxlink) to a user who \
                       wrote to the bot, or to a Wechaty contact or room id. Text goes first, then \
                       each file as its own message. Checked before anything is sent: an iLink \
                       user must have messaged the bot, each message they send allows 10 replies \
                       (`quota_left`), text is at most 16 KiB.",
        output_schema = schema_for_output::<SendOut>(),
        annotations(
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
        let mut files = Vec::new();
        let mut add = |kind, path: &str| {
            if let Some(p) = local_path(path) {
                files.push(Attachment::new(kind, p));
            }
        };
        add(FileKind::Image, &p.image_path);
        add(FileKind::Voice, &p.voice_path);
        add(FileKind::File, &p.file_path);
        add(FileKind::Video, &p.video_path);
        if let Some(f) = files.iter_mut().find(|a| a.kind == FileKind::File) {
            f.name = given(&p.file_name);
        }
        let req = SendRequest {
            to: p.to,
            text: Some(p.text).filter(|t| !t.is_empty()),
            files,
            session: given(&p.session),
            by: self.sent_by(),
        };
        match self.service.send(&req, &Unobserved).await {
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
        description = "Save the image, voice, file or video of a message (its `id` from `recv` \
                       or `history`) into `save_dir` (default: wxlink's media directory). \
                       Returns the files written; existing files are never overwritten.",
        annotations(
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
        let files = self
            .service
            .download(&p.message_id, dir.as_deref(), &Unobserved)
            .await
            .map_err(fail)?;
        Ok(Json(DownloadOut {
            files: files
                .into_iter()
                .map(|f| FileOut {
                    path: f.path,
                    size: f.size,
                    kind: f.kind,
                })
                .collect(),
        }))
    }

    /// Search stored messages.
    #[tool(
        name = "history",
        title = "Search message history",
        description = "Search every stored message, received and sent, newest first. The \
                       filters combine; since/until take ISO 8601 or unix ms; text_contains \
                       finds Chinese words inside sentences. Pages with limit (at most 200) and \
                       offset; `total` counts matches up to 10,000.",
        annotations(
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
        let filter = HistoryFilter {
            user: p.user_id,
            bot_id: p.bot_id,
            session: p.session,
            kind: p.msg_type,
            direction: p.direction,
            since: p.since,
            until: p.until,
            text: p.text_contains,
            limit: p.limit,
            offset: p.offset,
            before_id: None,
        };
        let found = self.service.history(&filter).await.map_err(fail)?;
        Ok(Json(HistoryOut {
            messages: MessageOut::list(found.page.messages),
            total: found.page.total,
            total_exact: found.page.total_exact,
            limit: found.limit,
            offset: found.offset,
            note: found.note,
        }))
    }
}
