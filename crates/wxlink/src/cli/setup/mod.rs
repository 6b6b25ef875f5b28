//! `wxlink setup <client>`: connects an AI agent to wxlink by writing the agent's own config —
//! its MCP server entry (the absolute path of this binary, `mcp`, the global options of this
//! run), and for Claude Code and Codex the prompt hook (and Claude Code's `/wechat` skill).
//! `--uninstall` removes exactly those entries, `--dry-run` shows the diff, `--print` the
//! snippets. One module per client says where and what; `files` writes safely (backup,
//! atomic, modes), `jsonc` and `toml_edit` edit in place keeping comments, `launch` builds the
//! command lines, `places` finds the files.

mod claude_code;
mod claude_desktop;
mod codex;
mod cursor;
mod diff;
mod files;
mod jsonc;
mod launch;
mod opencode;
mod places;
mod vscode;

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use super::output::print_stdout;
use super::Output;
use crate::error::{AppError, AppResult};
use files::{Action, ChangeKind, FileChange, FileSpec};
use jsonc::{Dialect, Doc, Input};
pub use launch::Launch;
use places::Places;

/// Options of `wxlink setup`.
#[derive(Debug, Clone, Args)]
pub struct SetupArgs {
    /// The agent to connect, or `all` for every one installed here (config directory or
    /// binary on PATH).
    #[arg(value_enum)]
    pub client: Target,
    /// Remove what setup added (wxlink's entries only; everything else stays).
    #[arg(long)]
    pub uninstall: bool,
    /// Show what would change, as a diff, and write nothing.
    #[arg(long, conflicts_with = "print")]
    pub dry_run: bool,
    /// Print the config snippets for adding wxlink by hand, and write nothing.
    #[arg(long, conflicts_with = "uninstall")]
    pub print: bool,
    /// Claude Code: run the server as a channel that pushes new messages into the session
    /// (`wxlink mcp --channel`).
    #[arg(long)]
    pub channel: bool,
    /// Claude Code, with --channel: relay tool-approval prompts to the WeChat users `wxlink
    /// access` allows (`wxlink mcp --channel --permission-relay`).
    #[arg(long, requires = "channel")]
    pub permission_relay: bool,
    /// Codex: let wxlink's tools run without asking (`default_tools_approval_mode =
    /// "approve"` for wxlink's server only), so `codex exec` can send.
    #[arg(long)]
    pub approve_tools: bool,
}

/// Which agent `wxlink setup` configures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Target {
    /// Claude Code: MCP server, prompt hook, /wechat skill.
    ClaudeCode,
    /// OpenAI Codex CLI: MCP server and prompt hook.
    Codex,
    /// OpenCode: MCP server.
    Opencode,
    /// Cursor: MCP server.
    Cursor,
    /// Claude Desktop: MCP server.
    ClaudeDesktop,
    /// VS Code (Copilot agent mode): MCP server.
    Vscode,
    /// Every agent above that is installed here.
    All,
}

const CLIENTS: [Target; 6] = [
    Target::ClaudeCode,
    Target::Codex,
    Target::Opencode,
    Target::Cursor,
    Target::ClaudeDesktop,
    Target::Vscode,
];

impl Target {
    fn name(self) -> &'static str {
        match self {
            Target::ClaudeCode => "claude-code",
            Target::Codex => "codex",
            Target::Opencode => "opencode",
            Target::Cursor => "cursor",
            Target::ClaudeDesktop => "claude-desktop",
            Target::Vscode => "vscode",
            Target::All => "all",
        }
    }
}

/// What every client's plan is made from.
pub struct Ctx {
    places: Places,
    launch: Launch,
    channel: bool,
    permission_relay: bool,
    approve_tools: bool,
}

impl Ctx {
    fn specs(&self, client: Target, action: Action) -> Vec<FileSpec> {
        match client {
            Target::ClaudeCode => claude_code::files(self),
            Target::Codex => codex::files(self, action),
            Target::Opencode => opencode::files(self, action),
            Target::Cursor => cursor::files(self),
            Target::ClaudeDesktop => claude_desktop::files(self),
            Target::Vscode => vscode::files(self),
            Target::All => Vec::new(),
        }
    }

    fn notes(&self, client: Target) -> Vec<String> {
        match client {
            Target::ClaudeCode => claude_code::notes(self),
            Target::Codex => codex::notes(self),
            Target::Opencode => opencode::notes(),
            Target::Cursor => cursor::notes(),
            Target::ClaudeDesktop => claude_desktop::notes(),
            Target::Vscode => vscode::notes(),
            Target::All => Vec::new(),
        }
    }

    /// Whether `client` looks installed: its config directory exists or its binary is on PATH.
    fn installed(&self, client: Target) -> bool {
        let p = &self.places;
        match client {
            Target::ClaudeCode => {
                p.claude_dir.is_dir() || p.claude_json.is_file() || p.on_path("claude")
            }
            Target::Codex => p.codex_home.is_dir() || p.on_path("codex"),
            Target::Opencode => opencode::dir(self).is_dir() || p.on_path("opencode"),
            Target::Cursor => p.home.join(".cursor").is_dir() || p.on_path("cursor"),
            Target::ClaudeDesktop => claude_desktop::dir(self).is_dir(),
            Target::Vscode => vscode::dir(self).is_dir() || p.on_path("code"),
            Target::All => false,
        }
    }
}

/// One MCP server entry named `wxlink` under `container` in a JSON or JSONC file.
fn json_entry(
    path: PathBuf,
    dialect: Dialect,
    container: &'static [&'static str],
    entry: Input,
) -> FileSpec {
    FileSpec {
        path,
        edit: Box::new(move |text, action, original| {
            if action == Action::Uninstall && text.is_none() {
                return Ok(None);
            }
            let doc = Doc::parse(text, original, dialect)?;
            match action {
                Action::Install => doc.upsert(container, "wxlink", &entry)?,
                Action::Uninstall => doc.remove(container, "wxlink")?,
            }
            Ok(doc.finish())
        }),
        remove_empty_dir: false,
    }
}

