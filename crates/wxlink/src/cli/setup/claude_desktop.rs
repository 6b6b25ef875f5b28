//! Claude Desktop: the MCP server in `claude_desktop_config.json` (`mcpServers`, strict JSON),
//! under `~/.config/Claude/` on Linux (`$XDG_CONFIG_HOME` honoured) and
//! `~/Library/Application Support/Claude/` on macOS.

use super::jsonc::{object, string, strings, Dialect};
use super::{json_entry, Ctx, FileSpec};

/// Claude Desktop's config directory.
pub fn dir(ctx: &Ctx) -> std::path::PathBuf {
    ctx.places.app_data.join("Claude")
}

/// The files `wxlink setup claude-desktop` touches.
pub fn files(ctx: &Ctx) -> Vec<FileSpec> {
    let entry = object([
        ("command", string(&ctx.launch.program)),
        ("args", strings(&ctx.launch.mcp_args(false))),
    ]);
    let path = dir(ctx).join("claude_desktop_config.json");
    vec![json_entry(path, Dialect::Json, &["mcpServers"], entry)]
}

/// What to tell the user after setup.
pub fn notes() -> Vec<String> {
    vec!["Quit and reopen Claude Desktop to load wxlink.".into()]
}
