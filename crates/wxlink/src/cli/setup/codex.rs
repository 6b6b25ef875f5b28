//! Codex: the MCP server in `$CODEX_HOME/config.toml` (`[mcp_servers.wxlink]`, default
//! `~/.codex`; edited with `toml_edit`, so comments and layout stay), with
//! `default_tools_approval_mode = "approve"` for wxlink's server alone when `--approve-tools`
//! is given; and the `UserPromptSubmit` hook — in `hooks.json` when the user already keeps
//! hooks there, else inline (`[[hooks.UserPromptSubmit]]`) in `config.toml`, since Codex warns
//! when one layer has both. Uninstall removes wxlink's entries from both.

use toml_edit::{Array, ArrayOfTables, DocumentMut, Item, Table, TableLike, Value};

use super::files::{Action, FileSpec};
use super::jsonc::{object, string, Dialect, Doc, Input};
use super::launch::is_our_hook;
use super::Ctx;

/// The client name hooks are written for.
pub const CLIENT: &str = "codex";
const EVENT: &str = "UserPromptSubmit";

/// What config.toml should say.
#[derive(Clone)]
struct Wanted {
    command: String,
    args: Vec<String>,
    approve: bool,
    hook: String,
    inline_hook: bool,
}

/// The files `wxlink setup codex` touches.
pub fn files(ctx: &Ctx, action: Action) -> Vec<FileSpec> {
    let hooks_json = ctx.places.codex_home.join("hooks.json");
    let use_hooks_json = hooks_json.exists();
    let wanted = Wanted {
        command: ctx.launch.program.clone(),
        args: ctx.launch.mcp_args(false),
        approve: ctx.approve_tools,
        hook: ctx.launch.hook_command(CLIENT),
        inline_hook: !use_hooks_json,
    };
    let hook = object([
        ("type", string("command")),
        ("command", Input::String(wanted.hook.clone())),
        ("timeout", Input::Number("5".into())),
    ]);
    let mut specs = vec![FileSpec {
        path: ctx.places.codex_home.join("config.toml"),
        edit: Box::new(move |text, action, original| edit_config(text, action, original, &wanted)),
        remove_empty_dir: false,
    }];
    if use_hooks_json || action == Action::Uninstall {
        specs.push(FileSpec {
            path: hooks_json,
            edit: Box::new(move |text, action, original| {
                if text.is_none() {
                    return Ok(None);
                }
                let doc = Doc::parse(text, original, Dialect::Json)?;
                match action {
                    Action::Install => doc.upsert_hook(EVENT, CLIENT, &hook)?,
                    Action::Uninstall => doc.remove_hooks(EVENT, CLIENT)?,
                }
                Ok(doc.finish())
            }),
            remove_empty_dir: false,
        });
    }
    specs
}

/// What to tell the user after setup.
pub fn notes(ctx: &Ctx) -> Vec<String> {
    let mut notes = vec![
        "Codex runs a new hook only after you trust it: start `codex`, type /hooks and trust \
         wxlink's UserPromptSubmit hook (it adds new WeChat messages to each prompt)."
            .to_owned(),
    ];
    if !ctx.approve_tools {
        notes.push(
            "Under Codex's default approval policy `codex exec` refuses wxlink's `send` (it \
             cannot ask); `wxlink setup codex --approve-tools` lets wxlink's tools run without \
             asking (default_tools_approval_mode = \"approve\" for wxlink only)."
                .to_owned(),
        );
    }
    notes
}

fn edit_config(
    text: Option<&str>,
    action: Action,
    original: Option<&str>,
    wanted: &Wanted,
) -> Result<Option<String>, String> {
    let mut doc: DocumentMut = text
        .unwrap_or("")
        .parse()
        .map_err(|e: toml_edit::TomlError| {
            format!("not valid TOML: {}", one_line(&e.to_string()))
        })?;
    let original: Option<DocumentMut> = original.and_then(|t| t.parse().ok());
    let had = |path: &[&str]| original.as_ref().is_some_and(|d| has(d.as_table(), path));
    match action {
        Action::Install => {
            set_server(&mut doc, wanted)?;
            if wanted.inline_hook {
                upsert_inline_hook(&mut doc, &wanted.hook)?;
            } else {
                remove_inline_hook(&mut doc, &had)?;
            }
        }
        Action::Uninstall => {
            if let Some(servers) = doc.get_mut("mcp_servers").and_then(Item::as_table_like_mut) {
                servers.remove("wxlink");
                if servers.is_empty() && !had(&["mcp_servers"]) {
                    doc.remove("mcp_servers");
                }
            }
            remove_inline_hook(&mut doc, &had)?;
        }
    }
    let new_text = doc.to_string();
    let removed = action == Action::Uninstall && Some(new_text.as_str()) != text;
    if new_text.trim().is_empty() && original.is_none() && removed {
        return Ok(None);
    }
    Ok(Some(new_text))
}

