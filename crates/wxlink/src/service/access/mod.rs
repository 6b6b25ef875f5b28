//! The access gate: who may put text into an agent's context through the push paths (the
//! Claude Code channel and the prompt hook), and whom such an agent may write to. With push,
//! anyone who can write to the bot could otherwise steer the agent.
//!
//! The state of a data directory lives in `<data>/access.json` (0600, replaced atomically,
//! changed under a cross-process lock so the channel issuing a pairing code and `wxlink access
//! pair` in a terminal never lose each other's writes); it is read afresh for every decision,
//! so a change takes effect at once in every process. A missing file is the default: policy
//! `pairing`, nobody allowed, no group.
//!
//! - [`gate`]: the decision for one inbound message ([`Verdict`]) and for one recipient.
//! - this module: the state ([`AccessState`]), its file, and the owner's changes (the
//!   `wxlink access` commands), pairing approval with its confirmation to the sender.

pub mod gate;

use std::collections::BTreeMap;
use std::fs::OpenOptions;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{AppError, AppResult};
use crate::service::send::{SendRequest, SentBy};
use crate::service::Service;
use crate::timefmt::now_ms;
use crate::transfer::Unobserved;

pub use gate::{parse_permission_reply, DropReason, Verdict};

/// How senders who are not on the allowlist are treated (groups follow their own list).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Policy {
    /// An unknown sender gets a pairing code (the channel answers it) and is held back until
    /// the owner runs `wxlink access pair CODE`.
    #[default]
    Pairing,
    /// Unknown senders are held back silently.
    Allowlist,
    /// Nothing is delivered, allowed senders and groups included.
    Disabled,
}

impl Policy {
    /// The names `wxlink access policy` takes.
    pub const NAMES: [&'static str; 3] = ["pairing", "allowlist", "disabled"];

    /// The policy named `name`.
    pub fn parse(name: &str) -> AppResult<Policy> {
        match name.trim().to_ascii_lowercase().as_str() {
            "pairing" => Ok(Policy::Pairing),
            "allowlist" => Ok(Policy::Allowlist),
            "disabled" => Ok(Policy::Disabled),
            other => Err(AppError::Invalid(format!(
                "unknown access policy {other:?}: use pairing, allowlist or disabled"
            ))),
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            Policy::Pairing => "pairing",
            Policy::Allowlist => "allowlist",
            Policy::Disabled => "disabled",
        }
    }
}

/// An allowed sender.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowed {
    /// When it was allowed, ms.
    pub added_ms: i64,
    /// How: `pairing` or `cli`.
    pub via: String,
}

/// An allowed group chat (room).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Group {
    /// Only messages that mention the bot are delivered.
    #[serde(default = "yes")]
    pub mention_only: bool,
    /// Only these members may reach the agent (empty: every member).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allow: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A pairing code given to an unknown sender, waiting for the owner.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// Who asked.
    pub sender: String,
    /// The session the sender wrote to (the confirmation goes back through it).
    pub session: String,
    /// When the code was made, ms.
    pub created_ms: i64,
    /// When it stops working, ms.
    pub expires_ms: i64,
    /// Replies sent with this code so far.
    pub replies: u32,
}

/// Everything the gate knows: the file `access.json`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AccessState {
    /// How unknown senders are treated.
    #[serde(default)]
    pub policy: Policy,
    /// Allowed senders by WeChat id.
    #[serde(default)]
    pub allow: BTreeMap<String, Allowed>,
    /// Allowed group chats by room id.
    #[serde(default)]
    pub groups: BTreeMap<String, Group>,
    /// Pairing codes waiting for the owner, by code.
    #[serde(default)]
    pub pending: BTreeMap<String, Pending>,
    /// Apply the gate to plain `recv` (MCP, REST) too, and to the sends of every MCP client.
    #[serde(default)]
    pub gate_recv: bool,
}

/// A pairing the owner approved.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Paired {
    /// The sender now allowed.
    pub sender: String,
    /// The session the sender wrote to.
    pub session: String,
    /// Whether the confirmation reached the sender (it needs a connected session).
    pub confirmed: bool,
}

/// Reads the state file; a missing file is the default state.
fn read_state(path: &Path) -> AppResult<AccessState> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| {
            AppError::Invalid(format!(
                "the access file {} is not readable ({e}); fix or remove it (removing it \
                 resets the gate to pairing with nobody allowed)",
                path.display()
            ))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(AccessState::default()),
        Err(source) => Err(AppError::Io {
            path: path.to_path_buf(),
            source,
        }),
    }
}

/// Reads, changes and (when changed) writes the state under the cross-process lock. Blocking.
fn update_state<R>(
    path: &Path,
    lock: &Path,
    change: impl FnOnce(&mut AccessState) -> AppResult<R>,
) -> AppResult<R> {
    let io = |source, path: &Path| AppError::Io {
        path: path.to_path_buf(),
        source,
    };
    let mut options = OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let guard = options.open(lock).map_err(|e| io(e, lock))?;
    guard.lock().map_err(|e| io(e, lock))?;
    let mut state = read_state(path)?;
    let before = state.clone();
    let result = change(&mut state)?;
    if state != before {
        let mut bytes = serde_json::to_vec_pretty(&state)
            .map_err(|e| AppError::System(format!("cannot write the access state: {e}")))?;
        bytes.push(b'\n');
        crate::paths::write_atomic(path, &bytes, 0o600).map_err(|e| io(e, path))?;
    }
    drop(guard);
    Ok(result)
}

