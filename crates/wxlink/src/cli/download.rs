//! `wxlink download MESSAGE_ID [-o DIR]`.

use std::path::PathBuf;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Output;
use crate::app::App;
use crate::download::download;
use crate::error::AppResult;

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
pub async fn run(app: &App, args: DownloadArgs, out: &Output) -> AppResult<()> {
    let spinner = if out.interactive() {
        let pb = ProgressBar::new_spinner();
        pb.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        pb.set_message("Downloading…");
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    } else {
        ProgressBar::hidden()
    };
    let files = download(app, &args.message_id, args.output.as_deref()).await;
    spinner.finish_and_clear();
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
