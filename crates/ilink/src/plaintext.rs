//! The plaintext of an upload, and how a file is streamed: one pass computes its MD5 (which
//! `getuploadurl` needs before anything is sent), then each upload attempt reads, encrypts and
//! sends it piece by piece on a blocking thread, a few pieces ahead of the connection. Peak
//! memory stays a small constant whatever the file's size.

use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt;

use crate::crypto::{md5_hex, padded_size, AesKey};
use crate::error::{Error, Result};
use crate::progress::{Progress, Transfer};

/// The plaintext of an upload.
#[derive(Debug, Clone)]
pub enum Plaintext {
    /// Bytes in memory.
    Bytes(Bytes),
    /// A regular file, read in pieces with positioned reads (the handle is shared, never
    /// seeked). `len` is its size when it was opened; a file that is shorter by the time it is
    /// read fails the upload.
    File {
        /// The open file.
        file: Arc<std::fs::File>,
        /// Bytes to send.
        len: u64,
    },
}

impl Plaintext {
    /// Its size in bytes.
    pub fn len(&self) -> u64 {
        match self {
            Plaintext::Bytes(b) => b.len() as u64,
            Plaintext::File { len, .. } => *len,
        }
    }

    /// Whether it is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Its MD5, hex; a file is read on a blocking thread.
    pub(crate) async fn md5(&self) -> Result<String> {
        match self {
            Plaintext::Bytes(b) => Ok(md5_hex(b)),
            Plaintext::File { file, len } => {
                let (file, len) = (file.clone(), *len);
                tokio::task::spawn_blocking(move || {
                    use md5::{Digest, Md5};
                    let mut hasher = Md5::new();
                    let mut buf = vec![0u8; MD5_PIECE];
                    let mut offset = 0u64;
                    while offset < len {
                        let n = piece_len(len - offset, MD5_PIECE);
                        read_exact_at(&file, &mut buf[..n], offset)?;
                        hasher.update(&buf[..n]);
                        offset += n as u64;
                    }
                    Ok(hex::encode(hasher.finalize()))
                })
                .await
                .map_err(|e| Error::ReadFile(std::io::Error::other(e)))?
                .map_err(Error::ReadFile)
            }
        }
    }
}

/// Pieces the MD5 pass reads.
const MD5_PIECE: usize = 1024 * 1024;

fn piece_len(left: u64, max: usize) -> usize {
    usize::try_from(left).map_or(max, |l| l.min(max))
}

/// Reads exactly `buf.len()` bytes at `offset` without moving the file's position (so one open
/// file can be read by several tasks); a file that ends before is an error.
pub fn read_exact_at(file: &std::fs::File, buf: &mut [u8], offset: u64) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileExt;
        file.read_exact_at(buf, offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                std::io::Error::new(e.kind(), "the file became shorter while it was being sent")
            } else {
                e
            }
        })
    }
    #[cfg(windows)]
    {
        use std::os::windows::fs::FileExt;
        let mut done = 0;
        while done < buf.len() {
            let n = file.seek_read(&mut buf[done..], offset + done as u64)?;
            if n == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the file became shorter while it was being sent",
                ));
            }
            done += n;
        }
        Ok(())
    }
}

/// Pieces a file is read, encrypted and sent in (a multiple of the AES block size).
const FILE_PIECE: usize = 64 * 1024;
/// Encrypted pieces that may wait for the connection: the memory an upload holds.
const PIECES_AHEAD: usize = 4;

/// The ciphertext of `len` bytes of `file`, read and encrypted on a blocking thread a few
/// pieces ahead of the connection, each piece reported to `progress` as it is taken. A read
/// error ends the body with that error (the request fails, see [`file_error`]).
pub(crate) fn encrypted_file_body(
    file: Arc<std::fs::File>,
    len: u64,
    key: AesKey,
    progress: Progress,
) -> reqwest::Body {
    let total = padded_size(len);
    progress.report(Transfer {
        done: 0,
        total: Some(total),
    });
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(PIECES_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut offset = 0u64;
        loop {
            let n = piece_len(len - offset, FILE_PIECE);
            let last = offset + n as u64 == len;
            let mut piece = vec![0u8; n];
            let piece = match read_exact_at(&file, &mut piece, offset) {
                Err(e) => {
                    let _ = tx.blocking_send(Err(e));
                    return;
                }
                Ok(()) if last => key.encrypt(&piece),
                Ok(()) => {
                    key.encrypt_blocks(&mut piece);
                    piece
                }
            };
            // The receiver is gone when the request ended (failed, timed out): stop reading.
            if tx.blocking_send(Ok(Bytes::from(piece))).is_err() || last {
                return;
            }
            offset += n as u64;
        }
    });
    let mut done = 0u64;
    let stream = tokio_stream::wrappers::ReceiverStream::new(rx).map(move |piece| {
        let piece = piece.map_err(FileReadError)?;
        done += piece.len() as u64;
        progress.report(Transfer {
            done,
            total: Some(total),
        });
        Ok::<_, FileReadError>(piece)
    });
    reqwest::Body::wrap_stream(stream)
}

/// A read error of a streamed file, as the request body's error.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct FileReadError(std::io::Error);

/// The file read error behind a failed request, if that is why it failed.
pub(crate) fn file_error(e: &reqwest::Error) -> Option<&std::io::Error> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if let Some(FileReadError(io)) = s.downcast_ref::<FileReadError>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}
