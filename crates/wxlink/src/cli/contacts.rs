//! `wxlink contacts QUERY [--rooms] [--fuzzy] [--session S]`: find whom to write to. On a
//! Wechaty session, contacts by nickname or remark and rooms by topic; without one, the iLink
//! users (ids) who have written to the bot.

use clap::Args;
use serde_json::json;

use super::Output;
use crate::app::App;
use crate::contacts::{self, Matching};
use crate::error::{AppError, AppResult};
use crate::timefmt::{now_ms, relative};

/// Options of `wxlink contacts`.
#[derive(Debug, Args)]
pub struct ContactsArgs {
    /// Nickname or remark to look for (with --rooms: a room topic).
    pub query: String,
    /// Look for rooms (group chats) by topic instead of contacts.
    #[arg(long)]
    pub rooms: bool,
    /// Match a case-insensitive part of the name instead of the whole name.
    #[arg(long)]
    pub fuzzy: bool,
    /// The Wechaty session (default: the default Wechaty session).
    #[arg(long)]
    pub session: Option<String>,
}

/// Runs the command.
pub async fn run(app: &App, args: ContactsArgs, out: &Output) -> AppResult<()> {
    let matching = Matching::fuzzy(args.fuzzy);
    let session = args.session.as_deref();
    if args.rooms {
        let (session, rooms) = contacts::find_rooms(app, session, &args.query, matching).await?;
        if out.json {
            let rooms: Vec<_> = rooms
                .iter()
                .map(|r| {
                    json!({"id": r.id, "topic": r.topic, "members": r.member_ids.len(),
                    "owner_id": r.owner_id})
                })
                .collect();
            out.print_json(&json!({"session": session.name, "rooms": rooms}));
        } else if rooms.is_empty() {
            out.line(&format!("No room's topic matches {:?}.", args.query));
        } else {
            let mut t = out.table(&["room id", "topic", "members"]);
            for r in &rooms {
                t.add_row(vec![
                    r.id.clone(),
                    r.topic.clone(),
                    r.member_ids.len().to_string(),
                ]);
            }
            out.line(&t.to_string());
        }
        return Ok(());
    }
    match contacts::find_contacts(app, session, &args.query, matching).await {
        Ok((session, found)) => {
            if out.json {
                let found: Vec<_> = found
                    .iter()
                    .map(|c| {
                        json!({"id": c.id, "name": c.name, "alias": c.alias,
                        "friend": c.friend})
                    })
                    .collect();
                out.print_json(&json!({"session": session.name, "contacts": found}));
            } else if found.is_empty() {
                out.line(&format!(
                    "No contact's nickname or remark matches {:?}.",
                    args.query
                ));
            } else {
                let mut t = out.table(&["wxid", "nickname", "remark"]);
                for c in &found {
                    t.add_row(vec![
                        c.id.clone(),
                        c.name.clone(),
                        c.alias.clone().unwrap_or_default(),
                    ]);
                }
                out.line(&t.to_string());
            }
            Ok(())
        }
        // No Wechaty session: iLink only knows the ids of users who wrote to the bot.
        Err(AppError::NoWechatySession) if session.is_none() => {
            let users = contacts::ilink_users(app, &args.query)?;
            if out.json {
                let users: Vec<_> = users
                    .iter()
                    .map(|c| {
                        json!({"id": c.user_id, "session": c.session,
                        "last_message_ms": c.received_at_ms})
                    })
                    .collect();
                out.print_json(&json!({"contacts": users}));
            } else if users.is_empty() {
                out.line(&format!(
                    "No iLink user id contains {:?} (iLink knows no names: only users who wrote to the bot).",
                    args.query
                ));
            } else {
                let now = now_ms();
                let mut t = out.table(&["user id", "session", "last message"]);
                for c in &users {
                    t.add_row(vec![
                        c.user_id.clone(),
                        c.session.clone(),
                        relative(c.received_at_ms, now),
                    ]);
                }
                out.line(&t.to_string());
            }
            Ok(())
        }
        Err(e) => Err(e),
    }
}
