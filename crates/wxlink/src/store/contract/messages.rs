//! Messages and the inbox: lookups, outbound records, consumers, claims, retention.

use std::time::Duration;

use super::*;

pub(crate) async fn message_lookup_by_upstream_or_own_id(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let big = "18446744073709551615"; // u64::MAX, past i64
                                      // The outbound echo of upstream id 7001 is stored first (the lower id), so preferring the
                                      // inbound is not the same as taking the first row.
    let mut echo = outbound("main", "c1", "u1", "echo", 3);
    echo.upstream_id = Some("7001".into());
    let out_id = store.record_outbound(echo).await.unwrap();
    let ids = store
        .ingest(
            "main",
            vec![
                inbound("main", "7001", "u1", "first", 1),
                inbound("main", big, "u1", "huge id", 2),
            ],
            "c",
        )
        .await
        .unwrap();
    assert!(out_id < ids[0]);

    let found = store.message("7001").await.unwrap().unwrap();
    assert_eq!(found.id, ids[0], "inbound preferred over outbound");
    assert_eq!(found.message.text.as_deref(), Some("first"));
    assert_eq!(
        found.message.raw,
        Some(json!({ "message_id": "7001", "from_user_id": "u1" }))
    );
    assert_eq!(store.message(big).await.unwrap().unwrap().id, ids[1]);
    assert_eq!(
        store
            .message(&out_id.to_string())
            .await
            .unwrap()
            .unwrap()
            .message
            .text
            .as_deref(),
        Some("echo")
    );
    assert_eq!(
        store
            .message(&format!(" {} ", ids[1]))
            .await
            .unwrap()
            .unwrap()
            .id,
        ids[1]
    );
    for garbage in [
        "",
        "abc",
        "-1",
        "1e3",
        "99999999999999999999999",
        "0x10",
        "🙂",
        "12 34",
    ] {
        assert!(
            store.message(garbage).await.unwrap().is_none(),
            "{garbage:?}"
        );
    }
    assert!(store.message("424242").await.unwrap().is_none());
}

/// History, conversations and claims leave the upstream JSON out; `message` has it.
pub(crate) async fn lists_leave_the_upstream_json_out(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let ids = store
        .ingest(
            "main",
            vec![
                inbound("main", "8001", "u1", "one", 1),
                inbound("main", "8002", "u2", "two", 2),
            ],
            "c",
        )
        .await
        .unwrap();
    let page = store.history(&query()).await.unwrap();
    let claimed = store.claim_inbox("", 10).await.unwrap();
    let latest = store.conversations(None, 10).await.unwrap();
    for (list, messages) in [
        ("history", &page.messages),
        ("claim", &claimed),
        ("conversations", &latest),
    ] {
        assert_eq!(ids_sorted(messages), ids, "{list}");
        for m in messages.iter() {
            assert_eq!(m.message.raw, None, "{list}");
            assert_eq!(
                m.message.items.value()[0]["text"],
                m.message.text.as_deref().unwrap(),
                "{list}"
            );
        }
    }
    let full = store.message(&ids[1].to_string()).await.unwrap().unwrap();
    assert_eq!(
        full.message.raw,
        Some(json!({ "message_id": "8002", "from_user_id": "u2" }))
    );
}

fn ids_sorted(messages: &[StoredMessage]) -> Vec<i64> {
    let mut ids = ids(messages);
    ids.sort_unstable();
    ids
}

pub(crate) async fn record_outbound_is_idempotent_and_checks_the_session(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let m = outbound("main", "client-1", "u1", "hi", 5);
    let a = store.record_outbound(m.clone()).await.unwrap();
    let b = store.record_outbound(m.clone()).await.unwrap();
    assert_eq!(a, b);
    assert_eq!(store.history(&query()).await.unwrap().total, 1);
    let stored = store.message(&a.to_string()).await.unwrap().unwrap();
    assert_eq!(stored.message, m);
    assert_eq!(
        store
            .session("main")
            .await
            .unwrap()
            .unwrap()
            .last_message_at_ms,
        Some(5)
    );
    assert!(matches!(
        store
            .record_outbound(outbound("ghost", "c", "u", "x", 1))
            .await,
        Err(StoreError::UnknownSession(_))
    ));
}