/// Runs `wxlink setup`. Blocking (file I/O): call it off the async runtime.
pub fn run(launch: Launch, args: &SetupArgs, out: &Output) -> AppResult<()> {
    let ctx = Ctx {
        places: Places::from_env()?,
        launch,
        channel: args.channel,
        permission_relay: args.permission_relay,
        approve_tools: args.approve_tools,
    };
    let action = if args.uninstall {
        Action::Uninstall
    } else {
        Action::Install
    };
    let clients: Vec<Target> = match args.client {
        // Uninstall looks everywhere: removing nothing is harmless.
        Target::All if action == Action::Uninstall => CLIENTS.to_vec(),
        Target::All => CLIENTS.into_iter().filter(|c| ctx.installed(*c)).collect(),
        one => vec![one],
    };
    if clients.is_empty() {
        return Err(AppError::Invalid(
            "no supported agent found here (looked for the config directories and binaries of \
             claude-code, codex, opencode, cursor, claude-desktop and vscode); name one: \
             `wxlink setup <client>`"
                .into(),
        ));
    }
    if args.print {
        print_snippets(&ctx, &clients, out);
        return Ok(());
    }
    // Every file of every client is read and computed before anything is written: a file
    // that cannot be edited stops the run with nothing changed.
    let mut plans = Vec::new();
    for client in &clients {
        let changes = ctx
            .specs(*client, action)
            .iter()
            .map(|spec| files::plan(spec, action))
            .collect::<AppResult<Vec<FileChange>>>()?;
        plans.push((*client, changes));
    }
    if !args.dry_run {
        for (_, changes) in &plans {
            for change in changes {
                files::apply(change)?;
            }
        }
    }
    report(&ctx, &plans, action, args.dry_run, out);
    Ok(())
}

fn print_snippets(ctx: &Ctx, clients: &[Target], out: &Output) {
    let mut all = Vec::new();
    for client in clients {
        let mut snippets = Vec::new();
        for spec in ctx.specs(*client, Action::Install) {
            // An empty file with wxlink's entries added is the snippet.
            if let Ok(Some(text)) = (spec.edit)(None, Action::Install, None) {
                snippets.push((spec.path, text));
            }
        }
        all.push((*client, snippets));
    }
    if out.json {
        let clients: Vec<Value> = all
            .iter()
            .map(|(client, snippets)| {
                json!({"client": client.name(), "files": snippets.iter()
                    .map(|(path, text)| json!({"path": path, "snippet": text}))
                    .collect::<Vec<_>>()})
            })
            .collect();
        out.print_json(&json!({"clients": clients}));
        return;
    }
    for (client, snippets) in all {
        for (path, text) in snippets {
            print_stdout(&format!(
                "# {}: add to {}\n{}",
                client.name(),
                path.display(),
                text.trim_end()
            ));
            print_stdout("");
        }
    }
}

fn report(
    ctx: &Ctx,
    plans: &[(Target, Vec<FileChange>)],
    action: Action,
    dry_run: bool,
    out: &Output,
) {
    if out.json {
        let clients: Vec<Value> = plans
            .iter()
            .map(|(client, changes)| {
                let changed = changes.iter().any(|c| c.kind() != ChangeKind::Unchanged);
                json!({
                    "client": client.name(),
                    "changed": changed,
                    "files": changes.iter().map(|c| json!({
                        "path": c.path,
                        "change": c.kind().as_str(),
                        "backup": c.backup.as_ref().filter(|_| !c.restores_backup),
                        "diff": dry_run.then(|| diff::unified(&c.path.to_string_lossy(),
                            c.before.as_deref(), c.after.as_deref())),
                    })).collect::<Vec<_>>(),
                    "notes": if action == Action::Install && changed && !dry_run {
                        ctx.notes(*client) } else { Vec::new() },
                })
            })
            .collect();
        out.print_json(&json!({
            "action": match action { Action::Install => "install", Action::Uninstall => "uninstall" },
            "dry_run": dry_run,
            "clients": clients,
        }));
        return;
    }
    for (client, changes) in plans {
        let name = client.name();
        let changed: Vec<&FileChange> = changes
            .iter()
            .filter(|c| c.kind() != ChangeKind::Unchanged)
            .collect();
        if changed.is_empty() {
            print_stdout(&match action {
                Action::Install => format!("{name}: already set up; nothing changed"),
                Action::Uninstall => format!("{name}: nothing of wxlink's to remove"),
            });
            continue;
        }
        if dry_run {
            print_stdout(&format!("{name}: would change {} file(s)", changed.len()));
            for c in changed {
                let diff = diff::unified(
                    &c.path.to_string_lossy(),
                    c.before.as_deref(),
                    c.after.as_deref(),
                );
                print_stdout(diff.trim_end());
            }
            continue;
        }
        print_stdout(&format!("{name}:"));
        for c in changed {
            let backup = match (&c.backup, c.restores_backup) {
                (Some(b), false) => format!("  (backup: {})", b.display()),
                (Some(_), true) => "  (restored from its backup)".to_owned(),
                _ => String::new(),
            };
            print_stdout(&format!(
                "  {:<8} {}{backup}",
                c.kind().as_str(),
                c.path.display()
            ));
        }
        if action == Action::Install {
            for note in ctx.notes(*client) {
                print_stdout(&format!("  note: {note}"));
            }
        }
    }
    if dry_run {
        print_stdout("(dry run: nothing was written)");
    }
}
