//! "typing…": shown (or cancelled) to a recipient through the session a message to them would
//! go through. It uses no reply quota.

use serde::Serialize;

use crate::error::{AppError, AppResult};
use crate::service::Service;
use crate::upstream::SendTarget;

/// What `typing` did.
#[derive(Debug, Clone, Serialize)]
pub struct TypingReport {
    /// The session used.
    pub session: String,
    /// The recipient.
    pub to: String,
    /// Whether "typing…" is shown now.
    pub on: bool,
}

impl Service {
    /// Shows (`on`) or cancels "typing…" for `to`.
    pub async fn typing(
        &self,
        to: &str,
        session: Option<&str>,
        on: bool,
    ) -> AppResult<TypingReport> {
        let route = self.route(to, session).await?;
        let upstream = self.upstream(route.session.backend);
        if !upstream.capabilities().typing {
            return Err(AppError::Invalid(format!(
                "{} sessions cannot show \"typing…\" (session {:?})",
                route.session.backend.label(),
                route.session.name
            )));
        }
        let target = SendTarget {
            session: &route.session,
            to: &route.to,
            context: route.context.as_ref(),
        };
        if let Err(e) = upstream.typing(target, on).await {
            if e.is_session_expired() {
                self.expire_session(&route.session.name).await;
            }
            return Err(e.into());
        }
        Ok(TypingReport {
            session: route.session.name,
            to: route.to,
            on,
        })
    }
}