/// Runs blocking file work off the async runtime's threads.
async fn blocking<R: Send + 'static>(
    work: impl FnOnce() -> AppResult<R> + Send + 'static,
) -> AppResult<R> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| AppError::System(format!("access state task failed: {e}")))?
}

impl Service {
    fn access_paths(&self) -> AppResult<(PathBuf, PathBuf)> {
        Ok((self.data().access(), self.data().access_lock()?))
    }

    /// The access gate's state as it is now.
    pub async fn access(&self) -> AppResult<AccessState> {
        let path = self.data().access();
        blocking(move || read_state(&path)).await
    }

    /// Changes the access state under the lock; returns what `change` returns.
    pub async fn update_access<R: Send + 'static>(
        &self,
        change: impl FnOnce(&mut AccessState) -> AppResult<R> + Send + 'static,
    ) -> AppResult<R> {
        let (path, lock) = self.access_paths()?;
        blocking(move || update_state(&path, &lock, change)).await
    }

    /// Decides what happens to each inbound message in order (see [`gate::decide`]), under
    /// one lock and one read of the state; pairing codes it issues and replies it counts are
    /// saved. `relay` says whether permission answers are taken from them.
    pub async fn gate_all(
        &self,
        messages: Vec<crate::store::NewMessage>,
        relay: bool,
    ) -> AppResult<Vec<Verdict>> {
        self.update_access(move |state| {
            let now = now_ms();
            Ok(messages
                .iter()
                .map(|m| gate::decide(state, m, relay, now))
                .collect())
        })
        .await
    }

    /// Refuses a send by `by` to `to` when the gate applies to that sender (a channel always;
    /// any agent once the owner turned the gate on for `recv`) and would not deliver messages
    /// from that chat.
    pub async fn check_sender(&self, by: SentBy, to: &str) -> AppResult<()> {
        if by == SentBy::Owner {
            return Ok(());
        }
        let state = self.access().await?;
        if by == SentBy::Agent && !state.gate_recv {
            return Ok(());
        }
        if gate::may_write_to(&state, to.trim()) {
            Ok(())
        } else {
            Err(AppError::NotAllowed {
                to: to.trim().to_string(),
            })
        }
    }

    /// Answers an unknown sender with their pairing code (through the session they wrote to;
    /// nothing else is ever sent to someone who is not allowed).
    pub async fn send_pairing_code(
        &self,
        sender: &str,
        session: &str,
        code: &str,
    ) -> AppResult<()> {
        let text = format!(
            "🔒 This WeChat bot only passes messages from people its owner approved.\n\
             If you know the owner, ask them to run:\n  wxlink access pair {code}\n\
             (the code expires in an hour)\n\
             这个机器人只接收主人批准的联系人的消息。请让主人运行上面的命令。"
        );
        let req = SendRequest::to(sender).text(text).through(session);
        self.send(&req, &Unobserved).await.map(|_| ())
    }

    /// Approves pairing code `code`: its sender is allowed from now on and is told so (when a
    /// session can reach them).
    pub async fn pair(&self, code: &str) -> AppResult<Paired> {
        let code = code.trim().to_ascii_lowercase();
        let pending = self
            .update_access(move |state| {
                let now = now_ms();
                gate::forget_expired(state, now);
                let pending = state.pending.remove(&code).ok_or_else(|| {
                    AppError::Invalid(format!(
                        "no pending pairing code {code:?} (codes expire after an hour; \
                         `wxlink access list` shows the pending ones)"
                    ))
                })?;
                state.allow.insert(
                    pending.sender.clone(),
                    Allowed {
                        added_ms: now,
                        via: "pairing".into(),
                    },
                );
                state.pending.retain(|_, p| p.sender != pending.sender);
                Ok(pending)
            })
            .await?;
        let req = SendRequest::to(&pending.sender)
            .text(
                "✅ Paired: your messages now reach the agent. 已配对：你的消息现在会转给智能体。",
            )
            .through(&pending.session);
        let confirmed = match self.send(&req, &Unobserved).await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "paired, but the confirmation could not be sent");
                false
            }
        };
        Ok(Paired {
            sender: pending.sender,
            session: pending.session,
            confirmed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_file_is_pairing_with_nobody_and_changes_are_private_and_atomic() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("access.json");
        let lock = tmp.path().join("access.lock");
        assert_eq!(read_state(&path).unwrap(), AccessState::default());
        assert_eq!(AccessState::default().policy, Policy::Pairing);
        // No change: no file.
        update_state(&path, &lock, |_| Ok(())).unwrap();
        assert!(!path.exists());
        update_state(&path, &lock, |s| {
            s.policy = Policy::Allowlist;
            Ok(())
        })
        .unwrap();
        assert_eq!(read_state(&path).unwrap().policy, Policy::Allowlist);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
        // No temporary file is left beside it.
        let names: Vec<_> = std::fs::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");
        // A failed change writes nothing.
        let r: AppResult<()> = update_state(&path, &lock, |s| {
            s.policy = Policy::Disabled;
            Err(AppError::Invalid("no".into()))
        });
        assert!(r.is_err());
        assert_eq!(read_state(&path).unwrap().policy, Policy::Allowlist);
    }

    #[test]
    fn a_damaged_file_is_an_error_that_names_it_and_is_left_alone() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("access.json");
        std::fs::write(&path, b"{not json").unwrap();
        let e = read_state(&path).unwrap_err();
        assert!(e.to_string().contains("access.json"), "{e}");
        let lock = tmp.path().join("access.lock");
        assert!(update_state(&path, &lock, |s| {
            s.gate_recv = true;
            Ok(())
        })
        .is_err());
        assert_eq!(std::fs::read(&path).unwrap(), b"{not json");
    }
}