pub(crate) async fn consumers_each_see_every_inbound_message_and_survive_reopen(db: &dyn Fixture) {
    let first_ids;
    {
        let store = db.open().await;
        store.save_login("main", &login("b", "t")).await.unwrap();
        first_ids = store
            .ingest(
                "main",
                vec![
                    inbound("main", "1", "u", "a", 1),
                    inbound("main", "2", "u", "b", 2),
                ],
                "c",
            )
            .await
            .unwrap();
        store
            .record_outbound(outbound("main", "o", "u", "not inbound", 3))
            .await
            .unwrap();
        // A named consumer seen now starts at the tail.
        assert!(store.claim_inbox("agent", 10).await.unwrap().is_empty());
        // Limit 0 claims nothing (and registers the consumer).
        assert!(store.claim_inbox("late", 0).await.unwrap().is_empty());
        store
            .ingest("main", vec![inbound("main", "3", "u", "c", 4)], "c")
            .await
            .unwrap();
        // The default consumer starts at the beginning, oldest first, limited.
        let read = store.claim_inbox(DEFAULT_CONSUMER, 1).await.unwrap();
        assert_eq!(ids(&read), [first_ids[0]], "oldest first, limited");
    }
    // A new handle (a restart) sees the claimed position.
    let store = db.open().await;
    let default = store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap();
    assert_eq!(
        default.len(),
        2,
        "what was claimed before the restart is gone"
    );
    assert_eq!(default[0].id, first_ids[1]);
    assert!(default.iter().all(|m| m.message.direction == Direction::In));
    let agent = store.claim_inbox("agent", 10).await.unwrap();
    assert_eq!(agent.len(), 1, "the agent only sees what arrived after it");
    assert_eq!(agent[0].id, default[1].id);
    let late = store.claim_inbox("late", 10).await.unwrap();
    assert_eq!(
        ids(&late),
        ids(&agent),
        "limit 0 registered `late` before message 3"
    );
    // Claimed is claimed: nothing twice, and one consumer does not touch another.
    assert!(store.claim_inbox("agent", 10).await.unwrap().is_empty());
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    store
        .ingest("main", vec![inbound("main", "4", "u", "d", 5)], "c")
        .await
        .unwrap();
    assert_eq!(
        store.claim_inbox("", 10).await.unwrap().len(),
        1,
        "blank = default"
    );
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
    assert_eq!(store.claim_inbox("agent", 10).await.unwrap().len(), 1);
}

pub(crate) async fn two_readers_of_one_consumer_never_get_the_same_message(db: &dyn Fixture) {
    const MESSAGES: usize = 400;
    const READERS: usize = 4;
    let store = store_with(db, &["main"]).await;
    // Readers on separate handles (as separate processes would be) and on the shared one,
    // claiming in small pages while the messages arrive.
    // The consumer is registered before the first message, so it sees them all.
    assert!(store.claim_inbox("shared", 0).await.unwrap().is_empty());
    let mut handles: Vec<Arc<dyn Store>> = vec![store.clone(), store.clone()];
    for _ in 2..READERS {
        handles.push(db.open().await);
    }
    let written = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let writer = {
        let store = store.clone();
        let written = written.clone();
        tokio::spawn(async move {
            for chunk in 0..(MESSAGES / 20) {
                let batch = (0..20)
                    .map(|i| {
                        let n = chunk * 20 + i;
                        inbound("main", &n.to_string(), "u", &format!("m{n}"), n as i64)
                    })
                    .collect();
                store.ingest("main", batch, "c").await.unwrap();
                tokio::task::yield_now().await;
            }
            written.store(true, std::sync::atomic::Ordering::SeqCst);
        })
    };
    let readers: Vec<_> = handles
        .into_iter()
        .map(|store| {
            let written = written.clone();
            tokio::spawn(async move {
                let mut got = Vec::new();
                loop {
                    // Read before claiming: an empty claim after the last write means the
                    // consumer has been handed everything.
                    let done = written.load(std::sync::atomic::Ordering::SeqCst);
                    let page = store.claim_inbox("shared", 7).await.unwrap();
                    if !page.is_empty() {
                        got.extend(ids(&page));
                    } else if done {
                        break;
                    } else {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                }
                got
            })
        })
        .collect();
    writer.await.unwrap();
    let mut all = Vec::new();
    for r in readers {
        let got = r.await.unwrap();
        assert!(got.windows(2).all(|w| w[0] < w[1]), "each reader in order");
        all.extend(got);
    }
    let count = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), count, "a message was handed to two readers");
    assert_eq!(count, MESSAGES, "every message handed out once");
}

pub(crate) async fn inbound_after_an_id_is_counted_up_to_a_cap(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    assert_eq!(store.count_inbound_after(0, 10).await.unwrap(), 0);
    let batch = (1..=5)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("m{i}"), i))
        .collect();
    let stored = store.ingest("main", batch, "c").await.unwrap();
    let mut out = inbound("main", "o1", "u", "a reply", 9);
    out.direction = Direction::Out;
    store.record_outbound(out).await.unwrap();
    assert_eq!(store.count_inbound_after(0, 100).await.unwrap(), 5);
    assert_eq!(store.count_inbound_after(stored[2], 100).await.unwrap(), 2);
    assert_eq!(store.count_inbound_after(stored[4], 100).await.unwrap(), 0);
    assert_eq!(
        store.count_inbound_after(0, 3).await.unwrap(),
        3,
        "stops at the cap"
    );
}

