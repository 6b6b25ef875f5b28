//! What every entry `wxlink setup` writes runs: the absolute path of the running binary and the
//! global options that were set for this run (`-d` as an absolute path, `--ilink-base`,
//! `--cdn-base`, `--retain-days`, `--retain-rows`, `--max-upload-mb`; given as options or
//! through their environment variables), as an argument list (MCP server entries) or as one
//! shell command line (hooks).

use std::path::{Path, PathBuf};

use crate::cli::Cli;
use crate::error::{AppError, AppResult};

/// The program and the global options every entry passes on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Absolute path of the wxlink binary.
    pub program: String,
    /// Global options that go before the subcommand.
    pub globals: Vec<String>,
}

impl Launch {
    /// The running binary with the global options of `cli`.
    pub fn from_cli(cli: &Cli) -> AppResult<Self> {
        let exe = std::env::current_exe().map_err(|e| {
            AppError::System(format!("cannot find the path of the running wxlink: {e}"))
        })?;
        let mut globals = Vec::new();
        if let Some(dir) = &cli.data_dir {
            globals.push("-d".to_owned());
            globals.push(utf8(&absolute(dir)?)?);
        }
        if let Some(url) = &cli.ilink_base {
            globals.push("--ilink-base".to_owned());
            globals.push(url.as_str().to_owned());
        }
        if let Some(url) = &cli.cdn_base {
            globals.push("--cdn-base".to_owned());
            globals.push(url.as_str().to_owned());
        }
        let numbers = [
            ("--retain-days", cli.retain_days.map(u64::from)),
            ("--retain-rows", cli.retain_rows),
            ("--max-upload-mb", cli.max_upload_mb),
        ];
        for (option, value) in numbers {
            if let Some(v) = value {
                globals.push(option.to_owned());
                globals.push(v.to_string());
            }
        }
        Ok(Launch {
            program: utf8(&exe)?,
            globals,
        })
    }

    /// Arguments of the MCP server entry: the globals, `mcp`, and `--channel` when asked for.
    pub fn mcp_args(&self, channel: bool) -> Vec<String> {
        let mut args = self.globals.clone();
        args.push("mcp".to_owned());
        if channel {
            args.push("--channel".to_owned());
        }
        args
    }

    /// The prompt hook as one shell command line: `<wxlink> [globals] hook --client <client>`.
    pub fn hook_command(&self, client: &str) -> String {
        let mut words = vec![self.program.clone()];
        words.extend(self.globals.iter().cloned());
        words.extend(["hook".to_owned(), "--client".to_owned(), client.to_owned()]);
        words
            .iter()
            .map(|w| shell_quote(w))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// Whether a hook command line is one `wxlink setup` wrote for `client`, whichever binary path
/// or options it was written with.
pub fn is_our_hook(command: &str, client: &str) -> bool {
    let program = first_word(command);
    let named_wxlink = Path::new(&program)
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("wxlink"));
    named_wxlink
        && command
            .trim_end()
            .ends_with(&format!(" hook --client {client}"))
}

/// The first word of a shell command line, unquoted (single and double quotes, backslashes).
fn first_word(command: &str) -> String {
    let mut word = String::new();
    let mut chars = command.trim_start().chars();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (None, c) if c.is_whitespace() => break,
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None | Some('"'), '\\') => word.extend(chars.next()),
            (_, c) => word.push(c),
        }
    }
    word
}

/// `word` quoted for a POSIX shell when it needs quoting.
pub fn shell_quote(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:=@%+,".contains(c));
    if plain {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

fn absolute(path: &Path) -> AppResult<PathBuf> {
    std::path::absolute(path).map_err(|e| AppError::Io {
        path: path.to_path_buf(),
        source: e,
    })
}

fn utf8(path: &Path) -> AppResult<String> {
    path.to_str().map(str::to_owned).ok_or_else(|| {
        AppError::Invalid(format!(
            "{} is not valid UTF-8; agents' config files cannot hold it",
            path.display()
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn launch() -> Launch {
        Launch {
            program: "/opt/my tools/wxlink".into(),
            globals: vec!["-d".into(), "/data/it's".into()],
        }
    }

    #[test]
    fn hook_commands_are_quoted_and_recognised() {
        let cmd = launch().hook_command("claude-code");
        assert_eq!(
            cmd,
            r"'/opt/my tools/wxlink' -d '/data/it'\''s' hook --client claude-code"
        );
        assert!(is_our_hook(&cmd, "claude-code"));
        assert!(!is_our_hook(&cmd, "codex"));
        assert!(is_our_hook("/usr/bin/wxlink hook --client codex", "codex"));
        assert!(!is_our_hook("python3 poll.py hook --client codex", "codex"));
        assert!(!is_our_hook("", "codex"));
    }

    #[test]
    fn mcp_arguments_end_with_the_subcommand() {
        assert_eq!(launch().mcp_args(false), ["-d", "/data/it's", "mcp"]);
        assert_eq!(
            launch().mcp_args(true),
            ["-d", "/data/it's", "mcp", "--channel"]
        );
    }
}
