//! The data directory: where it is (`-d`, `WXLINK_HOME`, else `~/.wxlink`), creating it private
//! (mode 0700), checking that an existing one is (and tightening it on request), and the paths
//! inside it. [`create_private_dir`] is how wxlink creates every directory, whatever the umask.
//!
//! ```text
//! <data>/wxlink.db      the SQLite store (0600; holds credentials)
//! <data>/media/         default download directory
//! <data>/locks/         one poll lock per bot account (flock; released when a process dies)
//! ```

use std::fs;
use std::path::{Path, PathBuf};

/// Creates `path` and any missing parents with mode 0700 (owner only), whatever the umask.
/// Blocking.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)?;
    // The mode given is masked by the umask; a umask cannot loosen 0700, but say it once more
    // for the directory asked for, in case it was created by someone else meanwhile.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path)?.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            fs::set_permissions(path, fs::Permissions::from_mode(0o700))?;
        }
    }
    Ok(())
}

/// Replaces `path` with `bytes` atomically: a new file beside it (created 0600, so nothing
/// is readable before it is complete) is written, given `mode`, flushed to disk and renamed
/// over `path`, so a reader sees the old content or the new, never a part, and a crash leaves
/// one of the two. Blocking.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let tmp = dir.join(format!(".{name}.wxlink-{}.tmp", std::process::id()));
    let result = (|| {
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        #[cfg(unix)]
        if mode != 0o600 {
            use std::os::unix::fs::PermissionsExt;
            file.set_permissions(fs::Permissions::from_mode(mode))?;
        }
        #[cfg(not(unix))]
        let _ = mode;
        file.sync_all()?;
        fs::rename(&tmp, path)?;
        // The rename itself made durable.
        if let Ok(d) = fs::File::open(dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A resolved, existing data directory.
#[derive(Debug, Clone)]
pub struct DataDir {
    root: PathBuf,
}

/// Why the data directory could not be prepared.
#[derive(Debug, thiserror::Error)]
#[error("cannot prepare the data directory {path}: {source}")]
pub struct DataDirError {
    /// The directory.
    pub path: PathBuf,
    /// The error.
    #[source]
    pub source: std::io::Error,
}

impl DataDir {
    /// `explicit` (from `-d` or `WXLINK_HOME`, which clap merges), else `~/.wxlink`.
    pub fn resolve(explicit: Option<&Path>) -> Result<Self, DataDirError> {
        let dir = DataDir {
            root: Self::default_root(explicit),
        };
        dir.ensure(&dir.root)?;
        Ok(dir)
    }

    /// Where the data directory is — `explicit`, else `~/.wxlink` — without creating it.
    pub fn default_root(explicit: Option<&Path>) -> PathBuf {
        match explicit {
            Some(p) => p.to_path_buf(),
            None => std::env::home_dir()
                .unwrap_or_else(|| PathBuf::from("."))
                .join(".wxlink"),
        }
    }

    /// Creates `path` (and parents) with mode 0700 if missing.
    fn ensure(&self, path: &Path) -> Result<(), DataDirError> {
        create_private_dir(path).map_err(|source| DataDirError {
            path: path.to_path_buf(),
            source,
        })
    }

    /// The permission bits the group or others have on the directory (it holds credentials
    /// and messages), when they have any.
    pub fn open_to_others(&self) -> Option<u32> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs::metadata(&self.root).ok()?.permissions().mode() & 0o777;
            (mode & 0o077 != 0).then_some(mode)
        }
        #[cfg(not(unix))]
        None
    }

    /// Restricts the directory to its owner (0700) and the store's files in it to 0600.
    pub fn make_private(&self) -> std::io::Result<()> {
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            fs::set_permissions(&self.root, fs::Permissions::from_mode(0o700))?;
            for name in ["wxlink.db", "wxlink.db-wal", "wxlink.db-shm"] {
                let file = self.root.join(name);
                if file.exists() {
                    fs::set_permissions(&file, fs::Permissions::from_mode(0o600))?;
                }
            }
        }
        Ok(())
    }

    /// The directory itself.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The SQLite database.
    pub fn database(&self) -> PathBuf {
        self.root.join("wxlink.db")
    }

    /// Default media download directory (created on demand).
    pub fn media(&self) -> Result<PathBuf, DataDirError> {
        let p = self.root.join("media");
        self.ensure(&p)?;
        Ok(p)
    }

    /// The access gate's state (`wxlink access`), a JSON file written atomically, 0600.
    pub fn access(&self) -> PathBuf {
        self.root.join("access.json")
    }

    /// The lock serialising changes of the access gate's state across processes.
    pub fn access_lock(&self) -> Result<PathBuf, DataDirError> {
        let dir = self.root.join("locks");
        self.ensure(&dir)?;
        Ok(dir.join("access.lock"))
    }

    /// Where pushed media lands (the Claude Code channel's eager downloads), created on demand.
    pub fn inbox(&self) -> Result<PathBuf, DataDirError> {
        let p = self.root.join("inbox");
        self.ensure(&p)?;
        Ok(p)
    }

    /// The poll lock file of one bot account (created on demand).
    pub fn poll_lock(&self, bot_id: &str) -> Result<PathBuf, DataDirError> {
        let dir = self.root.join("locks");
        self.ensure(&dir)?;
        let safe: String = bot_id
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || "@._-".contains(c) {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        Ok(dir.join(format!("{safe}.poll.lock")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn created_private_with_private_subdirectories() {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("a/b/wx");
        let d = DataDir::resolve(Some(&root)).unwrap();
        assert!(root.is_dir());
        let lock = d.poll_lock("ab/../c@im.bot").unwrap();
        assert_eq!(lock.parent().unwrap(), root.join("locks"));
        assert_eq!(lock.file_name().unwrap(), "ab_.._c@im.bot.poll.lock");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [root.clone(), root.join("locks"), d.media().unwrap()] {
                let mode = fs::metadata(&p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o700, "{}", p.display());
            }
        }
    }
}
