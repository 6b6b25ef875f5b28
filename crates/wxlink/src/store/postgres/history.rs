//! History queries: the filters of a [`HistoryQuery`] as one `WHERE` clause, the total and
//! the page read in one snapshot (a repeatable-read, read-only transaction).
//!
//! Text search gives the same rows and totals as SQLite's: the needle is trimmed and folded
//! the way SQLite's FTS5 trigram tokenizer folds (`crate::store::sqlite::fold`), and matched
//! as a substring of `coalesce(text_folded, text)` (the stored text folded the same way) with
//! `LIKE`, its wildcards escaped. The `pg_trgm` GIN index serves needles of three or more
//! characters (Chinese inside sentences included); shorter ones are tested per row, as SQLite
//! does. PostgreSQL's planner picks among the `(peer, id)`, `(session, id)`, `(kind, id)`,
//! `(direction, id)` and `created_at` indexes and the trigram index.

use deadpool_postgres::Client;
use tokio_postgres::types::ToSql;

use super::rows::{direction_code, message_from_row, nul_free, LISTED_COLUMNS};
use crate::store::sqlite::fold::fold;
use crate::store::{HistoryPage, HistoryQuery, StoreResult};

/// `Some(s)` unless `s` is empty or only whitespace.
fn non_blank(s: &Option<String>) -> Option<&str> {
    s.as_deref().filter(|s| !s.trim().is_empty())
}

/// `needle` as a `LIKE` pattern matching it anywhere (its `\`, `%` and `_` escaped).
fn contains_pattern(needle: &str) -> String {
    let mut pattern = String::with_capacity(needle.len() + 2);
    pattern.push('%');
    for c in needle.chars() {
        if matches!(c, '\\' | '%' | '_') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// The filters of a query as SQL over `messages`, with their parameters.
#[derive(Default)]
struct Filters {
    clauses: Vec<String>,
    params: Vec<Box<dyn ToSql + Sync + Send>>,
}

impl Filters {
    fn push(&mut self, clause: &str, param: impl ToSql + Sync + Send + 'static) {
        self.params.push(Box::new(param));
        // Each clause names its parameter `$?`, numbered here.
        self.clauses
            .push(clause.replace("$?", &format!("${}", self.params.len())));
    }

    /// Blank `user`, `session`, `kind` and `text` filters count as absent; the text is
    /// trimmed and folded (a text that folds to nothing is no filter).
    fn of(q: &HistoryQuery) -> Self {
        let mut f = Filters::default();
        if let Some(user) = non_blank(&q.user) {
            f.push("peer = $?", nul_free(user).into_owned());
        }
        if let Some(session) = non_blank(&q.session) {
            f.push("session = $?", nul_free(session).into_owned());
        }
        if let Some(kind) = non_blank(&q.kind) {
            f.push("kind = $?", nul_free(kind).into_owned());
        }
        if let Some(direction) = q.direction {
            f.push("direction = $?", direction_code(direction));
        }
        if let Some(since) = q.since_ms {
            f.push("created_at >= $?", since);
        }
        if let Some(until) = q.until_ms {
            f.push("created_at <= $?", until);
        }
        if let Some(after) = q.after_id {
            f.push("id > $?", after);
        }
        if let Some(before) = q.before_id {
            f.push("id < $?", before);
        }
        let needle = fold(q.text.as_deref().map(str::trim).unwrap_or_default());
        if !needle.is_empty() {
            f.push(
                "coalesce(text_folded, text) LIKE $?",
                contains_pattern(&needle),
            );
        }
        f
    }

    fn where_sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn refs(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.params
            .iter()
            .map(|p| p.as_ref() as &(dyn ToSql + Sync))
            .collect()
    }
}

/// A page of history, newest first, with the total.
pub(super) async fn history(c: &mut Client, q: &HistoryQuery) -> StoreResult<HistoryPage> {
    let filters = Filters::of(q);
    let where_sql = filters.where_sql();
    let tx = c
        .build_transaction()
        .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
        .read_only(true)
        .start()
        .await?;
    let mut params = filters.refs();
    let n = params.len();
    let cap = q.count_limit();
    let count = match cap {
        Some(_) => format!(
            "SELECT count(*) FROM (SELECT 1 FROM messages{where_sql} LIMIT ${}) AS matches",
            n + 1
        ),
        None => format!("SELECT count(*) FROM messages{where_sql}"),
    };
    let count = tx.prepare_cached(&count).await?;
    let counted: i64 = match &cap {
        Some(cap) => {
            let mut with_cap = params.clone();
            with_cap.push(cap);
            tx.query_one(&count, &with_cap).await?.try_get(0)?
        }
        None => tx.query_one(&count, &params).await?.try_get(0)?,
    };
    let (total, total_exact) = q.totals(counted);
    let mut messages = Vec::new();
    if q.page_can_hold_rows(total, total_exact) {
        let page = tx
            .prepare_cached(&format!(
                "SELECT {LISTED_COLUMNS} FROM messages{where_sql} \
                 ORDER BY id DESC LIMIT ${} OFFSET ${}",
                n + 1,
                n + 2
            ))
            .await?;
        let (limit, offset) = (i64::from(q.limit), i64::from(q.offset));
        params.push(&limit);
        params.push(&offset);
        let rows = tx.query(&page, &params).await?;
        messages = rows
            .iter()
            .map(message_from_row)
            .collect::<StoreResult<_>>()?;
    }
    tx.commit().await?;
    Ok(HistoryPage {
        messages,
        total,
        total_exact,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_wildcards_are_literal() {
        assert_eq!(contains_pattern("50%_off\\"), "%50\\%\\_off\\\\%");
        assert_eq!(contains_pattern("预算"), "%预算%");
    }

    #[test]
    fn blank_filters_are_no_filters() {
        let q = HistoryQuery {
            user: Some(" ".into()),
            text: Some("  \0 ".into()),
            ..HistoryQuery::default()
        };
        assert!(Filters::of(&q).clauses.is_empty());
        let q = HistoryQuery {
            user: Some("bob".into()),
            text: Some(" Budget ".into()),
            ..HistoryQuery::default()
        };
        let f = Filters::of(&q);
        assert_eq!(
            f.where_sql(),
            " WHERE peer = $1 AND coalesce(text_folded, text) LIKE $2"
        );
    }
}
