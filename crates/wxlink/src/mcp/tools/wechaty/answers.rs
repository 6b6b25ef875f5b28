//! What the Wechaty-MCP-SSE tools answer: candidate lists, the texts of a send, not found and
//! ambiguous names, and the files and texts a send tool sends.

use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::ErrorData;
use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::mcp::params::{given, local_path};
use crate::mcp::types::SentItemOut;
use crate::mcp::wechaty_types::*;
use crate::service::send::{Attachment, SendReport, SendRequest, SentBy};
use crate::store::SessionRecord;
use crate::timefmt::{iso, now_ms};
use crate::upstream::{Contact, Room};

pub(super) fn texts(items: Vec<String>) -> Vec<ContentBlock> {
    items.into_iter().map(ContentBlock::text).collect()
}

/// A result with these text items and `value` as structured content.
pub(super) fn answer<T: Serialize>(
    value: &T,
    items: Vec<String>,
    is_error: bool,
) -> Result<CallToolResult, ErrorData> {
    let json = serde_json::to_value(value)
        .map_err(|e| ErrorData::internal_error(format!("cannot serialize a result: {e}"), None))?;
    let mut result = if is_error {
        CallToolResult::error(texts(items))
    } else {
        CallToolResult::success(texts(items))
    };
    result.structured_content = Some(json);
    Ok(result)
}

/// A tool's answer: its result, or its failure as a tool error whose text says what to do.
pub(super) fn or_tool_error(
    done: AppResult<Result<CallToolResult, ErrorData>>,
) -> Result<CallToolResult, ErrorData> {
    done.unwrap_or_else(|e| Ok(crate::mcp::tools::tool_error(e)))
}

pub fn non_empty<'a>(what: &str, value: &'a str) -> AppResult<&'a str> {
    let v = value.trim();
    if v.is_empty() {
        Err(AppError::Invalid(format!("`{what}` is empty")))
    } else {
        Ok(v)
    }
}

/// Candidates from contacts (already sorted by id), numbered from 1.
pub fn contact_candidates(found: Vec<Contact>) -> Vec<CandidateOut> {
    found
        .into_iter()
        .zip(1u32..)
        .map(|(c, index)| CandidateOut {
            wxid: c.id,
            name: c.name,
            index,
            alias: c.alias,
            members: None,
        })
        .collect()
}

/// Candidates from rooms (already sorted by id), numbered from 1.
pub fn room_candidates(found: Vec<Room>) -> Vec<CandidateOut> {
    found
        .into_iter()
        .zip(1u32..)
        .map(|(r, index)| CandidateOut {
            members: Some(u32::try_from(r.members).unwrap_or(u32::MAX)),
            wxid: r.id,
            name: r.topic,
            index,
            alias: None,
        })
        .collect()
}

/// What a send tool sends.
pub struct Outgoing {
    pub text: Option<String>,
    pub file: Option<Attachment>,
}

impl Outgoing {
    pub fn new(message: &str, file_path: &str, file_name: &str) -> AppResult<Outgoing> {
        let text = (!message.is_empty()).then(|| message.to_string());
        let file = local_path(file_path).map(|p| Attachment::guessed(p, given(file_name)));
        if text.is_none() && file.is_none() {
            return Err(AppError::Invalid(
                "nothing to send: give `message` (text) and/or `file_path`".into(),
            ));
        }
        Ok(Outgoing { text, file })
    }

    pub fn request(self, to: &str, session: Option<String>, by: SentBy) -> SendRequest {
        SendRequest {
            to: to.to_string(),
            text: self.text,
            files: self.file.into_iter().collect(),
            session,
            by,
        }
    }
}

pub(super) fn sent_out(report: &SendReport) -> Vec<SentItemOut> {
    report.sent.iter().map(SentItemOut::from).collect()
}

/// Wechaty-MCP-SSE's answer to a send: its success text, or what went out before a failure.
pub(super) fn sent_answer(
    report: SendReport,
    to: CandidateOut,
    label: &str,
) -> Result<CallToolResult, ErrorData> {
    let time = iso(now_ms());
    let out = SendToOut {
        status: if report.success { "sent" } else { "partial" }.into(),
        session: report.session.clone(),
        to: Some(to),
        time: Some(time.clone()),
        sent: sent_out(&report),
        candidates: Vec::new(),
    };
    if let Some(error) = &report.error {
        let text = format!(
            "消息部分发送到「{label}」: {} item(s) went out, then the rest failed: {error}",
            out.sent.len()
        );
        return answer(&out, vec![text], true);
    }
    answer(&out, vec![sent_text(label, &time)], false)
}

/// 「x」用户不存在 / 「x」群组不存在 as a tool error, with what was compared and similar names.
pub(super) fn not_found(
    target: Target,
    name: &str,
    fuzzy: bool,
    similar: &[CandidateOut],
) -> CallToolResult {
    CallToolResult::error(texts(vec![
        not_found_text(target, name),
        not_found_hint(target, name, fuzzy, similar),
    ]))
}

/// Wechaty-MCP-SSE's answer to an ambiguous name: its text, then the candidates as JSON.
pub(super) fn ambiguous(
    target: Target,
    name: &str,
    session: &SessionRecord,
    candidates: Vec<CandidateOut>,
) -> Result<CallToolResult, ErrorData> {
    let list = list_json(&candidates);
    let out = SendToOut {
        status: "ambiguous".into(),
        session: session.name.clone(),
        to: None,
        time: None,
        sent: Vec::new(),
        candidates,
    };
    answer(&out, vec![ambiguous_text(target, name), list], false)
}
