//! History search benchmark: wxlink's SQLite store (FTS5 trigram) against WeiLink 0.6.2's
//! schema and query shape (`LIKE '%q%'` plus a `COUNT(*)`), on the same 1,000,000 messages.
//!
//! Run with `cargo bench -p wxlink --bench history`. It builds two temporary databases, prints
//! the insert rates, then p50/p99 latency of each query shape and the ratio wxlink/WeiLink.
//! Everything is generated deterministically: sentences of mixed Chinese and Latin words drawn
//! from a word list with a Zipf-like distribution, ~1,000 users over 3 sessions, a year of
//! timestamps.
//!
//! Knobs: `HISTORY_BENCH_MESSAGES` (corpus size), `HISTORY_BENCH_DIR` (keep the databases
//! there and reuse them on the next run), `HISTORY_BENCH_WXLINK_ONLY` (skip timing WeiLink),
//! `HISTORY_BENCH_ITERATIONS` (timed runs per query shape, 200), `HISTORY_BENCH_SHAPES` (only
//! these shapes, numbered from 0 in the order printed: `7,10`). It also prints the bytes stored
//! per message and how long opening the store takes, full and empty (nothing is scanned at open).

use std::path::Path;
use std::time::{Duration, Instant};

use rusqlite::{params, params_from_iter, types::Value as SqlValue, Connection};
use wxlink::service::history::TOTAL_UP_TO;
use wxlink::store::{SqliteStore, Store};

#[path = "corpus/mod.rs"]
mod corpus;

use corpus::*;

/// WeiLink 0.6.2's schema (`_store.py`, user_version 1), verbatim.
const WEILINK_SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS messages (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id    INTEGER UNIQUE,
    user_id       TEXT    NOT NULL,
    bot_id        TEXT    NOT NULL DEFAULT '',
    msg_type      INTEGER NOT NULL DEFAULT 1,
    direction     INTEGER NOT NULL DEFAULT 1,
    text          TEXT,
    timestamp_ms  INTEGER NOT NULL DEFAULT 0,
    context_token TEXT    NOT NULL DEFAULT '',
    data          TEXT    NOT NULL DEFAULT '{}',
    stored_at     REAL    NOT NULL
);
CREATE INDEX IF NOT EXISTS idx_msg_user_ts ON messages(user_id, timestamp_ms DESC);
CREATE INDEX IF NOT EXISTS idx_msg_bot_ts ON messages(bot_id, timestamp_ms DESC);
CREATE INDEX IF NOT EXISTS idx_msg_ts ON messages(timestamp_ms DESC);
CREATE INDEX IF NOT EXISTS idx_msg_direction ON messages(direction, timestamp_ms DESC);
PRAGMA user_version = 1;
";

