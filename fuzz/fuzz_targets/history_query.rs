//! `history_query`: history filters as users and agents write them (times, types, directions,
//! search text) → `HistoryQuery` (crates/wxlink/src/service/history.rs, timefmt.rs) → the page
//! the SQLite store finds for it (store/sqlite/history.rs: time ranges, FTS5 trigram phrases,
//! short-text scans, user plans), over a fixed set of ~40 stored messages with awkward text
//! (CJK, case-folding scripts, quotes, FTS5 syntax, SQL, NUL, emoji).
//!
//! Input: a JSON object with the `history` tool's parameters (`user_id`, `bot_id`, `session`,
//! `msg_type`, `direction`, `since`, `until`, `text_contains`, `limit`, `offset`); or lines of
//! text: search text, since, until, user, type, direction.
//!
//! Invariants:
//! - `timefmt::parse_time` and `history::plan` never panic; `plan` fails exactly when the type,
//!   direction or a time does not parse; its query has the limit clamped to 1..=200 and trimmed
//!   text. An unknown bot id matches nothing (and says so).
//! - Times: all digits is that many ms; a parsed time printed with `timefmt::iso` parses back
//!   to itself; a date `D` alone is the start of that day: `D` = `D 00:00` = `DT00:00:00` <=
//!   `DT23:59:59.999` (one valid input gives since <= until).
//! - The store answers every planned query (no SQL or FTS5 syntax error from user text), with
//!   at most `limit` rows, `offset` applied, `total` consistent, newest (highest id) first.
//! - Every row returned meets every filter (user, session, type, direction, since, until; the
//!   text case-insensitively where both are ASCII), and every stored message that meets the
//!   filters and holds the text verbatim is returned (ASCII text: exactly those that hold it
//!   in any case).
//! - Every plan gives the same rows: adding a user filter returns exactly that user's rows of
//!   the unfiltered answer (FTS alone vs joined vs scanning the user), and a time filter
//!   returns exactly the rows of the untimed answer in that range (id ranges from
//!   `message_days`).

#![no_main]

use std::collections::BTreeSet;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use serde_json::{json, Value};
use wxlink::mcp::types::HistoryParams;
use wxlink::service::history::{parse_direction, parse_kind, plan, HistoryFilter, MAX_PAGE};
use wxlink::store::{
    BackendKind, Direction, HistoryQuery, LoginRecord, MessageStatus, NewMessage, Secret,
    SessionRecord, SqliteStore, Store, StoredMessage,
};
use wxlink::timefmt::{iso, parse_time};

const BASE_MS: i64 = 1_767_225_600_000; // 2026-01-01T00:00:00Z
const PEERS: [&str; 3] = ["alice@im.wechat", "bob@im.wechat", "r1@chatroom"];

const TEXTS: &[&str] = &[
    "hello ilink",
    "Hello World",
    "HELLO again",
    "下午开会",
    "明天下午三点开会吗",
    "几点开会",
    "Grüße aus Köln, STRASSE straße",
    "ΣΊΣΥΦΟΣ σίσυφος ς",
    "Kelvin \u{212A} sign and K k",
    "İstanbul ıi",
    "emoji 😀👍 ok",
    "quote \"double\" 'single' `back`",
    "a\0b with a NUL",
    "tab\tand\nnewline",
    "NEAR(a b) AND OR NOT * col:val ^start",
    "x",
    "ab",
    "  spaced  ",
    "%_ like wildcards \\ escape",
    "SELECT * FROM messages; -- drop",
    "report.pdf",
    "ﬁ ligature and Æ æ",
    "ＡＢＣ fullwidth ａｂｃ",
    "Ǆ ǅ ǆ titlecase",
];

fn runtime() -> &'static tokio::runtime::Runtime {
    static RT: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap()
    })
}

struct Fixture {
    store: SqliteStore,
    sessions: Vec<SessionRecord>,
    /// Every stored message, by id.
    all: Vec<StoredMessage>,
}

