//! `wxlink sandbox`: runs the fake iLink server (crate `ilink-fake`) in the foreground so a
//! person can try wxlink — and a test in any language can drive a real client — without a
//! WeChat account.

use std::io::Write;
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
        .map_err(|e| AppError::System(format!("cannot listen on {addr}: {e}")))?;
    let base = fake.base_url();
    let banner = if out.json {
        serde_json::json!({"base_url": base.as_str(), "cdn_url": fake.cdn_url().as_str(),
            "control_url": format!("{base}__fake/")})
        .to_string()
    } else {
        format!(
            "wxlink sandbox: a fake WeChat iLink server is listening.\n\n\
             \x20 API and QR base  {base}\n\
             \x20 media CDN        {cdn}\n\
             \x20 control API      {base}__fake/\n\n\
             Try it:\n\
             \x20 curl -s -X POST {base}__fake/bots            # a logged-in bot and its token\n\
             \x20 curl -s -X POST {base}__fake/inbound -H 'content-type: application/json' -d '{{\"text\":\"你好\"}}'\n\
             \x20 curl -s {base}__fake/sent                    # what clients sent\n\n\
             QR logins wait until their link is opened in a browser (the fake phone's scan).\n\
             Press Ctrl-C to stop.",
            cdn = fake.cdn_url()
        )
    };
    // The server keeps serving even if whoever started it stopped reading its output.
    let mut stdout = std::io::stdout().lock();
    let _ = writeln!(stdout, "{banner}").and_then(|()| stdout.flush());
    drop(stdout);
    super::signal::shutdown_signal().await;
    eprintln!("wxlink sandbox: stopped");
    Ok(())
}
