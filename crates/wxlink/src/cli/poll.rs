//! `wxlink poll`: keep every logged-in account polled in the foreground, storing messages as
//! they arrive, until Ctrl-C or SIGTERM (then `notifystop` goes out). Useful as a small daemon
//! that keeps history complete while agents come and go.

use std::sync::Arc;

use serde_json::json;

use super::Output;
use crate::app::{App, AppEvent};
use crate::error::AppResult;
use crate::poller::Pollers;

/// Runs the command.
pub async fn run(app: Arc<App>, out: &Output) -> AppResult<()> {
    let sessions = app.store().sessions()?;
    if sessions.is_empty() {
        return Err(crate::error::AppError::NoSessions);
    }
    let mut events = app.subscribe();
    let pollers = Pollers::start(app.clone());
    out.line("Polling every logged-in session; press Ctrl-C to stop.");
    let stop = super::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = events.recv() => match ev {
                Ok(AppEvent::Inbound { session, ids }) => {
                    if out.json {
                        out.print_json(&json!({"event": "inbound", "session": session, "count": ids.len()}));
                    } else {
                        out.line(&format!("{session}: {} new message(s)", ids.len()));
                    }
                }
                Ok(AppEvent::SessionExpired { session }) => {
                    if out.json {
                        out.print_json(&json!({"event": "session_expired", "session": session}));
                    } else {
                        out.line(&format!("{session}: expired; log in again with `wxlink login {session}`"));
                    }
                }
                Ok(AppEvent::SessionsChanged) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
        }
    }
    pollers.shutdown().await;
    Ok(())
}
