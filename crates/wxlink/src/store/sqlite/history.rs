//! The history planner: how a [`HistoryQuery`] becomes SQL, and running it.
//!
//! A time filter becomes an id range through `message_days` (lowest and highest id per day),
//! which FTS5 and the `(x, id)` indexes seek; the ids no day outside the filter spans need no
//! time test, so most rows an index finds are never read from the table ([`Settled`]). A user
//! filter walks the `(peer, id, text)` index; with a long text too, the user's entries are
//! tested or the text's matches are joined, whichever is cheaper (see [`plan_history`]). Text
//! of three or more characters is an FTS5 trigram phrase (a case-insensitive substring match
//! that works for Chinese); shorter text is tested per row, folded the tokenizer's way so every
//! plan returns the same rows. The choices are pinned by a test on `EXPLAIN QUERY PLAN` and
//! measured by `benches/history.rs`.

use rusqlite::types::Value as SqlValue;
use rusqlite::{params, params_from_iter, Connection};

use super::fold::{fold, is_caseless, CONTAINS_FN};
use super::rows::listed_messages;
use crate::store::{HistoryPage, HistoryQuery, StoreResult};

/// `Some(s)` unless `s` is empty or only whitespace.
fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

/// When a long text is combined with a user filter, the user's rows are counted up to this
/// many to choose a plan (see `UserTextPlan`).
const PLAN_PROBE_CAP: i64 = 50_000;

/// How the text filter of a history query runs.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TextFilter {
    /// No text filter.
    None,
    /// Three or more characters: an FTS5 phrase (`phrase`), or the equivalent scan with the
    /// folded needle when that is cheaper.
    Fts { phrase: String, folded: String },
    /// One or two characters: scan with the folded needle.
    Scan { folded: String },
}

impl TextFilter {
    /// Trims the text; counts characters as the tokenizer does (NULs do not count).
    fn from_query(text: Option<&str>) -> Self {
        let folded = fold(text.map(str::trim).unwrap_or_default());
        if folded.is_empty() {
            return TextFilter::None;
        }
        if folded.chars().count() >= 3 {
            TextFilter::Fts {
                phrase: format!("\"{}\"", folded.replace('"', "\"\"")),
                folded,
            }
        } else {
            TextFilter::Scan { folded }
        }
    }
}

/// An inclusive range of message ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct IdRange {
    pub(super) lo: i64,
    pub(super) hi: i64,
}

/// The ids a time filter can reach, from `message_days`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimeScope {
    /// No time filter.
    All,
    /// Every message in the time range has an id in this range; what the range settles.
    Ids(IdRange, Settled),
    /// No stored message is in the time range.
    Nothing,
}

/// Which messages of a time filter's id range are known to be in its time range, so their
/// `created_at` is never read: a row reached through an index is then not read at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Settled {
    /// All of them: the id range is the whole test.
    All,
    /// Those with an id in this range; the others' times are tested.
    Ids(IdRange),
    /// None: every row's time is tested.
    Nothing,
}

impl TimeScope {
    fn of(conn: &Connection, since: Option<i64>, until: Option<i64>) -> StoreResult<Self> {
        if since.is_none() && until.is_none() {
            return Ok(TimeScope::All);
        }
        // Same truncating division as the trigger, so the days cover the range exactly.
        let first = since.map_or(i64::MIN, |t| t / DAY_MS);
        let last = until.map_or(i64::MAX, |t| t / DAY_MS);
        let (lo, hi): (Option<i64>, Option<i64>) = conn
            .prepare_cached(
                "SELECT min(min_id), max(max_id) FROM message_days WHERE day BETWEEN ?1 AND ?2",
            )?
            .query_row(params![first, last], |r| Ok((r.get(0)?, r.get(1)?)))?;
        let (Some(lo), Some(hi)) = (lo, hi) else {
            return Ok(TimeScope::Nothing);
        };
        let range = IdRange { lo, hi };
        Ok(TimeScope::Ids(range, settled(conn, since, until, range)?))
    }
}

