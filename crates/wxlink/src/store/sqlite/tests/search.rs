//! Search: FTS5 case folding and the planner's choices (history, routing).

use super::*;
use rusqlite::StatementStatus;

/// The FTS phrase match and the per-row test must agree on case folding in every script,
/// or a user filter (which may switch to the row test) would change results.
#[tokio::test]
async fn fold_matches_fts5() {
    for (c, folded) in [
        ('A', 'a'),
        ('z', 'z'),
        ('É', 'é'),
        ('Σ', 'σ'),
        ('ẞ', 'ß'),
        ('Ａ', 'ａ'),
        ('Ꭰ', 'Ꭰ'),
        ('𐐀', '𐐨'),
        ('预', '预'),
    ] {
        assert_eq!(fts5_fold::fold_char(c), folded, "{c}");
    }
    assert_eq!(fold("AbC\0Ü"), "abcü");
    assert!(is_caseless("预算 2024，"));
    assert!(!is_caseless("a"), "'A' folds to 'a'");
    assert!(!is_caseless("ß"), "'ẞ' folds to 'ß'");
    assert!(contains_folded("Budget MEETING", "meeting"));
    assert!(contains_folded("ÉCOLE", "école"));
    assert!(contains_folded("a\0bc", "abc"));
    assert!(!contains_folded("abd", "abc"));
}

#[tokio::test]
async fn fts_and_row_test_fold_case_alike() {
    let store = memory_with(&["main"]).await;
    let texts = [
        "ÉCOLE et école",
        "ПРИВЕТ мир",
        "ΣΟΦΊΑ και σοφία τῆς",
        "İstanbul Istanbul",
        "STRASSE straße ẞ",
        "Ǆemal ǅ ǆ",
        "ﬁle ligature",
        "Kelvin 5K degrees",
        "ＡＢＣ fullwidth ａｂｃ",
        "Ꭰ Cherokee ꭰ",
        "Ა Georgian ა",
        "𐐀 Deseret 𐐨",
        "𐓀 Osage 𐓘",
        "nul\0byte text",
        "数字 ＡＢＣ 预算 budget",
    ];
    let batch: Vec<_> = texts
        .iter()
        .enumerate()
        .map(|(i, t)| inbound("main", &i.to_string(), "u", t, i as i64))
        .collect();
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    let queries = [
        "école",
        "ÉCOLE",
        "Ecole",
        "привет",
        "ПРИВЕТ",
        "σοφία",
        "ΣΟΦΊΑ",
        "istanbul",
        "İstanbul",
        "straße",
        "STRASSE",
        "ǆem",
        "ǅem",
        "Ǆem",
        "ﬁle",
        "file",
        "n 5k",
        "n 5K",
        "ａｂｃ",
        "ＡＢＣ",
        "Ꭰ C",
        "ꭰ C",
        "ა G",
        "Ა G",
        "𐐨 D",
        "𐐀 D",
        "𐓘 O",
        "𐓀 O",
        "nulbyte",
        "l\0by",
        "ul\0",
        "预算 b",
        "预算 B",
        "字 ａ",
    ];
    let conn = store.lock();
    let mut matched = 0;
    for needle in queries {
        let fts_only = run_history(
            &conn,
            &HistoryQuery {
                text: Some(needle.into()),
                ..query()
            },
            None,
        )
        .unwrap();
        let scanned = run_history(
            &conn,
            &HistoryQuery {
                user: Some("u".into()),
                text: Some(needle.into()),
                ..query()
            },
            Some(UserTextPlan::ScanUser),
        )
        .unwrap();
        assert_eq!(
            ids(&fts_only.messages),
            ids(&scanned.messages),
            "{needle:?}"
        );
        matched += usize::from(!fts_only.messages.is_empty());
    }
    assert!(matched >= 20, "only {matched} queries matched anything");
}

