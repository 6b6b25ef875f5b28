//! The two stores side by side on the same corpus (`benches/corpus/`): SQLite (embedded, the
//! default) and PostgreSQL (shared by replicas; a real server this bench starts with
//! crates/pg-testserver). Prints the ingest rate of each (`Store::ingest`, batches of 1,000:
//! messages, cursor and contexts in one transaction, search index included) and p50/p99 of
//! every history query shape, with the ratio PostgreSQL / SQLite.
//!
//! `cargo bench -p wxlink --bench stores` — knobs: `STORES_BENCH_MESSAGES` (corpus size,
//! default 1,000,000). PostgreSQL runs as the test harness starts it (`fsync=off`) and SQLite
//! with `synchronous=NORMAL` in WAL mode: neither waits for the disk at commit, so the figures
//! compare the engines, not this machine's disk.

#[path = "corpus/mod.rs"]
mod corpus;

use std::sync::Arc;
use std::time::Duration;

use corpus::*;
use pg_testserver::PgServer;
use wxlink::service::history::TOTAL_UP_TO;
use wxlink::store::{CredentialKey, PgStore, SqliteStore, Store};

fn main() {
    let total: usize = std::env::var("STORES_BENCH_MESSAGES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(DEFAULT_MESSAGES);
    let batches = total.div_ceil(BATCH);
    let total = batches * BATCH;
    let vocab = Vocabulary::new();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let dir = tempfile::tempdir().expect("tempdir");
    let pg = PgServer::start().expect("PostgreSQL (tests/postgres/install.sh installs it)");
    let url = pg.create_database("bench").expect("database");

    let (sqlite, postgres): (Arc<dyn Store>, Arc<dyn Store>) = rt.block_on(async {
        let sqlite = SqliteStore::open(&dir.path().join("wxlink.db")).expect("sqlite");
        let postgres = PgStore::connect(&url, CredentialKey::generate())
            .await
            .expect("postgres");
        let (sqlite, postgres): (Arc<dyn Store>, Arc<dyn Store>) =
            (Arc::new(sqlite), Arc::new(postgres));
        (sqlite, postgres)
    });
    eprintln!("SQLite: ingesting {total} messages…");
    let sqlite_took = rt.block_on(ingest_corpus(sqlite.as_ref(), &vocab, batches, total));
    eprintln!("PostgreSQL: ingesting {total} messages…");
    let pg_took = rt.block_on(ingest_corpus(postgres.as_ref(), &vocab, batches, total));
    // What autovacuum does shortly after a bulk load (here at once, so the planner is not timed
    // on a table it has never seen); SQLite's planner reads its indexes' statistics as they are.
    pg.psql("bench", "VACUUM ANALYZE").expect("analyze");
    let pg_size = pg
        .psql("bench", "SELECT pg_database_size('bench')")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);

    println!();
    println!(
        "corpus: {total} messages, 3 sessions, ~1,000 users, one year; batches of {BATCH}; \
         {} cores",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    let rate = |took: Duration| total as f64 / took.as_secs_f64();
    println!(
        "ingest: SQLite     {:>9.0} msg/s   db {:>5} MB",
        rate(sqlite_took),
        file_size(&dir.path().join("wxlink.db")) / 1_000_000
    );
    println!(
        "        PostgreSQL {:>9.0} msg/s   db {:>5} MB   (×{:.2})",
        rate(pg_took),
        pg_size / 1_000_000,
        rate(pg_took) / rate(sqlite_took)
    );
    println!();
    println!(
        "{:<34} {:>8} | {:>8} {:>8} | {:>8} {:>8} | {:>8}",
        "history (page of 50 + total)",
        "matches",
        "SQL p50",
        "SQL p99",
        "PG p50",
        "PG p99",
        "PG/SQL"
    );
    println!("{}", "-".repeat(100));
    for shape in 0..SHAPES {
        let label = case_for(shape, 0, &mut Rng::new(0)).label;
        let run = |store: &Arc<dyn Store>| {
            time(shape, |case| {
                rt.block_on(store.history(&case.wxlink_query(Some(TOTAL_UP_TO))))
                    .expect("history")
                    .total
            })
        };
        let (lite, pgt) = (run(&sqlite), run(&postgres));
        let same = if (lite.mean_total - pgt.mean_total).abs() < 0.5 {
            ""
        } else {
            "  (totals differ!)"
        };
        println!(
            "{:<34} {:>8.0} | {:>6.2}ms {:>6.2}ms | {:>6.2}ms {:>6.2}ms | {:>7.2}×{same}",
            label,
            lite.mean_total,
            lite.p50,
            lite.p99,
            pgt.p50,
            pgt.p99,
            pgt.p50 / lite.p50
        );
    }
    println!();
    println!("200 iterations per shape after 5 warm-up runs, each through Store::history.");
}