/// What `range` settles of the time filter `since..=until` (see [`Settled`]).
///
/// A message's id lies between its day's `min_id` and `max_id` (entries only widen), and a
/// day strictly between the first and the last day of the filter lies wholly inside it (the
/// day is a monotone function of the time). So an id that no other day's ids span, nor those
/// of an edge day the filter cuts, is a message inside the filter. Those days' spans (one per
/// day outside the filter that has messages: a scan of `message_days`, a row a day) cut
/// `range` into pieces; the longest piece is settled. Ids arrive in time order unless
/// upstreams deliver late, so the spans usually sit outside `range` or at its ends.
pub(super) fn settled(
    conn: &Connection,
    since: Option<i64>,
    until: Option<i64>,
    range: IdRange,
) -> StoreResult<Settled> {
    // The first and last days whose every millisecond is inside the filter.
    let lower = match since {
        None => i64::MIN,
        Some(t) if t > 0 && t % DAY_MS == 0 => t / DAY_MS,
        Some(t) => (t / DAY_MS).saturating_add(1),
    };
    let upper = match until {
        None => i64::MAX,
        Some(t) if t >= 0 && t % DAY_MS == DAY_MS - 1 => t / DAY_MS,
        Some(t) => (t / DAY_MS).saturating_sub(1),
    };
    if lower > upper {
        return Ok(Settled::Nothing);
    }
    let mut spans: Vec<(i64, i64)> = conn
        .prepare_cached(
            "SELECT max(min_id, ?3), min(max_id, ?4) FROM message_days \
             WHERE (day < ?1 OR day > ?2) AND max_id >= ?3 AND min_id <= ?4",
        )?
        .query_map(params![lower, upper, range.lo, range.hi], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?
        .collect::<Result<_, _>>()?;
    if spans.is_empty() {
        return Ok(Settled::All);
    }
    spans.sort_unstable();
    let mut longest: Option<IdRange> = None;
    let mut keep = |piece: IdRange| {
        if piece.lo <= piece.hi && longest.is_none_or(|l| piece.hi - piece.lo > l.hi - l.lo) {
            longest = Some(piece);
        }
    };
    let mut from = range.lo;
    for (start, end) in spans {
        keep(IdRange {
            lo: from,
            hi: start.saturating_sub(1),
        });
        from = from.max(end.saturating_add(1));
    }
    keep(IdRange {
        lo: from,
        hi: range.hi,
    });
    Ok(longest.map_or(Settled::Nothing, Settled::Ids))
}

/// Milliseconds per `message_days` bucket (the trigger's divisor).
const DAY_MS: i64 = 86_400_000;

/// Filters of a history query as SQL over `messages m`, with their parameters.
#[derive(Default)]
struct Conditions {
    clauses: Vec<String>,
    params: Vec<SqlValue>,
}

impl Conditions {
    /// The non-text filters, the time as far as `settled` leaves it to test. With a user
    /// filter, the other columns are written `+m.col` so SQLite walks the `(peer, id, text)`
    /// index (a user's rows are few) and no other.
    fn from_query(q: &HistoryQuery, settled: Settled) -> Self {
        let user = non_blank(&q.user);
        let col = |name: &str| {
            if user.is_some() {
                format!("+m.{name}")
            } else {
                format!("m.{name}")
            }
        };
        let mut c = Conditions::default();
        if let Some(user) = user {
            c.push("m.peer = ?".into(), [user.to_owned().into()]);
        }
        if let Some(session) = non_blank(&q.session) {
            c.push(
                format!("{} = ?", col("session")),
                [session.to_owned().into()],
            );
        }
        if let Some(kind) = non_blank(&q.kind) {
            c.push(format!("{} = ?", col("kind")), [kind.to_owned().into()]);
        }
        if let Some(direction) = q.direction {
            c.push(
                format!("{} = ?", col("direction")),
                [direction.code().into()],
            );
        }
        let created = col("created_at");
        match settled {
            Settled::All => {}
            Settled::Nothing => c.push_time(q, &created),
            Settled::Ids(sure) => {
                let mut time = Conditions::default();
                time.push_time(q, &created);
                if !time.is_empty() {
                    // The id is tested first: a row reached through an index is read from
                    // the table only when its id is outside `sure`.
                    c.clauses.push(format!(
                        "(m.id BETWEEN ? AND ? OR ({}))",
                        time.clauses.join(" AND ")
                    ));
                    c.params.extend([sure.lo.into(), sure.hi.into()]);
                    c.params.extend(time.params);
                }
            }
        }
        c
    }

    /// The time filter tested on each row's `created` column.
    fn push_time(&mut self, q: &HistoryQuery, created: &str) {
        if let Some(since) = q.since_ms {
            self.push(format!("{created} >= ?"), [since.into()]);
        }
        if let Some(until) = q.until_ms {
            self.push(format!("{created} <= ?"), [until.into()]);
        }
    }

    fn push<const N: usize>(&mut self, clause: String, params: [SqlValue; N]) {
        self.clauses.push(clause);
        self.params.extend(params);
    }

    /// Restricts `m.id` to the range (lets SQLite seek the rowid or an `(x, id)` index).
    fn push_range(&mut self, range: Option<IdRange>) {
        if let Some(r) = range {
            self.push("m.id BETWEEN ? AND ?".into(), [r.lo.into(), r.hi.into()]);
        }
    }

    /// The substring test on each row. Short needles (no FTS equivalent to agree with) that
    /// have no cased characters use SQLite's `instr`, much cheaper than a function call per
    /// row on a full scan; it differs from [`CONTAINS_FN`] only on text holding NULs.
    fn push_contains(&mut self, folded: String, as_fts: bool) {
        if !as_fts && is_caseless(&folded) {
            self.push("instr(m.text, ?) > 0".into(), [folded.into()]);
        } else {
            self.push(format!("{CONTAINS_FN}(m.text, ?)"), [folded.into()]);
        }
    }

    fn is_empty(&self) -> bool {
        self.clauses.is_empty()
    }

    /// `" AND a AND b"`, or nothing.
    fn and_sql(&self) -> String {
        self.clauses.iter().map(|c| format!(" AND {c}")).collect()
    }

    /// `" WHERE a AND b"`, or nothing.
    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

/// A phrase query on `messages_fts`, limited to an id range when a time filter gives one.
pub(super) struct FtsMatch {
    pub(super) phrase: String,
    pub(super) range: Option<IdRange>,
}

impl FtsMatch {
    fn where_sql(&self) -> &'static str {
        if self.range.is_some() {
            "messages_fts MATCH ? AND messages_fts.rowid BETWEEN ? AND ?"
        } else {
            "messages_fts MATCH ?"
        }
    }

    fn params(&self) -> Vec<SqlValue> {
        let mut params = vec![SqlValue::from(self.phrase.clone())];
        if let Some(r) = self.range {
            params.extend([r.lo.into(), r.hi.into()]);
        }
        params
    }

    /// The text is the only filter: count and page straight from the index.
    fn alone(&self) -> HistoryPlan {
        let fts = self.where_sql();
        HistoryPlan {
            matches_sql: format!("FROM messages_fts WHERE {fts}"),
            ids_sql: format!(
                "SELECT messages_fts.rowid FROM messages_fts WHERE {fts} \
                 ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?"
            ),
            params: self.params(),
            everything: false,
        }
    }

    /// The matches, newest first, each joined to its row to test the other filters: by its
    /// rowid, or through `index` (see [`probe_index`]).
    fn join(&self, filters: Conditions, index: Option<&str>) -> HistoryPlan {
        let fts = self.where_sql();
        let and = filters.and_sql();
        let from = match index {
            None => "messages_fts CROSS JOIN messages m ON m.id = messages_fts.rowid".to_owned(),
            Some(index) => format!(
                "messages_fts CROSS JOIN messages m INDEXED BY {index} \
                 ON m.id = messages_fts.rowid"
            ),
        };
        let mut params = self.params();
        params.extend(filters.params);
        HistoryPlan {
            matches_sql: format!("FROM {from} WHERE {fts}{and}"),
            ids_sql: format!(
                "SELECT m.id FROM {from} WHERE {fts}{and} \
                 ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?"
            ),
            params,
            everything: false,
        }
    }

    /// The matches, newest first; those with an id outside `sure` tested on their row's
    /// `time` (the time filter's conditions on `m`): most are never read from the table.
    fn timed(&self, sure: IdRange, time: Conditions) -> HistoryPlan {
        let fts = self.where_sql();
        let test = format!(
            "(messages_fts.rowid BETWEEN ? AND ? OR EXISTS \
             (SELECT 1 FROM messages m WHERE m.id = messages_fts.rowid{}))",
            time.and_sql()
        );
        let mut params = self.params();
        params.extend([sure.lo.into(), sure.hi.into()]);
        params.extend(time.params);
        HistoryPlan {
            matches_sql: format!("FROM messages_fts WHERE {fts} AND {test}"),
            ids_sql: format!(
                "SELECT messages_fts.rowid FROM messages_fts WHERE {fts} AND {test} \
                 ORDER BY messages_fts.rowid DESC LIMIT ? OFFSET ?"
            ),
            params,
            everything: false,
        }
    }
}

/// How a history query runs: the matches (`FROM … WHERE …`, to count), the page of ids (its
/// last two parameters are LIMIT and OFFSET), and their shared parameters.
pub(super) struct HistoryPlan {
    pub(super) matches_sql: String,
    pub(super) ids_sql: String,
    pub(super) params: Vec<SqlValue>,
    /// Every message matches (no filter): counted by [`count_everything`].
    pub(super) everything: bool,
}

impl HistoryPlan {
    /// The count of the matches; with a cap, its last parameter is how many to count at most.
    pub(super) fn count_sql(&self, capped: bool) -> String {
        if capped {
            format!(
                "SELECT count(*) FROM (SELECT 1 {} LIMIT ?)",
                self.matches_sql
            )
        } else {
            format!("SELECT count(*) {}", self.matches_sql)
        }
    }

    /// A plan over `messages` alone, newest first.
    fn filtered(filters: Conditions) -> Self {
        let where_sql = filters.where_sql();
        HistoryPlan {
            everything: filters.is_empty(),
            matches_sql: format!("FROM messages m{where_sql}"),
            ids_sql: format!(
                "SELECT m.id FROM messages m{where_sql} ORDER BY m.id DESC LIMIT ? OFFSET ?"
            ),
            params: filters.params,
        }
    }
}

/// Chooses how to run a history query; `None` when nothing can match.
///
/// - A time filter first becomes an id range (`message_days`), which every plan seeks.
/// - No text, or 1–2 characters of it: the filters over `messages`, newest first (SQLite
///   walks `(peer, id, text)`, `(session, id)`, … or the rowid), short text tested per row.
/// - Three or more characters and no other filter: the FTS index alone, count included.
/// - Three or more characters with a user filter: see [`UserTextPlan`].
/// - Otherwise the FTS matches, newest first, each joined to its row through the index of a
///   column the query filters on (session, kind or direction; see [`probe_index`]); with only
///   a time filter, each match whose id is not [`Settled`] is tested on its row's time.
/// - A time filter is tested on a row only where its id does not settle it ([`Settled`]).
///
/// `force` overrides the choice for user + long text (tests try each plan).
pub(super) fn plan_history(
    conn: &Connection,
    q: &HistoryQuery,
    force: Option<UserTextPlan>,
) -> StoreResult<Option<HistoryPlan>> {
    let (range, settled) = match TimeScope::of(conn, q.since_ms, q.until_ms)? {
        TimeScope::Nothing => return Ok(None),
        TimeScope::All => (None, Settled::All),
        TimeScope::Ids(range, settled) => (Some(range), settled),
    };
    // Cursors narrow the same id range the time filter gives.
    let range = match (range, q.after_id, q.before_id) {
        (range, None, None) => range,
        (range, after, before) => {
            let mut r = range.unwrap_or(IdRange {
                lo: i64::MIN,
                hi: i64::MAX,
            });
            if let Some(after) = after {
                r.lo = r.lo.max(after.saturating_add(1));
            }
            if let Some(before) = before {
                r.hi = r.hi.min(before.saturating_sub(1));
            }
            if r.lo > r.hi {
                return Ok(None);
            }
            Some(r)
        }
    };
    let mut filters = Conditions::from_query(q, settled);
    let (phrase, folded) = match TextFilter::from_query(q.text.as_deref()) {
        TextFilter::None => {
            filters.push_range(range);
            return Ok(Some(HistoryPlan::filtered(filters)));
        }
        TextFilter::Scan { folded } => {
            filters.push_range(range);
            filters.push_contains(folded, false);
            return Ok(Some(HistoryPlan::filtered(filters)));
        }
        TextFilter::Fts { phrase, folded } => (phrase, folded),
    };
    let fts = FtsMatch { phrase, range };
    if filters.is_empty() {
        return Ok(Some(fts.alone()));
    }
    if let Some(user) = non_blank(&q.user) {
        let plan = match force {
            Some(plan) => plan,
            None => UserTextPlan::choose(conn, user, &fts)?,
        };
        match plan {
            UserTextPlan::JoinMatches => {}
            UserTextPlan::ScanUser => {
                filters.push_range(range);
                filters.push_contains(folded, true);
                return Ok(Some(HistoryPlan::filtered(filters)));
            }
        }
    }
    // With a user, the user's own plan was rejected for joining the matches: the user filter
    // stays in `filters`, and no probe index serves it (its session test is `+m.session`).
    let user = non_blank(&q.user).is_some();
    Ok(Some(match (user, probe_index(q), settled) {
        (false, Some(index), _) => fts.join(filters, Some(index)),
        // Only a time filter, which `sure` settles for most matches.
        (false, None, Settled::Ids(sure)) => {
            let mut time = Conditions::default();
            time.push_time(q, "m.created_at");
            fts.timed(sure, time)
        }
        _ => fts.join(filters, None),
    }))
}

/// The index through which FTS matches are joined to their rows (no user filter): the one
/// led by a column the query filters on. A match whose entry is missing is dropped there,
/// and one whose other filters the index or a settled id answers is never read from the
/// table (SQLite defers that read until a column needs it): at 10 M messages an entry costs
/// about a third of a table row.
fn probe_index(q: &HistoryQuery) -> Option<&'static str> {
    if non_blank(&q.session).is_some() {
        Some("messages_session")
    } else if non_blank(&q.kind).is_some() {
        Some("messages_kind")
    } else if q.direction.is_some() {
        Some("messages_direction")
    } else {
        None
    }
}