fn message(i: usize, session: &str, direction: Direction, text: Option<&str>) -> NewMessage {
    let kind = if text.is_some() {
        ["text", "text", "file"][i % 3]
    } else {
        ["image", "voice", "video"][i % 3]
    };
    let created_at_ms = match i {
        0 => -90_000_000,
        1 => -1,
        2 => 1_000,
        3 => 4_102_444_800_000,
        _ => BASE_MS + i as i64 * 7 * 3_600_000 + i as i64 * 1234,
    };
    NewMessage {
        session: session.into(),
        direction,
        upstream_id: Some(format!("u{i}")),
        dedupe_key: format!("k{i}"),
        peer: PEERS[i % PEERS.len()].into(),
        bot_id: None,
        kind: kind.into(),
        text: text.map(str::to_string),
        items: json!([{"type": kind, "text": text}]).into(),
        raw: None,
        context_token: None,
        created_at_ms,
        client_id: None,
        status: match direction {
            Direction::In => MessageStatus::Received,
            Direction::Out => MessageStatus::Sent,
        },
        error: None,
        speaker: None,
    }
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        runtime().block_on(async {
            let store = SqliteStore::open_in_memory().unwrap();
            for (name, backend, bot) in [
                ("work", BackendKind::Ilink, "b1@im.bot"),
                ("home", BackendKind::Wechaty, "wxid_bot"),
            ] {
                let login = LoginRecord {
                    backend,
                    bot_id: bot.into(),
                    user_id: None,
                    token: Secret::new("token".into()),
                    base_url: None,
                };
                store.save_login(name, &login).await.unwrap();
            }
            let texts = TEXTS.iter().map(|t| Some(*t)).chain([None, None, None]);
            let mut inbound: Vec<Vec<NewMessage>> = vec![Vec::new(), Vec::new()];
            for (i, text) in texts.enumerate() {
                let session = ["work", "home"][i % 2];
                let long;
                let text = if i == 5 {
                    long = "开会".repeat(150) + "END";
                    Some(long.as_str())
                } else {
                    text
                };
                if i % 4 == 3 {
                    store
                        .record_outbound(message(i, session, Direction::Out, text))
                        .await
                        .unwrap();
                } else {
                    inbound[i % 2].push(message(i, session, Direction::In, text));
                }
            }
            for (s, batch) in ["work", "home"].into_iter().zip(inbound) {
                store.ingest(s, batch, "cursor").await.unwrap();
            }
            let sessions = store.sessions().await.unwrap();
            let everything = HistoryQuery {
                limit: MAX_PAGE,
                ..Default::default()
            };
            let page = store.history(&everything).await.unwrap();
            assert_eq!(page.total as usize, page.messages.len());
            Fixture {
                store,
                sessions,
                all: page.messages,
            }
        })
    })
}

fn no_nul(s: &str) -> String {
    s.chars().filter(|&c| c != '\0').collect()
}

/// Whether `m` meets the non-text filters of `q`.
fn meets_filters(m: &NewMessage, q: &HistoryQuery) -> bool {
    q.user.as_ref().is_none_or(|u| &m.peer == u)
        && q.session.as_ref().is_none_or(|s| &m.session == s)
        && q.kind.as_ref().is_none_or(|k| &m.kind == k)
        && q.direction.is_none_or(|d| m.direction == d)
        && q.since_ms.is_none_or(|t| m.created_at_ms >= t)
        && q.until_ms.is_none_or(|t| m.created_at_ms <= t)
}

/// Whether `m`'s text matches the text filter, where that can be told without the FTS5 fold:
/// `Some(true)` for a verbatim substring, `Some(b)` when both are ASCII, else `None`.
fn text_verdict(m: &NewMessage, needle: Option<&str>) -> Option<bool> {
    let Some(needle) = needle.map(no_nul).filter(|n| !n.is_empty()) else {
        return Some(true);
    };
    let Some(text) = m.text.as_deref().map(no_nul) else {
        return Some(false);
    };
    if text.contains(&needle) {
        return Some(true);
    }
    if text.is_ascii() && needle.is_ascii() {
        return Some(
            text.to_ascii_lowercase()
                .contains(&needle.to_ascii_lowercase()),
        );
    }
    None
}

fn ids(ms: &[StoredMessage]) -> BTreeSet<i64> {
    ms.iter().map(|m| m.id).collect()
}

async fn run(q: &HistoryQuery) -> Vec<StoredMessage> {
    let f = fixture();
    let page = f
        .store
        .history(q)
        .await
        .unwrap_or_else(|e| panic!("the store refused a planned query {q:?}: {e}"));
    let total = page.total as usize;
    let n = page.messages.len();
    assert!(n <= q.limit as usize);
    let offset = q.offset as usize;
    assert_eq!(
        n,
        total.saturating_sub(offset).min(q.limit as usize),
        "{q:?}"
    );
    assert!(
        page.messages.windows(2).all(|w| w[0].id > w[1].id),
        "not newest first"
    );
    page.messages
}

fn check_times(text: &str) {
    let t = text.trim();
    let Ok(ms) = parse_time(t) else { return };
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        assert_eq!(Some(ms), t.parse::<i64>().ok());
    }
    // Years 0000 to 9999: what RFC 3339 can write (iso() writes "+10000-…" beyond).
    let printed = iso(ms);
    if (-62_167_219_200_000..=253_402_300_799_999).contains(&ms) {
        assert_eq!(parse_time(&printed), Ok(ms), "iso({ms}) = {printed:?}");
    }
    let b = t.as_bytes();
    let date_only = b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        });
    if date_only {
        for same in [format!("{t} 00:00"), format!("{t}T00:00:00")] {
            if let Ok(other) = parse_time(&same) {
                assert_eq!(other, ms, "{t:?} vs {same:?}");
            }
        }
        if let Ok(end) = parse_time(&format!("{t}T23:59:59.999")) {
            assert!(ms <= end, "since {t} > until {t}T23:59:59.999");
        }
    }
}

