//! Leases as OS file locks, one per account under `<data>/locks/`: for the processes of one
//! host sharing a data directory (and its SQLite store). The kernel releases a lock when its
//! holder dies, even by SIGKILL.

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use async_trait::async_trait;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;

use super::{Lease, Leases};
use crate::paths::DataDir;

/// The file locks of one data directory.
#[derive(Debug, Clone)]
pub struct FileLeases {
    data: DataDir,
    /// Lock files opened at once: a thousand accounts starting together would otherwise take
    /// as many blocking threads.
    opening: Arc<Semaphore>,
}

/// Lock files opened at once (each open is a few microseconds on a blocking thread).
const OPENING_AT_ONCE: usize = 4;

impl FileLeases {
    /// The locks under `data`'s `locks/`.
    pub fn new(data: DataDir) -> FileLeases {
        FileLeases {
            data,
            opening: Arc::new(Semaphore::new(OPENING_AT_ONCE)),
        }
    }
}

#[async_trait]
impl Leases for FileLeases {
    async fn try_acquire(&self, name: &str) -> std::io::Result<Option<Lease>> {
        let (data, name) = (self.data.clone(), name.to_owned());
        let _turn = self
            .opening
            .acquire()
            .await
            .map_err(std::io::Error::other)?;
        let attempt = tokio::task::spawn_blocking(move || try_lock(&data, &name))
            .await
            .map_err(std::io::Error::other)??;
        Ok(match attempt {
            // Never lost: the kernel keeps it until the file is closed.
            Attempt::Held(lock) => Some(Lease::new(lock, CancellationToken::new())),
            Attempt::Busy => None,
        })
    }

    fn held_here(&self, name: &str) -> bool {
        is_held_here(&self.data, name)
    }

    async fn is_held(&self, name: &str) -> Option<bool> {
        let (data, name) = (self.data.clone(), name.to_owned());
        let _turn = self.opening.acquire().await.ok()?;
        tokio::task::spawn_blocking(move || is_held(&data, &name))
            .await
            .ok()
            .flatten()
    }
}

/// A held listener lock; dropping it releases the lock.
#[derive(Debug)]
pub struct ListenerLock {
    _file: File,
    key: HeldKey,
}

impl Drop for ListenerLock {
    fn drop(&mut self) {
        held_here().remove(&self.key);
    }
}

/// A lock by data directory and name.
type HeldKey = (PathBuf, String);

/// The locks this process holds, so that asking about them needs no file I/O.
static HELD_HERE: Mutex<BTreeSet<HeldKey>> = Mutex::new(BTreeSet::new());

fn held_here() -> MutexGuard<'static, BTreeSet<HeldKey>> {
    HELD_HERE.lock().unwrap_or_else(PoisonError::into_inner)
}

fn key(data: &DataDir, name: &str) -> HeldKey {
    (data.root().to_path_buf(), name.to_owned())
}

/// Whether this process holds the lock `name`. Answered from memory: fine on async threads.
pub fn is_held_here(data: &DataDir, name: &str) -> bool {
    held_here().contains(&key(data, name))
}

/// Whether an attempt got the lock.
#[derive(Debug)]
pub enum Attempt {
    /// This process holds it now.
    Held(ListenerLock),
    /// Another process (or task) holds it.
    Busy,
}

/// The lock file of `name` (created on demand).
fn lock_path(data: &DataDir, name: &str) -> std::io::Result<PathBuf> {
    data.poll_lock(name)
        .map_err(|e| std::io::Error::other(e.to_string()))
}

/// Tries to take the lock `name` once, without waiting. Blocking (a file open); call it on a
/// blocking thread.
pub fn try_lock(data: &DataDir, name: &str) -> std::io::Result<Attempt> {
    let path = lock_path(data, name)?;
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&path)?;
    match file.try_lock() {
        Ok(()) => {
            let key = key(data, name);
            held_here().insert(key.clone());
            Ok(Attempt::Held(ListenerLock { _file: file, key }))
        }
        Err(std::fs::TryLockError::WouldBlock) => Ok(Attempt::Busy),
        Err(std::fs::TryLockError::Error(e)) => Err(e),
    }
}

/// Whether some process (this one included) holds the lock `name` right now; `None` when the
/// lock file cannot be checked. Blocking (a file open).
pub fn is_held(data: &DataDir, name: &str) -> Option<bool> {
    let path = lock_path(data, name).ok()?;
    if !path.exists() {
        return Some(false);
    }
    let file = OpenOptions::new().write(true).open(&path).ok()?;
    match file.try_lock() {
        Ok(()) => Some(false),
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_holder_at_a_time_and_released_on_drop() {
        let tmp = tempfile::tempdir().unwrap();
        let data = DataDir::resolve(Some(tmp.path())).unwrap();
        assert_eq!(is_held(&data, "bot@im.bot"), Some(false));
        let Attempt::Held(lock) = try_lock(&data, "bot@im.bot").unwrap() else {
            panic!("the first attempt gets the lock");
        };
        assert!(matches!(
            try_lock(&data, "bot@im.bot").unwrap(),
            Attempt::Busy
        ));
        assert_eq!(is_held(&data, "bot@im.bot"), Some(true));
        assert!(is_held_here(&data, "bot@im.bot"));
        assert!(!is_held_here(&data, "other@im.bot"));
        let elsewhere = tempfile::tempdir().unwrap();
        let elsewhere = DataDir::resolve(Some(elsewhere.path())).unwrap();
        assert!(!is_held_here(&elsewhere, "bot@im.bot"));
        drop(lock);
        assert_eq!(is_held(&data, "bot@im.bot"), Some(false));
        assert!(!is_held_here(&data, "bot@im.bot"));
    }
}