/// Relative cost of one row in each way of running user + long text, measured on the
/// 1,000,000-message benchmark (`benches/history.rs`).
mod cost {
    /// An FTS match joined to its `messages` row (a random table lookup).
    pub const JOIN_MATCH: f64 = 8.0;
    /// One of the user's `(peer, id, text)` index entries, its text tested.
    pub const SCAN_USER_ENTRY: f64 = 1.0;
}

/// Two ways to run a long text with a user filter; which is cheaper depends on how many rows
/// the user has (`u`) and the text matches (`t`). Both return the same rows: the scan uses
/// the tokenizer's case folding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum UserTextPlan {
    /// Walk the FTS matches and join each to its row: ~8`t`; wins for rare text.
    JoinMatches,
    /// Walk the user's `(peer, id, text)` entries and test the text, never touching the
    /// table for rows that fail: ~`u`; wins for common text.
    ScanUser,
}

impl UserTextPlan {
    /// Counts the user's rows and the text's matches (each only as far as the decision
    /// needs, index-only) and picks the cheaper plan.
    pub(super) fn choose(conn: &Connection, user: &str, fts: &FtsMatch) -> StoreResult<Self> {
        let mut user_sql = "SELECT 1 FROM messages WHERE peer = ?".to_owned();
        let mut user_params = vec![SqlValue::from(user.to_owned())];
        if let Some(r) = fts.range {
            user_sql.push_str(" AND id BETWEEN ? AND ?");
            user_params.extend([r.lo.into(), r.hi.into()]);
        }
        let entries = capped_count(conn, &user_sql, user_params, PLAN_PROBE_CAP)? as f64;
        // Past this many matches, scanning the user's entries is cheaper.
        let enough = (entries * cost::SCAN_USER_ENTRY / cost::JOIN_MATCH).ceil() as i64 + 1;
        let fts_sql = format!("SELECT 1 FROM messages_fts WHERE {}", fts.where_sql());
        let matches = capped_count(conn, &fts_sql, fts.params(), enough)? as f64;
        Ok(
            if matches * cost::JOIN_MATCH <= entries * cost::SCAN_USER_ENTRY {
                UserTextPlan::JoinMatches
            } else {
                UserTextPlan::ScanUser
            },
        )
    }
}