fn build_weilink(path: &Path, vocab: &Vocabulary, batches: usize, total: usize) -> Duration {
    let mut conn = Connection::open(path).expect("open weilink db");
    conn.execute_batch("PRAGMA journal_mode = WAL; PRAGMA busy_timeout = 5000;")
        .expect("pragmas");
    conn.execute_batch(WEILINK_SCHEMA).expect("schema");
    let started = Instant::now();
    for b in 0..batches {
        let (_, messages) = batch(vocab, b, total);
        let tx = conn.transaction().expect("tx");
        {
            let mut insert = tx
                .prepare(
                    "INSERT OR IGNORE INTO messages (message_id, user_id, bot_id, msg_type, \
                     direction, text, timestamp_ms, context_token, data, stored_at) \
                     VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                )
                .expect("prepare");
            let now = started.elapsed().as_secs_f64() + 1.7e9;
            for m in &messages {
                let message_id: Option<i64> = m.upstream_id.as_deref().and_then(|u| u.parse().ok());
                let data = m.raw.as_ref().map(|r| r.to_string()).unwrap_or_default();
                insert
                    .execute(params![
                        message_id,
                        m.peer,
                        m.bot_id,
                        msg_type_of(&m.kind),
                        m.direction.code(),
                        m.text,
                        m.created_at_ms,
                        m.context_token.as_ref().map(|t| t.expose_str()),
                        data,
                        now
                    ])
                    .expect("insert");
            }
        }
        tx.commit().expect("commit");
    }
    started.elapsed()
}

/// WeiLink's `MessageStore.count` + `MessageStore.query` (what its `history` runs).
fn weilink(case: &Case, conn: &Connection) -> u64 {
    let mut clauses = Vec::new();
    let mut params: Vec<SqlValue> = Vec::new();
    if let Some(user) = &case.user {
        clauses.push("user_id = ?");
        params.push(user.clone().into());
    }
    if let Some(s) = case.session {
        clauses.push("bot_id = ?");
        params.push(bot_id(s).into());
    }
    if let Some(kind) = case.kind {
        clauses.push("msg_type = ?");
        params.push(msg_type_of(kind).into());
    }
    if let Some(d) = case.direction {
        clauses.push("direction = ?");
        params.push(d.code().into());
    }
    if let Some((since, until)) = case.range {
        clauses.push("timestamp_ms >= ?");
        params.push(since.into());
        clauses.push("timestamp_ms <= ?");
        params.push(until.into());
    }
    if let Some(text) = &case.text {
        clauses.push("text LIKE ?");
        params.push(format!("%{text}%").into());
    }
    let where_sql = if clauses.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", clauses.join(" AND "))
    };
    let total: i64 = conn
        .prepare(&format!("SELECT COUNT(*) FROM messages{where_sql}"))
        .expect("prepare")
        .query_row(params_from_iter(params.iter()), |r| r.get(0))
        .expect("count");
    params.push(50i64.into());
    params.push(0i64.into());
    let mut stmt = conn
        .prepare(&format!(
            "SELECT data, direction FROM messages{where_sql} \
                 ORDER BY timestamp_ms DESC LIMIT ? OFFSET ?"
        ))
        .expect("prepare");
    // WeiLink deserializes `data` for every row of the page; so do we.
    let rows: Vec<(serde_json::Value, i64)> = stmt
        .query_map(params_from_iter(params.iter()), |r| {
            let data: String = r.get(0)?;
            Ok((serde_json::from_str(&data).unwrap_or_default(), r.get(1)?))
        })
        .expect("query")
        .collect::<Result<_, _>>()
        .expect("rows");
    std::hint::black_box(rows);
    total as u64
}

