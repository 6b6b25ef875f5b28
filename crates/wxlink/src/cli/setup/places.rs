//! Where each agent keeps its configuration on this machine, from the environment the agents
//! themselves read: `HOME`, `XDG_CONFIG_HOME` (OpenCode; Claude Desktop and VS Code through
//! Electron on Linux), `CODEX_HOME`, `CLAUDE_CONFIG_DIR`; the macOS locations on macOS. Also
//! whether an agent looks installed (its config directory, or its binary on `PATH`) for
//! `wxlink setup all`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use crate::error::{AppError, AppResult};

/// The configuration locations of this user.
#[derive(Debug, Clone)]
pub struct Places {
    /// `$HOME`.
    pub home: PathBuf,
    /// `$XDG_CONFIG_HOME` when absolute, else `~/.config`.
    pub xdg_config: PathBuf,
    /// `$CODEX_HOME`, else `~/.codex`.
    pub codex_home: PathBuf,
    /// `$CLAUDE_CONFIG_DIR`, else `~/.claude`.
    pub claude_dir: PathBuf,
    /// Claude Code's user file: `$CLAUDE_CONFIG_DIR/.claude.json`, else `~/.claude.json`.
    pub claude_json: PathBuf,
    /// Where Electron apps keep their data: `~/Library/Application Support` on macOS, else
    /// the XDG config directory.
    pub app_data: PathBuf,
    path: Option<OsString>,
}

impl Places {
    /// The locations from this process's environment.
    pub fn from_env() -> AppResult<Self> {
        let var = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
        let home = var("HOME").map(PathBuf::from).ok_or_else(|| {
            AppError::Invalid("HOME is not set: cannot find the agents' config files".into())
        })?;
        let absolute = |name: &str| var(name).map(PathBuf::from).filter(|p| p.is_absolute());
        let xdg_config = absolute("XDG_CONFIG_HOME").unwrap_or_else(|| home.join(".config"));
        let codex_home = var("CODEX_HOME")
            .map(PathBuf::from)
            .unwrap_or_else(|| home.join(".codex"));
        let claude_custom = var("CLAUDE_CONFIG_DIR").map(PathBuf::from);
        let (claude_dir, claude_json) = match claude_custom {
            Some(dir) => (dir.clone(), dir.join(".claude.json")),
            None => (home.join(".claude"), home.join(".claude.json")),
        };
        let app_data = if cfg!(target_os = "macos") {
            home.join("Library").join("Application Support")
        } else {
            xdg_config.clone()
        };
        Ok(Places {
            home,
            xdg_config,
            codex_home,
            claude_dir,
            claude_json,
            app_data,
            path: var("PATH"),
        })
    }

    /// Whether an executable named `name` is on `PATH`.
    pub fn on_path(&self, name: &str) -> bool {
        let Some(path) = &self.path else {
            return false;
        };
        std::env::split_paths(path).any(|dir| is_executable(&dir.join(name)))
    }
}

fn is_executable(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
    }
    #[cfg(not(unix))]
    {
        path.is_file()
    }
}
