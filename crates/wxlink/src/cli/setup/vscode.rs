//! VS Code: the MCP server in the user's `mcp.json` (`servers`, `type: "stdio"`; JSON with
//! comments, which are kept), under `~/.config/Code/User/` on Linux (`$XDG_CONFIG_HOME`
//! honoured) and `~/Library/Application Support/Code/User/` on macOS.

use super::jsonc::{object, string, strings, Dialect};
use super::{json_entry, Ctx, FileSpec};

/// VS Code's user settings directory.
pub fn dir(ctx: &Ctx) -> std::path::PathBuf {
    ctx.places.app_data.join("Code").join("User")
}

/// The files `wxlink setup vscode` touches.
pub fn files(ctx: &Ctx) -> Vec<FileSpec> {
    let entry = object([
        ("type", string("stdio")),
        ("command", string(&ctx.launch.program)),
        ("args", strings(&ctx.launch.mcp_args(false))),
    ]);
    vec![json_entry(
        dir(ctx).join("mcp.json"),
        Dialect::Jsonc,
        &["servers"],
        entry,
    )]
}

/// What to tell the user after setup.
pub fn notes() -> Vec<String> {
    vec![
        "VS Code asks to trust a new MCP server before starting it: run \"MCP: List Servers\" \
         and start wxlink, or open Copilot Chat in agent mode."
            .into(),
    ]
}
