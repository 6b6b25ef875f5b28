//! The command line: global options, the subcommand tree, logging set-up, error reporting and
//! exit codes. Each subcommand lives in its own module and only translates arguments into
//! calls of the [`Service`] and its answers into text or `--json`; shared output helpers are in
//! `output`, progress bars in `progress`, the Ctrl-C/SIGTERM future in `signal`.

mod access;
mod contacts;
mod download;
mod history;
mod hook;
mod import;
mod login;
mod mcp;
mod migrate;
mod output;
mod poll;
mod progress;
mod recv;
mod sandbox;
mod send;
mod sessions;
mod setup;
pub mod signal;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use clap::{CommandFactory, Parser, Subcommand};
use url::Url;

use crate::error::{AppError, AppResult, EXIT_FAILURE};
use crate::service::{Service, ServiceOptions};
use crate::store::{KeySource, Retention, StoreLocation};
use crate::upstream::UpstreamOptions;

pub use output::Output;

/// Let AI agents use WeChat: an MCP server over WeChat's iLink Bot API and Wechaty.
#[derive(Debug, Parser)]
#[command(name = "wxlink", version, about, long_about = None)]
pub struct Cli {
    /// Data directory (database, downloads, locks).
    #[arg(
        short = 'd',
        long,
        global = true,
        env = "WXLINK_HOME",
        value_name = "DIR"
    )]
    pub data_dir: Option<PathBuf>,

    /// Print machine-readable JSON on stdout (shapes documented in README.md).
    #[arg(long, global = true)]
    pub json: bool,

    /// iLink API and QR login base URL (default: WeChat's real host).
    #[arg(long, global = true, env = "WXLINK_ILINK_BASE", value_name = "URL")]
    pub ilink_base: Option<Url>,

    /// Media CDN base URL (default: WeChat's real CDN).
    #[arg(long, global = true, env = "WXLINK_CDN_BASE", value_name = "URL")]
    pub cdn_base: Option<Url>,

    /// Delete stored messages older than this many days (off by default).
    #[arg(long, global = true, env = "WXLINK_RETAIN_DAYS", value_name = "DAYS")]
    pub retain_days: Option<u32>,

    /// Keep at most this many stored messages (off by default).
    #[arg(long, global = true, env = "WXLINK_RETAIN_ROWS", value_name = "N")]
    pub retain_rows: Option<u64>,

    /// Make a data directory that others can read private (0700; its database 0600).
    #[arg(long, global = true)]
    pub fix_permissions: bool,

    /// Largest file to send, in MB (default 100); larger files are refused before any upload.
    #[arg(long, global = true, env = "WXLINK_MAX_UPLOAD_MB", value_name = "MB",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_upload_mb: Option<u64>,

    /// Keep everything in this PostgreSQL database instead of SQLite in the data directory
    /// (postgres://user:password@host/database): replicas on several hosts share it.
    #[arg(long, global = true, env = "WXLINK_DATABASE_URL", hide_env_values = true,
          value_name = "URL", value_parser = StoreLocation::parse)]
    pub database: Option<StoreLocation>,

    /// File with the key that encrypts account credentials in PostgreSQL (64 hex digits; make
    /// one with `wxlink database-key`). Or put the key itself in WXLINK_DATABASE_KEY.
    #[arg(
        long,
        global = true,
        env = "WXLINK_DATABASE_KEY_FILE",
        value_name = "FILE"
    )]
    pub database_key_file: Option<PathBuf>,

    /// Log level for stderr: error, warn, info, debug, trace (or a tracing filter).
    #[arg(long, global = true, env = "WXLINK_LOG", default_value = "warn")]
    pub log_level: String,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Log a WeChat account in by QR code (re-login keeps the session's name and history).
    Login(login::LoginArgs),
    /// Remove a session's credentials (its message history stays).
    Logout(sessions::LogoutArgs),
    /// Show sessions: status, polling, last message, users known.
    Status,
    /// List, rename, or choose the default session.
    Sessions(sessions::SessionsArgs),
    /// Receive new messages (waits up to --timeout for the first one).
    Recv(recv::RecvArgs),
    /// Send text and media to a user who wrote to the bot (iLink), or a contact or room (Wechaty).
    Send(send::SendArgs),
    /// Download the media of a stored message.
    Download(download::DownloadArgs),
    /// Search stored messages.
    History(history::HistoryArgs),
    /// Find contacts by nickname or remark, or rooms by topic (Wechaty); iLink users by id.
    Contacts(contacts::ContactsArgs),
    /// Keep every logged-in account polled in the foreground, storing messages, until stopped.
    Poll,
    /// Run a fake WeChat iLink server to try wxlink without a WeChat account.
    Sandbox(sandbox::SandboxArgs),
    /// Run MCP (Streamable HTTP and HTTP+SSE), the REST API and the admin panel on one port.
    Serve(mcp::ServeArgs),
    /// Print the REST API's OpenAPI 3.1 document (JSON) on stdout.
    Openapi,
    /// Run the MCP server for AI agents (stdio by default; `--channel` for Claude Code).
    Mcp(mcp::McpArgs),
    /// The prompt hook: print new messages for the agent's prompt (never fails the prompt).
    Hook(hook::HookArgs),
    /// Who may reach an agent through the channel and the hook (and whom it may write to).
    Access(access::AccessArgs),
    /// Switch from WeiLink or OpenClaw: their sessions (no new login), context tokens and history.
    Import(import::ImportArgs),
    /// Copy everything from one store into another (SQLite ↔ PostgreSQL); running it again
    /// copies only what is new.
    MigrateStore(migrate::MigrateArgs),
    /// Print a new key for --database-key-file (64 hex digits).
    DatabaseKey,
    /// Connect an AI agent (Claude Code, Codex, OpenCode, Cursor, Claude Desktop, VS Code) to
    /// wxlink by writing its config; --uninstall removes it again.
    Setup(setup::SetupArgs),
}

