//! History: filters as people and agents write them — WeiLink's spellings included
//! (`IMAGE`, `2`, `received`, unix ms or ISO 8601 times), a bot id instead of a session — into
//! a store query, and the page it finds.

use crate::error::{AppError, AppResult};
use crate::model::Direction;
use crate::service::Service;
use crate::store::{HistoryPage, HistoryQuery, SessionRecord};
use crate::timefmt::parse_time;

/// Largest page.
pub const MAX_PAGE: u32 = 200;

/// Matches counted for a page's `total`; past it the total says "at least" (`total_exact`
/// false). Counting is what grows with the store: a common word in 10 M messages matched
/// 200,000 and took 33 ms to count, a page of it 0.5 ms.
pub const TOTAL_UP_TO: u64 = 10_000;

/// History filters as given; empty (or blank) strings mean "any".
#[derive(Debug, Clone, Default)]
pub struct HistoryFilter {
    /// The other party (user, contact or room).
    pub user: String,
    /// The bot account id (mapped to its session).
    pub bot_id: String,
    /// The session.
    pub session: String,
    /// Message type: text, image, voice, file, video, mixed, unknown (WeiLink's TEXT…VIDEO
    /// and 1…5 too).
    pub kind: String,
    /// received/in or sent/out (WeiLink's 1 and 2 too).
    pub direction: String,
    /// Not before: ISO 8601 or unix ms.
    pub since: String,
    /// Not after: ISO 8601 or unix ms.
    pub until: String,
    /// Text contained (Chinese inside sentences too).
    pub text: String,
    /// Page size (clamped to 1..=200).
    pub limit: u32,
    /// Matches to skip.
    pub offset: u32,
    /// Only messages older than this id (the cursor of the page before).
    pub before_id: Option<i64>,
}

/// A page of history and how the filters were understood.
#[derive(Debug, Clone)]
pub struct History {
    /// The page, newest first.
    pub page: HistoryPage,
    /// The page size used.
    pub limit: u32,
    /// Matches skipped.
    pub offset: u32,
    /// How a filter was understood, when that needs saying (an unknown bot id…).
    pub note: Option<String>,
}

/// `None` for an empty (or blank) string, else the trimmed text.
fn given(s: &str) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// A message type: ours (`text` … `unknown`), WeiLink's names (`TEXT` … `VIDEO`, any case) or
/// its numbers (1 … 5).
pub fn parse_kind(s: &str) -> AppResult<Option<String>> {
    let Some(t) = given(s) else {
        return Ok(None);
    };
    let kind = match t.to_ascii_lowercase().as_str() {
        "text" | "1" => "text",
        "image" | "img" | "picture" | "photo" | "2" => "image",
        "voice" | "audio" | "3" => "voice",
        "file" | "4" => "file",
        "video" | "5" => "video",
        "mixed" => "mixed",
        "unknown" => "unknown",
        _ => {
            return Err(AppError::Invalid(format!(
                "unknown message type {t:?}: use text, image, voice, file, video, mixed or unknown"
            )))
        }
    };
    Ok(Some(kind.to_string()))
}

/// A direction: `received`/`in` or `sent`/`out` (any case; WeiLink's 1 and 2 too).
pub fn parse_direction(s: &str) -> AppResult<Option<Direction>> {
    let Some(t) = given(s) else {
        return Ok(None);
    };
    match t.to_ascii_lowercase().as_str() {
        "in" | "received" | "inbound" | "incoming" | "1" => Ok(Some(Direction::In)),
        "out" | "sent" | "outbound" | "outgoing" | "2" => Ok(Some(Direction::Out)),
        _ => Err(AppError::Invalid(format!(
            "unknown direction {t:?}: use \"received\" (or \"in\") or \"sent\" (or \"out\")"
        ))),
    }
}

fn time(field: &str, s: &str) -> AppResult<Option<i64>> {
    given(s)
        .map(|t| parse_time(&t).map_err(|e| AppError::Invalid(format!("{field}: {e}"))))
        .transpose()
}

