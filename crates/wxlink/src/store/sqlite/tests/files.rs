//! The database file: migrations, modes, transactions, concurrent handles.

use super::*;
use crate::store::contract::QUOTA;

#[tokio::test]
async fn migrations_are_idempotent_and_keep_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    {
        let store = SqliteStore::open(&path).unwrap();
        store.save_login("main", &login("b", "t")).await.unwrap();
    }
    for _ in 0..2 {
        let store = SqliteStore::open(&path).unwrap();
        let version: i64 = store
            .lock()
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, SqliteStore::SCHEMA_VERSION);
        assert_eq!(store.sessions().await.unwrap().len(), 1);
        let journal: String = store
            .lock()
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .unwrap();
        assert_eq!(journal, "wal");
    }
}

#[tokio::test]
async fn a_version_1_database_upgrades_and_keeps_its_messages() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    {
        // What wxlink 0.1 with schema 1 wrote: a session and a message.
        let conn = Connection::open(&path).unwrap();
        conn.execute_batch(MIGRATIONS[0]).unwrap();
        conn.pragma_update(None, "user_version", 1).unwrap();
        conn.execute_batch(
            "INSERT INTO sessions (name, backend, status, is_default, created_at, updated_at) \
             VALUES ('old', 'ilink', 'connected', 1, 1, 1);
             INSERT INTO messages (session, direction, dedupe_key, peer, kind, text, \
             created_at, stored_at, status) VALUES ('old', 1, 'k1', 'u@im.wechat', 'text', \
             'kept across the upgrade', 5, 5, 'received');
             INSERT INTO message_bodies (id, items) VALUES (last_insert_rowid(), '[]');",
        )
        .unwrap();
    }
    let store = SqliteStore::open(&path).unwrap();
    let version: i64 = Connection::open(&path)
        .unwrap()
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, SqliteStore::SCHEMA_VERSION);
    let old = store.message("1").await.unwrap().unwrap();
    assert_eq!(old.message.text.as_deref(), Some("kept across the upgrade"));
    assert_eq!(old.message.speaker, None);
    // New rows keep a speaker.
    let mut group = inbound("old", "k2", "room@chatroom", "in a group", 6);
    group.speaker = Some("wxid_zhangsan".into());
    store.ingest("old", vec![group], "").await.unwrap();
    let page = store
        .history(&HistoryQuery {
            text: Some("group".into()),
            limit: 5,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(
        page.messages[0].message.speaker.as_deref(),
        Some("wxid_zhangsan")
    );
}

#[tokio::test]
async fn newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    drop(SqliteStore::open(&path).unwrap());
    Connection::open(&path)
        .unwrap()
        .pragma_update(None, "user_version", 99)
        .unwrap();
    match SqliteStore::open(&path) {
        Err(StoreError::TooNew { found, supported }) => {
            assert_eq!(found, 99);
            assert_eq!(supported, SqliteStore::SCHEMA_VERSION);
        }
        other => panic!("expected TooNew, got {other:?}"),
    }
}

#[tokio::test]
async fn files_are_private() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub").join("wxlink.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(mode_of(&path), 0o600);
    assert_eq!(mode_of(path.parent().unwrap()), 0o700);
    store.save_login("main", &login("b", "t")).await.unwrap();
    let wal = dir.path().join("sub").join("wxlink.db-wal");
    assert!(wal.exists(), "WAL file should exist after a write");
    assert_eq!(mode_of(&wal), 0o600);
    drop(store);

    // An existing, too-open file is tightened.
    let loose = dir.path().join("loose.db");
    fs::write(&loose, b"").unwrap();
    fs::set_permissions(&loose, fs::Permissions::from_mode(0o644)).unwrap();
    let store = SqliteStore::open(&loose).unwrap();
    assert_eq!(mode_of(&loose), 0o600);
    assert!(store.sessions().await.unwrap().is_empty());
}

#[tokio::test]
async fn ingest_failing_midway_rolls_back_everything() {
    let store = memory_with(&["main"]).await;
    store
        .lock()
        .execute_batch(
            "CREATE TEMP TRIGGER boom BEFORE INSERT ON messages WHEN new.text = 'BOOM' \
             BEGIN SELECT RAISE(ABORT, 'boom'); END;",
        )
        .unwrap();
    let batch = [
        with_token(inbound("main", "1", "u1", "fine", 1), "t1"),
        inbound("main", "2", "u1", "BOOM", 2),
    ];
    assert!(matches!(
        store.ingest("main", batch.to_vec(), "c").await,
        Err(StoreError::Database(_))
    ));
    assert_eq!(store.latest_id().await.unwrap(), 0);
    assert_eq!(store.cursor("main").await.unwrap(), "");
    assert!(store.contexts(None).await.unwrap().is_empty());
    assert_eq!(
        store
            .session("main")
            .await
            .unwrap()
            .unwrap()
            .last_message_at_ms,
        None
    );
}