impl Cli {
    fn service_options(&self) -> ServiceOptions {
        ServiceOptions {
            data_dir: self.data_dir.clone(),
            upstream: UpstreamOptions {
                ilink_base: self.ilink_base.clone(),
                cdn_base: self.cdn_base.clone(),
                backoff: None,
                max_upload_bytes: self.max_upload_mb.map(|mb| mb * 1024 * 1024),
            },
            retention: Retention {
                max_age_ms: self.retain_days.map(|d| i64::from(d) * 86_400_000),
                max_rows: self.retain_rows,
            },
            fix_permissions: self.fix_permissions,
            database: self.database.clone(),
            database_key: KeySource {
                file: self.database_key_file.clone(),
            },
        }
    }
}

/// Entry point of the binary.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        // A hook never fails its prompt (Claude Code blocks a prompt on exit code 2): bad
        // arguments end silently.
        Err(_) if invoked_as_hook() => {
            hook::drain_stdin();
            return ExitCode::SUCCESS;
        }
        Err(e) => e.exit(),
    };
    if let Command::Hook(args) = &cli.command {
        return run_hook(&cli, args);
    }
    init_logging(&cli.log_level);
    raise_open_file_limit();
    let out = Output::new(cli.json);
    // One thread is plenty for a CLI and for a stdio server (one client, I/O-bound) and keeps
    // start-up small; an HTTP server with many clients gets a thread per core.
    let serves_many = matches!(
        &cli.command,
        Command::Mcp(args) if args.transport != mcp::Transport::Stdio
    ) || matches!(&cli.command, Command::Serve(_));
    let mut builder = if serves_many {
        tokio::runtime::Builder::new_multi_thread()
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = match builder.enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            out.error(&AppError::System(format!(
                "cannot start the async runtime: {e}"
            )));
            return ExitCode::from(EXIT_FAILURE);
        }
    };
    let result = runtime.block_on(run(cli, &out));
    // Do not wait for stray blocking tasks (e.g. a stdin read) at exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

/// Whether the subcommand on the command line is `hook`: the first word that is neither an
/// option nor the value of one (which options take a value, clap's own definition says).
fn invoked_as_hook() -> bool {
    let cli = Cli::command();
    let takes_value = |arg: &str| {
        cli.get_arguments().any(|a| {
            a.get_action().takes_values()
                && (a
                    .get_long()
                    .is_some_and(|l| arg.strip_prefix("--") == Some(l))
                    || a.get_short().is_some_and(|s| arg == format!("-{s}")))
        })
    };
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        if takes_value(&a) {
            args.next();
        } else if !a.starts_with('-') {
            return a == "hook";
        }
    }
    false
}

