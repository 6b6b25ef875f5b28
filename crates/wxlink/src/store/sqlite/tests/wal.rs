//! The write-ahead log: the background checkpointer, starting the WAL over off the writers'
//! path, and the WAL's size after bursts and under writes that never pause.

use super::super::schema::WAL_LIMIT_BYTES;
use super::*;

/// A database file ([`SqliteFixture`]) with the session `s` logged in.
struct LoggedIn {
    file: SqliteFixture,
    store: SqliteStore,
}

impl LoggedIn {
    /// The WAL's size in bytes (0 while it does not exist).
    fn wal_size(&self) -> u64 {
        fs::metadata(self.wal()).map(|m| m.len()).unwrap_or(0)
    }

    fn wal(&self) -> std::path::PathBuf {
        self.file.dir.path().join("wxlink.db-wal")
    }
}

async fn logged_in() -> LoggedIn {
    let file = SqliteFixture::new();
    let store = file.sqlite();
    store.save_login("s", &login("b", "t")).await.unwrap();
    LoggedIn { file, store }
}

/// Waits (up to 5 s) until `store`'s checkpointer has run another checkpoint.
async fn next_checkpoint(store: &SqliteStore) {
    let before = store.checkpoints();
    for _ in 0..250 {
        if store.checkpoints() > before {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no background checkpoint within 5 s");
}

#[tokio::test]
async fn the_wal_is_checkpointed_in_the_background_and_reused() {
    let f = logged_in().await;
    let store = &f.store;
    let mut sizes = Vec::new();
    for round in 0..3 {
        let batch: Vec<_> = (0..300)
            .map(|i| {
                let text = format!("round {round} message {i} {}", "x".repeat(2_000));
                inbound("s", &format!("{round}-{i}"), "u@im.wechat", &text, 1)
            })
            .collect();
        store.ingest("s", batch.to_vec(), "").await.unwrap();
        sizes.push(f.wal_size());
        next_checkpoint(store).await;
    }
    // Without checkpoints (autocheckpoint is off on the writer) the WAL would hold all three
    // rounds; checkpointed, each round reuses it from the start.
    assert!(sizes[0] > 500_000, "a round fills the WAL: {sizes:?}");
    assert!(
        sizes[2] < sizes[0] * 3 / 2,
        "the WAL keeps growing: {sizes:?}"
    );
    assert_eq!(store.message("900").await.unwrap().map(|m| m.id), Some(900));
}

/// The WAL's checkpoint sequence number (its header's bytes 12..16): it moves each time the
/// WAL starts over, which is when the writer writes a new header and syncs it to disk.
fn wal_restarts(wal: &Path) -> u32 {
    let header = fs::read(wal).unwrap();
    u32::from_be_bytes(header[12..16].try_into().unwrap())
}

/// The first write after a checkpoint that caught up with the WAL used to start the WAL over,
/// and SQLite syncs the new header to disk in that write's commit: an fsync in the path of
/// every message received or sent after a pause. The checkpointer now starts it over itself,
/// so the store's next write only appends. It does so only after other writes: an idle file
/// stays untouched, and two processes' checkpointers do not answer each other for ever.
#[tokio::test]
async fn the_wal_starts_over_in_the_checkpointer_not_in_the_next_write() {
    let f = logged_in().await;
    let (store, wal) = (&f.store, &f.wal());
    for round in 0..3 {
        let message = |i: usize| inbound("s", &format!("{round}-{i}"), "u@im.wechat", "hi", 1);
        store.ingest("s", vec![message(0)], "c").await.unwrap();
        next_checkpoint(store).await;
        let started_over = wal_restarts(wal);
        store.ingest("s", vec![message(1)], "c").await.unwrap();
        assert_eq!(
            wal_restarts(wal),
            started_over,
            "round {round}: the write after a checkpoint started the WAL over"
        );
    }

    // A second store on the file (another process, as far as SQLite knows) has a checkpointer
    // of its own. Once both have seen the last write (the first starts the WAL over, the other
    // sees that as a write and checkpoints it), nothing moves while the file is idle: two
    // ticks in a row (1.2 s each, past the checkpointers' second) change nothing.
    let other = f.file.sqlite();
    let passes = store.checkpoints();
    store
        .ingest("s", vec![inbound("s", "last", "u@im.wechat", "hi", 1)], "c")
        .await
        .unwrap();
    let state = || (wal_restarts(wal), store.checkpoints(), other.checkpoints());
    let (mut seen, mut quiet) = (state(), 0);
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(1_200)).await;
        let now = state();
        quiet = if now == seen { quiet + 1 } else { 0 };
        seen = now;
        if quiet == 2 {
            break;
        }
    }
    assert_eq!(
        quiet, 2,
        "the idle file kept being started over or checkpointed: (restarts, passes) {seen:?}"
    );
    assert!(seen.1 > passes, "the last write was never checkpointed");
    assert!(seen.2 > 0, "the other store never checkpointed");
}

