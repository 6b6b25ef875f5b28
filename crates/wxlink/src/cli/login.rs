//! `wxlink login [NAME] [--force]`: the QR drawn in the terminal with its URL, a spinner while
//! waiting, every status of the protocol handled (redirect, verify-code prompt, expiry with a
//! new QR), up to a time limit. A re-login of an expired session keeps its name and history.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::Args;
use ilink::{LoginEvent, LoginFlow, LoginOptions, QrCode, QrRenewal};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Output;
use crate::app::App;
use crate::error::{AppError, AppResult};
use crate::login;
use crate::store::SessionStatus;

/// Options of `wxlink login`.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Session name (default: the default session, or "default").
    pub name: Option<String>,
    /// Log in again even if the session is connected.
    #[arg(short, long)]
    pub force: bool,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 480)]
    pub timeout: u64,
    /// Log in through a Wechaty Puppet Service instead of iLink (contacts and group chats).
    #[arg(long, requires_all = ["endpoint", "token"])]
    pub wechaty: bool,
    /// The puppet service: HOST:PORT (plaintext) or https://HOST:PORT (TLS; a private CA in
    /// WXLINK_WECHATY_CA).
    #[arg(long, env = "WXLINK_WECHATY_ENDPOINT", requires = "wechaty")]
    pub endpoint: Option<String>,
    /// The puppet service's token (sent as `authorization: Wechaty <token>`).
    #[arg(
        long,
        env = "WXLINK_WECHATY_TOKEN",
        hide_env_values = true,
        requires = "wechaty"
    )]
    pub token: Option<String>,
}

/// Runs the command.
pub async fn run(app: &App, args: LoginArgs, out: &Output) -> AppResult<()> {
    let name = match (args.name, &args.endpoint) {
        (Some(n), _) => n,
        (None, Some(endpoint)) if args.wechaty => login::default_wechaty_name(app, endpoint)?,
        (None, _) => login::default_ilink_name(app)?,
    };
    if let Some(existing) = app.store().session(&name)? {
        let wanted = if args.wechaty { "wechaty" } else { "ilink" };
        if existing.backend != wanted {
            return Err(AppError::Invalid(format!(
                "session {name:?} is a {} session; log the {wanted} account in under another name",
                existing.backend
            )));
        }
        if existing.status == SessionStatus::Connected && !args.force {
            if out.json {
                out.print_json(
                    &json!({"success": true, "session": name, "bot_id": existing.bot_id,
                    "user_id": existing.user_id, "already_logged_in": true}),
                );
            } else {
                out.line(&format!(
                    "Session {name:?} is already logged in (bot {}). Use --force to log in again.",
                    existing.bot_id.as_deref().unwrap_or("?")
                ));
            }
            return Ok(());
        }
    }
    if let (true, Some(endpoint), Some(token)) = (args.wechaty, &args.endpoint, &args.token) {
        return run_wechaty(app, &name, endpoint, token, args.timeout, out).await;
    }
    let options = LoginOptions {
        local_tokens: login::local_tokens(app)?,
        deadline: Duration::from_secs(args.timeout),
        ..LoginOptions::default()
    };
    let mut flow = LoginFlow::start(app.ilink()?, options).await?;
    show_qr(flow.qr(), out, None);
    let spinner = spinner(out, "Waiting for the QR code to be scanned…");
    let result = loop {
        let event = match flow.poll().await {
            Ok(e) => e,
            Err(e) => break Err(AppError::Login(e.to_string())),
        };
        match event {
            LoginEvent::Waiting => {}
            LoginEvent::Scanned => spinner.set_message("Scanned. Confirm the login on your phone…"),
            LoginEvent::Redirected(url) => {
                tracing::info!(%url, "login continues at another data centre")
            }
            LoginEvent::NewQr(qr, why) => {
                spinner.suspend(|| show_qr(&qr, out, Some(why)));
                spinner.set_message("Waiting for the new QR code to be scanned…");
            }
            LoginEvent::NeedVerifyCode { wrong_code } => {
                // Reading stdin blocks: do it off the (single-threaded) runtime.
                let pb = spinner.clone();
                let code =
                    tokio::task::spawn_blocking(move || pb.suspend(|| prompt_code(wrong_code)))
                        .await
                        .unwrap_or(None);
                match code {
                    Some(c) => flow.submit_verify_code(&c),
                    None => {
                        break Err(AppError::Login(
                            "the phone shows a verification code, but no terminal is attached to type it in".into(),
                        ))
                    }
                }
            }
            LoginEvent::AlreadyBound => break Ok(None),
            LoginEvent::Confirmed(creds) => break Ok(Some(creds)),
        }
    };
    spinner.finish_and_clear();
    match result? {
        Some(creds) => {
            let record = login::save(app, &name, &creds)?;
            if out.json {
                out.print_json(&json!({"success": true, "session": record.name,
                    "bot_id": record.bot_id, "user_id": record.user_id}));
            } else {
                out.line(&format!(
                    "Logged in: session {:?}, bot {}, account {}.",
                    record.name,
                    record.bot_id.as_deref().unwrap_or("?"),
                    record.user_id.as_deref().unwrap_or("?")
                ));
            }
            Ok(())
        }
        None => {
            if out.json {
                out.print_json(&json!({"success": true, "session": name, "already_bound": true}));
            } else {
                out.line("This WeChat account is already bound to a session here; its credentials are unchanged.");
            }
            Ok(())
        }
    }
}

