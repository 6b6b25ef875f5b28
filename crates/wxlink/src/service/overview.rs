//! What a dashboard shows at a glance — counts of sessions, users and today's messages, which
//! sessions are polled or degraded — and the lists an inbox view starts from: the latest
//! message of each conversation, the users of one session.

use serde::Serialize;

use crate::error::AppResult;
use crate::service::contacts::KnownUser;
use crate::service::Service;
use crate::store::{HistoryQuery, StoredMessage};
use crate::timefmt::now_ms;

/// Longest conversation list.
pub const MAX_CONVERSATIONS: u32 = 200;

/// The dashboard's figures.
#[derive(Debug, Clone, Serialize)]
pub struct Status {
    /// Sessions stored.
    pub sessions: usize,
    /// Sessions connected.
    pub connected: usize,
    /// Users with a context token (people who wrote), over all sessions.
    pub users: usize,
    /// Messages stored since the start of "today".
    pub messages_today: u64,
    /// Sessions some process polls now.
    pub polling: usize,
    /// Sessions whose receiving keeps failing, and why.
    pub degraded: Vec<(String, String)>,
}

impl Service {
    /// The dashboard's figures; "today" starts at `today_since_ms` (the caller's local midnight),
    /// or 24 hours ago when `None`.
    pub async fn status(&self, today_since_ms: Option<i64>) -> AppResult<Status> {
        let sessions = self.list_sessions().await?;
        let users = self.store().contexts(None).await?;
        let mut distinct: Vec<&str> = users.iter().map(|c| c.user_id.as_str()).collect();
        distinct.sort_unstable();
        distinct.dedup();
        let since = today_since_ms.unwrap_or_else(|| now_ms() - 86_400_000);
        let today = self
            .store()
            .history(&HistoryQuery {
                since_ms: Some(since),
                limit: 0,
                ..HistoryQuery::default()
            })
            .await?
            .total;
        Ok(Status {
            sessions: sessions.len(),
            connected: sessions.iter().filter(|s| s.record.is_connected()).count(),
            users: distinct.len(),
            messages_today: today,
            polling: sessions.iter().filter(|s| s.polling == Some(true)).count(),
            degraded: sessions
                .iter()
                .filter_map(|s| Some((s.record.name.clone(), s.record.problem.clone()?)))
                .collect(),
        })
    }

    /// The newest message of each conversation, newest first (at most [`MAX_CONVERSATIONS`]),
    /// only those of `session` when given.
    pub async fn conversation_list(&self, session: Option<&str>) -> AppResult<Vec<StoredMessage>> {
        if let Some(name) = session {
            self.resolve_session(Some(name)).await?;
        }
        Ok(self
            .store()
            .conversations(session, MAX_CONVERSATIONS)
            .await?)
    }

    /// The users who wrote to session `name`, with their replies left.
    pub async fn session_users(&self, name: &str) -> AppResult<Vec<KnownUser>> {
        let session = self.resolve_session(Some(name)).await?;
        let sessions = self.store().sessions().await?;
        self.users_with_tokens(&sessions, Some(&session.name), now_ms())
            .await
    }

    /// The largest file any backend takes (what an upload may be streamed up to before the
    /// backend is known); `None` when no backend limits it.
    pub fn max_upload_bytes(&self) -> Option<u64> {
        crate::model::BackendKind::ALL
            .iter()
            .map(|&k| self.upstream(k).capabilities().max_file_bytes)
            .try_fold(0u64, |max, limit| limit.map(|l| max.max(l)))
    }
}
