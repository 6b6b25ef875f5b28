//! History: each filter, text search (Chinese inside sentences), combinations, time ranges and pages.

use super::*;

pub(crate) async fn history_fixture(db: &dyn Fixture) -> Arc<dyn Store> {
    let store = store_with(db, &["work", "home"]).await;
    let mut image = inbound("work", "5", "alice", "photo.jpg", 5_000);
    image.kind = "image".into();
    store
        .ingest(
            "work",
            vec![
                inbound("work", "1", "alice", "我们明天下午开会讨论预算", 1_000),
                inbound("work", "2", "bob", "Budget Meeting moved to Friday", 2_000),
                inbound("work", "3", "alice", "好的，预算表我来准备", 3_000),
                inbound(
                    "work",
                    "4",
                    "bob",
                    "say \"hello\" to the BUDGET team",
                    4_000,
                ),
                image,
            ],
            "c",
        )
        .await
        .unwrap();
    store
        .ingest(
            "home",
            vec![inbound(
                "home",
                "6",
                "alice",
                "晚饭吃什么？budget 不多",
                6_000,
            )],
            "c",
        )
        .await
        .unwrap();
    store
        .record_outbound(outbound("work", "c7", "alice", "下午开会见", 7_000))
        .await
        .unwrap();
    store
}

