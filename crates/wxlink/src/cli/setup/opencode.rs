//! OpenCode: the MCP server in its global config, `$XDG_CONFIG_HOME/opencode/opencode.jsonc`
//! when that exists, else `opencode.json` (`mcp.wxlink = {type: "local", command: [...],
//! enabled: true}`; comments kept). Uninstall looks in both.

use super::files::Action;
use super::jsonc::{object, strings, Dialect, Input};
use super::{json_entry, Ctx, FileSpec};

/// OpenCode's config directory.
pub fn dir(ctx: &Ctx) -> std::path::PathBuf {
    ctx.places.xdg_config.join("opencode")
}

/// The files `wxlink setup opencode` touches.
pub fn files(ctx: &Ctx, action: Action) -> Vec<FileSpec> {
    let mut command = vec![ctx.launch.program.clone()];
    command.extend(ctx.launch.mcp_args(false));
    let entry = || {
        object([
            ("type", Input::String("local".into())),
            ("command", strings(&command)),
            ("enabled", Input::Bool(true)),
        ])
    };
    let jsonc = dir(ctx).join("opencode.jsonc");
    let json = dir(ctx).join("opencode.json");
    let spec = |path| json_entry(path, Dialect::Jsonc, &["mcp"], entry());
    match action {
        Action::Uninstall => vec![spec(jsonc), spec(json)],
        Action::Install if jsonc.exists() => vec![spec(jsonc)],
        Action::Install => vec![spec(json)],
    }
}

/// What to tell the user after setup.
pub fn notes() -> Vec<String> {
    vec!["`opencode mcp list` should show wxlink connected; restart OpenCode to load it.".into()]
}
