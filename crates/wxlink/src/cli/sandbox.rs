//! `wxlink sandbox`: runs the fake iLink server (crate `ilink-fake`) in the foreground so a
//! person can try wxlink — and a test in any language can drive a real client — without a
//! WeChat account.

use std::net::{IpAddr, SocketAddr};

use clap::Args;
use ilink_fake::{FakeConfig, FakeIlink};

use super::Output;
use crate::error::{AppError, AppResult};

/// Options of `wxlink sandbox`.
#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// Address to listen on. The sandbox has no authentication: keep it on loopback.
    #[arg(long, default_value = "127.0.0.1")]
    pub host: IpAddr,
    /// Port to listen on (0 picks a free one).
    #[arg(short, long, default_value_t = 8765)]
    pub port: u16,
    /// How long `getupdates` holds when nothing is queued, in milliseconds.
    #[arg(long, default_value_t = 25_000)]
    pub hold_ms: u64,
    /// Confirm QR logins by themselves instead of waiting for the QR link to be opened.
    #[arg(long)]
    pub auto_confirm: bool,
}

/// Runs the sandbox until Ctrl-C or SIGTERM.
pub async fn run(args: &SandboxArgs, out: &Output) -> AppResult<()> {
    let config = FakeConfig {
        hold_ms: args.hold_ms,
        qr_auto_confirm: args.auto_confirm,
        ..FakeConfig::default()
    };
    let addr = SocketAddr::new(args.host, args.port);
    let fake = FakeIlink::start_with(config, addr)
        .await
        .map_err(|e| AppError::Invalid(format!("cannot listen on {addr}: {e}")))?;
    let base = fake.base_url();
    if out.json {
        println!(
            "{}",
            serde_json::json!({"base_url": base.as_str(), "cdn_url": fake.cdn_url().as_str(),
                "control_url": format!("{base}__fake/")})
        );
    } else {
        println!("wxlink sandbox: a fake WeChat iLink server is listening.\n");
        println!("  API and QR base  {base}");
        println!("  media CDN        {}", fake.cdn_url());
        println!("  control API      {base}__fake/\n");
        println!("Try it:");
        println!("  curl -s -X POST {base}__fake/bots            # a logged-in bot and its token");
        println!(
            "  curl -s -X POST {base}__fake/inbound -H 'content-type: application/json' -d '{{\"text\":\"你好\"}}'"
        );
        println!("  curl -s {base}__fake/sent                    # what clients sent\n");
        println!("QR logins wait until their link is opened in a browser (the fake phone's scan).");
        println!("Press Ctrl-C to stop.");
    }
    super::shutdown_signal().await;
    eprintln!("wxlink sandbox: stopped");
    Ok(())
}