fn main() {
    let total: usize = std::env::var("HISTORY_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let batches = total.div_ceil(BATCH);
    let total = batches * BATCH;
    // HISTORY_BENCH_DIR keeps the databases (and reuses them when they exist).
    let temp = tempfile::tempdir().expect("tempdir");
    let dir = std::env::var_os("HISTORY_BENCH_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().to_owned());
    std::fs::create_dir_all(&dir).expect("bench dir");
    let vocab = Vocabulary::new();
    // The store is async (its queries run on blocking threads): each timed query is a
    // `block_on` of it, so the figures include that hop, as every caller pays it.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");

    // wxlink
    let wx_path = dir.join("wxlink.db");
    let wl_path = dir.join("weilink.db");
    let reuse = wx_path.exists() && wl_path.exists();
    let store = SqliteStore::open(&wx_path).expect("open wxlink store");
    let (ingest_time, wl_time) = if reuse {
        eprintln!("reusing the databases in {}", dir.display());
        (Duration::ZERO, Duration::ZERO)
    } else {
        rt.block_on(build(&store, &vocab, batches, total, &wl_path))
    };
    let weilink = Connection::open(&wl_path).expect("open weilink db");
    weilink
        .execute_batch("PRAGMA busy_timeout = 5000;")
        .expect("pragma");
    report(
        &rt,
        &store,
        &weilink,
        total,
        ingest_time,
        wl_time,
        &wx_path,
        &wl_path,
    );
}

/// Builds both databases; returns the time spent inserting into each.
async fn build(
    store: &SqliteStore,
    vocab: &Vocabulary,
    batches: usize,
    total: usize,
    wl_path: &Path,
) -> (Duration, Duration) {
    eprintln!("building the wxlink database ({total} messages)…");
    let ingest_time = ingest_corpus(store, vocab, batches, total).await;

    eprintln!("building the WeiLink 0.6.2 database…");
    let wl_time = build_weilink(wl_path, vocab, batches, total);
    (ingest_time, wl_time)
}

fn rate(total: usize, took: Duration) -> String {
    if took.is_zero() {
        "(reused)".to_owned()
    } else {
        format!("{:.0}", total as f64 / took.as_secs_f64())
    }
}

/// Median time to open the store at `path`, and a new empty one, ms.
fn open_times(path: &Path) -> (f64, f64) {
    let empty_dir = tempfile::tempdir().expect("tempdir");
    let empty = empty_dir.path().join("empty.db");
    drop(SqliteStore::open(&empty).expect("create empty store"));
    let median = |p: &Path| {
        let mut samples: Vec<Duration> = (0..20)
            .map(|_| {
                let started = Instant::now();
                let store = SqliteStore::open(p).expect("open store");
                let took = started.elapsed();
                drop(store);
                took
            })
            .collect();
        samples.sort();
        percentile(&samples, 0.5)
    };
    (median(path), median(&empty))
}

#[allow(clippy::too_many_arguments)]
fn report(
    rt: &tokio::runtime::Runtime,
    store: &SqliteStore,
    weilink_db: &Connection,
    total: usize,
    ingest_time: Duration,
    wl_time: Duration,
    wx_path: &Path,
    wl_path: &Path,
) {
    println!();
    println!(
        "corpus: {total} messages, {USERS} users, {} sessions, one year; batches of {BATCH}",
        SESSIONS.len()
    );
    println!(
        "insert: wxlink  {:>9} msg/s (Store::ingest: FTS5 trigram, contexts, cursor)  db {:>5} MB",
        rate(total, ingest_time),
        file_size(wx_path) / 1_000_000
    );
    println!(
        "        WeiLink {:>9} msg/s (INSERT OR IGNORE, same batches)                 db {:>5} MB",
        rate(total, wl_time),
        file_size(wl_path) / 1_000_000
    );
    println!(
        "size:   wxlink {} B/message, WeiLink {} B/message (database and WAL)",
        file_size(wx_path) / total as u64,
        file_size(wl_path) / total as u64
    );
    let (full, empty) = open_times(wx_path);
    println!(
        "open:   wxlink store of {total} messages {full:.2} ms, empty store {empty:.2} ms \
         (median of 20 opens)"
    );
    println!();
    println!(
        "{:<34} {:>9} | {:>8} {:>8} {:>9} | {:>8} {:>8} | {:>9}",
        "query (page of 50 + total)",
        "matches",
        "wx p50",
        "wx p99",
        "exact p50",
        "WL p50",
        "WL p99",
        "p50 ratio"
    );
    println!("{}", "-".repeat(110));
    // HISTORY_BENCH_SHAPES=7,10 times only those shapes (numbered from 0 in the order printed).
    let only: Option<Vec<usize>> = std::env::var("HISTORY_BENCH_SHAPES")
        .ok()
        .map(|v| v.split(',').filter_map(|n| n.trim().parse().ok()).collect());
    for shape in (0..SHAPES).filter(|s| only.as_ref().is_none_or(|o| o.contains(s))) {
        let label = case_for(shape, 0, &mut Rng::new(0)).label;
        let run = |count_up_to| {
            time_warm(shape, true, |case| {
                rt.block_on(store.history(&case.wxlink_query(count_up_to)))
                    .expect("history")
                    .total
            })
        };
        // As the tools run it (the total counted up to 10,000), and counting every match.
        let wx = run(Some(TOTAL_UP_TO));
        let exact = run(None);
        let wl = std::env::var_os("HISTORY_BENCH_WXLINK_ONLY")
            .is_none()
            .then(|| time_warm(shape, true, |case| weilink(case, weilink_db)));
        let weilink_columns = match &wl {
            Some(wl) => format!(
                "{:>6.2}ms {:>6.2}ms | {:>9.3}",
                wl.p50,
                wl.p99,
                wx.p50 / wl.p50
            ),
            None => format!("{:>8} {:>8} | {:>9}", "-", "-", "-"),
        };
        println!(
            "{:<34} {:>9.0} | {:>6.2}ms {:>6.2}ms {:>7.2}ms | {weilink_columns}",
            label, exact.mean_total, wx.p50, wx.p99, exact.p50,
        );
        if let Some(wl) = wl.filter(|wl| (exact.mean_total - wl.mean_total).abs() > 0.5) {
            println!(
                "  (WeiLink counted {:.0} on average: LIKE folds ASCII only, FTS folds all scripts)",
                wl.mean_total
            );
        }
    }
    println!();
    println!(
        "{} iterations per shape after {WARMUP} warm-up runs; wxlink timed through \
         Store::history as the tools run it (the total counted up to {TOTAL_UP_TO}; \"exact\": \
         every match counted, as WeiLink does), WeiLink as its SQL plus a JSON parse of each \
         row (its Python layer not counted). Each figure's cases ran once untimed first.",
        iterations()
    );
}
