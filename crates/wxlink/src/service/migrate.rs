//! `wxlink migrate-store`: everything one store holds copied into another — SQLite to
//! PostgreSQL when a deployment grows into replicas, and back. The state (sessions with their
//! credentials, cursors, context tokens with their send counts, consumer positions) is written
//! first, in one transaction, the source winning; then every message under its own id, in
//! chunks of [`CHUNK`] (each a transaction), so memory stays flat however large the history.
//!
//! Copying again copies nothing new (messages already there are recognised by id, session,
//! direction and dedupe key); a destination that holds *other* messages under the same ids is
//! never overwritten: those messages are counted as clashes and the copy fails at the end,
//! saying so. Stop every wxlink using either store while it runs.

use std::time::Instant;

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::store::{RestoreOutcome, Store};

/// Messages per transaction.
pub const CHUNK: u32 = 2_000;

/// What a copy did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CopyReport {
    /// Sessions written (created or replaced).
    pub sessions: u64,
    /// Context tokens written.
    pub contexts: u64,
    /// Consumers written.
    pub consumers: u64,
    /// Messages stored now.
    pub messages_new: u64,
    /// Messages that were there already.
    pub messages_existing: u64,
    /// Messages left out: the destination holds other messages under their ids.
    pub messages_clashing: u64,
    /// How long it took, ms.
    pub elapsed_ms: u64,
}

/// Copies everything from `from` into `to`; `progress` is told the messages done so far. Fails
/// (after copying what it could) when messages clashed.
pub async fn copy_store(
    from: &dyn Store,
    to: &dyn Store,
    mut progress: impl FnMut(u64),
) -> AppResult<CopyReport> {
    let started = Instant::now();
    let state = from.export_state().await?;
    to.restore_state(&state).await?;
    let mut report = CopyReport {
        sessions: state.sessions.len() as u64,
        contexts: state.contexts.len() as u64,
        consumers: state.consumers.len() as u64,
        ..CopyReport::default()
    };
    let mut after = 0;
    loop {
        let messages = from.messages_after(after, CHUNK).await?;
        let Some(last) = messages.last() else { break };
        after = last.id;
        let RestoreOutcome {
            inserted,
            existing,
            conflicting,
        } = to.restore_messages(messages).await?;
        report.messages_new += inserted;
        report.messages_existing += existing;
        report.messages_clashing += conflicting;
        progress(report.messages_new + report.messages_existing + report.messages_clashing);
    }
    report.elapsed_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    if report.messages_clashing > 0 {
        return Err(AppError::Invalid(format!(
            "{} message(s) were not copied: the destination holds other messages under their \
             ids (it was used on its own). Copy into an empty database, or into one that only \
             ever received copies from this source",
            report.messages_clashing
        )));
    }
    Ok(report)
}
