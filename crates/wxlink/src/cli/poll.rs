//! `wxlink poll`: keep every logged-in account polled in the foreground, storing messages as
//! they arrive, until Ctrl-C or SIGTERM (then `notifystop` goes out). Useful as a small daemon
//! that keeps history complete while agents come and go.

use std::sync::Arc;

use serde_json::json;

use super::Output;
use crate::error::{AppError, AppResult};
use crate::service::pollers::Pollers;
use crate::service::{Event, Service};

/// Runs the command.
pub async fn run(service: Arc<Service>, out: &Output) -> AppResult<()> {
    if service.list_sessions().await?.is_empty() {
        return Err(AppError::NoSessions);
    }
    let mut events = service.subscribe();
    let pollers = Pollers::start(service.clone());
    out.line("Polling every logged-in session; press Ctrl-C to stop.");
    let stop = super::signal::shutdown_signal();
    tokio::pin!(stop);
    loop {
        tokio::select! {
            _ = &mut stop => break,
            ev = events.recv() => match ev {
                Ok(Event::Inbound { session, ids }) => {
                    if out.json {
                        out.print_json(&json!({"event": "inbound", "session": session, "count": ids.len()}));
                    } else {
                        out.line(&format!("{session}: {} new message(s)", ids.len()));
                    }
                }
                Ok(Event::SessionExpired { session }) => {
                    if out.json {
                        out.print_json(&json!({"event": "session_expired", "session": session}));
                    } else {
                        out.line(&format!("{session}: expired; log in again with `wxlink login {session}`"));
                    }
                }
                Ok(Event::SessionHealth { session, problem }) => {
                    if out.json {
                        out.print_json(&json!({"event": "session_health", "session": session, "degraded": problem}));
                    } else {
                        match problem {
                            Some(why) => out.line(&format!("{session}: degraded: {why}")),
                            None => out.line(&format!("{session}: receiving again")),
                        }
                    }
                }
                Ok(Event::SessionsChanged | Event::Outbound { .. } | Event::MessageStatus { .. }) => {}
                Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(_) => break,
            },
        }
    }
    pollers.shutdown().await;
    Ok(())
}
