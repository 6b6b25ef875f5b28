//! `wxlink status`, `wxlink sessions [rename OLD NEW | default NAME]` and `wxlink logout [NAME]`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::Output;
use crate::error::AppResult;
use crate::service::Service;
use crate::timefmt::{now_ms, relative};
use crate::views;

/// Options of `wxlink sessions`.
#[derive(Debug, Args)]
pub struct SessionsArgs {
    #[command(subcommand)]
    action: Option<SessionsAction>,
}

#[derive(Debug, Subcommand)]
enum SessionsAction {
    /// Rename a session (its history and tokens follow).
    Rename {
        /// Current name.
        old: String,
        /// New name.
        new: String,
    },
    /// Make a session the default one.
    Default {
        /// The session.
        name: String,
    },
}

/// Options of `wxlink logout`.
#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// Session (default: the default session).
    pub name: Option<String>,
}

/// `wxlink sessions …`.
pub async fn run(service: &Service, args: SessionsArgs, out: &Output) -> AppResult<()> {
    match args.action {
        None => status(service, out).await,
        Some(SessionsAction::Rename { old, new }) => {
            service.rename_session(&old, &new).await?;
            if out.json {
                out.print_json(&json!({"success": true, "old_name": old, "new_name": new}));
            } else {
                out.line(&format!("Renamed session {old:?} to {new:?}."));
            }
            Ok(())
        }
        Some(SessionsAction::Default { name }) => {
            service.set_default(&name).await?;
            if out.json {
                out.print_json(&json!({"success": true, "default_session": name}));
            } else {
                out.line(&format!("Session {name:?} is now the default."));
            }
            Ok(())
        }
    }
}

/// `wxlink status`: every session with its state.
pub async fn status(service: &Service, out: &Output) -> AppResult<()> {
    let sessions = service.list_sessions().await?;
    if out.json {
        let list: Vec<_> = sessions
            .iter()
            .map(|s| views::session(&s.record, s.polling))
            .collect();
        out.print_json(&json!(list));
        return Ok(());
    }
    if sessions.is_empty() {
        out.line("No sessions yet. Log a WeChat account in with `wxlink login`.");
        return Ok(());
    }
    let now = now_ms();
    let mut t = out.table(&[
        "",
        "session",
        "backend",
        "status",
        "polling",
        "last message",
        "users",
        "bot",
    ]);
    for view in &sessions {
        let s = &view.record;
        t.add_row(vec![
            if s.is_default { "*" } else { "" }.to_string(),
            s.name.clone(),
            s.backend.to_string(),
            s.status.label().to_string(),
            match (view.polling, &s.problem) {
                (Some(true) | None, Some(_)) => "degraded",
                (Some(true), None) => "yes",
                (Some(false), _) => "no",
                (None, None) => "?",
            }
            .to_string(),
            s.last_message_at_ms
                .map(|ms| relative(ms, now))
                .unwrap_or_else(|| "never".into()),
            s.users.to_string(),
            s.bot_id.clone().unwrap_or_default(),
        ]);
    }
    super::output::print_stdout(&t.to_string());
    for s in sessions.iter().map(|v| &v.record) {
        if let Some(problem) = &s.problem {
            out.line(&format!("Session {:?} is degraded: {problem}", s.name));
        }
    }
    Ok(())
}

/// `wxlink logout [NAME]`.
pub async fn logout(service: &Service, args: LogoutArgs, out: &Output) -> AppResult<()> {
    let session = service.logout(args.name.as_deref()).await?;
    if out.json {
        out.print_json(&json!({"success": true, "session": session.name}));
    } else {
        out.line(&format!(
            "Logged out of session {:?}; its message history is kept.",
            session.name
        ));
    }
    Ok(())
}
