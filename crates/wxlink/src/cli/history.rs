//! `wxlink history [--user U] [--session S] [--bot-id B] [--type T] [--direction D] [--since T]
//! [--until T] [--text Q] [--limit N] [--offset N]`.

use clap::Args;
use serde_json::json;

use super::Output;
use crate::error::AppResult;
use crate::service::history::HistoryFilter;
use crate::service::Service;
use crate::views;

/// Options of `wxlink history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only messages with this user (or contact, or room).
    #[arg(long)]
    pub user: Option<String>,
    /// Only this session.
    #[arg(long)]
    pub session: Option<String>,
    /// Only the session whose bot account has this id.
    #[arg(long)]
    pub bot_id: Option<String>,
    /// Only this type: text, image, voice, file, video, mixed, unknown.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only received (in) or sent (out) messages.
    #[arg(long)]
    pub direction: Option<String>,
    /// Not before this time (ISO 8601 or unix ms).
    #[arg(long)]
    pub since: Option<String>,
    /// Not after this time (ISO 8601 or unix ms).
    #[arg(long)]
    pub until: Option<String>,
    /// Text contained in the message (Chinese works: 下午开会).
    #[arg(long)]
    pub text: Option<String>,
    /// Page size (at most 200).
    #[arg(long, default_value_t = 50)]
    pub limit: u32,
    /// Messages to skip.
    #[arg(long, default_value_t = 0)]
    pub offset: u32,
}

/// Runs the command.
pub async fn run(service: &Service, args: HistoryArgs, out: &Output) -> AppResult<()> {
    let filter = HistoryFilter {
        user: args.user.unwrap_or_default(),
        bot_id: args.bot_id.unwrap_or_default(),
        session: args.session.unwrap_or_default(),
        kind: args.kind.unwrap_or_default(),
        direction: args.direction.unwrap_or_default(),
        since: args.since.unwrap_or_default(),
        until: args.until.unwrap_or_default(),
        text: args.text.unwrap_or_default(),
        limit: args.limit,
        offset: args.offset,
        before_id: None,
    };
    let found = service.history(&filter).await?;
    let page = &found.page;
    if out.json {
        let mut v = json!({
            "messages": page.messages.iter().map(views::message).collect::<Vec<_>>(),
            "total": page.total,
            "total_exact": page.total_exact,
            "limit": found.limit,
            "offset": found.offset,
        });
        if let Some(note) = &found.note {
            v["note"] = json!(note);
        }
        out.print_json(&v);
        return Ok(());
    }
    if let Some(note) = &found.note {
        eprintln!("wxlink: {note}");
    }
    if page.messages.is_empty() {
        out.line("No messages match.");
    } else {
        out.messages(&page.messages);
        out.line(&format!(
            "{}–{} of {}{}",
            found.offset + 1,
            found.offset as u64 + page.messages.len() as u64,
            page.total,
            if page.total_exact { "" } else { "+" }
        ));
    }
    Ok(())
}
