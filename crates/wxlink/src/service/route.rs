//! Routing: which session a message to someone goes through, and with which context token.
//! `send` and `typing` ask here; nothing else decides.
//!
//! With a session named, that session (it must be connected; a backend that needs a context
//! token must hold one for the recipient). Without one:
//! 1. a context token for the recipient (freshest first) in a connected session — or, when the
//!    recipient has tokens only in sessions that are not connected, "log that session in";
//! 2. the session the last message with the recipient went through, when its backend can write
//!    to anyone it knows (an address book: Wechaty);
//! 3. an id that only a context-token backend uses (iLink's `…@im.wechat`) has no route;
//! 4. the default session if its backend has an address book, else the first such session
//!    (connected ones first);
//! 5. otherwise there is no way to reach the recipient: "no context token".

use crate::error::{AppError, AppResult};
use crate::service::sessions::preferred;
use crate::service::Service;
use crate::store::{BackendKind, ContextRecord, RouteCandidates, SessionRecord};

/// Where a message goes.
#[derive(Debug, Clone)]
pub struct Route {
    /// The session to send through (connected).
    pub session: SessionRecord,
    /// The recipient (trimmed).
    pub to: String,
    /// The context token to reply with, for backends that need one.
    pub context: Option<ContextRecord>,
}

impl Service {
    /// The route to `to`, through `session` when given.
    pub async fn route(&self, to: &str, session: Option<&str>) -> AppResult<Route> {
        let to = to.trim();
        if to.is_empty() {
            return Err(AppError::Invalid(
                "the recipient is empty: give a user, contact or room id".into(),
            ));
        }
        if let Some(name) = session {
            return self.route_through(to, name).await;
        }
        // Only the sessions routing can pick: those holding a token for `to`, and every
        // session whose backend writes to anyone (steps 2 and 4 choose among those).
        let open: Vec<BackendKind> = self
            .upstreams
            .all()
            .filter(|u| !u.capabilities().needs_context)
            .map(|u| u.kind())
            .collect();
        let RouteCandidates { contexts, sessions } =
            self.store().route_candidates(to, &open).await?;
        // No candidate: none exists at all (log in first), or none reaches `to` (step 5).
        if sessions.is_empty() && !self.store().session_presence().await?.any {
            return Err(AppError::NoSessions);
        }
        let find = |name: &str| sessions.iter().find(|s| s.name == name);

        // 1. A context token.
        if let Some((ctx, s)) = contexts.iter().find_map(|c| {
            find(&c.session)
                .filter(|s| s.is_connected())
                .map(|s| (c, s))
        }) {
            return Ok(Route {
                session: s.clone(),
                to: to.to_string(),
                context: Some(ctx.clone()),
            });
        }
        if let Some(s) = contexts.iter().find_map(|c| find(&c.session)) {
            return Err(AppError::NotConnected {
                name: s.name.clone(),
                status: s.status,
            });
        }

        // 2. The last conversation, through a backend that writes to anyone it knows.
        if let Some(last) = self.store().last_session_with(to).await? {
            if let Some(s) = find(&last).filter(|s| self.writes_to_anyone(s)) {
                return self.usable(s.clone(), to, None);
            }
        }

        // 3. An id only a context-token backend uses.
        let owned_by_context_backend = self
            .upstreams
            .all()
            .any(|u| u.capabilities().needs_context && u.owns_id(to));
        if !owned_by_context_backend {
            // 4. The default (or first) session with an address book.
            let default = self.store().default_session().await?;
            let candidate = preferred(&sessions, default.as_deref(), |s| self.writes_to_anyone(s));
            if let Some(s) = candidate {
                return self.usable(s.clone(), to, None);
            }
        }

        // 5. Nothing reaches the recipient.
        Err(AppError::NoContext {
            user: to.to_string(),
            session: None,
        })
    }

    /// The route through the session named.
    async fn route_through(&self, to: &str, name: &str) -> AppResult<Route> {
        let session = self.connected_session(Some(name)).await?;
        if !self.upstream(session.backend).capabilities().needs_context {
            return self.usable(session, to, None);
        }
        // The recipient's tokens (one per session they wrote to), not the session's (one per
        // user who ever wrote to it).
        let context = self
            .store()
            .contexts_for_user(to)
            .await?
            .into_iter()
            .find(|c| c.session == session.name)
            .ok_or_else(|| AppError::NoContext {
                user: to.to_string(),
                session: Some(session.name.clone()),
            })?;
        Ok(Route {
            session,
            to: to.to_string(),
            context: Some(context),
        })
    }

    /// Whether a session's backend can write to anyone it knows (no context token needed).
    fn writes_to_anyone(&self, s: &SessionRecord) -> bool {
        !self.upstream(s.backend).capabilities().needs_context
    }

    /// `session` as a route, when it is connected.
    fn usable(
        &self,
        session: SessionRecord,
        to: &str,
        context: Option<ContextRecord>,
    ) -> AppResult<Route> {
        if !session.is_connected() {
            return Err(AppError::NotConnected {
                name: session.name,
                status: session.status,
            });
        }
        Ok(Route {
            session,
            to: to.to_string(),
            context,
        })
    }
}
