//! Driver errors into the driver-neutral [`StoreError`]: no `tokio_postgres` or `deadpool`
//! type leaves this module. A database error keeps its SQLSTATE, message and detail as text
//! (never the statement's parameters, which can hold tokens).

use std::fmt;

use crate::store::StoreError;

/// SQLSTATE of a unique violation.
pub(super) const UNIQUE_VIOLATION: &str = "23505";

/// A PostgreSQL failure as text: what the server or the connection said.
#[derive(Debug)]
pub(super) struct PgError(String);

impl fmt::Display for PgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PgError {}

impl PgError {
    /// A failure described by `what`.
    pub(super) fn new(what: impl Into<String>) -> Self {
        PgError(what.into())
    }
}

/// The text of a driver error: the server's SQLSTATE, message and detail when it answered,
/// a TLS failure in words (`tls::explain`), else the error and its causes.
pub(super) fn describe(e: &tokio_postgres::Error) -> String {
    if let Some(text) = super::tls::explain(e) {
        return text;
    }
    if let Some(db) = e.as_db_error() {
        let mut text = format!(
            "PostgreSQL {} {}: {}",
            db.severity(),
            db.code().code(),
            db.message()
        );
        if let Some(detail) = db.detail() {
            text.push_str(" (");
            text.push_str(detail);
            text.push(')');
        }
        return text;
    }
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Whether `e` is the server refusing a duplicate key.
pub(super) fn is_unique_violation(e: &tokio_postgres::Error) -> bool {
    e.code().map(|c| c.code()) == Some(UNIQUE_VIOLATION)
}

impl From<tokio_postgres::Error> for StoreError {
    fn from(e: tokio_postgres::Error) -> Self {
        StoreError::database(PgError(describe(&e)))
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        let text = match &e {
            deadpool_postgres::PoolError::Backend(pg) => describe(pg),
            other => format!("connection pool: {other}"),
        };
        StoreError::database(PgError(text))
    }
}
