//! Text search finds what SQLite's finds — Chinese inside sentences, case folded the FTS5
//! way, wildcards literal — with the same filters, pages and totals; and Chinese needles use
//! the `pg_trgm` index.

use super::*;
use crate::store::contract::{inbound, log_in_all, outbound};
use crate::store::{Direction, HistoryQuery, NewMessage, SqliteStore};

/// Sentences mixing scripts, cases and characters LIKE would read as wildcards.
const SENTENCES: &[&str] = &[
    "我们明天下午开会讨论预算",
    "好的，预算表我来准备",
    "下午开会见",
    "Budget Meeting moved to Friday",
    "say \"hello\" to the BUDGET team",
    "晚饭吃什么？budget 不多",
    "50% off_sale \\ today",
    "ΣΊΣΥΦΟΣ and σίσυφος",
    "ＦＵＬＬＷＩＤＴＨ ｆｕｌｌ",
    "Straße STRASSE",
    "ПРИВЕТ привет мир",
    "会议纪要：下午三点开会",
    "the weekly REPORT 报告",
    "",
];

/// Needles: Chinese (1, 2, 3+ characters), Latin in any case, other scripts, wildcards.
const NEEDLES: &[&str] = &[
    "下午开会",
    "开会",
    "会",
    "预算表",
    "budget",
    "BUDGET",
    " Budget ",
    "bu",
    "\"hello\"",
    "50%",
    "%",
    "_",
    "off_s",
    "\\",
    "σίσυφος",
    "ΣΊΣ",
    "ｆｕｌｌ",
    "ＦＵＬＬ",
    "straße",
    "привет",
    "ПРИВЕТ МИР",
    "report 报",
    "不存在的词",
    "e",
];

/// The same messages into any store: two sessions, two peers, both directions, two kinds,
/// times spread over days.
async fn fill(store: &dyn Store) {
    log_in_all(store, &["work", "home"]).await;
    for (round, session) in ["work", "home", "work"].iter().enumerate() {
        let batch: Vec<NewMessage> = SENTENCES
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let at = ((round * SENTENCES.len() + i) as i64) * 40_000_000;
                let peer = if i % 3 == 0 { "bob" } else { "alice" };
                let mut m = inbound(session, &format!("{round}-{i}"), peer, text, at);
                if i % 4 == 0 {
                    m.kind = "image".into();
                }
                m
            })
            .collect();
        store.ingest(session, batch, "c").await.unwrap();
        store
            .record_outbound(outbound(
                session,
                &format!("o{round}"),
                "alice",
                "下午开会见 OK",
                1,
            ))
            .await
            .unwrap();
    }
}

/// Every needle under a set of filters.
fn queries() -> Vec<HistoryQuery> {
    let mut out = Vec::new();
    for needle in NEEDLES {
        let text = Some(needle.to_string());
        for q in [
            HistoryQuery::default(),
            HistoryQuery {
                user: Some("alice".into()),
                ..HistoryQuery::default()
            },
            HistoryQuery {
                session: Some("work".into()),
                direction: Some(Direction::In),
                ..HistoryQuery::default()
            },
            HistoryQuery {
                kind: Some("text".into()),
                since_ms: Some(200_000_000),
                until_ms: Some(1_200_000_000),
                ..HistoryQuery::default()
            },
            HistoryQuery {
                limit: 2,
                offset: 1,
                before_id: Some(30),
                ..HistoryQuery::default()
            },
        ] {
            out.push(HistoryQuery {
                text: text.clone(),
                limit: if q.limit == 0 { 50 } else { q.limit },
                ..q
            });
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_finds_what_sqlite_finds_with_the_same_totals() {
    let db = PgFixture::new();
    let pg = db.pg().await;
    let sqlite = SqliteStore::open_in_memory().unwrap();
    fill(&pg).await;
    fill(&sqlite).await;
    let mut matched = 0;
    for q in queries() {
        let (want, got) = (
            sqlite.history(&q).await.unwrap(),
            pg.history(&q).await.unwrap(),
        );
        assert_eq!(got.total, want.total, "{q:?}");
        let ids =
            |p: &crate::store::HistoryPage| p.messages.iter().map(|m| m.id).collect::<Vec<_>>();
        assert_eq!(ids(&got), ids(&want), "{q:?}");
        let bodies = |p: &crate::store::HistoryPage| {
            p.messages
                .iter()
                .map(|m| m.message.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(bodies(&got), bodies(&want), "{q:?}");
        matched += got.total;
    }
    assert!(matched > 100, "the corpus matches something: {matched}");
    // Chinese inside a sentence, with its total.
    let page = pg
        .history(&HistoryQuery {
            text: Some("下午开会".into()),
            limit: 50,
            ..HistoryQuery::default()
        })
        .await
        .unwrap();
    let sentences = SENTENCES.iter().filter(|s| s.contains("下午开会")).count() as u64;
    assert_eq!(sentences, 2);
    assert_eq!(
        page.total,
        3 * sentences + 3,
        "per round: the sentences and the send"
    );
    db.check_integrity(&pg).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chinese_needles_use_the_trigram_index() {
    let db = PgFixture::new();
    fill(&db.pg().await).await;
    let plan = db.psql(
        "SET enable_seqscan = off; \
         EXPLAIN SELECT id FROM messages WHERE coalesce(text_folded, text) LIKE '%下午开会%'",
    );
    assert!(plan.contains("messages_search"), "{plan}");
    // The trigrams of a Chinese needle are extracted (C.UTF-8 classifies CJK as letters).
    let trigrams = db.psql("SELECT array_length(show_trgm('下午开会'), 1)");
    assert!(trigrams.parse::<i32>().unwrap_or(0) >= 2, "{trigrams}");
}