/// A burst fills the WAL far beyond its usual size; once checkpointed it is cut back to
/// `journal_size_limit`, so a burst does not hold its disk space for ever.
#[tokio::test]
async fn the_wal_is_cut_back_after_a_burst() {
    let f = logged_in().await;
    let store = &f.store;
    let text = "y".repeat(4_000);
    // One transaction bigger than the limit: the WAL must hold it whole.
    let batch: Vec<_> = (0..10_000)
        .map(|i| inbound("s", &format!("burst-{i}"), "u@im.wechat", &text, 1))
        .collect();
    store.ingest("s", batch, "").await.unwrap();
    let peak = f.wal_size();
    assert!(peak > 2 * WAL_LIMIT_BYTES as u64, "a burst: {peak}");
    // The next write after a checkpoint starts the WAL over and cuts the file.
    let mut size = peak;
    for i in 0..100 {
        next_checkpoint(store).await;
        store
            .ingest(
                "s",
                vec![inbound("s", &format!("after-{i}"), "u", "x", 1)],
                "",
            )
            .await
            .unwrap();
        size = f.wal_size();
        if size <= WAL_LIMIT_BYTES as u64 {
            break;
        }
    }
    assert!(
        size <= WAL_LIMIT_BYTES as u64,
        "WAL still {size} bytes after the burst ({peak} at its peak)"
    );
}

/// Writes that never pause still let the WAL start over: the checkpointer cuts it back once it
/// passes the limit, instead of chasing the writer for ever (a bulk load of 10 M messages grew
/// it to 28 GB and filled the disk).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_wal_stays_bounded_while_writes_never_pause() {
    let f = logged_in().await;
    let store = &f.store;
    let limit = WAL_LIMIT_BYTES as u64;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let pad = 4_000u64;
    let writers: Vec<_> = (0..2)
        .map(|w| {
            let (store, stop, written) = (store.clone(), stop.clone(), written.clone());
            tokio::spawn(async move {
                let pad = "p".repeat(pad as usize);
                let mut n = 0u64;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    let batch: Vec<_> = (0..100)
                        .map(|i| {
                            let key = format!("w{w}-{n}-{i}");
                            let mut m = inbound("s", &key, "u@im.wechat", "x", 1);
                            m.raw = Some(serde_json::json!({ "pad": pad }));
                            m
                        })
                        .collect();
                    store.ingest("s", batch, "").await.unwrap();
                    written.fetch_add(100, std::sync::atomic::Ordering::Relaxed);
                    n += 1;
                }
            })
        })
        .collect();
    // Watch the WAL's size every few milliseconds while the writers run, across several
    // checkpoints, until they wrote several times the limit (however slow this machine is
    // today). Sampled once per checkpoint, a cut could go unseen: on a loaded machine the
    // writers refilled the WAL past its previous size between two samples.
    let mut sizes = Vec::new();
    let started = std::time::Instant::now();
    let checkpoints = store.checkpoints();
    let enough = || {
        written.load(std::sync::atomic::Ordering::Relaxed) * pad > 4 * limit
            && store.checkpoints() >= checkpoints + 4
    };
    while !enough() && started.elapsed() < Duration::from_secs(120) {
        tokio::time::sleep(Duration::from_millis(5)).await;
        sizes.push(f.wal_size());
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in writers {
        w.await.unwrap();
    }
    let written = written.load(std::sync::atomic::Ordering::Relaxed);
    assert!(
        written * pad > 4 * limit,
        "the writers outran the limit several times: {written} messages"
    );
    // Without a cut the WAL only grows: it holds everything written since the start. With
    // it, the WAL is cut back after passing the limit, and grows again by at most what the
    // writers write between two ticks of the checkpointer.
    let peak = sizes.iter().copied().max().unwrap_or(0);
    assert!(
        sizes.windows(2).any(|w| w[1] < w[0]),
        "the WAL was never cut back while {written} messages were written without a pause \
         (limit {limit}; {} samples, the largest {peak} bytes)",
        sizes.len()
    );
    let last = sizes.last().copied().unwrap_or(0);
    assert!(
        last < written * pad / 2,
        "the WAL is {last} bytes after {written} messages (the largest {peak} bytes)"
    );
}
