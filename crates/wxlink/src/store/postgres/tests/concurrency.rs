//! Ids become visible in id order: several handles (as several replicas) ingest at once while
//! readers claim one consumer's inbox continuously; every id is handed out exactly once. With
//! plain sequences (no id lock) a reader would move past an id whose transaction had not
//! committed yet and skip it forever. A trigger in the test's database sleeps a random few
//! milliseconds after each insert (ids drawn, not yet committed), so that without the lock the
//! race is lost every run.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use super::*;
use crate::store::contract::{ids, inbound, log_in_all};

const WRITERS: usize = 4;
const READERS: usize = 3;
const BATCHES: usize = 30;
const BATCH: usize = 10;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_ingest_and_claims_hand_out_every_id_exactly_once() {
    let db = PgFixture::new();
    let setup = db.pg().await;
    db.psql(
        "CREATE FUNCTION linger() RETURNS trigger LANGUAGE plpgsql AS \
         $$ BEGIN PERFORM pg_sleep(random() * 0.01); RETURN NULL; END $$; \
         CREATE TRIGGER linger AFTER INSERT ON messages \
         FOR EACH STATEMENT EXECUTE FUNCTION linger();",
    );
    let names: Vec<String> = (0..WRITERS).map(|w| format!("s{w}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    log_in_all(&setup, &refs).await;
    // Registered before the first message: it must see them all.
    assert!(setup.claim_inbox("agents", 0).await.unwrap().is_empty());

    let writing = Arc::new(AtomicUsize::new(WRITERS));
    let mut writers = Vec::new();
    for name in names {
        let store = db.pg().await;
        let writing = writing.clone();
        writers.push(tokio::spawn(async move {
            let mut stored = Vec::new();
            for b in 0..BATCHES {
                let batch = (0..BATCH)
                    .map(|i| {
                        let key = format!("{b}-{i}");
                        inbound(
                            &name,
                            &key,
                            "u",
                            &format!("{name} {key}"),
                            (b * BATCH + i) as i64,
                        )
                    })
                    .collect();
                stored.extend(store.ingest(&name, batch, &format!("c{b}")).await.unwrap());
            }
            writing.fetch_sub(1, Ordering::SeqCst);
            stored
        }));
    }
    let mut readers = Vec::new();
    for _ in 0..READERS {
        let store = db.pg().await;
        let writing = writing.clone();
        readers.push(tokio::spawn(async move {
            let mut got = Vec::new();
            loop {
                let done = writing.load(Ordering::SeqCst) == 0;
                let page = store.claim_inbox("agents", 7).await.unwrap();
                if !page.is_empty() {
                    got.extend(ids(&page));
                } else if done {
                    return got;
                } else {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    let mut written = BTreeSet::new();
    for w in writers {
        written.extend(w.await.unwrap());
    }
    assert_eq!(written.len(), WRITERS * BATCHES * BATCH);
    let mut claimed = Vec::new();
    for r in readers {
        let got = r.await.unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "each reader in order");
        claimed.extend(got);
    }
    let count = claimed.len();
    let claimed: BTreeSet<i64> = claimed.into_iter().collect();
    assert_eq!(claimed.len(), count, "an id was handed out twice");
    let missed: Vec<_> = written.difference(&claimed).collect();
    assert!(missed.is_empty(), "ids never handed out: {missed:?}");
    assert_eq!(claimed, written);
}

/// Re-logins (which drop the session's contexts), ingests carrying tokens and sends reserving
/// the quota, all on one session from separate handles at once: every lock is taken in one
/// order, so none fails with a deadlock.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn logins_ingests_and_sends_on_one_session_never_deadlock() {
    use crate::store::contract::{login, outbound, tok, with_token, QUOTA};
    use crate::store::Reservation;
    const ROUNDS: usize = 40;
    let db = PgFixture::new();
    let setup = db.pg().await;
    log_in_all(&setup, &["main"]).await;
    let (a, b, c) = (db.pg().await, db.pg().await, db.pg().await);
    let logins = tokio::spawn(async move {
        for r in 0..ROUNDS {
            let bot = if r % 2 == 0 { "bot-x" } else { "bot0" };
            a.save_login("main", &login(bot, "t")).await.unwrap();
        }
    });
    let ingests = tokio::spawn(async move {
        for r in 0..ROUNDS {
            let batch = (0..5)
                .map(|i| {
                    let key = format!("{r}-{i}");
                    with_token(inbound("main", &key, "u1", "hi", r as i64), "T")
                })
                .collect();
            b.ingest("main", batch, "c").await.unwrap();
        }
    });
    let sends = tokio::spawn(async move {
        for r in 0..ROUNDS {
            let reservation = Reservation {
                token: tok("T"),
                quota: QUOTA * 100,
            };
            let row = outbound("main", &format!("o{r}"), "u1", "yo", r as i64);
            let id = c.begin_send(row.clone(), Some(reservation)).await.unwrap();
            if let Some(id) = id {
                c.finish_send(id, row, true).await.unwrap();
            }
        }
    });
    for task in [logins, ingests, sends] {
        task.await.unwrap();
    }
}
