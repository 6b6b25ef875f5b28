//! `wxlink download MESSAGE_ID [-o DIR]`.

use std::path::PathBuf;

use clap::Args;
use serde_json::json;

use super::progress::TransferBars;
use super::Output;
use crate::error::AppResult;
use crate::service::Service;

/// Options of `wxlink download`.
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The message: its id or its upstream message id (from `recv` or `history`).
    pub message_id: String,
    /// Directory to save into (default: <data dir>/media).
    #[arg(short, long, value_name = "DIR")]
    pub output: Option<PathBuf>,
}

/// Runs the command.
pub async fn run(service: &Service, args: DownloadArgs, out: &Output) -> AppResult<()> {
    let bars = TransferBars::new(out, "Downloading…");
    let files = service
        .download(&args.message_id, args.output.as_deref(), &bars)
        .await;
    bars.finish();
    let files = files?;
    if out.json {
        out.print_json(&json!({"files": files}));
    } else {
        for f in &files {
            out.line(&format!("Saved {} ({} bytes, {})", f.path, f.size, f.kind));
        }
    }
    Ok(())
}
