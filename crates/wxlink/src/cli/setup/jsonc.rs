//! Editing JSON and JSONC config files in place through a concrete syntax tree
//! (`jsonc-parser`'s CST): everything wxlink does not touch — other entries, comments, blank
//! lines, indentation, trailing commas — stays as the user wrote it. Strict JSON files (those
//! their agent parses with a JSON parser) are refused when they hold comments or other JSONC.
//!
//! The operations: put an entry under a path of objects (only its own keys are set, other keys
//! of an existing entry are kept), remove it, and add or remove a prompt hook in the
//! `hooks.<Event>[].hooks[]` layout Claude Code and Codex share. Removal prunes objects and
//! arrays it leaves empty unless the original file (the backup) had them.

use std::cell::Cell;

use jsonc_parser::cst::{CstInputValue, CstNode, CstObject, CstRootNode};
use jsonc_parser::ParseOptions;
use serde_json::Value;

use super::launch::is_our_hook;

/// Which grammar a file follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// JSON only.
    Json,
    /// JSON with comments and trailing commas (VS Code, OpenCode).
    Jsonc,
}

/// A value to write, with its keys in the order they are written.
pub type Input = CstInputValue;

/// An object value from `(key, value)` pairs.
pub fn object<const N: usize>(pairs: [(&str, Input); N]) -> Input {
    Input::Object(pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect())
}

/// An array of strings.
pub fn strings(items: &[String]) -> Input {
    Input::Array(items.iter().map(|s| Input::String(s.clone())).collect())
}

/// A string.
pub fn string(s: &str) -> Input {
    Input::String(s.to_owned())
}

/// The same value as serde JSON, to compare with what a file holds.
pub fn to_value(input: &Input) -> Value {
    match input {
        Input::Null => Value::Null,
        Input::Bool(b) => Value::Bool(*b),
        Input::Number(n) => serde_json::from_str(n).unwrap_or(Value::Null),
        Input::String(s) => Value::String(s.clone()),
        Input::Array(items) => Value::Array(items.iter().map(to_value).collect()),
        Input::Object(pairs) => Value::Object(
            pairs
                .iter()
                .map(|(k, v)| (k.clone(), to_value(v)))
                .collect(),
        ),
    }
}

/// A parsed config file.
pub struct Doc {
    root: CstRootNode,
    original: Option<Value>,
    removed: Cell<bool>,
}

impl Doc {
    /// Parses `text` (`None` or blank: an empty object), remembering `original` (the backup's
    /// text) to decide what removal may prune.
    pub fn parse(
        text: Option<&str>,
        original: Option<&str>,
        dialect: Dialect,
    ) -> Result<Doc, String> {
        let text = text.filter(|t| !t.trim().is_empty()).unwrap_or("");
        let options = match dialect {
            Dialect::Jsonc => ParseOptions::default(),
            Dialect::Json => ParseOptions {
                allow_comments: false,
                allow_loose_object_property_names: false,
                allow_trailing_commas: false,
                allow_missing_commas: false,
                allow_single_quoted_strings: false,
                allow_hexadecimal_numbers: false,
                allow_unary_plus_numbers: false,
                ..ParseOptions::default()
            },
        };
        let what = match dialect {
            Dialect::Json => "JSON",
            Dialect::Jsonc => "JSON (with comments)",
        };
        if dialect == Dialect::Json && !text.is_empty() {
            // The agent reads it with a JSON parser: so does this check.
            serde_json::from_str::<Value>(text).map_err(|e| format!("not valid {what}: {e}"))?;
        }
        let root = CstRootNode::parse(text, &options)
            .map_err(|e| format!("not valid {what}: {}", one_line(&e.to_string())))?;
        match root.value() {
            None => {}
            Some(v) if v.as_object().is_some() => {}
            Some(_) => return Err("the top level is not an object".into()),
        }
        let original = original.and_then(|t| {
            CstRootNode::parse(t, &ParseOptions::default())
                .ok()
                .and_then(|r| r.to_serde_value())
        });
        Ok(Doc {
            root,
            original,
            removed: Cell::new(false),
        })
    }

    /// The file's text, or `None` when removing wxlink's entries left an empty object and
    /// there was no file before wxlink's first change (no backup): a file setup created and
    /// nothing else uses.
    pub fn finish(self) -> Option<String> {
        let compact: String = self
            .root
            .to_string()
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        let empty = compact.is_empty() || compact == "{}";
        if empty && self.original.is_none() && self.removed.get() {
            return None;
        }
        let mut text = self.root.to_string();
        if !text.ends_with('\n') {
            text.push('\n');
        }
        Some(text)
    }

    /// The object at `path` (keys from the top), created when missing if `create`.
    fn object_at(&self, path: &[&str], create: bool) -> Result<Option<CstObject>, String> {
        let mut obj = if create {
            self.root.object_value_or_set()
        } else {
            match self.root.object_value() {
                Some(o) => o,
                None => return Ok(None),
            }
        };
        for (i, key) in path.iter().enumerate() {
            let next = match obj.get(key) {
                Some(prop) => match prop.value() {
                    Some(v) => match v.as_object() {
                        Some(o) => o,
                        None => return Err(format!("`{}` is not an object", path[..=i].join("."))),
                    },
                    None => return Err(format!("`{}` has no value", path[..=i].join("."))),
                },
                None if create => obj
                    .append(key, Input::Object(Vec::new()))
                    .object_value_or_set(),
                None => return Ok(None),
            };
            obj = next;
        }
        Ok(Some(obj))
    }

