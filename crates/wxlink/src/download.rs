//! Downloading the media of a stored message (inbound or sent): fetch, decrypt, and write each
//! media item into a directory under a safe file name — never outside that directory, never
//! over an existing file — with an extension that fits the content.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use ilink::wire::ItemType;
use serde::Serialize;

use crate::app::App;
use crate::backend;
use crate::error::{AppError, AppResult};
use crate::transfer::{TransferObserver, Unobserved};

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

/// Downloads every media item of message `id` (our id or the upstream id) into `dir`, or the
/// data directory's `media/` when `None`.
pub async fn download(app: &App, id: &str, dir: Option<&Path>) -> AppResult<Vec<Downloaded>> {
    download_observed(app, id, dir, &Unobserved).await
}

/// [`download`], announcing each item and its byte progress to `observer`.
pub async fn download_observed(
    app: &App,
    id: &str,
    dir: Option<&Path>,
    observer: &dyn TransferObserver,
) -> AppResult<Vec<Downloaded>> {
    let stored = app
        .store()
        .message(id.trim())?
        .ok_or_else(|| AppError::MessageNotFound(id.to_string()))?;
    let backend_of_session = app
        .store()
        .session(&stored.message.session)?
        .map(|s| s.backend);
    if backend_of_session.as_deref() == Some(backend::wechaty::BACKEND) {
        return download_wechaty(app, &stored, dir, observer).await;
    }
    let items: Vec<_> = backend::ilink::upstream_items(stored.message.raw.as_ref())
        .into_iter()
        .filter(|i| i.media().is_some())
        .collect();
    if items.is_empty() {
        return Err(AppError::NoMedia(id.to_string()));
    }
    let dir = target_dir(app, dir)?;
    let base = stored
        .message
        .upstream_id
        .clone()
        .unwrap_or_else(|| stored.id.to_string());
    let client = app.ilink()?;
    let mut out = Vec::new();
    for (n, item) in items.iter().enumerate() {
        let kind = backend::ilink::kind_name(item);
        let label = if items.len() > 1 {
            format!("Downloading {kind} {} of {}", n + 1, items.len())
        } else {
            format!("Downloading {kind}")
        };
        let data = client
            .download_item_with_progress(item, &observer.start(&label))
            .await?;
        let stem = if items.len() > 1 {
            format!("{base}-{}", n + 1)
        } else {
            base.clone()
        };
        let name = file_name_for(item, &stem, &data);
        let path = write_new(&dir, &name, &data)?;
        out.push(Downloaded {
            path: path.display().to_string(),
            size: data.len() as u64,
            kind: kind.to_string(),
        });
    }
    Ok(out)
}

/// A Wechaty message's file, fetched from the puppet service (which keeps it; the store only
/// has its name).
async fn download_wechaty(
    app: &App,
    stored: &crate::store::StoredMessage,
    dir: Option<&Path>,
    observer: &dyn TransferObserver,
) -> AppResult<Vec<Downloaded>> {
    let msg = &stored.message;
    let (Some(upstream), true) = (&msg.upstream_id, backend::wechaty::has_media(&msg.kind)) else {
        return Err(AppError::NoMedia(stored.id.to_string()));
    };
    let session = app.resolve_session(Some(&msg.session))?;
    let client = app.wechaty_for(&session)?;
    let progress = observer.start(&format!("Downloading {}", msg.kind));
    let file = client.download_message_file(upstream).await?;
    let size = file.bytes.len() as u64;
    progress.report(ilink::Transfer {
        done: size,
        total: Some(size),
    });
    let dir = target_dir(app, dir)?;
    let name = sanitize(&file.name)
        .or_else(|| {
            msg.items
                .get(0)
                .and_then(|i| i.get("file_name"))
                .and_then(|n| n.as_str())
                .and_then(sanitize)
        })
        .unwrap_or_else(|| format!("{upstream}.bin"));
    let path = write_new(&dir, &name, &file.bytes)?;
    Ok(vec![Downloaded {
        path: path.display().to_string(),
        size,
        kind: msg.kind.clone(),
    }])
}

/// `dir` (created if needed), or the data directory's `media/`.
fn target_dir(app: &App, dir: Option<&Path>) -> AppResult<PathBuf> {
    match dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(|source| AppError::Io {
                path: d.to_path_buf(),
                source,
            })?;
            Ok(d.to_path_buf())
        }
        None => Ok(app.data().media()?),
    }
}

/// The name to save an item under: a file's own (sanitized) name, else `<stem>.<ext>`.
fn file_name_for(item: &ilink::MessageItem, stem: &str, data: &[u8]) -> String {
    if let Some(name) = item
        .file_item
        .as_ref()
        .and_then(|f| f.file_name.as_deref())
        .and_then(sanitize)
    {
        return name;
    }
    let ext = match item.kind() {
        Some(ItemType::Image) => sniff_image(data).unwrap_or("jpg"),
        Some(ItemType::Video) => "mp4",
        Some(ItemType::Voice) => match item.voice_item.as_ref().and_then(|v| v.encode_type) {
            Some(1) => "pcm",
            Some(4) => "spx",
            Some(5) => "amr",
            Some(7) => "mp3",
            Some(8) => "ogg",
            _ => "silk",
        },
        _ => "bin",
    };
    format!("{stem}.{ext}")
}

fn sniff_image(data: &[u8]) -> Option<&'static str> {
    Some(match data {
        [0x89, b'P', b'N', b'G', ..] => "png",
        [0xff, 0xd8, 0xff, ..] => "jpg",
        [b'G', b'I', b'F', b'8', ..] => "gif",
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => "webp",
        [b'B', b'M', ..] => "bmp",
        _ => return None,
    })
}

/// A file name that cannot leave its directory: path separators, NUL and control characters
/// become `_`, leading dots are dropped, and the result is at most 200 bytes. `None` when
/// nothing usable is left.
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
    let mut out = String::new();
    for c in cleaned.chars() {
        if out.len() + c.len_utf8() > 200 {
            break;
        }
        out.push(c);
    }
    (!out.is_empty()).then_some(out)
}

/// Writes `data` to `dir/name`, or `dir/name (2).ext`, … when the name is taken.
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
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&candidate)
        {
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

    #[test]
    fn image_types_are_sniffed() {
        assert_eq!(sniff_image(b"\x89PNG\r\n"), Some("png"));
        assert_eq!(sniff_image(&[0xff, 0xd8, 0xff, 0xe0]), Some("jpg"));
        assert_eq!(sniff_image(b"RIFF1234WEBPVP8"), Some("webp"));
        assert_eq!(sniff_image(b"nope"), None);
    }
}