/// The store query for `filter` (`None` when no message can match, e.g. an unknown bot id),
/// and a note when a filter needs explaining. A bot id becomes the session whose bot it is,
/// found among `sessions` (the bot's own, or more: the others are passed over).
pub fn plan(
    filter: &HistoryFilter,
    sessions: &[SessionRecord],
) -> AppResult<(Option<HistoryQuery>, Option<String>)> {
    let mut note = None;
    let mut session = given(&filter.session);
    let mut no_match = false;
    if let Some(bot) = given(&filter.bot_id) {
        let owners: Vec<&SessionRecord> = sessions
            .iter()
            .filter(|s| s.bot_id.as_deref() == Some(bot.as_str()))
            .collect();
        match (owners.as_slice(), &session) {
            ([], _) => {
                no_match = true;
                note = Some(format!(
                    "no session has bot id {bot:?}; see the sessions for the bot ids"
                ));
            }
            (found, Some(name)) if !found.iter().any(|s| &s.name == name) => {
                no_match = true;
                note = Some(format!(
                    "bot id {bot:?} belongs to session {:?}, not {name:?}",
                    found[0].name
                ));
            }
            ([one], _) => session = Some(one.name.clone()),
            (several, None) => {
                session = Some(several[0].name.clone());
                note = Some(format!(
                    "bot id {bot:?} is used by sessions {}; showing session {:?} (pass a session to choose)",
                    several
                        .iter()
                        .map(|s| format!("{:?}", s.name))
                        .collect::<Vec<_>>()
                        .join(", "),
                    several[0].name
                ));
            }
            (_, Some(_)) => {}
        }
    }
    let query = HistoryQuery {
        user: given(&filter.user),
        session,
        kind: parse_kind(&filter.kind)?,
        direction: parse_direction(&filter.direction)?,
        since_ms: time("since", &filter.since)?,
        until_ms: time("until", &filter.until)?,
        text: given(&filter.text),
        limit: filter.limit.clamp(1, MAX_PAGE),
        offset: filter.offset,
        before_id: filter.before_id,
        after_id: None,
        count_up_to: Some(TOTAL_UP_TO),
    };
    Ok(((!no_match).then_some(query), note))
}

impl Service {
    /// A page of a fixed view of the history (a resource: the inbox, one conversation), its
    /// matches counted up to [`TOTAL_UP_TO`] unless the query counts fewer.
    pub async fn history_page(&self, query: &HistoryQuery) -> AppResult<HistoryPage> {
        let mut query = query.clone();
        query.count_up_to = Some(
            query
                .count_up_to
                .map_or(TOTAL_UP_TO, |n| n.min(TOTAL_UP_TO)),
        );
        Ok(self.store().history(&query).await?)
    }

    /// A page of history, newest first.
    pub async fn history(&self, filter: &HistoryFilter) -> AppResult<History> {
        // Only the bot's own sessions are read, not every session with its user count (with a
        // thousand accounts, a thousand rows).
        let sessions = match given(&filter.bot_id) {
            Some(bot) => self.store().sessions_with_bot(&bot).await?,
            None => Vec::new(),
        };
        let (query, note) = plan(filter, &sessions)?;
        let limit = filter.limit.clamp(1, MAX_PAGE);
        let page = match &query {
            Some(q) => self.store().history(q).await?,
            None => HistoryPage::empty(),
        };
        Ok(History {
            page,
            limit,
            offset: filter.offset,
            note,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{BackendKind, SessionStatus};

    fn session(name: &str, bot: &str) -> SessionRecord {
        SessionRecord {
            name: name.into(),
            backend: BackendKind::Ilink,
            bot_id: Some(bot.into()),
            user_id: None,
            token: None,
            base_url: None,
            status: SessionStatus::Connected,
            is_default: false,
            created_at_ms: 0,
            updated_at_ms: 0,
            last_message_at_ms: None,
            users: 0,
            problem: None,
        }
    }

    #[test]
    fn weilink_spellings() {
        assert_eq!(parse_kind("IMAGE").unwrap().as_deref(), Some("image"));
        assert_eq!(parse_kind("Text").unwrap().as_deref(), Some("text"));
        assert_eq!(parse_kind("5").unwrap().as_deref(), Some("video"));
        assert_eq!(parse_kind("").unwrap(), None);
        assert!(parse_kind("sticker").is_err());
        assert_eq!(parse_direction("received").unwrap(), Some(Direction::In));
        assert_eq!(parse_direction("SENT").unwrap(), Some(Direction::Out));
        assert_eq!(parse_direction("out").unwrap(), Some(Direction::Out));
        assert_eq!(parse_direction(" ").unwrap(), None);
        assert!(parse_direction("sideways").is_err());
    }

    #[test]
    fn bot_ids_become_sessions() {
        let sessions = [session("work", "b1@im.bot"), session("home", "b2@im.bot")];
        let mut f = HistoryFilter {
            bot_id: "b2@im.bot".into(),
            limit: 1000,
            since: "2026-01-02T03:04:05Z".into(),
            ..HistoryFilter::default()
        };
        let (q, note) = plan(&f, &sessions).unwrap();
        let q = q.unwrap();
        assert_eq!(q.session.as_deref(), Some("home"));
        assert_eq!(q.limit, 200);
        assert_eq!(q.since_ms, Some(1_767_323_045_000));
        assert!(note.is_none());

        f.bot_id = "nobody@im.bot".into();
        let (q, note) = plan(&f, &sessions).unwrap();
        assert!(q.is_none());
        assert!(note.unwrap().contains("no session has bot id"));

        f.bot_id = String::new();
        f.until = "next tuesday".into();
        let err = plan(&f, &sessions).unwrap_err();
        assert!(err.to_string().starts_with("until: "), "{err}");
    }
}
