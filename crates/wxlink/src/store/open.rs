//! Which store a run uses — SQLite in the data directory (the default, embedded) or a
//! PostgreSQL database named by a URL (`--database` / `WXLINK_DATABASE_URL`, shared by
//! replicas) — and the key that encrypts PostgreSQL's credentials (`--database-key-file` /
//! `WXLINK_DATABASE_KEY_FILE`, or `WXLINK_DATABASE_KEY`).

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::postgres::{CredentialKey, PgStore};
use super::{Secret, SqliteStore, Store, StoreError, StoreResult};

/// Environment variable holding the credential key itself (64 hex digits or base64).
pub const KEY_ENV: &str = "WXLINK_DATABASE_KEY";

/// Where a store lives.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreLocation {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL database (its URL can hold a password: never printed).
    Postgres(Secret<String>),
}

impl fmt::Debug for StoreLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.describe())
    }
}

impl StoreLocation {
    /// Reads a location: `sqlite:PATH`, a `postgres://` or `postgresql://` URL. Anything else
    /// is refused with what is accepted.
    pub fn parse(text: &str) -> Result<StoreLocation, String> {
        let text = text.trim();
        if let Some(path) = text.strip_prefix("sqlite:") {
            let path = path.strip_prefix("//").unwrap_or(path);
            if path.is_empty() {
                return Err("`sqlite:` needs a file path (sqlite:/path/to/wxlink.db)".into());
            }
            return Ok(StoreLocation::Sqlite(PathBuf::from(path)));
        }
        if text.starts_with("postgres://") || text.starts_with("postgresql://") {
            return Ok(StoreLocation::Postgres(Secret::new(text.to_owned())));
        }
        Err(format!(
            "{:?} is no database wxlink knows: give a postgres://user:password@host/database URL \
             (or sqlite:/path/to/wxlink.db)",
            redact(text)
        ))
    }

    /// How it is shown: the PostgreSQL URL without its password.
    pub fn describe(&self) -> String {
        match self {
            StoreLocation::Sqlite(path) => format!("sqlite:{}", path.display()),
            StoreLocation::Postgres(url) => redact(url.expose_str()),
        }
    }

    /// Whether this is a database several hosts share.
    pub fn is_shared(&self) -> bool {
        matches!(self, StoreLocation::Postgres(_))
    }
}

/// A URL with its password (and anything after `password=`) replaced by `***`.
pub fn redact(url: &str) -> String {
    let mut shown = match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => url.to_owned(),
    };
    if let Some(at) = shown.find("password=") {
        let end = shown[at..].find('&').map_or(shown.len(), |e| at + e);
        shown.replace_range(at + "password=".len()..end, "***");
    }
    shown
}

/// Where the key that encrypts PostgreSQL's credentials comes from.
#[derive(Debug, Clone, Default)]
pub struct KeySource {
    /// A file holding it (`--database-key-file`).
    pub file: Option<PathBuf>,
}

impl KeySource {
    /// The key: from the file when given, else from [`KEY_ENV`]. Neither is an error saying how
    /// to make one.
    pub async fn load(&self) -> StoreResult<CredentialKey> {
        let text = match &self.file {
            Some(path) => read_key_file(path).await?,
            None => std::env::var(KEY_ENV).map_err(|_| {
                StoreError::NoKey(format!(
                    "a PostgreSQL store encrypts account credentials: give the key with \
                     --database-key-file FILE (or WXLINK_DATABASE_KEY_FILE), or in {KEY_ENV}; \
                     make one with `wxlink database-key > FILE` (keep it: without it the \
                     stored logins cannot be read)"
                ))
            })?,
        };
        CredentialKey::parse(&text).map_err(|e| StoreError::NoKey(format!("the database key: {e}")))
    }
}

/// Reads a key file (off the runtime), refusing anything but a small regular file.
async fn read_key_file(path: &Path) -> StoreResult<String> {
    let io = |source| StoreError::Io {
        path: path.display().to_string(),
        source,
    };
    let meta = tokio::fs::metadata(path).await.map_err(io)?;
    if !meta.is_file() || meta.len() > 4096 {
        return Err(StoreError::NoKey(format!(
            "{} is not a key file (a small regular file holding 64 hex digits)",
            path.display()
        )));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            tracing::warn!(
                "the database key file {} is mode {mode:o}: others on this machine can read it \
                 (chmod 600 it)",
                path.display()
            );
        }
    }
    tokio::fs::read_to_string(path).await.map_err(io)
}

/// Opens the store at `location` (PostgreSQL with the key from `key`).
pub async fn open(location: &StoreLocation, key: &KeySource) -> StoreResult<Arc<dyn Store>> {
    match location {
        StoreLocation::Sqlite(path) => {
            let path = path.clone();
            let store = tokio::task::spawn_blocking(move || SqliteStore::open(&path))
                .await
                .map_err(StoreError::database)??;
            Ok(Arc::new(store))
        }
        StoreLocation::Postgres(url) => {
            let key = key.load().await?;
            Ok(Arc::new(PgStore::connect(url.expose_str(), key).await?))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_never_show_a_password() {
        let pg = StoreLocation::parse("postgres://wx:s3cret@db.internal:5432/wxlink").unwrap();
        assert!(pg.is_shared());
        assert_eq!(pg.describe(), "postgres://wx:***@db.internal:5432/wxlink");
        assert!(!format!("{pg:?}").contains("s3cret"));
        let kv = StoreLocation::parse("postgresql://db/wx?user=a&password=s3cret&sslmode=require")
            .unwrap();
        assert!(!kv.describe().contains("s3cret"), "{}", kv.describe());
        assert!(kv.describe().contains("sslmode=require"));
        assert_eq!(
            StoreLocation::parse("sqlite:/tmp/x.db").unwrap(),
            StoreLocation::Sqlite("/tmp/x.db".into())
        );
        assert_eq!(
            StoreLocation::parse("sqlite:///tmp/x.db").unwrap(),
            StoreLocation::Sqlite("/tmp/x.db".into())
        );
        for bad in ["mysql://a:s3cret@h/db", "sqlite:", "", "wxlink.db"] {
            let e = StoreLocation::parse(bad).unwrap_err();
            assert!(e.contains("sqlite:/"), "{e}");
            assert!(!e.contains("s3cret"), "{e}");
        }
    }
}
