//! `wxlink access …`: the owner's side of the access gate ([`crate::service::access`]) — who
//! may reach an agent through the channel and the hook, and whom it may write to.
//!
//! `list` (the default), `policy pairing|allowlist|disabled`, `allow ID…`, `remove ID…`,
//! `pair CODE` (approve a pairing code; the sender is told), `deny CODE`,
//! `group add ROOM [--no-mention] [--allow ID,…]`, `group remove ROOM`, `gate-recv on|off`.

use clap::{Args, Subcommand};
use serde_json::json;

use super::Output;
use crate::error::{AppError, AppResult};
use crate::service::access::{AccessState, Allowed, Group, Policy};
use crate::service::Service;
use crate::timefmt::{now_ms, relative};

/// Options of `wxlink access`.
#[derive(Debug, Args)]
pub struct AccessArgs {
    #[command(subcommand)]
    pub command: Option<AccessCommand>,
}

/// The `access` subcommands.
#[derive(Debug, Subcommand)]
pub enum AccessCommand {
    /// Show the policy, who is allowed, the groups and the pending pairing codes.
    List,
    /// How senders who are not allowed are treated: pairing (they get a code; you approve it),
    /// allowlist (ignored silently) or disabled (nothing reaches the agent).
    Policy {
        /// pairing, allowlist or disabled.
        #[arg(value_parser = Policy::NAMES)]
        policy: String,
    },
    /// Allow WeChat users (their ids, as `recv` and `history` show them).
    Allow {
        /// User ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Take users off the allowlist.
    Remove {
        /// User ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Approve a pairing code a sender got: they are allowed from now on, and told so.
    Pair {
        /// The code.
        code: String,
    },
    /// Discard a pending pairing code (the sender is not told).
    Deny {
        /// The code.
        code: String,
    },
    /// Allow or remove group chats.
    Group {
        #[command(subcommand)]
        command: GroupCommand,
    },
    /// Apply the gate to `recv` and to the sends of every MCP client too (off: only the
    /// channel and the hook are gated).
    GateRecv {
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        state: String,
    },
}

/// `wxlink access group …`.
#[derive(Debug, Subcommand)]
pub enum GroupCommand {
    /// Allow a group chat (its room id).
    Add {
        /// Room id.
        room: String,
        /// Pass every message, not only those that mention the bot.
        #[arg(long)]
        no_mention: bool,
        /// Only these members may reach the agent (comma-separated ids).
        #[arg(long, value_delimiter = ',')]
        allow: Vec<String>,
    },
    /// Stop listening to a group chat.
    Remove {
        /// Room id.
        room: String,
    },
}

fn nonblank(id: &str) -> AppResult<String> {
    let id = id.trim();
    if id.is_empty() {
        return Err(AppError::Invalid("an id must not be blank".into()));
    }
    Ok(id.to_string())
}

/// Runs the command.
pub async fn run(service: &Service, args: AccessArgs, out: &Output) -> AppResult<()> {
    let command = args.command.unwrap_or(AccessCommand::List);
    let note = match command {
        AccessCommand::List => None,
        AccessCommand::Policy { policy } => {
            let policy = Policy::parse(&policy)?;
            service
                .update_access(move |s| {
                    s.policy = policy;
                    Ok(())
                })
                .await?;
            Some(format!("Policy: {}.", policy.as_str()))
        }
        AccessCommand::Allow { ids } => {
            let ids = ids
                .iter()
                .map(|i| nonblank(i))
                .collect::<AppResult<Vec<_>>>()?;
            let shown = ids.join(", ");
            service
                .update_access(move |s| {
                    for id in ids {
                        s.allow.entry(id).or_insert(Allowed {
                            added_ms: now_ms(),
                            via: "cli".into(),
                        });
                    }
                    Ok(())
                })
                .await?;
            Some(format!("Allowed: {shown}."))
        }
        AccessCommand::Remove { ids } => {
            let ids: Vec<String> = ids.iter().map(|i| i.trim().to_string()).collect();
            let removed = service
                .update_access(move |s| {
                    Ok(ids
                        .into_iter()
                        .filter(|id| s.allow.remove(id).is_some())
                        .collect::<Vec<_>>())
                })
                .await?;
            Some(if removed.is_empty() {
                "Nobody removed: none of them was allowed.".to_string()
            } else {
                format!("Removed: {}.", removed.join(", "))
            })
        }
        AccessCommand::Pair { code } => {
            let paired = service.pair(&code).await?;
            if out.json {
                out.print_json(&json!({"paired": paired}));
                return Ok(());
            }
            Some(format!(
                "Paired {}: their messages reach the agent now.{}",
                paired.sender,
                if paired.confirmed {
                    " They were told."
                } else {
                    " (They could not be told: no connected session reaches them.)"
                }
            ))
        }
        AccessCommand::Deny { code } => {
            let code = code.trim().to_ascii_lowercase();
            let shown = code.clone();
            let found = service
                .update_access(move |s| Ok(s.pending.remove(&code).is_some()))
                .await?;
            if !found {
                return Err(AppError::Invalid(format!(
                    "no pending pairing code {shown:?}"
                )));
            }
            Some(format!("Code {shown} discarded."))
        }
        AccessCommand::Group { command } => match command {
            GroupCommand::Add {
                room,
                no_mention,
                allow,
            } => {
                let room = nonblank(&room)?;
                let shown = room.clone();
                let allow = allow
                    .iter()
                    .map(|i| i.trim().to_string())
                    .filter(|i| !i.is_empty())
                    .collect();
                service
                    .update_access(move |s| {
                        s.groups.insert(
                            room,
                            Group {
                                mention_only: !no_mention,
                                allow,
                            },
                        );
                        Ok(())
                    })
                    .await?;
                Some(format!(
                    "Group {shown} allowed{}.",
                    if no_mention {
                        ""
                    } else {
                        " (only messages that mention the bot)"
                    }
                ))
            }
            GroupCommand::Remove { room } => {
                let room = room.trim().to_string();
                let shown = room.clone();
                let found = service
                    .update_access(move |s| Ok(s.groups.remove(&room).is_some()))
                    .await?;
                Some(if found {
                    format!("Group {shown} removed.")
                } else {
                    format!("Group {shown} was not allowed.")
                })
            }
        },
        AccessCommand::GateRecv { state } => {
            let on = state == "on";
            service
                .update_access(move |s| {
                    s.gate_recv = on;
                    Ok(())
                })
                .await?;
            Some(format!(
                "The gate applies to recv and every agent's sends: {}.",
                if on {
                    "yes"
                } else {
                    "no (only the channel and the hook)"
                }
            ))
        }
    };
    let state = service.access().await?;
    if out.json {
        out.print_json(&state_json(&state));
        return Ok(());
    }
    if let Some(note) = note {
        out.line(&note);
    } else {
        list(&state, out);
    }
    Ok(())
}

/// The state as `--json` prints it (pending codes with their expiry).
fn state_json(s: &AccessState) -> serde_json::Value {
    let mut v = serde_json::to_value(s).unwrap_or_default();
    let now = now_ms();
    if let Some(pending) = v.get_mut("pending").and_then(|p| p.as_object_mut()) {
        pending.retain(|_, p| p["expires_ms"].as_i64().unwrap_or(0) > now);
    }
    v
}

fn list(s: &AccessState, out: &Output) {
    out.line(&format!(
        "Policy: {} · gate on recv: {}",
        s.policy.as_str(),
        if s.gate_recv { "yes" } else { "no" }
    ));
    if s.allow.is_empty() {
        out.line("Allowed: nobody yet (`wxlink access allow ID`, or approve a pairing code).");
    } else {
        let mut t = out.table(&["allowed", "since", "via"]);
        for (id, a) in &s.allow {
            t.add_row(vec![
                id.clone(),
                relative(a.added_ms, now_ms()),
                a.via.clone(),
            ]);
        }
        out.line(&t.to_string());
    }
    if !s.groups.is_empty() {
        let mut t = out.table(&["group", "mentions only", "members"]);
        for (id, g) in &s.groups {
            let members = if g.allow.is_empty() {
                "all".to_string()
            } else {
                g.allow.join(", ")
            };
            t.add_row(vec![
                id.clone(),
                if g.mention_only { "yes" } else { "no" }.into(),
                members,
            ]);
        }
        out.line(&t.to_string());
    }
    let now = now_ms();
    let pending: Vec<_> = s
        .pending
        .iter()
        .filter(|(_, p)| p.expires_ms > now)
        .collect();
    if !pending.is_empty() {
        let mut t = out.table(&["pairing code", "sender", "asked", "approve with"]);
        for (code, p) in pending {
            t.add_row(vec![
                code.clone(),
                p.sender.clone(),
                relative(p.created_ms, now),
                format!("wxlink access pair {code}"),
            ]);
        }
        out.line(&t.to_string());
    }
}
