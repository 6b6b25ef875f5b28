//! `wxlink migrate-store FROM TO`: copies one store into another (rules in
//! [`crate::service::migrate`]), and `wxlink database-key`: a new key for PostgreSQL's
//! credentials.
//!
//! A store is `sqlite` (the data directory's), `sqlite:PATH`, `postgres` (the `--database` /
//! `WXLINK_DATABASE_URL` one, so that a password stays out of the process list), or a
//! `postgres://` URL.

use super::Output;
use crate::error::{AppError, AppResult};
use crate::paths::DataDir;
use crate::service::migrate::{copy_store, CopyReport};
use crate::service::ServiceOptions;
use crate::store::{open, StoreLocation};
use clap::Args;

/// Options of `wxlink migrate-store`.
#[derive(Debug, Clone, Args)]
pub struct MigrateArgs {
    /// The store to copy from: sqlite (the data directory's), sqlite:PATH, postgres (the
    /// --database one), or a postgres:// URL.
    pub from: String,
    /// The store to copy into (same spellings). It is created when new.
    pub to: String,
}

/// Where `spelling` points, given the global options.
fn locate(spelling: &str, options: &ServiceOptions) -> AppResult<StoreLocation> {
    match spelling.trim() {
        "sqlite" => {
            let data = DataDir::resolve(options.data_dir.as_deref())?;
            Ok(StoreLocation::Sqlite(data.database()))
        }
        "postgres" | "postgresql" => match &options.database {
            Some(location) if location.is_shared() => Ok(location.clone()),
            _ => Err(AppError::Invalid(
                "`postgres` means the database of --database / WXLINK_DATABASE_URL, and none \
                 is set; give it, or a postgres:// URL"
                    .into(),
            )),
        },
        other => StoreLocation::parse(other).map_err(AppError::Invalid),
    }
}

/// `wxlink migrate-store FROM TO`.
pub async fn run(options: ServiceOptions, args: MigrateArgs, out: &Output) -> AppResult<()> {
    let (from, to) = (locate(&args.from, &options)?, locate(&args.to, &options)?);
    if from == to {
        return Err(AppError::Invalid(format!(
            "{} is both the source and the destination",
            from.describe()
        )));
    }
    if let StoreLocation::Sqlite(path) = &from {
        if !path.exists() {
            return Err(AppError::Invalid(format!(
                "there is no SQLite store at {} to copy from",
                path.display()
            )));
        }
    }
    let source = open::open(&from, &options.database_key).await?;
    let destination = open::open(&to, &options.database_key).await?;
    if !out.json {
        out.line(&format!(
            "Copying {} → {} …",
            from.describe(),
            to.describe()
        ));
    }
    let report = copy_store(source.as_ref(), destination.as_ref(), |_| {}).await?;
    print(&report, out);
    Ok(())
}

fn print(report: &CopyReport, out: &Output) {
    if out.json {
        out.print_json(&serde_json::to_value(report).unwrap_or_default());
        return;
    }
    out.line(&format!(
        "Copied {} session(s), {} context token(s), {} consumer(s); messages: {} new, {} already \
         there ({:.1} s).",
        report.sessions,
        report.contexts,
        report.consumers,
        report.messages_new,
        report.messages_existing,
        report.elapsed_ms as f64 / 1000.0
    ));
}

/// `wxlink database-key`: 32 random bytes as 64 hex digits, for `--database-key-file`.
pub fn new_key(out: &Output) {
    let key: [u8; 32] = rand::random();
    out.line(&key.iter().map(|b| format!("{b:02x}")).collect::<String>());
}
