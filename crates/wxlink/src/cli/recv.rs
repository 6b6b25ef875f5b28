//! `wxlink recv [--timeout S] [--consumer C] [--after ID]`: new messages for a consumer. This process polls
//! WeChat for as long as it waits (unless another process already does), then stops cleanly.

use std::sync::Arc;
use std::time::Duration;

use clap::Args;
use serde_json::json;

use super::Output;
use crate::error::{AppError, AppResult};
use crate::service::pollers::Pollers;
use crate::service::Service;
use crate::store::DEFAULT_CONSUMER;
use crate::views;

/// Options of `wxlink recv`.
#[derive(Debug, Args)]
pub struct RecvArgs {
    /// Seconds to wait for the first message.
    #[arg(short, long, default_value_t = 5.0)]
    pub timeout: f64,
    /// Consumer name: each consumer has its own durable read position.
    #[arg(short, long, default_value = DEFAULT_CONSUMER)]
    pub consumer: String,
    /// The id of the last message you processed: what came after it comes (again, if an
    /// earlier run was cut off before you got it).
    #[arg(long, value_name = "ID", value_parser = clap::value_parser!(i64).range(0..))]
    pub after: Option<i64>,
}

/// Runs the command.
pub async fn run(service: Arc<Service>, args: RecvArgs, out: &Output) -> AppResult<()> {
    if !(0.0..=86_400.0).contains(&args.timeout) {
        return Err(AppError::Invalid(
            "--timeout must be between 0 and 86400 seconds".into(),
        ));
    }
    let pollers = Pollers::start(service.clone());
    let result = service
        .recv_after(
            &args.consumer,
            Duration::from_secs_f64(args.timeout),
            args.after,
        )
        .await;
    pollers.shutdown().await;
    let messages = result?;
    if out.json {
        out.print_json(&json!(messages
            .iter()
            .map(views::message)
            .collect::<Vec<_>>()));
    } else if messages.is_empty() {
        out.line("No new messages.");
    } else {
        out.messages(&messages);
    }
    Ok(())
}