/// Both plans for user + long text (walk the FTS matches, or scan the user's rows) must
/// return the same rows; the fixture makes each one the cheaper in turn.
#[tokio::test]
async fn history_user_and_text_plans_agree() {
    let store = memory_with(&["main"]).await;
    let mut batch = Vec::new();
    for i in 0..300 {
        // "common" is in every message; "rare" in few; "many" has most rows.
        let peer = if i % 30 == 0 { "few" } else { "many" };
        let text = if i % 50 == 0 {
            format!("common RARE word {i}")
        } else {
            format!("common text {i}")
        };
        batch.push(inbound("main", &i.to_string(), peer, &text, i));
    }
    store.ingest("main", batch.to_vec(), "c").await.unwrap();
    let brute = async |user: &str, needle: &str| -> Vec<i64> {
        let mut ids: Vec<_> = store
            .history(&HistoryQuery {
                limit: 1_000,
                ..query()
            })
            .await
            .unwrap()
            .messages
            .into_iter()
            .filter(|m| {
                m.message.peer == user
                    && fold(m.message.text.as_deref().unwrap_or("")).contains(&fold(needle))
            })
            .map(|m| m.id)
            .collect();
        ids.sort_unstable_by(|a, b| b.cmp(a));
        ids
    };
    // "few" has 10 rows, "many" 290; "common" matches 300 rows, "rare" 6. Each plan, forced
    // or chosen, must give the brute-force answer; with time filters too.
    for (user, needle) in [
        ("few", "common"),
        ("many", "common"),
        ("few", "rare"),
        ("many", "rare"),
        ("many", "COMMON text 1"),
    ] {
        let expected = brute(user, needle).await;
        for force in [
            None,
            Some(UserTextPlan::JoinMatches),
            Some(UserTextPlan::ScanUser),
        ] {
            let conn = store.lock();
            let q = HistoryQuery {
                user: Some(user.into()),
                text: Some(needle.into()),
                limit: 1_000,
                ..query()
            };
            let page = run_history(&conn, &q, force).unwrap();
            assert_eq!(
                page.total as usize,
                expected.len(),
                "{user} {needle} {force:?}"
            );
            assert_eq!(ids(&page.messages), expected, "{user} {needle} {force:?}");
            let narrow = HistoryQuery {
                since_ms: Some(100),
                until_ms: Some(199),
                limit: 3,
                offset: 1,
                ..q
            };
            let page = run_history(&conn, &narrow, force).unwrap();
            let in_range: Vec<i64> = expected
                .iter()
                .copied()
                .filter(|id| (101..=200).contains(id))
                .collect();
            assert_eq!(
                page.total as usize,
                in_range.len(),
                "{user} {needle} {force:?}"
            );
            let want: Vec<i64> = in_range.iter().copied().skip(1).take(3).collect();
            assert_eq!(ids(&page.messages), want, "{user} {needle} {force:?}");
        }
    }
    let conn = store.lock();
    let choose = |user: &str, needle: &str| {
        let fts = FtsMatch {
            phrase: format!("\"{needle}\""),
            range: None,
        };
        UserTextPlan::choose(&conn, user, &fts).unwrap()
    };
    assert_eq!(choose("few", "common"), UserTextPlan::ScanUser);
    assert_eq!(choose("many", "rare"), UserTextPlan::JoinMatches);
}

/// Each plan of user + text, forced, keeps the user and the other filters when a time range
/// is settled in part by the ids (days cut at the edges, a late arrival).
#[tokio::test]
async fn forced_user_plans_agree_with_each_rows_time() {
    let store = memory_with(&["s", "t"]).await;
    let mut batch = Vec::new();
    for n in 0..48i64 {
        let session = ["s", "t"][(n % 2) as usize];
        let text = ["weekly report", "note"][(n % 3 == 0) as usize];
        let at = (n / 8) * DAY + (n % 8) * (DAY / 8);
        batch.push(inbound(
            session,
            &n.to_string(),
            &format!("u{}", n % 4),
            text,
            at,
        ));
    }
    // Late: a day-1 message after all the others.
    batch.push(inbound("t", "late", "u1", "late report", DAY + 9));
    for m in batch {
        let session = m.session.clone();
        store.ingest(&session, vec![m], "c").await.unwrap();
    }
    let everything = everything(&store).await;
    let conn = store.lock();
    let ranges = [
        (Some(DAY), Some(4 * DAY - 1)),
        (Some(DAY + 5), Some(4 * DAY + 5)),
        (Some(2 * DAY), None),
        (None, Some(3 * DAY + 1)),
    ];
    for (since, until) in ranges {
        for session in [None, Some("t")] {
            for force in [
                None,
                Some(UserTextPlan::JoinMatches),
                Some(UserTextPlan::ScanUser),
            ] {
                let q = HistoryQuery {
                    user: Some("u1".into()),
                    session: session.map(String::from),
                    text: Some("report".into()),
                    since_ms: since,
                    until_ms: until,
                    limit: 1_000,
                    ..query()
                };
                let want = wanted(&everything, &q);
                let page = run_history(&conn, &q, force).unwrap();
                assert_eq!(ids(&page.messages), want, "{q:?} {force:?}");
                assert_eq!(page.total as usize, want.len(), "{q:?} {force:?}");
            }
        }
    }
}