pub(crate) async fn history_filters_one_by_one(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let run = async |q: HistoryQuery| {
        let page = store.history(&q).await.unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    let all = run(query()).await;
    assert_eq!(all.len(), 7);
    assert_eq!(all[0], "下午开会见", "newest first");

    let user = run(HistoryQuery {
        user: Some("bob".into()),
        ..query()
    })
    .await;
    assert_eq!(
        user,
        [
            "say \"hello\" to the BUDGET team",
            "Budget Meeting moved to Friday"
        ]
    );
    assert_eq!(
        run(HistoryQuery {
            session: Some("home".into()),
            ..query()
        })
        .await,
        ["晚饭吃什么？budget 不多"]
    );
    assert_eq!(
        run(HistoryQuery {
            kind: Some("image".into()),
            ..query()
        })
        .await,
        ["photo.jpg"]
    );
    assert_eq!(
        run(HistoryQuery {
            direction: Some(Direction::Out),
            ..query()
        })
        .await,
        ["下午开会见"]
    );
    assert_eq!(
        run(HistoryQuery {
            since_ms: Some(6_000),
            ..query()
        })
        .await
        .len(),
        2
    );
    assert_eq!(
        run(HistoryQuery {
            until_ms: Some(2_000),
            ..query()
        })
        .await
        .len(),
        2
    );
    // Blank filters are no filters.
    assert_eq!(
        run(HistoryQuery {
            user: Some(String::new()),
            text: Some("   ".into()),
            ..query()
        })
        .await
        .len(),
        7
    );
}

pub(crate) async fn history_text_search(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let search = async |text: &str| {
        let page = store
            .history(&HistoryQuery {
                text: Some(text.into()),
                ..query()
            })
            .await
            .unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    // Chinese substring inside a sentence (FTS trigram path).
    assert_eq!(
        search("下午开会").await,
        ["下午开会见", "我们明天下午开会讨论预算"]
    );
    // Two characters: the scan path.
    assert_eq!(
        search("预算").await,
        ["好的，预算表我来准备", "我们明天下午开会讨论预算"]
    );
    assert_eq!(
        search("会").await,
        ["下午开会见", "我们明天下午开会讨论预算"]
    );
    // Latin, case-insensitive, on both paths.
    assert_eq!(search("budget").await.len(), 3);
    assert_eq!(search("BUDGET").await.len(), 3);
    assert_eq!(search("  Budget  ").await.len(), 3);
    assert_eq!(search("bU").await.len(), 3);
    assert_eq!(
        search("meeting moved").await,
        ["Budget Meeting moved to Friday"]
    );
    // FTS syntax is literal text.
    assert_eq!(
        search("\"hello\"").await,
        ["say \"hello\" to the BUDGET team"]
    );
    assert!(search("budget OR friday").await.is_empty());
    assert!(search("NEAR(a b)").await.is_empty());
    assert!(search("*").await.is_empty());
    assert!(search("不存在的词").await.is_empty());
}

pub(crate) async fn history_filters_combine(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let page = store
        .history(&HistoryQuery {
            user: Some("alice".into()),
            session: Some("work".into()),
            direction: Some(Direction::In),
            text: Some("预算".into()),
            since_ms: Some(2_000),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["好的，预算表我来准备"]);
    let page = store
        .history(&HistoryQuery {
            user: Some("alice".into()),
            text: Some("下午开会".into()),
            direction: Some(Direction::In),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["我们明天下午开会讨论预算"]);
    let page = store
        .history(&HistoryQuery {
            session: Some("work".into()),
            text: Some("budget".into()),
            until_ms: Some(3_000),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(texts(&page), ["Budget Meeting moved to Friday"]);
    let page = store
        .history(&HistoryQuery {
            kind: Some("image".into()),
            user: Some("bob".into()),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(page.total, 0);
}

pub(crate) async fn time_filters_span_days_and_late_arrivals(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let day = 86_400_000;
    let batch: Vec<_> = (0..10)
        .map(|d| {
            inbound(
                "main",
                &d.to_string(),
                "u",
                &format!("day {d} report"),
                d * day + 5,
            )
        })
        .collect();
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    // Arrives last (highest id) but was created on day 2.
    store
        .ingest(
            "main",
            vec![inbound("main", "late", "u", "late report", 2 * day + 7)],
            "c",
        )
        .await
        .unwrap();
    let between = async |since: Option<i64>, until: Option<i64>, text: Option<&str>| {
        let page = store
            .history(&HistoryQuery {
                since_ms: since,
                until_ms: until,
                text: text.map(String::from),
                ..query()
            })
            .await
            .unwrap();
        assert_eq!(page.total as usize, page.messages.len());
        texts(&page)
    };
    assert_eq!(
        between(Some(2 * day), Some(3 * day), None).await,
        ["late report", "day 2 report"]
    );
    assert_eq!(
        between(Some(2 * day + 6), Some(3 * day + 5), Some("report")).await,
        ["late report", "day 3 report"]
    );
    assert_eq!(
        between(Some(2 * day + 6), Some(3 * day + 5), Some("re"))
            .await
            .len(),
        2
    );
    assert_eq!(between(None, Some(day), Some("report")).await.len(), 1);
    assert_eq!(between(Some(9 * day), None, None).await, ["day 9 report"]);
    assert!(between(Some(20 * day), None, Some("report"))
        .await
        .is_empty());
    assert!(between(Some(5 * day), Some(4 * day), None).await.is_empty());
    assert!(between(Some(-5 * day), Some(-day), None).await.is_empty());
}

/// Every filter with a time range gives what testing each row's own time gives: ranges on
/// whole days and cut ones, open at either end, with rows that arrived late (a high id for an
/// old day) and early (a low id for a later day), at the first and last millisecond of their
/// day, and on day 0 (whose truncated division spans negative times too).
pub(crate) async fn time_ranges_agree_with_each_rows_time(db: &dyn Fixture) {
    let store = store_with(db, &["a", "b"]).await;
    let day: i64 = 86_400_000;
    let offsets = [0, 1, day / 2, day - 2, day - 1, 7];
    let message = |n: usize, at: i64| {
        let session = ["a", "b"][n % 2];
        let words = ["weekly report", "note", "report draft", "Report"][n % 4];
        let mut m = inbound(session, &n.to_string(), &format!("u{}", n % 3), words, at);
        if n % 3 == 2 {
            m.kind = "image".into();
        }
        if n % 5 == 4 {
            m.direction = Direction::Out;
        }
        m
    };
    let mut n = 0;
    let mut next = |at: i64| {
        n += 1;
        message(n, at)
    };
    // Day 9's only message first (a low id), and one of day 0 at a negative time.
    let mut batches = vec![vec![next(9 * day + 7), next(-5)]];
    for d in 0..9 {
        batches.push(offsets.iter().map(|&o| next(d * day + o)).collect());
        if d == 3 {
            // Early: one of day 7 among day 3's ids, so day 7 spans days 4 to 7.
            batches.push(vec![next(7 * day + 3)]);
        }
    }
    // Late: days 2 and 3 get the highest ids.
    batches.push(vec![next(2 * day + 9), next(4 * day - 1)]);
    for (i, batch) in batches.into_iter().enumerate() {
        for m in &batch {
            let session = m.session.clone();
            store
                .ingest(&session, vec![m.clone()], &format!("c{i}"))
                .await
                .unwrap();
        }
    }
    let everything = everything(store.as_ref()).await;
    assert_eq!(everything.len(), 2 + 9 * offsets.len() + 3);
    let ranges = [
        (Some(2 * day), Some(5 * day - 1)),
        (Some(2 * day), Some(5 * day)),
        (Some(2 * day + 1), Some(5 * day - 1)),
        (Some(day / 2), Some(3 * day - 2)),
        (None, Some(4 * day - 1)),
        (Some(3 * day), None),
        (Some(0), Some(day - 1)),
        (Some(-day), Some(day)),
        (Some(7 * day), Some(9 * day)),
        (Some(5 * day), Some(7 * day - 1)),
        (Some(day), Some(2 * day - 1)),
    ];
    let filters: [fn(&mut HistoryQuery); 7] = [
        |_| {},
        |q| q.session = Some("a".into()),
        |q| q.kind = Some("image".into()),
        |q| q.direction = Some(Direction::Out),
        |q| {
            q.session = Some("b".into());
            q.kind = Some("text".into());
        },
        |q| q.user = Some("u1".into()),
        |q| {
            q.user = Some("u2".into());
            q.session = Some("b".into());
        },
    ];
    for (since, until) in ranges {
        for filter in filters {
            for text in [None, Some("re"), Some("report")] {
                let mut q = HistoryQuery {
                    since_ms: since,
                    until_ms: until,
                    text: text.map(String::from),
                    limit: 1_000,
                    ..query()
                };
                filter(&mut q);
                let want = wanted(&everything, &q);
                let page = store.history(&q).await.unwrap();
                assert_eq!(ids(&page.messages), want, "{q:?}");
                assert_eq!(page.total as usize, want.len(), "{q:?}");
                let page = store
                    .history(&HistoryQuery {
                        limit: 2,
                        offset: 1,
                        ..q.clone()
                    })
                    .await
                    .unwrap();
                let slice: Vec<i64> = want.iter().copied().skip(1).take(2).collect();
                assert_eq!(ids(&page.messages), slice, "{q:?}");
            }
        }
    }
}

pub(crate) async fn history_pages(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch: Vec<_> = (1..=25)
        .map(|i| inbound("main", &i.to_string(), "u", &format!("note number {i}"), i))
        .collect();
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    for text in [None, Some("number"), Some("nu")] {
        let page = async |offset, limit| {
            store
                .history(&HistoryQuery {
                    text: text.map(String::from),
                    limit,
                    offset,
                    ..query()
                })
                .await
                .unwrap()
        };
        let first = page(0, 10).await;
        assert_eq!(first.total, 25);
        assert_eq!(first.messages.len(), 10);
        assert_eq!(
            first.messages[0].message.text.as_deref(),
            Some("note number 25")
        );
        let last = page(20, 10).await;
        assert_eq!(last.total, 25);
        assert_eq!(
            texts(&last),
            (1..=5)
                .rev()
                .map(|i| format!("note number {i}"))
                .collect::<Vec<_>>()
        );
        let beyond = page(30, 10).await;
        assert_eq!((beyond.total, beyond.messages.len()), (25, 0));
        let none = page(0, 0).await;
        assert_eq!((none.total, none.messages.len()), (25, 0));
    }
}

/// `before_id` / `after_id` page through every plan (plain filters, FTS, scans, time ranges)
/// without overlap, and an empty range matches nothing.
pub(crate) async fn history_cursors_narrow_every_plan(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let all = store.history(&query()).await.unwrap();
    let ids: Vec<i64> = all.messages.iter().map(|m| m.id).collect();
    assert_eq!(ids.len(), 7);
    for base in [
        query(),
        HistoryQuery {
            text: Some("预算".into()),
            ..query()
        },
        HistoryQuery {
            text: Some("budget".into()),
            user: Some("bob".into()),
            ..query()
        },
        HistoryQuery {
            since_ms: Some(1_500),
            until_ms: Some(6_500),
            ..query()
        },
        HistoryQuery {
            text: Some("会".into()),
            ..query()
        },
    ] {
        let everything = store.history(&base).await.unwrap();
        // Pages of 2 by `before_id` give exactly `everything`, in order.
        let mut paged = Vec::new();
        let mut before = None;
        loop {
            let page = store
                .history(&HistoryQuery {
                    limit: 2,
                    before_id: before,
                    ..base.clone()
                })
                .await
                .unwrap();
            assert_eq!(
                page.total as usize,
                everything.messages.len() - paged.len(),
                "{base:?}"
            );
            if page.messages.is_empty() {
                break;
            }
            before = page.messages.last().map(|m| m.id);
            paged.extend(page.messages.iter().map(|m| m.id));
        }
        let want: Vec<i64> = everything.messages.iter().map(|m| m.id).collect();
        assert_eq!(paged, want, "{base:?}");
        // `after_id` keeps what is newer.
        if let Some(&oldest) = want.last() {
            let newer = store
                .history(&HistoryQuery {
                    after_id: Some(oldest),
                    ..base.clone()
                })
                .await
                .unwrap();
            assert_eq!(newer.total as usize, want.len() - 1, "{base:?}");
        }
    }
    let none = store
        .history(&HistoryQuery {
            after_id: Some(ids[2]),
            before_id: Some(ids[2]),
            ..query()
        })
        .await
        .unwrap();
    assert_eq!(none.total, 0);
    assert!(none.messages.is_empty());
}

/// One row per peer, its newest message, newest conversation first; a session narrows it.
pub(crate) async fn conversations_are_the_latest_message_of_each_peer(db: &dyn Fixture) {
    let store = history_fixture(db).await;
    let all = store.conversations(None, 10).await.unwrap();
    let peers: Vec<(&str, &str)> = all
        .iter()
        .map(|m| {
            (
                m.message.peer.as_str(),
                m.message.text.as_deref().unwrap_or(""),
            )
        })
        .collect();
    assert_eq!(
        peers,
        [
            ("alice", "下午开会见"),
            ("bob", "say \"hello\" to the BUDGET team")
        ]
    );
    let home = store.conversations(Some("home"), 10).await.unwrap();
    assert_eq!(home.len(), 1);
    assert_eq!(
        home[0].message.text.as_deref(),
        Some("晚饭吃什么？budget 不多")
    );
    assert_eq!(store.conversations(None, 1).await.unwrap().len(), 1);
    assert!(store
        .conversations(Some("nobody"), 10)
        .await
        .unwrap()
        .is_empty());
}

/// A page's total counts up to the query's cap and says whether it is every match; the
/// pages themselves go on past the cap, through every plan.
pub(crate) async fn history_totals_count_up_to_a_cap(db: &dyn Fixture) {
    let store = store_with(db, &["main"]).await;
    let batch: Vec<_> = (0..30)
        .map(|i| {
            let peer = if i % 2 == 0 { "even" } else { "odd" };
            inbound("main", &format!("k{i}"), peer, &format!("note {i} 预算"), i)
        })
        .collect();
    store.ingest("main", batch, "c").await.unwrap();
    let run = async |f: &dyn Fn(&mut HistoryQuery)| {
        let mut q = HistoryQuery {
            limit: 5,
            ..query()
        };
        f(&mut q);
        store.history(&q).await.unwrap()
    };
    let everything = run(&|_| {}).await;
    assert_eq!((everything.total, everything.total_exact), (30, true));
    let capped = run(&|q| q.count_up_to = Some(10)).await;
    assert_eq!((capped.total, capped.total_exact), (10, false));
    assert_eq!(ids(&capped.messages), ids(&everything.messages));
    let exactly = run(&|q| q.count_up_to = Some(30)).await;
    assert_eq!((exactly.total, exactly.total_exact), (30, true));
    let just_under = run(&|q| q.count_up_to = Some(29)).await;
    assert_eq!((just_under.total, just_under.total_exact), (29, false));
    // Past the cap the pages go on.
    let deep = run(&|q| {
        q.count_up_to = Some(10);
        q.offset = 25;
    })
    .await;
    assert_eq!(
        (deep.total, deep.total_exact, deep.messages.len()),
        (10, false, 5)
    );
    // Every plan: long text alone, with a user, short text, other filters.
    let shapes: [fn(&mut HistoryQuery); 4] = [
        |q| q.text = Some("note".into()),
        |q| {
            q.text = Some("note".into());
            q.user = Some("even".into());
        },
        |q| q.text = Some("预算".into()),
        |q| q.direction = Some(Direction::In),
    ];
    for shape in shapes {
        let all = run(&shape).await;
        assert!(all.total_exact && all.total >= 15, "{all:?}");
        let capped = run(&|q| {
            shape(q);
            q.count_up_to = Some(3);
        })
        .await;
        assert_eq!((capped.total, capped.total_exact), (3, false));
        assert_eq!(ids(&capped.messages), ids(&all.messages));
    }
}
