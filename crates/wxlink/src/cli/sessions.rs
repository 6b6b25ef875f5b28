//! `wxlink status`, `wxlink sessions [rename OLD NEW | default NAME]` and `wxlink logout [NAME]`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::Output;
use crate::app::{App, AppEvent};
use crate::error::AppResult;
use crate::poller::is_polled;
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
pub fn run(app: &App, args: SessionsArgs, out: &Output) -> AppResult<()> {
    match args.action {
        None => status(app, out),
        Some(SessionsAction::Rename { old, new }) => {
            app.store().rename_session(&old, &new)?;
            app.emit(AppEvent::SessionsChanged);
            if out.json {
                out.print_json(&json!({"success": true, "old_name": old, "new_name": new}));
            } else {
                out.line(&format!("Renamed session {old:?} to {new:?}."));
            }
            Ok(())
        }
        Some(SessionsAction::Default { name }) => {
            app.store().set_default(&name)?;
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
pub fn status(app: &App, out: &Output) -> AppResult<()> {
    let sessions = app.store().sessions()?;
    let polled = |s: &crate::store::SessionRecord| is_polled(app, s);
    if out.json {
        let list: Vec<_> = sessions
            .iter()
            .map(|s| views::session(s, polled(s)))
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
    for s in &sessions {
        t.add_row(vec![
            if s.is_default { "*" } else { "" }.to_string(),
            s.name.clone(),
            s.backend.clone(),
            s.status.as_str().replace('_', " "),
            match polled(s) {
                Some(true) => "yes",
                Some(false) => "no",
                None => "?",
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
    Ok(())
}

/// `wxlink logout [NAME]`.
pub fn logout(app: &App, args: LogoutArgs, out: &Output) -> AppResult<()> {
    let session = app.resolve_session(args.name.as_deref())?;
    app.store().logout(&session.name)?;
    app.emit(AppEvent::SessionsChanged);
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
