//! Contact lookup by nickname over 5,000 contacts, against the project's Wechaty test peer (a
//! real `wechaty-puppet-service` over loopback gRPC): **cold** — the first lookup of a freshly
//! connected client, which lists every contact id and fetches every payload — and **cached** —
//! later lookups served from the dirty-aware cache. Prints p50/p99 of each.
//!
//! `cargo bench -p wechaty --bench lookup [-- CONTACTS]` (needs `npm ci --prefix tests/wechaty-peer`)

use std::time::{Duration, Instant};

use serde_json::json;
use wechaty::{Client, Config, ContactField, MatchMode, PuppetEvent};
use wechaty_peer::Peer;

const COLD_RUNS: usize = 7;
const CACHED_RUNS: usize = 500;

fn main() {
    let contacts: u64 = std::env::args()
        .skip(1)
        .find(|a| !a.starts_with('-'))
        .and_then(|a| a.parse().ok())
        .unwrap_or(5_000);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async move {
        let peer = Peer::start();
        let seeded = peer
            .post("/contacts/synthetic", json!({"count": contacts}))
            .await;
        let total = seeded["total"].as_u64().unwrap_or(0);
        println!("lookup: {total} contacts on the peer");
        let target = format!("联系人{}", total / 2);

        let mut cold = Vec::new();
        let mut last = None;
        for _ in 0..COLD_RUNS {
            // A new client: empty cache, as on the first call after start-up.
            drop(last.take());
            let (client, events) = ready_client(&peer).await;
            let t = Instant::now();
            let found = client
                .find_contacts(&target, ContactField::NameOrAlias, MatchMode::Exact)
                .await
                .expect("lookup");
            cold.push(t.elapsed());
            assert_eq!(found.len(), 1, "exactly one {target}");
            last = Some((client, events));
        }
        let Some((client, _events)) = last else {
            return;
        };
        let mut cached = Vec::new();
        for i in 0..CACHED_RUNS {
            let name = format!("联系人{}", (i as u64 * 7919) % total.max(1));
            let t = Instant::now();
            let found = client
                .find_contacts(&name, ContactField::NameOrAlias, MatchMode::Exact)
                .await
                .expect("lookup");
            cached.push(t.elapsed());
            assert!(found.len() <= 1);
        }
        report("cold (first lookup, fresh client)", &mut cold);
        report("cached", &mut cached);
    });
}

async fn ready_client(peer: &Peer) -> (Client, wechaty::EventStream) {
    let config = Config::new(peer.endpoint(), peer.token.clone());
    let client = Client::connect(config).await.expect("connect");
    let mut events = client.events().expect("events");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(PuppetEvent::Ready)) => break,
            Ok(Some(_)) => {}
            Ok(None) | Err(_) => panic!("the peer never said ready"),
        }
    }
    (client, events)
}

fn report(what: &str, samples: &mut [Duration]) {
    samples.sort();
    let pct = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    println!(
        "lookup {what}: p50 {:.3} ms, p99 {:.3} ms over {} runs",
        pct(0.5),
        pct(0.99),
        samples.len()
    );
}