/// The query plans the planner's comments promise: no sort of a large result, and the
/// intended index or FTS access for each shape.
#[tokio::test]
async fn query_plans_use_the_intended_access_paths() {
    let store = memory_with(&["s"]).await;
    let conn = store.lock();
    // Day 1 whole and day 2 cut by a filter `DAY..=2 * DAY + 5`: ids 11..=20 are settled.
    conn.execute_batch("INSERT INTO message_days VALUES (0, 1, 10), (1, 11, 20), (2, 21, 30)")
        .unwrap();
    let q = |f: fn(&mut HistoryQuery)| {
        let mut q = HistoryQuery {
            limit: 5,
            ..HistoryQuery::default()
        };
        f(&mut q);
        q
    };
    let cases: Vec<(HistoryQuery, Option<UserTextPlan>, &[&str])> = vec![
        (
            q(|q| q.text = Some("abc".into())),
            None,
            &["SCAN messages_fts VIRTUAL TABLE"],
        ),
        (
            q(|q| {
                q.user = Some("u".into());
                q.text = Some("abc".into());
            }),
            Some(UserTextPlan::ScanUser),
            &["COVERING INDEX messages_peer (peer=?)"],
        ),
        (
            q(|q| {
                q.user = Some("u".into());
                q.session = Some("s".into());
                q.text = Some("abc".into());
            }),
            Some(UserTextPlan::ScanUser),
            &["INDEX messages_peer (peer=?)"],
        ),
        (
            q(|q| {
                q.user = Some("u".into());
                q.text = Some("abc".into());
            }),
            Some(UserTextPlan::JoinMatches),
            &["SEARCH m USING INTEGER PRIMARY KEY (rowid=?)"],
        ),
        (
            q(|q| {
                q.session = Some("s".into());
                q.since_ms = Some(0);
                q.until_ms = Some(5);
                q.text = Some("abc".into());
            }),
            None,
            &[
                "M1><", // the FTS scan is limited to the id range
                "INDEX messages_session (session=? AND id=?",
            ],
        ),
        (
            q(|q| {
                q.kind = Some("image".into());
                q.text = Some("abc".into());
            }),
            None,
            &["INDEX messages_kind (kind=? AND id=?"],
        ),
        (
            q(|q| {
                q.direction = Some(crate::model::Direction::Out);
                q.text = Some("abc".into());
            }),
            None,
            &["INDEX messages_direction (direction=? AND id=?"],
        ),
        (
            q(|q| {
                q.since_ms = Some(DAY);
                q.until_ms = Some(2 * DAY + 5);
                q.text = Some("abc".into());
            }),
            None,
            &["CORRELATED SCALAR SUBQUERY"],
        ),
        (
            q(|q| {
                q.session = Some("s".into());
                q.since_ms = Some(0);
                q.until_ms = Some(5);
            }),
            None,
            &["INDEX messages_session (session=? AND id>? AND id<?)"],
        ),
        (
            q(|q| q.user = Some("u".into())),
            None,
            &["COVERING INDEX messages_peer (peer=?)"],
        ),
    ];
    for (query, force, expected) in cases {
        let plan = plan_history(&conn, &query, force).unwrap().unwrap();
        let cases = [
            (plan.count_sql(false), vec![]),
            (plan.count_sql(true), vec![10_001i64.into()]),
            (plan.ids_sql.clone(), vec![5i64.into(), 0i64.into()]),
        ];
        for (sql, extra) in &cases {
            let mut params = plan.params.clone();
            params.extend(extra.iter().cloned());
            let steps = plan_steps(&conn, sql, params_from_iter(params.iter()));
            for expected in expected {
                assert!(steps.contains(expected), "{sql}\n{steps}");
            }
            assert!(!steps.contains("TEMP B-TREE"), "{sql}\n{steps}");
        }
    }
}

