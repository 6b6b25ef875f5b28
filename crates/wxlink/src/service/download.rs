//! Downloading the media of a stored message (inbound or sent): the message's backend fetches
//! (and decrypts) each media item, and each is written into a directory under a safe file name
//! — never outside that directory, never over an existing file.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::service::Service;
use crate::store::StoredMessage;
use crate::transfer::TransferObserver;
use crate::upstream::MediaFile;

/// One file written.
#[derive(Debug, Clone, Serialize)]
pub struct Downloaded {
    /// Where it was written.
    pub path: String,
    /// Its size in bytes.
    pub size: u64,
    /// `image`, `voice`, `file` or `video`.
    #[serde(rename = "type")]
    pub kind: String,
}

impl Service {
    /// A stored message by our id or the upstream id.
    pub async fn message(&self, id: &str) -> AppResult<StoredMessage> {
        let id = id.trim();
        self.store()
            .message(id)
            .await?
            .ok_or_else(|| AppError::MessageNotFound(id.to_string()))
    }

    /// The media of message `id` (our id or the upstream id), fetched and decrypted by its
    /// backend, in the order of its items; [`AppError::NoMedia`] when it has none.
    pub async fn media(
        &self,
        id: &str,
        observer: &dyn TransferObserver,
    ) -> AppResult<(StoredMessage, Vec<MediaFile>)> {
        let stored = self.message(id).await?;
        let session = self.resolve_session(Some(&stored.message.session)).await?;
        let files = self
            .upstream(session.backend)
            .download(&session, &stored, observer)
            .await?;
        if files.is_empty() {
            return Err(AppError::NoMedia(id.trim().to_string()));
        }
        Ok((stored, files))
    }

    /// Downloads every media item of message `id` (our id or the upstream id) into `dir`, or the
    /// data directory's `media/` when `None`, announcing each transfer to `observer`.
    pub async fn download(
        &self,
        id: &str,
        dir: Option<&Path>,
        observer: &dyn TransferObserver,
    ) -> AppResult<Vec<Downloaded>> {
        let (stored, files) = self.media(id, observer).await?;
        let dir = match dir {
            Some(d) => {
                let owned = d.to_path_buf();
                tokio::task::spawn_blocking(move || crate::paths::create_private_dir(&owned))
                    .await
                    .map_err(|e| AppError::System(format!("cannot prepare {}: {e}", d.display())))?
                    .map_err(|source| AppError::Io {
                        path: d.to_path_buf(),
                        source,
                    })?;
                d.to_path_buf()
            }
            None => {
                let data = self.data().clone();
                tokio::task::spawn_blocking(move || data.media())
                    .await
                    .map_err(|e| AppError::System(format!("cannot prepare media/: {e}")))??
            }
        };
        let fallback = stored
            .message
            .upstream_id
            .clone()
            .unwrap_or_else(|| stored.id.to_string());
        let mut out = Vec::with_capacity(files.len());
        for file in files {
            let name = sanitize(&file.name).unwrap_or_else(|| format!("{fallback}.bin"));
            let size = file.data.len() as u64;
            let dir = dir.clone();
            let path = tokio::task::spawn_blocking(move || write_new(&dir, &name, &file.data))
                .await
                .map_err(|e| AppError::System(format!("the download writer failed: {e}")))??;
            out.push(Downloaded {
                path: path.display().to_string(),
                size,
                kind: file.kind,
            });
        }
        Ok(out)
    }
}

/// Longest file name written, in bytes (file systems take 255; room is left for " (2)").
const MAX_NAME_BYTES: usize = 200;
/// Longest extension kept when a name is shortened.
const MAX_EXT_BYTES: usize = 16;

/// A file name that cannot leave its directory: path separators, NUL and control characters
/// become `_`, leading dots are dropped, and the result is at most 200 bytes — a longer name
/// is shortened in its stem, keeping its extension. `None` when nothing usable is left.
pub fn sanitize(name: &str) -> Option<String> {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || c.is_control() {
                '_'
            } else {
                c
            }
        })
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.len() <= MAX_NAME_BYTES {
        return (!cleaned.is_empty()).then(|| cleaned.to_string());
    }
    let ext = match cleaned.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && !ext.is_empty() && ext.len() < MAX_EXT_BYTES => {
            format!(".{ext}")
        }
        _ => String::new(),
    };
    let mut out = String::new();
    for c in cleaned.chars() {
        if out.len() + c.len_utf8() + ext.len() > MAX_NAME_BYTES {
            break;
        }
        out.push(c);
    }
    out.push_str(&ext);
    Some(out)
}

/// Writes `data` to `dir/name`, or `dir/name (2).ext`, … when the name is taken. Blocking.
fn write_new(dir: &Path, name: &str, data: &[u8]) -> AppResult<PathBuf> {
    let (stem, ext) = match name.rsplit_once('.') {
        Some((s, e)) if !s.is_empty() => (s.to_string(), format!(".{e}")),
        _ => (name.to_string(), String::new()),
    };
    for n in 1..10_000 {
        let candidate = if n == 1 {
            dir.join(name)
        } else {
            dir.join(format!("{stem} ({n}){ext}"))
        };
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            // Owner only, whatever the umask: media can be private.
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(&candidate) {
            Ok(mut f) => {
                f.write_all(data).map_err(|source| AppError::Io {
                    path: candidate.clone(),
                    source,
                })?;
                return Ok(candidate);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(source) => {
                return Err(AppError::Io {
                    path: candidate,
                    source,
                })
            }
        }
    }
    Err(AppError::Invalid(format!(
        "too many files named like {name} in {}",
        dir.display()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_never_escape_the_directory() {
        assert_eq!(
            sanitize("../../etc/passwd").as_deref(),
            Some("_.._etc_passwd")
        );
        assert_eq!(sanitize("..").as_deref(), None);
        assert_eq!(sanitize("  .hidden ").as_deref(), Some("hidden"));
        assert_eq!(sanitize("a\\b\u{0}c").as_deref(), Some("a_b_c"));
        assert_eq!(sanitize("报告.pdf").as_deref(), Some("报告.pdf"));
        let long = "长".repeat(100);
        assert!(sanitize(&long).unwrap().len() <= 200);
        let long_pdf = format!("{}.pdf", "报".repeat(100));
        let short = sanitize(&long_pdf).unwrap();
        assert!(short.len() <= 200 && short.ends_with("报.pdf"), "{short}");
        let no_ext = "x".repeat(300);
        assert_eq!(sanitize(&no_ext).unwrap().len(), 200);
        let odd_ext = format!("a.{}", "y".repeat(300));
        assert_eq!(sanitize(&odd_ext).unwrap().len(), 200);
    }

    #[test]
    fn existing_files_are_not_overwritten() {
        let tmp = tempfile::tempdir().unwrap();
        let a = write_new(tmp.path(), "x.txt", b"1").unwrap();
        let b = write_new(tmp.path(), "x.txt", b"2").unwrap();
        assert_eq!(a, tmp.path().join("x.txt"));
        assert_eq!(b, tmp.path().join("x (2).txt"));
        assert_eq!(std::fs::read(a).unwrap(), b"1");
    }
}