#[tokio::test]
async fn prune_keeps_ids_monotonic_and_fts_in_sync() {
    let store = memory_with(&["main"]).await;
    let batch: Vec<_> = (1..=10)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("searchable {i}"), i))
        .collect();
    let inserted = store.ingest("main", batch.to_vec(), "c").await.unwrap();
    assert_eq!(store.prune(Retention::default()).await.unwrap(), 0);

    // Keep the newest 4 (the newest rows by id).
    let deleted = store
        .prune(Retention {
            max_rows: Some(4),
            ..Retention::default()
        })
        .await
        .unwrap();
    assert_eq!(deleted, 6);
    let left = store.history(&query()).await.unwrap();
    assert_eq!(
        ids(&left.messages),
        inserted[6..].iter().rev().copied().collect::<Vec<_>>()
    );
    let found = store
        .history(&HistoryQuery {
            text: Some("searchable".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 4);
    fts_integrity(&store);

    // By age: make three rows old.
    store
        .lock()
        .execute(
            "UPDATE messages SET stored_at = stored_at - 100000 WHERE id <= ?1",
            [inserted[8]],
        )
        .unwrap();
    let deleted = store
        .prune(Retention {
            max_age_ms: Some(50_000),
            max_rows: Some(100),
        })
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    assert_eq!(store.latest_id().await.unwrap(), inserted[9]);

    // Delete everything, then insert: ids keep growing.
    store
        .prune(Retention {
            max_rows: Some(0),
            ..Retention::default()
        })
        .await
        .unwrap();
    assert_eq!(store.latest_id().await.unwrap(), 0);
    let days: i64 = store
        .lock()
        .query_row("SELECT count(*) FROM message_days", [], |r| r.get(0))
        .unwrap();
    assert_eq!(days, 0, "day entries of deleted messages are dropped");
    let next = store
        .ingest("main", vec![inbound("main", "11", "u", "after", 11)], "c")
        .await
        .unwrap();
    assert!(next[0] > inserted[9]);
    fts_integrity(&store);
    assert_eq!(
        store
            .history(&HistoryQuery {
                text: Some("searchable".into()),
                ..query()
            })
            .await
            .unwrap()
            .total,
        0
    );
}

/// Two stores on one file, used from two threads at once: every write lands and no
/// SQLITE_BUSY surfaces.
#[tokio::test]
async fn two_stores_on_one_file_work_concurrently() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    let a = Arc::new(SqliteStore::open(&path).unwrap());
    let b = Arc::new(SqliteStore::open(&path).unwrap());
    a.save_login("one", &login("b1", "t")).await.unwrap();
    b.save_login("two", &login("b2", "t")).await.unwrap();
    const ROUNDS: usize = 150;
    let writer = |store: Arc<SqliteStore>, session: &'static str| {
        tokio::spawn(async move {
            for round in 0..ROUNDS {
                let batch: Vec<_> = (0..4)
                    .map(|k| {
                        let key = format!("{round}-{k}");
                        with_token(
                            inbound(session, &key, "peer", "并发 concurrent", round as i64),
                            &format!("tok{round}"),
                        )
                    })
                    .collect();
                store.ingest(session, batch, &format!("cur{round}")).await?;
                store
                    .reserve_send(session, "peer", &tok(&format!("tok{round}")), QUOTA)
                    .await?;
                store
                    .record_outbound(outbound(
                        session,
                        &format!("out-{round}"),
                        "peer",
                        "reply",
                        round as i64,
                    ))
                    .await?;
                let page = store
                    .history(&HistoryQuery {
                        text: Some("concurrent".into()),
                        limit: 5,
                        ..HistoryQuery::default()
                    })
                    .await?;
                assert!(page.total >= 4);
                store.claim_inbox(session, 100).await?;
            }
            StoreResult::Ok(())
        })
    };
    let t1 = writer(Arc::clone(&a), "one");
    let t2 = writer(Arc::clone(&b), "two");
    t1.await.unwrap().unwrap();
    t2.await.unwrap().unwrap();
    let total = a.history(&query()).await.unwrap().total;
    assert_eq!(total as usize, 2 * ROUNDS * 5);
    assert_eq!(b.cursor("one").await.unwrap(), format!("cur{}", ROUNDS - 1));
    assert_eq!(a.cursor("two").await.unwrap(), format!("cur{}", ROUNDS - 1));
    assert_eq!(b.contexts(None).await.unwrap().len(), 2);
    assert!(b
        .contexts(None)
        .await
        .unwrap()
        .iter()
        .all(|c| c.send_count == 1));
    let all_ids = ids(&a.claim_inbox(DEFAULT_CONSUMER, 10_000).await.unwrap());
    assert_eq!(all_ids.len(), 2 * ROUNDS * 4);
    assert!(all_ids.windows(2).all(|w| w[0] < w[1]));
    fts_integrity(&a);
}

