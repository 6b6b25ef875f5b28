//! `wxlink history [--user U] [--session S] [--type T] [--direction D] [--since T] [--until T]
//! [--text Q] [--limit N] [--offset N]`.

use clap::{Args, ValueEnum};
use serde_json::json;

use super::Output;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::store::{Direction, HistoryQuery};
use crate::timefmt::parse_time;
use crate::views;

/// Message direction as the CLI spells it.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum DirectionArg {
    /// Received from users.
    #[value(alias = "received")]
    In,
    /// Sent by the bot.
    #[value(alias = "sent")]
    Out,
}

/// Options of `wxlink history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Only messages with this user.
    #[arg(long)]
    pub user: Option<String>,
    /// Only this session.
    #[arg(long)]
    pub session: Option<String>,
    /// Only this type: text, image, voice, file, video, mixed, unknown.
    #[arg(long = "type", value_name = "TYPE")]
    pub kind: Option<String>,
    /// Only received (in) or sent (out) messages.
    #[arg(long, value_enum)]
    pub direction: Option<DirectionArg>,
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

const KINDS: [&str; 7] = [
    "text", "image", "voice", "file", "video", "mixed", "unknown",
];

/// Builds the store query from the arguments, validating them.
pub fn query(args: &HistoryArgs) -> AppResult<HistoryQuery> {
    let kind = match &args.kind {
        Some(k) => {
            let k = k.to_lowercase();
            if !KINDS.contains(&k.as_str()) {
                return Err(AppError::Invalid(format!(
                    "unknown --type {k:?}: use one of {}",
                    KINDS.join(", ")
                )));
            }
            Some(k)
        }
        None => None,
    };
    let time = |t: &Option<String>| {
        t.as_deref()
            .map(parse_time)
            .transpose()
            .map_err(AppError::Invalid)
    };
    Ok(HistoryQuery {
        user: args.user.clone(),
        session: args.session.clone(),
        kind,
        direction: args.direction.map(|d| match d {
            DirectionArg::In => Direction::In,
            DirectionArg::Out => Direction::Out,
        }),
        since_ms: time(&args.since)?,
        until_ms: time(&args.until)?,
        text: args.text.clone().filter(|t| !t.trim().is_empty()),
        limit: args.limit.clamp(1, 200),
        offset: args.offset,
    })
}

/// Runs the command.
pub fn run(app: &App, args: HistoryArgs, out: &Output) -> AppResult<()> {
    let q = query(&args)?;
    let page = app.store().history(&q)?;
    if out.json {
        out.print_json(&json!({
            "messages": page.messages.iter().map(views::message).collect::<Vec<_>>(),
            "total": page.total,
            "limit": q.limit,
            "offset": q.offset,
        }));
    } else if page.messages.is_empty() {
        out.line("No messages match.");
    } else {
        out.messages(&page.messages);
        out.line(&format!(
            "{}–{} of {}",
            q.offset + 1,
            q.offset as u64 + page.messages.len() as u64,
            page.total
        ));
    }
    Ok(())
}
