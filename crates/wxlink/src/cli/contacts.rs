//! `wxlink contacts QUERY [--rooms] [--fuzzy] [--session S]`: find whom to write to. In a
//! session's address book (Wechaty), contacts by nickname or remark and rooms by topic; without
//! one, the iLink users (ids) who have written to the bot.

use clap::Args;
use serde_json::json;

use super::Output;
use crate::error::AppResult;
use crate::service::contacts::Source;
use crate::service::Service;
use crate::timefmt::{now_ms, relative};
use crate::upstream::Matching;

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
    /// The session (default: the default Wechaty session).
    #[arg(long)]
    pub session: Option<String>,
}

/// Runs the command.
pub async fn run(service: &Service, args: ContactsArgs, out: &Output) -> AppResult<()> {
    let matching = Matching::fuzzy(args.fuzzy);
    let session = args.session.as_deref();
    if args.rooms {
        let (session, rooms) = service.find_rooms(session, &args.query, matching).await?;
        if out.json {
            let rooms: Vec<_> = rooms
                .iter()
                .map(|r| {
                    json!({"id": r.id, "topic": r.topic, "members": r.members,
                    "owner_id": r.owner_id})
                })
                .collect();
            out.print_json(&json!({"session": session.name, "rooms": rooms}));
        } else if rooms.is_empty() {
            out.line(&format!("No room's topic matches {:?}.", args.query));
        } else {
            let mut t = out.table(&["room id", "topic", "members"]);
            for r in &rooms {
                t.add_row(vec![r.id.clone(), r.topic.clone(), r.members.to_string()]);
            }
            out.line(&t.to_string());
        }
        return Ok(());
    }
    let found = service
        .find_contacts(session, &args.query, matching)
        .await?;
    if found.source == Source::KnownUsers {
        // iLink knows no names: only the ids of users who wrote to the bot.
        let users = &found.known;
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
                "No iLink user has the id {:?}{} (iLink knows no names: only users who wrote to the bot).",
                args.query,
                if args.fuzzy { " in it" } else { "; --fuzzy matches part of an id" }
            ));
        } else {
            let now = now_ms();
            let mut t = out.table(&["user id", "session", "last message"]);
            for c in users {
                t.add_row(vec![
                    c.user_id.clone(),
                    c.session.clone(),
                    relative(c.received_at_ms, now),
                ]);
            }
            out.line(&t.to_string());
        }
        return Ok(());
    }
    if out.json {
        let contacts: Vec<_> = found
            .contacts
            .iter()
            .map(|c| json!({"id": c.id, "name": c.name, "alias": c.alias, "friend": c.friend}))
            .collect();
        out.print_json(&json!({"session": found.session.name, "contacts": contacts}));
    } else if found.contacts.is_empty() {
        out.line(&format!(
            "No contact's nickname or remark matches {:?}.",
            args.query
        ));
    } else {
        let mut t = out.table(&["wxid", "nickname", "remark"]);
        for c in &found.contacts {
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
