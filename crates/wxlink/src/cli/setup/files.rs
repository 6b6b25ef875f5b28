//! Changing agents' config files safely: read what is there, compute the new text with a
//! client's edit, and only then write — a backup of the original (`<file>.wxlink.bak`, once,
//! before the first change, 0600), the new text through a temporary file renamed over the old
//! (atomic; the file's own mode kept, 0600 for new files; a symlinked file is written where the
//! link points). An uninstall that leaves exactly what setup would have produced from the
//! backup restores the backup byte for byte and removes it.

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::{AppError, AppResult};
use crate::paths::{create_private_dir, write_atomic};

/// Install or uninstall.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Add wxlink's entries (or bring them up to date).
    Install,
    /// Remove exactly wxlink's entries.
    Uninstall,
}

/// A client's edit of one file: given the current text (`None`: no file), the action and the
/// text before wxlink's first change (the backup, if any), the new text (`None`: no file).
/// Errors say what is wrong with the file's content.
pub type Edit = Box<dyn Fn(Option<&str>, Action, Option<&str>) -> Result<Option<String>, String>>;

/// One file a client's setup touches.
pub struct FileSpec {
    /// Where it is.
    pub path: PathBuf,
    /// What setup does to it.
    pub edit: Edit,
    /// Remove the file's directory when removing the file leaves it empty (a directory setup
    /// made for a file of its own, like the skill's).
    pub remove_empty_dir: bool,
}

/// What happens to a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChangeKind {
    /// Nothing to do.
    Unchanged,
    /// A new file.
    Created,
    /// An existing file changes.
    Updated,
    /// The file goes away.
    Removed,
}

impl ChangeKind {
    /// The word the CLI prints.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Unchanged => "unchanged",
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Removed => "removed",
        }
    }
}

/// A planned change of one file.
#[derive(Debug, Clone)]
pub struct FileChange {
    /// The file written (a symlink's target).
    pub path: PathBuf,
    /// Its text now.
    pub before: Option<String>,
    /// Its text after the change.
    pub after: Option<String>,
    /// The backup that exists or will be written.
    pub backup: Option<PathBuf>,
    /// The change brings the backup's text back: the backup is removed afterwards.
    pub restores_backup: bool,
    remove_empty_dir: bool,
}

impl FileChange {
    /// What kind of change this is.
    pub fn kind(&self) -> ChangeKind {
        match (&self.before, &self.after) {
            (a, b) if a == b => ChangeKind::Unchanged,
            (None, Some(_)) => ChangeKind::Created,
            (Some(_), None) => ChangeKind::Removed,
            _ => ChangeKind::Updated,
        }
    }
}

/// The backup of `path`.
pub fn backup_path(path: &Path) -> PathBuf {
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(".wxlink.bak");
    path.with_file_name(name)
}

/// Computes the change `spec` makes for `action`, reading but writing nothing.
pub fn plan(spec: &FileSpec, action: Action) -> AppResult<FileChange> {
    let path = resolve(&spec.path);
    let before = read(&path)?;
    let backup = backup_path(&path);
    let original = read(&backup)?;
    let refuse = |why: String| {
        AppError::Invalid(format!(
            "{}: {why}; fix or move the file and run setup again (nothing was changed)",
            path.display()
        ))
    };
    let mut after = (spec.edit)(before.as_deref(), action, original.as_deref()).map_err(refuse)?;
    let mut restores_backup = false;
    if action == Action::Uninstall && after != before {
        if let Some(original) = &original {
            // Nothing but wxlink's entries changed since the backup: put it back exactly.
            let installed = (spec.edit)(Some(original), Action::Install, Some(original));
            if installed.ok().flatten() == before {
                after = Some(original.clone());
                restores_backup = true;
            }
        }
    }
    // A backup keeps what the user had before wxlink's first change: not wanted for a file
    // that goes away (it held nothing but wxlink's entries), nor for one holding nothing but
    // wxlink's entries (setup created it; a backup would keep wxlink's own older entries).
    let only_ours = || {
        matches!(
            (spec.edit)(before.as_deref(), Action::Uninstall, None),
            Ok(None)
        )
    };
    let edits_existing = before.is_some()
        && after.is_some()
        && after != before
        && original.is_none()
        && !only_ours();
    let backup = (original.is_some() || edits_existing).then_some(backup);
    Ok(FileChange {
        path,
        before,
        after,
        backup,
        restores_backup,
        remove_empty_dir: spec.remove_empty_dir,
    })
}

/// Carries a planned change out.
pub fn apply(change: &FileChange) -> AppResult<()> {
    if change.kind() == ChangeKind::Unchanged {
        return Ok(());
    }
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| AppError::Io { path, source }
    };
    if let (Some(before), Some(backup)) = (&change.before, &change.backup) {
        if !change.restores_backup && fs::symlink_metadata(backup).is_err() {
            write_atomic(backup, before.as_bytes(), 0o600).map_err(io(backup))?;
        }
    }
    match &change.after {
        Some(text) => {
            if let Some(dir) = change.path.parent() {
                create_private_dir(dir).map_err(io(dir))?;
            }
            let mode = existing_mode(&change.path).unwrap_or(0o600);
            write_atomic(&change.path, text.as_bytes(), mode).map_err(io(&change.path))?;
        }
        None => {
            fs::remove_file(&change.path).map_err(io(&change.path))?;
            if change.remove_empty_dir {
                if let Some(dir) = change.path.parent() {
                    // Fails (and is left alone) unless empty.
                    let _ = fs::remove_dir(dir);
                }
            }
        }
    }
    if change.restores_backup {
        if let Some(backup) = &change.backup {
            fs::remove_file(backup).map_err(io(backup))?;
        }
    }
    Ok(())
}

/// A symlinked config file (dotfile managers) is edited where the link points.
fn resolve(path: &Path) -> PathBuf {
    match fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => fs::canonicalize(path).unwrap_or(path.into()),
        _ => path.to_path_buf(),
    }
}

fn read(path: &Path) -> AppResult<Option<String>> {
    match fs::read(path) {
        Ok(bytes) => String::from_utf8(bytes).map(Some).map_err(|_| {
            AppError::Invalid(format!(
                "{}: not UTF-8 text; fix or move the file and run setup again (nothing was changed)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(AppError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

fn existing_mode(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::metadata(path)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}