const DAY: i64 = 86_400_000;

/// Which ids of a time filter's range settle it, from `message_days` (see [`Settled`]): none
/// of another day's ids, nor of a day the filter cuts; the longest piece left.
#[tokio::test]
async fn a_time_filter_is_settled_by_the_ids_no_other_day_spans() {
    let store = memory_with(&["s"]).await;
    let conn = store.lock();
    conn.execute_batch(
        "INSERT INTO message_days VALUES (1, 1, 10), (2, 11, 20), (3, 21, 30), (4, 31, 40), \
         (5, 41, 50)",
    )
    .unwrap();
    let ids = |lo, hi| IdRange { lo, hi };
    let settle = |since: Option<i64>, until: Option<i64>, range| {
        settled(&conn, since, until, range).unwrap()
    };
    let whole = (Some(2 * DAY), Some(5 * DAY - 1));
    assert_eq!(settle(whole.0, whole.1, ids(11, 40)), Settled::All);
    assert_eq!(settle(None, whole.1, ids(1, 40)), Settled::All);
    assert_eq!(settle(whole.0, None, ids(11, 50)), Settled::All);
    // The last day cut (it ends later), then the first too (it starts earlier).
    let cut_end = Some(4 * DAY + 5);
    assert_eq!(
        settle(whole.0, cut_end, ids(11, 40)),
        Settled::Ids(ids(11, 30))
    );
    assert_eq!(
        settle(Some(2 * DAY + 1), cut_end, ids(11, 40)),
        Settled::Ids(ids(21, 30))
    );
    // Day 0 also holds negative times: a filter from 0 never settles it.
    assert_eq!(settle(Some(0), Some(DAY - 1), ids(1, 10)), Settled::Nothing);
    // A late arrival widens day 1 into the range; an early one of day 9 cuts it in two.
    conn.execute_batch("UPDATE message_days SET max_id = 35 WHERE day = 1")
        .unwrap();
    assert_eq!(
        settle(whole.0, whole.1, ids(11, 40)),
        Settled::Ids(ids(36, 40))
    );
    conn.execute_batch(
        "UPDATE message_days SET max_id = 10 WHERE day = 1; \
         INSERT INTO message_days VALUES (9, 24, 26)",
    )
    .unwrap();
    assert_eq!(
        settle(whole.0, whole.1, ids(11, 40)),
        Settled::Ids(ids(27, 40))
    );
    conn.execute_batch("UPDATE message_days SET min_id = 11, max_id = 40 WHERE day = 9")
        .unwrap();
    assert_eq!(settle(whole.0, whole.1, ids(11, 40)), Settled::Nothing);
}

/// A settled id is not tested on its time: the row is never read for it. Shown by a row whose
/// time is moved out of the filter behind the store's back (`message_days` not told), which
/// is still found; an unsettled one is tested and not found.
#[tokio::test]
async fn a_settled_row_is_not_read_for_its_time() {
    let store = memory_with(&["s"]).await;
    let batch: Vec<_> = (0..4)
        .map(|d| inbound("s", &d.to_string(), "u", "weekly report", d * DAY + 5))
        .collect();
    store.ingest("s", batch, "c").await.unwrap();
    let conn = store.lock();
    conn.execute_batch(
        "DROP TRIGGER messages_after_update_created; \
         UPDATE messages SET created_at = 50 * 86400000 WHERE id IN (2, 3)",
    )
    .unwrap();
    for filter in [None, Some("s")] {
        let q = HistoryQuery {
            session: filter.map(String::from),
            text: Some("report".into()),
            since_ms: Some(DAY),
            until_ms: Some(2 * DAY + 3),
            ..query()
        };
        // Day 1 (id 2) is whole, so settled; day 2 (id 3) is cut, so tested.
        let page = run_history(&conn, &q, None).unwrap();
        assert_eq!(ids(&page.messages), [2], "{filter:?}");
    }
}

