//! wxlink's own tools: `typing` and `contacts`.

use rmcp::handler::server::wrapper::Parameters;
use rmcp::{tool, tool_router};

use super::{fail, Json};
use crate::mcp::params::given;
use crate::mcp::server::WxlinkMcp;
use crate::mcp::types::*;
use crate::service::contacts::OverviewNote;
use crate::timefmt::iso;

#[tool_router(router = contacts_router, vis = "pub(crate)")]
impl WxlinkMcp {
    /// Show or cancel "typing…".
    #[tool(
        name = "typing",
        title = "Show typing",
        description = "Show \"typing…\" to a user in WeChat (on=true) or cancel it (on=false), \
                       e.g. while you prepare a long answer. Uses no reply quota.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = true
        )
    )]
    async fn typing(
        &self,
        Parameters(p): Parameters<TypingParams>,
    ) -> Result<Json<TypingOut>, String> {
        let report = self
            .service
            .typing(&p.to, given(&p.session).as_deref(), p.on)
            .await
            .map_err(fail)?;
        Ok(Json(TypingOut {
            success: true,
            session: report.session,
            to: report.to,
            on: report.on,
        }))
    }

    /// Users that can be answered.
    #[tool(
        name = "contacts",
        title = "List contacts",
        description = "Whom you can write to. `contacts`: the users who wrote to each iLink \
                       session, most recent first, with the replies left on their token (10 per \
                       message they send) and whether it is stale (over 24 h). With `query`: only \
                       ids containing it, plus Wechaty contacts whose nickname or remark contains \
                       it (`wechaty`, at most 100); without, Wechaty sessions are only counted in \
                       `notes`.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true,
            open_world_hint = false
        )
    )]
    async fn contacts(
        &self,
        Parameters(p): Parameters<ContactsParams>,
    ) -> Result<Json<ContactsOut>, String> {
        let overview = self
            .service
            .contacts_overview(given(&p.query).as_deref(), given(&p.session).as_deref())
            .await
            .map_err(fail)?;
        let query = given(&p.query).unwrap_or_default();
        Ok(Json(ContactsOut {
            contacts: overview
                .users
                .into_iter()
                .map(|u| ContactOut {
                    user: u.user,
                    session: u.session,
                    connected: u.connected,
                    received_at: iso(u.received_at_ms),
                    sends_left: u.sends_left,
                    stale: u.stale,
                })
                .collect(),
            wechaty: overview
                .contacts
                .into_iter()
                .map(|(session, c)| WechatyContactOut {
                    session,
                    wxid: c.id,
                    name: c.name,
                    alias: c.alias,
                    kind: c.kind.into(),
                    friend: c.friend,
                })
                .collect(),
            notes: overview
                .notes
                .into_iter()
                .map(|n| note_text(n, &query))
                .collect(),
        }))
    }
}

/// A note about a Wechaty session, for an agent.
fn note_text(note: OverviewNote, query: &str) -> String {
    match note {
        OverviewNote::NotConnected { session, status } => format!(
            "Wechaty session {session:?} is {}: log it in again with the `login` tool \
             (backend=\"wechaty\", session_name={session:?})",
            status.label()
        ),
        OverviewNote::Size {
            session,
            contacts,
            rooms,
        } => format!(
            "Wechaty session {session:?} has {contacts} contacts and {rooms} group chats: search \
             them with `query` (nickname or remark), findFriend or findRoomByTopic"
        ),
        OverviewNote::Failed { session, error } => format!(
            "Wechaty session {session:?}: cannot ask its address book: {error}"
        ),
        OverviewNote::Truncated { found, shown } => format!(
            "{found} Wechaty contacts match {query:?}; the first {shown} are listed: narrow the query"
        ),
    }
}
