//! The command line: global options, the subcommand list, logging set-up, and exit codes.
//! Each subcommand lives in its own module.

mod sandbox;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Let AI agents use WeChat: an MCP server over WeChat's iLink Bot API.
#[derive(Debug, Parser)]
#[command(name = "wxlink", version, about, long_about = None)]
pub struct Cli {
    /// Log level for stderr: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long, global = true, env = "WXLINK_LOG", default_value = "info")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a fake WeChat iLink server to try wxlink without a WeChat account.
    Sandbox(sandbox::SandboxArgs),
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wxlink: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Sandbox(args) => sandbox::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wxlink: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr only: stdout belongs to command output (and to the protocol in stdio mode).
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}
