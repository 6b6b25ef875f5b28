//! Test helpers over the shared peer launcher (`wechaty-peer`): the client configuration for
//! tests and waiting for events.

#![allow(dead_code)]

use std::time::Duration;

use wechaty::{Backoff, Config, EventStream, PuppetEvent};
#[allow(unused_imports)]
pub use wechaty_peer::{peer_dir, Peer};

/// Plaintext configuration with a fast reconnect policy for tests.
pub fn config(peer: &Peer) -> Config {
    let mut c = Config::new(peer.endpoint(), peer.token.clone());
    c.reconnect = Backoff {
        initial: Duration::from_millis(200),
        max: Duration::from_secs(2),
        multiplier: 2.0,
        max_attempts: None,
    };
    c.request_timeout = Duration::from_secs(20);
    c.idle_timeout = Some(Duration::from_secs(30));
    c
}

/// Waits (up to `secs`) for an event for which `pick` returns `Some`.
pub async fn wait_for<T>(
    events: &mut EventStream,
    secs: u64,
    mut pick: impl FnMut(&PuppetEvent) -> Option<T>,
) -> T {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    loop {
        let ev = tokio::time::timeout_at(deadline, events.recv())
            .await
            .unwrap_or_else(|_| panic!("no matching event within {secs} s; saw {seen:#?}"))
            .unwrap_or_else(|| panic!("event stream ended; saw {seen:#?}"));
        if let Some(v) = pick(&ev) {
            return v;
        }
        if !matches!(ev, PuppetEvent::Heartbeat { .. }) {
            seen.push(ev);
        }
    }
}

/// Opens the events and waits for `Ready` (login done, the cache live).
pub async fn logged_in(client: &wechaty::Client) -> EventStream {
    let mut events = client.events().expect("events");
    wait_for(&mut events, 30, |e| {
        matches!(e, PuppetEvent::Ready).then_some(())
    })
    .await;
    events
}