fn check(p: HistoryParams) {
    let f = fixture();
    check_times(&p.since);
    check_times(&p.until);
    let filter = HistoryFilter {
        user: p.user_id,
        bot_id: p.bot_id,
        session: p.session,
        kind: p.msg_type,
        direction: p.direction,
        since: p.since,
        until: p.until,
        text: p.text_contains,
        limit: p.limit,
        offset: p.offset,
        before_id: None,
    };
    let time_ok = |s: &str| s.trim().is_empty() || parse_time(s).is_ok();
    let valid = parse_kind(&filter.kind).is_ok()
        && parse_direction(&filter.direction).is_ok()
        && time_ok(&filter.since)
        && time_ok(&filter.until);
    let (q, note) = match plan(&filter, &f.sessions) {
        Ok(planned) => {
            assert!(valid, "plan accepted {filter:?}");
            planned
        }
        Err(_) => {
            assert!(!valid, "plan refused {filter:?}");
            return;
        }
    };
    let Some(q) = q else {
        assert!(note.is_some(), "no query and no word why");
        return;
    };
    assert_eq!(q.limit, filter.limit.clamp(1, MAX_PAGE));
    if let Some(t) = &q.text {
        assert_eq!(t, filter.text.trim());
    }

    runtime().block_on(async {
        run(&q).await;
        // The whole answer: every row meets the filters; every message that surely matches
        // is there.
        let whole = HistoryQuery {
            limit: MAX_PAGE,
            offset: 0,
            ..q.clone()
        };
        let found = run(&whole).await;
        let found_ids = ids(&found);
        for m in &found {
            assert!(meets_filters(&m.message, &q), "row {} breaks {q:?}", m.id);
            assert_ne!(
                text_verdict(&m.message, q.text.as_deref()),
                Some(false),
                "row {} ({:?}) does not hold {:?}",
                m.id,
                m.message.text,
                q.text
            );
        }
        let needle_chars = q
            .text
            .as_deref()
            .map_or(0, |t| no_nul(t.trim()).chars().count());
        for m in &f.all {
            let short_after_nul =
                needle_chars < 3 && m.message.text.as_deref().is_some_and(|t| t.contains('\0'));
            if meets_filters(&m.message, &q)
                && text_verdict(&m.message, q.text.as_deref()) == Some(true)
                && !short_after_nul
            {
                assert!(
                    found_ids.contains(&m.id),
                    "row {} ({:?}) holds {:?} but was not found by {q:?}",
                    m.id,
                    m.message.text,
                    q.text
                );
            }
        }

        // Every plan gives the same rows.
        if q.user.is_none() {
            for peer in PEERS {
                let by_user = HistoryQuery {
                    user: Some(peer.into()),
                    ..whole.clone()
                };
                let expected: BTreeSet<i64> = found
                    .iter()
                    .filter(|m| m.message.peer == peer)
                    .map(|m| m.id)
                    .collect();
                assert_eq!(ids(&run(&by_user).await), expected, "user {peer} of {q:?}");
            }
        }
        if q.since_ms.is_some() || q.until_ms.is_some() {
            let untimed = HistoryQuery {
                since_ms: None,
                until_ms: None,
                ..whole.clone()
            };
            let expected: BTreeSet<i64> = run(&untimed)
                .await
                .iter()
                .filter(|m| meets_filters(&m.message, &q))
                .map(|m| m.id)
                .collect();
            assert_eq!(found_ids, expected, "time range of {q:?}");
        }
    });
}

fuzz_target!(|data: &[u8]| {
    let params = match serde_json::from_slice::<Value>(data) {
        Ok(v @ Value::Object(_)) => match serde_json::from_value::<HistoryParams>(v) {
            Ok(p) => p,
            Err(_) => return,
        },
        _ => {
            let text = String::from_utf8_lossy(data);
            let mut lines = text.split('\n').map(str::to_string);
            let mut next = || lines.next().unwrap_or_default();
            let (text, since, until, user, kind, direction) =
                (next(), next(), next(), next(), next(), next());
            serde_json::from_value(json!({
                "text_contains": text, "since": since, "until": until, "user_id": user,
                "msg_type": kind, "direction": direction, "limit": 7,
            }))
            .unwrap()
        }
    };
    check(params);
});