#[tokio::test]
async fn store_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<SqliteStore>();
    let _: Box<dyn Store> = Box::new(SqliteStore::open_in_memory().unwrap());
}

/// The order when no session is marked (a database from before the mark was kept).
#[tokio::test]
async fn default_session_resolution_order() {
    let store = memory_with(&[]).await;
    assert_eq!(store.default_session().await.unwrap(), None);
    store.save_login("zeta", &login("b1", "t")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    store.save_login("alpha", &login("b2", "t")).await.unwrap();
    tokio::time::sleep(Duration::from_millis(3)).await;
    store.save_login("mid", &login("b3", "t")).await.unwrap();
    // 1. the marked one (the first saved)
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("zeta")
    );
    store.set_default("mid").await.unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("mid")
    );
    // 2. no mark: the oldest connected one
    store
        .lock()
        .execute("UPDATE sessions SET is_default = 0", [])
        .unwrap();
    store
        .set_status("zeta", SessionStatus::Expired)
        .await
        .unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("alpha")
    );
    // 3. none connected: the oldest one
    store.logout("alpha").await.unwrap();
    store
        .set_status("mid", SessionStatus::Expired)
        .await
        .unwrap();
    assert_eq!(
        store.default_session().await.unwrap().as_deref(),
        Some("zeta")
    );
    assert!(matches!(
        store.set_status("nope", SessionStatus::Expired).await,
        Err(StoreError::UnknownSession(_))
    ));
}

#[tokio::test]
async fn a_panicking_operation_is_an_error_and_the_store_goes_on() {
    let store = memory_with(&["main"]).await;
    let failed = store
        .run(|conn| -> StoreResult<()> {
            let tx = conn.transaction()?;
            tx.execute("UPDATE sessions SET status = 'expired'", [])?;
            panic!("a bug in an operation");
        })
        .await;
    let err = failed.expect_err("a panicking operation answers an error");
    assert!(err.to_string().contains("panicked"), "{err}");
    // The store's thread still serves, and the transaction was rolled back.
    let sessions = store.sessions().await.unwrap();
    assert_eq!(sessions.len(), 1);
    assert_eq!(sessions[0].status, SessionStatus::Connected);
}

/// `version` moves when another connection writes, not for the store's own writes and not
/// for reads: waiters compare it instead of reading everything on their timers.
#[tokio::test]
async fn version_moves_only_for_writes_by_others() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    let a = SqliteStore::open(&path).unwrap();
    let b = SqliteStore::open(&path).unwrap();
    let v0 = a.version().await.unwrap().expect("SQLite tells");
    a.save_login("one", &login("b1", "t")).await.unwrap();
    a.ingest("one", vec![inbound("one", "m1", "u", "hi", 1)], "c1")
        .await
        .unwrap();
    b.sessions().await.unwrap();
    assert_eq!(
        a.version().await.unwrap(),
        Some(v0),
        "own writes and others' reads"
    );
    b.save_login("two", &login("b2", "t")).await.unwrap();
    let v1 = a.version().await.unwrap().expect("SQLite tells");
    assert_ne!(v1, v0, "another connection wrote");
    assert_eq!(
        a.version().await.unwrap(),
        Some(v1),
        "stable until the next write"
    );
}