/// `wxlink hook`: a one-thread runtime, no logs, exit 0 whatever happens.
fn run_hook(cli: &Cli, args: &hook::HookArgs) -> ExitCode {
    let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return ExitCode::SUCCESS;
    };
    if let Err(e) = runtime.block_on(hook::run(cli.service_options(), args)) {
        // Only when asked for (WXLINK_LOG), on stderr: the prompt goes on either way.
        if std::env::var_os("WXLINK_LOG").is_some() {
            eprintln!("wxlink hook: {e}");
        }
    }
    runtime.shutdown_timeout(std::time::Duration::from_millis(50));
    hook::drain_stdin();
    ExitCode::SUCCESS
}

async fn run(cli: Cli, out: &Output) -> AppResult<()> {
    if let Command::Sandbox(args) = &cli.command {
        return sandbox::run(args, out).await;
    }
    if let Command::Openapi = &cli.command {
        let doc = crate::rest::openapi()
            .to_pretty_json()
            .map_err(|e| AppError::System(format!("cannot write the OpenAPI document: {e}")))?;
        output::print_stdout(&doc);
        return Ok(());
    }
    if let Command::Setup(args) = &cli.command {
        // Edits agents' config files only: no data directory, no store; file I/O off the
        // runtime.
        let (launch, args, out) = (setup::Launch::from_cli(&cli)?, args.clone(), *out);
        return tokio::task::spawn_blocking(move || setup::run(launch, &args, &out))
            .await
            .map_err(|e| AppError::System(format!("setup stopped: {e}")))?;
    }
    let options = cli.service_options();
    match cli.command {
        Command::Import(args) => return import::run(options, args, out).await,
        Command::MigrateStore(args) => return migrate::run(options, args, out).await,
        Command::DatabaseKey => {
            migrate::new_key(out);
            return Ok(());
        }
        _ => {}
    }
    let service: Arc<Service> = Service::connect(options).await?;
    // Sends a crashed process left in flight show as `unknown` from now on.
    if let Err(e) = service.settle_pending().await {
        tracing::warn!(error = %e, "cannot settle interrupted sends");
    }
    match cli.command {
        Command::Login(args) => login::run(&service, args, out).await,
        Command::Logout(args) => sessions::logout(&service, args, out).await,
        Command::Status => sessions::status(&service, out).await,
        Command::Sessions(args) => sessions::run(&service, args, out).await,
        Command::Recv(args) => recv::run(service, args, out).await,
        Command::Send(args) => send::run(&service, args, out).await,
        Command::Download(args) => download::run(&service, args, out).await,
        Command::History(args) => history::run(&service, args, out).await,
        Command::Contacts(args) => contacts::run(&service, args, out).await,
        Command::Poll => poll::run(service, out).await,
        Command::Mcp(args) => mcp::run(service, args).await,
        Command::Serve(args) => mcp::run(service, args.into_mcp()).await,
        Command::Access(args) => access::run(&service, args, out).await,
        Command::Sandbox(_)
        | Command::Openapi
        | Command::Hook(_)
        | Command::Import(_)
        | Command::MigrateStore(_)
        | Command::DatabaseKey
        | Command::Setup(_) => Ok(()),
    }
}

/// Lifts the soft open-file limit to the hard one. Every polled account holds a connection and
/// a lock file: under a soft limit of 1024 (a common default) one process would stop near 500
/// accounts. What is still too low is said by the pollers ([`crate::service::Pollers`]).
fn raise_open_file_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(limit) => tracing::debug!(limit, "open-file limit"),
        Err(e) => tracing::debug!(error = %e, "cannot raise the open-file limit"),
    }
}

/// Logs go to stderr only: stdout belongs to command output (and to the protocol in stdio mode).
fn init_logging(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(level)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_arguments_never_print_a_token() {
        for args in [
            &["wxlink", "mcp", "-t", "http", "--token", "s3cret-token"][..],
            &[
                "wxlink",
                "login",
                "--wechaty",
                "--endpoint",
                "127.0.0.1:8788",
                "--token",
                "s3cret-token",
            ][..],
            &[
                "wxlink",
                "--database",
                "postgres://wx:s3cret@db.internal/wx",
                "serve",
            ][..],
        ] {
            let cli = Cli::try_parse_from(args).expect("parses");
            let shown = format!("{:?}", cli.service_options());
            assert!(!shown.contains("s3cret"), "{shown}");
            let shown = format!("{cli:?}");
            assert!(!shown.contains("s3cret"), "{shown}");
        }
    }
}
