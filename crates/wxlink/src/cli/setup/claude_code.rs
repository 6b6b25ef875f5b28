//! Claude Code, in the plain form (no plugin): the user-scope MCP server in `~/.claude.json`
//! (`mcpServers.wxlink`, as `claude mcp add -s user` writes it), the `UserPromptSubmit` hook in
//! `~/.claude/settings.json`, and the `/wechat` skill in `~/.claude/skills/wechat/SKILL.md`;
//! `$CLAUDE_CONFIG_DIR` moves all three as it moves Claude Code's own. With `--channel` the
//! server runs `mcp --channel` (and `--permission-relay` when asked for).
//!
//! Why not a plugin: current Claude Code loads plugins only from a marketplace it installed
//! them from (its own bookkeeping under `~/.claude/plugins/`), so a folder dropped there (what
//! WeiLink does) is not loaded, and registering a marketplace means running `claude plugin`
//! commands or writing its internal state (checked with 2.1.332: a plugin folder there shows
//! in neither `claude mcp list` nor `claude plugin list`). The plain form is three documented
//! files, `claude mcp list` shows the server, and a development channel loads a server
//! configured this way with `--dangerously-load-development-channels server:wxlink`.

use super::files::{Action, FileSpec};
use super::jsonc::{object, string, strings, Dialect, Doc, Input};
use super::{json_entry, Ctx};

const SKILL: &str = include_str!("wechat-skill.md");
const SKILL_MARK: &str = "Written by `wxlink setup claude-code`";

/// The client name hooks are written for.
pub const CLIENT: &str = "claude-code";

/// The files `wxlink setup claude-code` touches.
pub fn files(ctx: &Ctx) -> Vec<FileSpec> {
    let mut args = ctx.launch.mcp_args(ctx.channel);
    if ctx.permission_relay {
        args.push("--permission-relay".to_owned());
    }
    let server = object([
        ("type", string("stdio")),
        ("command", string(&ctx.launch.program)),
        ("args", strings(&args)),
    ]);
    let hook = object([
        ("type", string("command")),
        ("command", Input::String(ctx.launch.hook_command(CLIENT))),
        ("timeout", Input::Number("5".into())),
    ]);
    // A channel pushes every message into the session: the prompt hook would show each one a
    // second time, so `--channel` takes it out (and a later run without it puts it back).
    let channel = ctx.channel;
    let settings = FileSpec {
        path: ctx.places.claude_dir.join("settings.json"),
        edit: Box::new(move |text, action, original| {
            if channel && text.is_none() {
                // No settings file and no hook to write: none is created.
                return Ok(None);
            }
            let doc = Doc::parse(text, original, Dialect::Json)?;
            match action {
                Action::Install if !channel => {
                    doc.upsert_hook("UserPromptSubmit", CLIENT, &hook)?
                }
                Action::Install | Action::Uninstall => {
                    doc.remove_hooks("UserPromptSubmit", CLIENT)?
                }
            }
            Ok(doc.finish())
        }),
        remove_empty_dir: false,
    };
    let skill = FileSpec {
        path: ctx
            .places
            .claude_dir
            .join("skills")
            .join("wechat")
            .join("SKILL.md"),
        edit: Box::new(|text, action, _| {
            let ours = text.is_none_or(|t| t.contains(SKILL_MARK));
            match (action, ours) {
                (Action::Install, true) => Ok(Some(SKILL.to_owned())),
                (Action::Install, false) => {
                    Err("a `wechat` skill that wxlink did not write is already there".to_owned())
                }
                (Action::Uninstall, true) => Ok(None),
                (Action::Uninstall, false) => Ok(text.map(str::to_owned)),
            }
        }),
        remove_empty_dir: true,
    };
    vec![
        json_entry(
            ctx.places.claude_json.clone(),
            Dialect::Json,
            &["mcpServers"],
            server,
        ),
        settings,
        skill,
    ]
}

/// What to tell the user after setup.
pub fn notes(ctx: &Ctx) -> Vec<String> {
    let mut notes = vec![if ctx.channel {
        "`claude mcp list` shows wxlink; restart running Claude Code sessions to load it. New \
         WeChat messages are pushed into the session (no prompt hook: it would repeat them); \
         /wechat checks and answers them."
    } else {
        "`claude mcp list` shows wxlink; restart running Claude Code sessions to load it. New \
         WeChat messages are added to each prompt by the hook; /wechat checks and answers them."
    }
    .to_owned()];
    if ctx.channel {
        notes.push(
            "To have messages pushed into a running session, start Claude Code with \
             `claude --dangerously-load-development-channels server:wxlink` (channels are a \
             research preview and need a claude.ai login)."
                .to_owned(),
        );
    }
    notes.push(
        "Only people you allow reach the agent: `wxlink access allow <your WeChat id>` (or \
         approve the pairing code a stranger gets with `wxlink access pair CODE`)."
            .to_owned(),
    );
    notes
}
