//! Ingest throughput: messages per second from the fake iLink server, over loopback HTTP, into
//! the SQLite store (one transaction per batch, FTS index included).
//!
//! `cargo bench -p wxlink --bench ingest [-- COUNT]` — COUNT messages (100,000 by default) per
//! round, each round with a fresh fake and store; `INGEST_BENCH_ROUNDS` rounds (3 by default).
//! Prints each round's rate and min / median / max: this 2-core VM's rate moves by a third from
//! one hour to the next.

use std::time::{Duration, Instant};

use ilink_fake::{FakeIlink, InboundSpec};
use wxlink::model::BackendKind;
use wxlink::service::pollers::Pollers;
use wxlink::service::{Event, Service, ServiceOptions};
use wxlink::store::{Direction, HistoryQuery, LoginRecord};
use wxlink::upstream::UpstreamOptions;

fn main() {
    let count: usize = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000);
    let rounds: usize = std::env::var("INGEST_BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(3);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let mut rates = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let (inject_secs, secs) = rt.block_on(one_round(count));
        let rate = count as f64 / secs;
        println!(
            "ingest round {round}: {count} messages (fake prepared them in {inject_secs:.1} s), \
             {secs:.2} s from the fake into the store = {rate:.0} messages/s"
        );
        rates.push(rate);
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "ingest: min {:.0}  median {:.0}  max {:.0} messages/s ({rounds} rounds of {count})",
        rates[0],
        rates[rates.len() / 2],
        rates[rates.len() - 1]
    );
}

/// One round: `count` messages injected into a fresh fake, then polled into a fresh store.
/// Returns the seconds the injection took and the seconds from starting the poller until
/// every message was stored.
async fn one_round(count: usize) -> (f64, f64) {
    let fake = FakeIlink::start().await.expect("fake");
    fake.configure(|c| {
        c.hold_ms = 200;
        c.batch_max = 1000;
        c.record_requests = false;
    });
    let bot = fake.create_bot(None);
    let words = [
        "我们",
        "明天",
        "下午",
        "开会",
        "讨论",
        "预算",
        "quarterly",
        "budget",
        "review",
        "ship",
        "the",
        "release",
    ];
    let t = Instant::now();
    for i in 0..count {
        let text = format!(
            "{} {} {} #{i}",
            words[i % 12],
            words[(i / 12) % 12],
            words[(i / 144) % 12]
        );
        fake.inject(&InboundSpec::text(text)).expect("inject");
    }
    let inject_secs = t.elapsed().as_secs_f64();
    let dir = tempfile::tempdir().expect("tempdir");
    let app = Service::open(ServiceOptions {
        data_dir: Some(dir.path().to_path_buf()),
        upstream: UpstreamOptions {
            ilink_base: Some(fake.base_url()),
            cdn_base: Some(fake.cdn_url()),
            ..Default::default()
        },
        ..Default::default()
    })
    .expect("service");
    app.store()
        .save_login(
            "bench",
            &LoginRecord {
                backend: BackendKind::Ilink,
                bot_id: bot.bot_id.clone(),
                user_id: Some(bot.user_id.clone()),
                token: bot.token.clone().into(),
                base_url: Some(fake.base_url().to_string()),
            },
        )
        .await
        .expect("login");
    // Count what the poller reports stored (its events), not by querying the store: a
    // COUNT over a growing table every few milliseconds would compete with the ingest.
    let mut events = app.subscribe();
    let start = Instant::now();
    let pollers = Pollers::start(app.clone());
    let mut stored = 0usize;
    while stored < count {
        match tokio::time::timeout(Duration::from_secs(60), events.recv()).await {
            Ok(Ok(Event::Inbound { ids, .. })) => stored += ids.len(),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => panic!("event bus: {e}"),
            Err(_) => panic!("ingest stalled at {stored} of {count}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    pollers.shutdown().await;
    let total = app
        .store()
        .history(&HistoryQuery {
            direction: Some(Direction::In),
            limit: 1,
            ..Default::default()
        })
        .await
        .expect("history")
        .total;
    assert_eq!(total as usize, count, "the store holds every message once");
    (inject_secs, secs)
}