/// A cached statement is planned once: binding new values (another page size, another
/// user) does not make SQLite parse and plan it again.
#[tokio::test]
async fn cached_history_statements_are_not_planned_again_per_call() {
    let store = memory_with(&["s"]).await;
    let batch: Vec<_> = (0..40)
        .map(|i| {
            inbound(
                "s",
                &i.to_string(),
                &format!("u{}", i % 4),
                &format!("text {i}"),
                i,
            )
        })
        .collect();
    store.ingest("s", batch, "c").await.unwrap();
    let conn = store.lock();
    let shapes = [
        |i: u32| HistoryQuery {
            limit: 5 + i,
            offset: i,
            count_up_to: Some(10 + u64::from(i)),
            ..HistoryQuery::default()
        },
        |i: u32| HistoryQuery {
            limit: 5,
            user: Some(format!("u{}", i % 4)),
            ..HistoryQuery::default()
        },
    ];
    for shape in shapes {
        for i in 0..5 {
            let page = run_history(&conn, &shape(i), None).unwrap();
            assert!(!page.messages.is_empty());
        }
        let plan = plan_history(&conn, &shape(0), None).unwrap().unwrap();
        for sql in [
            plan.count_sql(true).as_str(),
            &plan.ids_sql,
            crate::store::sqlite::rows::LISTED_BY_IDS,
        ] {
            let statement = conn.prepare_cached(sql).unwrap();
            assert_eq!(statement.get_status(StatementStatus::RePrepare), 0, "{sql}");
        }
    }
}

/// A history read that fails or panics leaves no transaction open behind it.
#[tokio::test]
async fn a_failed_read_leaves_no_transaction_open() {
    use crate::store::sqlite::rows::in_read_transaction;
    use crate::store::StoreError;
    let store = memory_with(&["s"]).await;
    let conn = store.lock();
    let failed: Result<(), _> =
        in_read_transaction(&conn, |_| Err(StoreError::Corrupt("test", "boom".into())));
    assert!(failed.is_err());
    assert!(conn.is_autocommit(), "rolled back after an error");
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = in_read_transaction(&conn, |_| -> Result<(), StoreError> { panic!("boom") });
    }));
    assert!(panicked.is_err());
    assert!(conn.is_autocommit(), "rolled back after a panic");
    let total = in_read_transaction(&conn, |c| Ok(run_history(c, &query(), None)?.total));
    assert_eq!(total.unwrap(), 0);
}

/// A store with six messages from user `u` (ids 1 to 6, texts "text 0" to "text 5").
async fn six_messages() -> SqliteStore {
    let store = memory_with(&["s"]).await;
    let batch: Vec<_> = (0..6)
        .map(|i| inbound("s", &i.to_string(), "u", &format!("text {i}"), i))
        .collect();
    store.ingest("s", batch, "c").await.unwrap();
    store
}

/// A page without filters counts every message from the table's pages when the ids show there
/// are few, and row by row up to the cap otherwise: the totals are the same either way.
#[tokio::test]
async fn an_unfiltered_count_is_capped_like_any_other() {
    let store = six_messages().await;
    let conn = store.lock();
    let totals = |count_up_to: Option<u64>| {
        let q = HistoryQuery {
            limit: 2,
            count_up_to,
            ..HistoryQuery::default()
        };
        assert!(plan_history(&conn, &q, None).unwrap().unwrap().everything);
        let page = run_history(&conn, &q, None).unwrap();
        assert_eq!(page.messages.len(), 2);
        (page.total, page.total_exact)
    };
    assert_eq!(totals(None), (6, true));
    assert_eq!(totals(Some(2)), (2, false));
    assert_eq!(totals(Some(5)), (5, false));
    assert_eq!(totals(Some(6)), (6, true));
    assert_eq!(totals(Some(100)), (6, true));
    let filtered = HistoryQuery {
        user: Some("u".into()),
        ..query()
    };
    assert!(
        !plan_history(&conn, &filtered, None)
            .unwrap()
            .unwrap()
            .everything
    );
}

