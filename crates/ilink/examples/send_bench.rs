//! `sendmessage` throughput and latency of this crate against a running fake iLink server
//! (`wxlink sandbox`). Used by `bench/send.sh`, which runs WeiLink's SDK on the same fake in
//! the same run and prints the ratio.
//!
//! ```text
//! cargo run --release -p ilink --example send_bench -- http://127.0.0.1:PORT/ [COUNT] [CONCURRENCY]
//! ```
//! Prints one JSON object: sequential sends (latency p50/p99, sends/s) and concurrent sends
//! (sends/s with CONCURRENCY requests in flight over the one keep-alive pool). It runs on a
//! current-thread runtime, as a single-account sender naturally does; on the multi-thread
//! runtime the sequential figure is lower (cross-thread wake-ups per request).

use std::time::{Duration, Instant};

use ilink::{Client, Config, Credentials};
use serde_json::{json, Value};
use url::Url;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base: Url = args
        .next()
        .ok_or("usage: send_bench BASE_URL [COUNT] [CONCURRENCY]")?
        .parse()?;
    let count: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(5000);
    let concurrency: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);

    // Set the fake up through its control API: no quota, no request log, a fresh bot.
    let control = reqwest::Client::new();
    let post = |path: &str, body: Value| {
        let url = base.join(path).expect("control URL");
        control
            .post(url)
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
    };
    post(
        "__fake/config",
        json!({"quota_per_token": u32::MAX, "record_requests": false, "hold_ms": 100}),
    )
    .await?
    .error_for_status()?;
    let bot: Value = serde_json::from_slice(&post("__fake/bots", json!({})).await?.bytes().await?)?;
    let field = |k: &str| {
        bot[k]
            .as_str()
            .map(str::to_string)
            .ok_or(format!("bot without {k}"))
    };
    let (token, bot_id, user) = (field("token")?, field("bot_id")?, field("user_id")?);
    post("__fake/inbound", json!({"bot_id": bot_id, "text": "start"}))
        .await?
        .error_for_status()?;

    let client = Client::new(Config::for_base(&base))?;
    let bot = client.bot(Credentials {
        token,
        bot_id,
        user_id: Some(user.clone()),
        base_url: Some(base.clone()),
    });
    let updates = bot.get_updates("", None).await?;
    let ctx = updates
        .messages
        .first()
        .and_then(|r| r.message.as_ref().ok())
        .and_then(|m| m.context_token.clone())
        .ok_or("no inbound message")?;

    for i in 0..200 {
        bot.send_text(&user, &format!("warm-up {i}"), Some(&ctx))
            .await?;
    }

    let mut latencies = Vec::with_capacity(count);
    let start = Instant::now();
    for i in 0..count {
        let t = Instant::now();
        bot.send_text(&user, &format!("bench {i}"), Some(&ctx))
            .await?;
        latencies.push(t.elapsed());
    }
    let seq_secs = start.elapsed().as_secs_f64();
    latencies.sort();
    let pct = |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)];
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;

    let start = Instant::now();
    let per_task = count / concurrency;
    let mut tasks = Vec::new();
    for t in 0..concurrency {
        let (bot, user, ctx) = (bot.clone(), user.clone(), ctx.clone());
        tasks.push(tokio::spawn(async move {
            for i in 0..per_task {
                bot.send_text(&user, &format!("c{t}-{i}"), Some(&ctx))
                    .await?;
            }
            Ok::<_, ilink::Error>(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let conc_secs = start.elapsed().as_secs_f64();
    let conc_count = per_task * concurrency;

    println!(
        "{}",
        json!({
            "client": "wxlink ilink",
            "sequential": {"count": count, "secs": seq_secs, "per_sec": count as f64 / seq_secs,
                "p50_ms": ms(pct(0.50)), "p99_ms": ms(pct(0.99))},
            "concurrent": {"count": conc_count, "concurrency": concurrency, "secs": conc_secs,
                "per_sec": conc_count as f64 / conc_secs},
        })
    );
    Ok(())
}