fn implicit_table() -> Item {
    let mut t = Table::new();
    t.set_implicit(true);
    Item::Table(t)
}

fn set_server(doc: &mut DocumentMut, wanted: &Wanted) -> Result<(), String> {
    let servers = doc
        .entry("mcp_servers")
        .or_insert_with(implicit_table)
        .as_table_like_mut()
        .ok_or("`mcp_servers` is not a table")?;
    let entry = servers
        .entry("wxlink")
        .or_insert(Item::Table(Table::new()))
        .as_table_like_mut()
        .ok_or("`mcp_servers.wxlink` is not a table")?;
    set_str(entry, "command", &wanted.command);
    let args: Vec<&str> = entry
        .get("args")
        .and_then(Item::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if args != wanted.args.iter().map(String::as_str).collect::<Vec<_>>() {
        let array: Array = wanted.args.iter().map(String::as_str).collect();
        entry.insert("args", toml_edit::value(array));
    }
    if wanted.approve {
        set_str(entry, "default_tools_approval_mode", "approve");
    }
    Ok(())
}

fn set_str(table: &mut dyn TableLike, key: &str, value: &str) {
    if table.get(key).and_then(Item::as_str) != Some(value) {
        table.insert(key, toml_edit::value(value));
    }
}

fn upsert_inline_hook(doc: &mut DocumentMut, command: &str) -> Result<(), String> {
    let hooks = doc
        .entry("hooks")
        .or_insert_with(implicit_table)
        .as_table_mut()
        .ok_or("`hooks` is not a table")?;
    let groups = hooks
        .entry(EVENT)
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()))
        .as_array_of_tables_mut()
        .ok_or(format!(
            "`hooks.{EVENT}` is not written as [[hooks.{EVENT}]] tables; add wxlink's hook by \
             hand (see `wxlink setup codex --print`)"
        ))?;
    for group in groups.iter_mut() {
        let Some(handlers) = group
            .get_mut("hooks")
            .and_then(Item::as_array_of_tables_mut)
        else {
            continue;
        };
        for handler in handlers.iter_mut() {
            if handler
                .get("command")
                .and_then(Item::as_str)
                .is_some_and(|c| is_our_hook(c, CLIENT))
            {
                set_str(handler, "command", command);
                return Ok(());
            }
        }
    }
    let mut handler = Table::new();
    handler.insert("type", toml_edit::value("command"));
    handler.insert("command", toml_edit::value(command));
    handler.insert("timeout", toml_edit::value(5));
    let mut handlers = ArrayOfTables::new();
    handlers.push(handler);
    let mut group = Table::new();
    group.insert("hooks", Item::ArrayOfTables(handlers));
    groups.push(group);
    Ok(())
}

fn remove_inline_hook(doc: &mut DocumentMut, had: &dyn Fn(&[&str]) -> bool) -> Result<(), String> {
    let Some(hooks) = doc.get_mut("hooks").and_then(Item::as_table_mut) else {
        return Ok(());
    };
    let Some(groups) = hooks.get_mut(EVENT).and_then(Item::as_array_of_tables_mut) else {
        return Ok(());
    };
    let mut removed = false;
    let mut g = 0;
    while g < groups.len() {
        let Some(group) = groups.get_mut(g) else {
            break;
        };
        if let Some(handlers) = group
            .get_mut("hooks")
            .and_then(Item::as_array_of_tables_mut)
        {
            let before = handlers.len();
            handlers.retain(|h| {
                !h.get("command")
                    .and_then(Item::as_str)
                    .is_some_and(|c| is_our_hook(c, CLIENT))
            });
            if handlers.len() != before {
                removed = true;
                if handlers.is_empty() {
                    groups.remove(g);
                    continue;
                }
            }
        }
        g += 1;
    }
    if removed {
        if groups.is_empty() && !had(&["hooks", EVENT]) {
            hooks.remove(EVENT);
        }
        if hooks.is_empty() && !had(&["hooks"]) {
            doc.remove("hooks");
        }
    }
    Ok(())
}

fn has(table: &Table, path: &[&str]) -> bool {
    let mut item: Option<&Item> = None;
    for (i, key) in path.iter().enumerate() {
        item = if i == 0 {
            table.get(key)
        } else {
            item.and_then(Item::as_table_like).and_then(|t| t.get(key))
        };
        if item.is_none() {
            return false;
        }
    }
    true
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