/// A list's rows come back in the order of the ids asked for, an id without a row left out,
/// each found by its key (no scan of `messages`).
#[tokio::test]
async fn listed_messages_keep_the_order_asked_for() {
    use crate::store::sqlite::rows::listed_messages;
    let store = six_messages().await;
    let conn = store.lock();
    let texts = |ids: &[i64]| -> Vec<String> {
        listed_messages(&conn, ids)
            .unwrap()
            .into_iter()
            .map(|m| m.message.text.unwrap_or_default())
            .collect()
    };
    assert_eq!(
        texts(&[5, 2, 99, 3, 1]),
        ["text 4", "text 1", "text 2", "text 0"]
    );
    assert_eq!(texts(&[1, 2]), ["text 0", "text 1"]);
    assert!(texts(&[]).is_empty());
    let steps = plan_steps(&conn, crate::store::sqlite::rows::LISTED_BY_IDS, ["[1]"]);
    assert!(
        steps.contains("SEARCH m USING INTEGER PRIMARY KEY"),
        "{steps}"
    );
    assert!(!steps.contains("SCAN m"), "{steps}");
    // The order comes from the join, not a sort; rows that came in another order are put
    // back in the list's.
    assert!(!steps.contains("TEMP B-TREE"), "{steps}");
    let ids = [5, 2, 3, 1];
    let mut shuffled = listed_messages(&conn, &ids).unwrap();
    shuffled.reverse();
    crate::store::sqlite::rows::in_list_order(&mut shuffled, &ids);
    let order: Vec<i64> = shuffled.iter().map(|m| m.id).collect();
    assert_eq!(order, ids);
}

/// Routing a message reads the sessions it can pick through indexes (the recipient's contexts,
/// then each session by its key; the open backends by `sessions_backend`), never a scan of
/// every session: with many accounts that scan made each `send` slower.
#[tokio::test]
async fn routing_reads_only_the_sessions_it_can_pick() {
    use crate::store::sqlite::ops::{route_candidates, route_sessions_sql};
    let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let store = memory_with(&names).await;
    let ctx = with_token(inbound("s7", "1", "u1", "hi", 1_000), "T");
    store.ingest("s7", vec![ctx], "c").await.unwrap();
    let mut conn = store.lock();
    let picked = route_candidates(&mut conn, "u1", &[BackendKind::Wechaty]).unwrap();
    let picked: Vec<&str> = picked.sessions.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(picked, ["s7"]);
    let steps = plan_steps(
        &conn,
        &route_sessions_sql(),
        rusqlite::params!["u1", "[\"wechaty\"]"],
    );
    assert!(
        steps.contains("INDEX sessions_backend (backend=?)"),
        "{steps}"
    );
    assert!(steps.contains("INDEX contexts_user (user_id=?)"), "{steps}");
    assert!(!steps.contains("SCAN s"), "{steps}");
}

/// `history` by bot id reads that bot's sessions through `sessions_bot`, not every session.
#[tokio::test]
async fn a_bots_sessions_are_found_by_index() {
    use crate::store::sqlite::ops::{bot_sessions_sql, sessions_with_bot};
    let names: Vec<String> = (0..40).map(|i| format!("s{i}")).collect();
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let store = memory_with(&names).await;
    let bot = store.session("s7").await.unwrap().unwrap().bot_id.unwrap();
    let mut conn = store.lock();
    let found = sessions_with_bot(&mut conn, &bot).unwrap();
    let found: Vec<&str> = found.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(found, ["s7"]);
    let steps = plan_steps(&conn, &bot_sessions_sql(), [bot.as_str()]);
    assert!(steps.contains("INDEX sessions_bot (bot_id=?)"), "{steps}");
    assert!(!steps.contains("SCAN s"), "{steps}");
}

/// The steps of SQLite's plan for `sql` with `params`, joined by " | ".
fn plan_steps(conn: &Connection, sql: &str, params: impl rusqlite::Params) -> String {
    let steps: Vec<String> = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .unwrap()
        .query_map(params, |r| r.get(3))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    steps.join(" | ")
}