/// Holds the store's thread (an operation waiting) until the returned future runs, which lets
/// it go and waits for it: what is sent to the store meanwhile queues up behind it.
async fn hold(store: &SqliteStore) -> impl std::future::Future<Output = ()> {
    let (release, held) = std::sync::mpsc::channel::<()>();
    let blocker = {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .run(move |_| {
                    let _ = held.recv();
                    Ok(())
                })
                .await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    async move {
        release.send(()).unwrap();
        blocker.await.unwrap().unwrap();
    }
}

/// Batches that wait together are stored in one transaction (group commit), each answered on
/// its own: a batch whose session is gone fails alone, the others and their cursors commit.
#[tokio::test]
async fn waiting_batches_share_a_commit_and_fail_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wxlink.db")).unwrap();
    for s in ["a", "b"] {
        store
            .save_login(s, &login(&format!("bot-{s}"), "t"))
            .await
            .unwrap();
    }
    // Hold the store's thread so the batches queue up behind it.
    let release = hold(&store).await;
    let mut tasks = Vec::new();
    for i in 0..20 {
        let session = match i {
            7 => "gone",
            i if i % 2 == 0 => "a",
            _ => "b",
        };
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let batch = vec![
                inbound(session, &format!("{i}-1"), "u@im.wechat", "one", 1),
                inbound(session, &format!("{i}-2"), "u@im.wechat", "two", 1),
            ];
            store.ingest(session, batch, &format!("cursor-{i}")).await
        }));
        // Queued in this order.
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    release.await;
    let mut stored = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            Ok(ids) => {
                assert_ne!(i, 7);
                assert_eq!(ids.len(), 2);
                stored += 2;
            }
            Err(StoreError::UnknownSession(s)) => assert_eq!((i, s.as_str()), (7, "gone")),
            Err(e) => panic!("batch {i}: {e}"),
        }
    }
    assert_eq!(stored, 38);
    assert!(
        store.largest_ingest_group() >= 20,
        "{}",
        store.largest_ingest_group()
    );
    assert_eq!(store.cursor("a").await.unwrap(), "cursor-18");
    assert_eq!(store.cursor("b").await.unwrap(), "cursor-19");
    let page = store.history(&query()).await.unwrap();
    assert_eq!(page.total, 38);
    assert!(store.session("gone").await.unwrap().is_none());
    // Every grouped message is in the full-text index, once.
    let found = store
        .history(&HistoryQuery {
            text: Some("two".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 19);
    let integrity: String = store
        .run(|conn| {
            Ok(conn.query_row(
                "INSERT INTO messages_fts (messages_fts, rank) VALUES ('integrity-check', 1) \
                 RETURNING 'ok'",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
}

/// A listener queues its batches in a row, each with the cursor it was fetched after. The store
/// applies them in the order their futures were first polled (`ingests_in_order`), in one
/// group; when one fails, the one behind it fails on its cursor instead of storing a cursor
/// past the failed one's messages, and another session's batch in the group still commits.
#[tokio::test]
async fn a_batch_behind_a_failed_one_fails_on_its_cursor() {
    use std::future::Future;
    use std::task::Poll;

    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wxlink.db")).unwrap();
    assert!(store.ingests_in_order());
    for (name, bot) in [("a", "bot-a"), ("b", "bot-b")] {
        store.save_login(name, &login(bot, "t")).await.unwrap();
    }
    // The second batch fails as a full disk would, and only that one.
    store
        .run(|conn| {
            conn.execute_batch(
                "CREATE TRIGGER poison BEFORE INSERT ON messages WHEN NEW.text = 'poison' \
                 BEGIN SELECT RAISE(ABORT, 'disk is full'); END;",
            )?;
            Ok(())
        })
        .await
        .unwrap();
    let release = hold(&store).await;
    let chain = [
        ("a", "fine", "", "c1"),
        ("a", "poison", "c1", "c2"),
        ("b", "other", "", "b1"),
        ("a", "lost without the check", "c2", "c3"),
    ];
    let mut waiting = Vec::new();
    for (i, (session, text, from, cursor)) in chain.into_iter().enumerate() {
        let store = store.clone();
        let batch = vec![inbound(session, &format!("{i}"), "u@im.wechat", text, 1)];
        let mut ingest =
            Box::pin(async move { store.ingest_from(session, batch, Some(from), cursor).await });
        // Polled once, in order, as the listener's tasks do: queued, then left to a task.
        let first = std::future::poll_fn(|cx| Poll::Ready(ingest.as_mut().poll(cx))).await;
        assert!(first.is_pending(), "the store's thread is held");
        waiting.push(tokio::spawn(ingest));
    }
    release.await;
    let mut answers = Vec::new();
    for task in waiting {
        answers.push(task.await.unwrap());
    }
    assert_eq!(store.largest_ingest_group(), 4, "one group");
    assert_eq!(answers[0].as_ref().unwrap().len(), 1);
    assert!(
        matches!(&answers[1], Err(StoreError::Database(_))),
        "{:?}",
        answers[1]
    );
    assert_eq!(answers[2].as_ref().unwrap().len(), 1);
    assert!(
        matches!(&answers[3], Err(StoreError::CursorMoved(s)) if s == "a"),
        "{:?}",
        answers[3]
    );
    assert_eq!(store.cursor("a").await.unwrap(), "c1");
    assert_eq!(store.cursor("b").await.unwrap(), "b1");
    let texts: Vec<_> = store
        .history(&query())
        .await
        .unwrap()
        .messages
        .into_iter()
        .map(|m| m.message.text.unwrap_or_default())
        .collect();
    assert_eq!(texts.len(), 2, "{texts:?}");
    assert!(texts.contains(&"fine".to_string()) && texts.contains(&"other".to_string()));
}

/// A group whose batches all succeed is stored with no savepoint: FTS5 writes its pending
/// index as a new segment at every savepoint, so a group of many batches would leave one
/// segment per batch (and merge them again at once).
#[tokio::test]
async fn a_group_commit_writes_one_index_segment() {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("wxlink.db")).unwrap();
    store.save_login("a", &login("bot-a", "t")).await.unwrap();
    let release = hold(&store).await;
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let store = store.clone();
            tokio::spawn(async move {
                let batch = vec![inbound(
                    "a",
                    &format!("{i}"),
                    "u@im.wechat",
                    "hello there",
                    1,
                )];
                store.ingest("a", batch, &format!("cursor-{i}")).await
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(50)).await;
    release.await;
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(store.largest_ingest_group(), 10);
    // The FTS5 structure record lists the segments; one flush wrote one.
    let segments: i64 = store
        .run(|conn| {
            Ok(conn.query_row(
                "SELECT count(DISTINCT id >> 37) FROM messages_fts_data WHERE id >= (1 << 37)",
                [],
                |r| r.get(0),
            )?)
        })
        .await
        .unwrap();
    assert_eq!(segments, 1);
}

/// Processes started together on a new file all switch it to WAL at once; SQLite answers all
/// but one `SQLITE_BUSY` at once (no busy handler: it reads the header, then must upgrade to
/// write it). Opening tries again until the other is done, instead of failing with "database
/// is locked" (one of eight logins started together did).
#[test]
fn opening_a_new_file_another_process_is_writing_waits_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("wxlink.db");
    // Another connection in its first write to the new file (still a rollback journal).
    let other = Connection::open(&path).unwrap();
    other.execute_batch("BEGIN IMMEDIATE").unwrap();
    let releaser = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        other.execute_batch("COMMIT").unwrap();
    });
    let store = SqliteStore::open(&path);
    releaser.join().unwrap();
    let store = store.unwrap();
    let mode: String = store
        .inner
        .conn
        .lock()
        .unwrap()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

/// Every statement of a send runs from the statement cache: parsing them per call (with the
/// triggers an `UPDATE` of `messages` compiles) was a quarter of the store's time per `send`.
/// A cached statement counts its runs; one prepared afresh each call would have run once.
#[tokio::test]
async fn a_sends_statements_are_parsed_once() {
    use crate::store::sqlite::sends::{SQL_FINISH_ROW, SQL_RESERVE_SEND};
    use crate::store::{MessageStatus, Reservation};
    use rusqlite::StatementStatus;
    let store = memory_with(&["s"]).await;
    let hi = with_token(inbound("s", "1", "u1", "hi", 1_000), "T");
    store.ingest("s", vec![hi], "c").await.unwrap();
    for i in 0..3 {
        let mut row = outbound("s", &format!("client:{i}"), "u1", "reply", 2_000 + i);
        row.context_token = Some(tok("T"));
        let reservation = Reservation {
            token: tok("T"),
            quota: QUOTA,
        };
        let id = store
            .begin_send(row.clone(), Some(reservation))
            .await
            .unwrap()
            .unwrap();
        row.status = MessageStatus::Sent;
        store.finish_send(id, row, false).await.unwrap();
    }
    let conn = store.lock();
    for sql in [SQL_RESERVE_SEND, SQL_FINISH_ROW, "BEGIN IMMEDIATE"] {
        let statement = conn.prepare_cached(sql).unwrap();
        assert!(
            statement.get_status(StatementStatus::Run) >= 3,
            "{sql}: run {} times from the cache",
            statement.get_status(StatementStatus::Run)
        );
    }
}