pub(crate) async fn a_released_claim_is_handed_out_again(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = (1..=4)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("m{i}"), i))
        .collect();
    let stored = store.ingest("main", batch, "c").await.unwrap();
    let claimed = store.claim_inbox(DEFAULT_CONSUMER, 2).await.unwrap();
    assert_eq!(ids(&claimed), stored[..2]);
    // The caller went away: the claim is given back and handed out again.
    assert!(store
        .release_claim(DEFAULT_CONSUMER, claimed[0].id, claimed[1].id)
        .await
        .unwrap());
    let again = store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap();
    assert_eq!(ids(&again), stored);
    // A release after a later claim changes nothing (that claim was delivered).
    assert!(!store
        .release_claim(DEFAULT_CONSUMER, claimed[0].id, claimed[1].id)
        .await
        .unwrap());
    assert!(store
        .claim_inbox(DEFAULT_CONSUMER, 10)
        .await
        .unwrap()
        .is_empty());
}

pub(crate) async fn prune_keeps_ids_monotonic(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = (1..=10)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("message {i}"), i))
        .collect();
    let first = store.ingest("main", batch, "c").await.unwrap();
    assert_eq!(store.prune(Retention::default()).await.unwrap(), 0);
    let deleted = store
        .prune(Retention {
            max_age_ms: None,
            max_rows: Some(4),
        })
        .await
        .unwrap();
    assert_eq!(deleted, 6);
    let page = store.history(&query()).await.unwrap();
    assert_eq!(page.total, 4);
    assert_eq!(
        ids(&page.messages),
        first[6..].iter().rev().copied().collect::<Vec<_>>()
    );
    // Search and lookups agree with what is left.
    let found = store
        .history(&HistoryQuery {
            text: Some("message 2".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(found.total, 0, "pruned messages are gone from search");
    assert!(store
        .message(&first[0].to_string())
        .await
        .unwrap()
        .is_none());
    // New ids continue above every id ever used, even after the newest are pruned.
    store
        .prune(Retention {
            max_age_ms: None,
            max_rows: Some(0),
        })
        .await
        .unwrap();
    assert_eq!(store.history(&query()).await.unwrap().total, 0);
    let next = store
        .ingest("main", vec![inbound("main", "new", "u", "after", 20)], "c")
        .await
        .unwrap();
    assert!(next[0] > first[9], "ids are never reused");
    // Age: everything stored just now is younger than an hour; older than 1 ms it goes.
    let kept = store
        .prune(Retention {
            max_age_ms: Some(3_600_000),
            max_rows: None,
        })
        .await
        .unwrap();
    assert_eq!(kept, 0);
    tokio::time::sleep(Duration::from_millis(10)).await;
    let aged = store
        .prune(Retention {
            max_age_ms: Some(1),
            max_rows: None,
        })
        .await
        .unwrap();
    assert_eq!(aged, 1, "the message stored 10 ms ago is older than 1 ms");
    assert_eq!(store.history(&query()).await.unwrap().total, 0);
    db.check_integrity(store.as_ref()).await;
}

pub(crate) async fn a_reader_that_keeps_its_position_gets_again_what_it_missed(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch = (1..=3)
        .map(|i| inbound("main", &i.to_string(), "u1", &format!("m{i}"), i * 1_000))
        .collect();
    let stored = store.ingest("main", batch, "c").await.unwrap();
    // A new consumer placed at 0 starts at the beginning.
    store.seek_consumer("reader", 0).await.unwrap();
    let all = store.claim_inbox("reader", 10).await.unwrap();
    assert_eq!(ids(&all), stored);
    assert!(store.claim_inbox("reader", 10).await.unwrap().is_empty());
    // Its answer was lost after the first message: back there, the rest comes again.
    store.seek_consumer("reader", stored[0]).await.unwrap();
    let again = db.open().await.claim_inbox("reader", 10).await.unwrap();
    assert_eq!(ids(&again), stored[1..].to_vec());
    // Ahead of everything: nothing; other consumers are untouched.
    store
        .seek_consumer("reader", stored[2] + 100)
        .await
        .unwrap();
    assert!(store.claim_inbox("reader", 10).await.unwrap().is_empty());
    assert_eq!(
        ids(&store.claim_inbox(DEFAULT_CONSUMER, 10).await.unwrap()),
        stored
    );
}