/// Plans and runs a history query (see [`plan_history`] for `force`).
pub(super) fn run_history(
    conn: &Connection,
    query: &HistoryQuery,
    force: Option<UserTextPlan>,
) -> StoreResult<HistoryPage> {
    let Some(plan) = plan_history(conn, query, force)? else {
        return Ok(HistoryPage::empty());
    };
    let cap = query.count_limit();
    let counted = if plan.everything {
        count_everything(conn, &plan, cap)?
    } else {
        count_matches(conn, &plan, cap)?
    };
    let (total, total_exact) = query.totals(counted);
    let mut messages = Vec::new();
    if query.page_can_hold_rows(total, total_exact) {
        let mut params = plan.params;
        params.push(i64::from(query.limit).into());
        params.push(i64::from(query.offset).into());
        let ids: Vec<i64> = conn
            .prepare_cached(&plan.ids_sql)?
            .query_map(params_from_iter(params.iter()), |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        messages = listed_messages(conn, &ids)?;
    }
    Ok(HistoryPage {
        messages,
        total,
        total_exact,
    })
}

/// How many rows `plan` matches, counting at most `cap` (`None`: all of them), row by row.
fn count_matches(conn: &Connection, plan: &HistoryPlan, cap: Option<i64>) -> StoreResult<i64> {
    let mut params = plan.params.clone();
    params.extend(cap.map(SqlValue::from));
    Ok(conn
        .prepare_cached(&plan.count_sql(cap.is_some()))?
        .query_row(params_from_iter(params.iter()), |r| r.get(0))?)
}

/// How many messages there are, counting at most `cap`, for a `plan` that matches them all.
///
/// SQLite counts a whole table from its b-tree pages rather than row by row (500 messages: 11 µs
/// with the query of the id span, against 40 µs counted row by row, through Python's sqlite3),
/// but always reads every page. So it is used only when the
/// ids prove the table small: ids only grow, so there are at most `max - min + 1` rows; past
/// the cap the rows are counted one by one, up to the cap, as for any other plan.
fn count_everything(conn: &Connection, plan: &HistoryPlan, cap: Option<i64>) -> StoreResult<i64> {
    let span: Option<i64> = conn
        .prepare_cached(
            "SELECT (SELECT max(id) FROM messages) - (SELECT min(id) FROM messages) + 1",
        )?
        .query_row([], |r| r.get(0))?;
    match (span, cap) {
        (None, _) => Ok(0),
        (Some(span), Some(cap)) if span > cap => count_matches(conn, plan, Some(cap)),
        _ => Ok(conn
            .prepare_cached("SELECT count(*) FROM messages")?
            .query_row([], |r| r.get(0))?),
    }
}

/// `count(*)` of the rows `sql` (with `params`) returns, counting at most `cap`.
fn capped_count(
    conn: &Connection,
    sql: &str,
    mut params: Vec<SqlValue>,
    cap: i64,
) -> StoreResult<i64> {
    params.push(cap.into());
    Ok(conn.query_row(
        &format!("SELECT count(*) FROM ({sql} LIMIT ?)"),
        params_from_iter(params.iter()),
        |r| r.get(0),
    )?)
}
