//! `wxlink send TO [--text ..] [--image P] [--file P --file-name N] [--video P] [--voice P]
//! [--session S]`.

use std::path::PathBuf;

use clap::Args;

use super::progress::TransferBars;
use super::Output;
use crate::error::AppResult;
use crate::service::send::{Attachment, SendRequest, SentBy};
use crate::service::Service;
use crate::upstream::FileKind;

/// Options of `wxlink send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// Recipient user id (…@im.wechat), as shown by `recv` and `history`.
    pub to: String,
    /// Text to send (sent first).
    #[arg(long)]
    pub text: Option<String>,
    /// Image file to send (repeatable).
    #[arg(long, value_name = "PATH")]
    pub image: Vec<PathBuf>,
    /// File to send (repeatable).
    #[arg(long, value_name = "PATH")]
    pub file: Vec<PathBuf>,
    /// Display name for the (first) file.
    #[arg(long, value_name = "NAME", requires = "file")]
    pub file_name: Option<String>,
    /// Video file to send (repeatable).
    #[arg(long, value_name = "PATH")]
    pub video: Vec<PathBuf>,
    /// Voice file to send (repeatable; WeChat plays files more reliably).
    #[arg(long, value_name = "PATH")]
    pub voice: Vec<PathBuf>,
    /// Send through this session instead of the one with the freshest context token.
    #[arg(long)]
    pub session: Option<String>,
}

/// Runs the command.
pub async fn run(service: &Service, args: SendArgs, out: &Output) -> AppResult<()> {
    let mut files: Vec<Attachment> = Vec::new();
    let groups: [(FileKind, Vec<PathBuf>); 4] = [
        (FileKind::Image, args.image),
        (FileKind::Voice, args.voice),
        (FileKind::File, args.file),
        (FileKind::Video, args.video),
    ];
    for (kind, paths) in groups {
        files.extend(paths.into_iter().map(|p| Attachment::new(kind, p)));
    }
    if let (Some(first), Some(name)) = (
        files.iter_mut().find(|a| a.kind == FileKind::File),
        args.file_name,
    ) {
        first.name = Some(name);
    }
    let req = SendRequest {
        to: args.to,
        text: args.text,
        files,
        session: args.session,
        by: SentBy::Owner,
    };
    let bars = TransferBars::new(out, "Sending…");
    let report = service.send(&req, &bars).await;
    bars.finish();
    let report = report?;
    if out.json {
        out.print_json(&serde_json::to_value(&report).unwrap_or_default());
    } else {
        for item in &report.sent {
            let what = match &item.path {
                Some(p) => format!("{} {p} ({} bytes)", item.kind, item.size.unwrap_or(0)),
                None => item.kind.clone(),
            };
            out.line(&format!(
                "Sent {what} to {} via session {:?}.",
                report.to, report.session
            ));
        }
        if let Some(e) = &report.error {
            eprintln!("wxlink: stopped before the rest: {e}");
        }
        if let Some(left) = report.quota_left {
            out.line(&format!(
                "{left} of 10 messages left on this user's context token."
            ));
        }
    }
    if report.success {
        Ok(())
    } else {
        Err(crate::error::AppError::Reported(crate::error::EXIT_FAILURE))
    }
}