/// `wxlink login --wechaty`: the puppet service's QR codes drawn as they come, until the
/// account is logged in.
async fn run_wechaty(
    app: &App,
    name: &str,
    endpoint: &str,
    token: &str,
    timeout: u64,
    out: &Output,
) -> AppResult<()> {
    let spinner = spinner(out, "Connecting to the Wechaty Puppet Service…");
    let shown = spinner.clone();
    let record = login::login_wechaty(
        app,
        name,
        endpoint,
        token,
        Duration::from_secs(timeout),
        |progress| match progress {
            login::WechatyLoginProgress::Qr(content) => {
                shown.suspend(|| draw_qr(&content, out));
                shown.set_message("Waiting for the QR code to be scanned…");
            }
            login::WechatyLoginProgress::Scanned => {
                shown.set_message("Scanned. Confirm the login on your phone…")
            }
        },
    )
    .await;
    spinner.finish_and_clear();
    let record = record?;
    if out.json {
        out.print_json(
            &json!({"success": true, "session": record.name, "backend": "wechaty",
            "bot_id": record.bot_id, "endpoint": endpoint}),
        );
    } else {
        out.line(&format!(
            "Logged in: session {:?}, Wechaty account {} at {endpoint}.",
            record.name,
            record.bot_id.as_deref().unwrap_or("?"),
        ));
    }
    Ok(())
}

/// Draws a QR code's content on stderr (the picture unless `--json`, and the text).
fn draw_qr(content: &str, out: &Output) {
    let mut err = std::io::stderr().lock();
    if !out.json {
        if let Ok(code) = qrcode::QrCode::new(content.as_bytes()) {
            let art = code
                .render::<qrcode::render::unicode::Dense1x2>()
                .quiet_zone(true)
                .build();
            let _ = writeln!(err, "\n{art}");
        }
    }
    let _ = writeln!(
        err,
        "Scan with WeChat, or open this link on the phone:\n  {content}\n"
    );
}

/// Draws the QR on stderr (stdout stays clean for `--json`) with its URL.
fn show_qr(qr: &QrCode, out: &Output, renewed: Option<QrRenewal>) {
    let mut err = std::io::stderr().lock();
    match renewed {
        Some(QrRenewal::Expired) => {
            let _ = writeln!(err, "\nThe QR code expired; here is a new one.");
        }
        Some(QrRenewal::VerifyCodeBlocked) => {
            let _ = writeln!(err, "\nToo many wrong codes; here is a new QR code.");
        }
        None => {}
    }
    drop(err);
    draw_qr(&qr.content, out);
}

fn spinner(out: &Output, msg: &str) -> ProgressBar {
    if !out.interactive() {
        return ProgressBar::hidden();
    }
    let pb = ProgressBar::new_spinner();
    pb.set_style(
        ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    pb.set_message(msg.to_string());
    pb.enable_steady_tick(Duration::from_millis(120));
    pb
}

/// Asks for the number the phone shows; `None` when stdin is closed.
fn prompt_code(wrong: bool) -> Option<String> {
    let mut err = std::io::stderr();
    if wrong {
        let _ = write!(err, "That code was not accepted. ");
    }
    let _ = write!(err, "Enter the number shown on your phone: ");
    let _ = err.flush();
    let mut line = String::new();
    match std::io::stdin().lock().read_line(&mut line) {
        Ok(0) | Err(_) => None,
        Ok(_) => Some(line.trim().to_string()).filter(|c| !c.is_empty()),
    }
}
