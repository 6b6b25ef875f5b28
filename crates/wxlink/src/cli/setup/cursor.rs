//! Cursor: the MCP server in the user's `~/.cursor/mcp.json` (`mcpServers`, strict JSON).

use super::jsonc::{object, string, strings, Dialect};
use super::{json_entry, Ctx, FileSpec};

/// The files `wxlink setup cursor` touches.
pub fn files(ctx: &Ctx) -> Vec<FileSpec> {
    let entry = object([
        ("command", string(&ctx.launch.program)),
        ("args", strings(&ctx.launch.mcp_args(false))),
    ]);
    let path = ctx.places.home.join(".cursor").join("mcp.json");
    vec![json_entry(path, Dialect::Json, &["mcpServers"], entry)]
}

/// What to tell the user after setup.
pub fn notes() -> Vec<String> {
    vec!["Restart Cursor (or reload its MCP servers in Settings → MCP) to load wxlink.".into()]
}