    /// Sets `key` under `path` to `value`: an existing object entry gets `value`'s keys set
    /// (its other keys kept); anything else is replaced.
    pub fn upsert(&self, path: &[&str], key: &str, value: &Input) -> Result<(), String> {
        let Some(parent) = self.object_at(path, true)? else {
            return Ok(());
        };
        let existing = parent.get(key);
        let existing_obj = existing
            .as_ref()
            .and_then(|p| p.value())
            .and_then(|v| v.as_object());
        match (existing, existing_obj, value) {
            (Some(_), Some(obj), Input::Object(pairs)) => {
                for (k, v) in pairs {
                    set_prop(&obj, k, v);
                }
            }
            (Some(prop), _, _) => {
                if prop.value().and_then(|v| v.to_serde_value()) != Some(to_value(value)) {
                    prop.set_value(value.clone());
                }
            }
            (None, _, _) => {
                parent.append(key, value.clone());
            }
        }
        Ok(())
    }

    /// Removes `key` under `path`, pruning what that leaves empty (unless the original had it).
    pub fn remove(&self, path: &[&str], key: &str) -> Result<(), String> {
        let Some(parent) = self.object_at(path, false)? else {
            return Ok(());
        };
        if let Some(prop) = parent.get(key) {
            prop.remove();
            self.removed.set(true);
            self.prune(path);
        }
        Ok(())
    }

    /// Adds the command hook `hook` (an object with `command`) for `event` under `hooks`,
    /// or updates the one for `client` that is already there.
    pub fn upsert_hook(&self, event: &str, client: &str, hook: &Input) -> Result<(), String> {
        let Some(hooks) = self.object_at(&["hooks"], true)? else {
            return Ok(());
        };
        let groups = match hooks.get(event) {
            Some(prop) => prop
                .value()
                .and_then(|v| v.as_array())
                .ok_or_else(|| format!("`hooks.{event}` is not an array"))?,
            None => hooks.array_value_or_set(event),
        };
        for group in groups.elements() {
            for handler in handlers(&group) {
                if command_of(&handler).is_some_and(|c| is_our_hook(&c, client)) {
                    if let (Some(obj), Input::Object(pairs)) = (handler.as_object(), hook) {
                        for (k, v) in pairs {
                            set_prop(&obj, k, v);
                        }
                    }
                    return Ok(());
                }
            }
        }
        groups.append(Input::Object(vec![(
            "hooks".to_owned(),
            Input::Array(vec![hook.clone()]),
        )]));
        Ok(())
    }

    /// Removes every hook of `client` for `event`, and groups left without hooks.
    pub fn remove_hooks(&self, event: &str, client: &str) -> Result<(), String> {
        let Some(hooks) = self.object_at(&["hooks"], false)? else {
            return Ok(());
        };
        let Some(groups) = hooks
            .get(event)
            .and_then(|p| p.value())
            .and_then(|v| v.as_array())
        else {
            return Ok(());
        };
        let mut removed = false;
        for group in groups.elements() {
            let ours: Vec<CstNode> = handlers(&group)
                .into_iter()
                .filter(|h| command_of(h).is_some_and(|c| is_our_hook(&c, client)))
                .collect();
            if ours.is_empty() {
                continue;
            }
            removed = true;
            self.removed.set(true);
            let all = ours.len() == handlers(&group).len();
            if all {
                group.remove();
            } else {
                for h in ours {
                    h.remove();
                }
            }
        }
        if removed {
            if groups.elements().is_empty() && !self.original_has(&["hooks", event]) {
                if let Some(p) = hooks.get(event) {
                    p.remove();
                }
            }
            self.prune(&["hooks"]);
        }
        Ok(())
    }

    /// Removes the objects along `path` that are empty now, deepest first, unless the
    /// original file had them.
    fn prune(&self, path: &[&str]) {
        for depth in (1..=path.len()).rev() {
            let (parents, key) = (&path[..depth - 1], path[depth - 1]);
            let Ok(Some(parent)) = self.object_at(parents, false) else {
                return;
            };
            let Some(prop) = parent.get(key) else {
                continue;
            };
            let empty = prop
                .value()
                .and_then(|v| v.as_object())
                .is_some_and(|o| o.properties().is_empty());
            if !empty || self.original_has(&path[..depth]) {
                return;
            }
            prop.remove();
        }
    }

    fn original_has(&self, path: &[&str]) -> bool {
        let mut v = match &self.original {
            Some(v) => v,
            None => return false,
        };
        for key in path {
            match v.get(key) {
                Some(next) => v = next,
                None => return false,
            }
        }
        true
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Sets one key of an object unless it already holds that value.
fn set_prop(obj: &CstObject, key: &str, value: &Input) {
    match obj.get(key) {
        Some(prop) => {
            if prop.value().and_then(|v| v.to_serde_value()) != Some(to_value(value)) {
                prop.set_value(value.clone());
            }
        }
        None => {
            obj.append(key, value.clone());
        }
    }
}

/// The handlers (`hooks` array elements) of one hook group.
fn handlers(group: &CstNode) -> Vec<CstNode> {
    group
        .as_object()
        .and_then(|g| g.get("hooks"))
        .and_then(|p| p.value())
        .and_then(|v| v.as_array())
        .map(|a| a.elements())
        .unwrap_or_default()
}

fn command_of(handler: &CstNode) -> Option<String> {
    handler
        .as_object()?
        .get("command")?
        .value()?
        .as_string_lit()?
        .decoded_value()
        .ok()
}
