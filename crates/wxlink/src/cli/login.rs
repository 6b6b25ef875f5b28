//! `wxlink login [NAME] [--force] [--wechaty --endpoint E --token T]`: follows the service's
//! login ([`Service::login`]) in the terminal — each QR code drawn with its link, a spinner while
//! waiting, a prompt for the verification code — up to a time limit. A re-login of an expired
//! session keeps its name and history.

use std::io::{BufRead, Write};
use std::time::Duration;

use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::Output;
use crate::error::{AppError, AppResult};
use crate::model::{BackendKind, Secret};
use crate::service::login::{LoginPhase, LoginRequest, LoginStart, PendingLogin};
use crate::service::Service;
use crate::upstream::QrRenewal;

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
    pub token: Option<Secret<String>>,
}

/// Runs the command.
pub async fn run(service: &Service, args: LoginArgs, out: &Output) -> AppResult<()> {
    let req = LoginRequest {
        backend: args.wechaty.then_some(BackendKind::Wechaty),
        session: args.name,
        force: args.force,
        endpoint: args.endpoint,
        token: args.token,
        deadline: Some(Duration::from_secs(args.timeout)),
    };
    let pending = match service.login(req).await? {
        LoginStart::AlreadyLoggedIn(existing) => {
            if out.json {
                out.print_json(&json!({"success": true, "session": existing.name,
                    "backend": existing.backend.as_str(), "bot_id": existing.bot_id,
                    "user_id": existing.user_id, "already_logged_in": true}));
            } else {
                out.line(&format!(
                    "Session {:?} is already logged in (bot {}). Use --force to log in again.",
                    existing.name,
                    existing.bot_id.as_deref().unwrap_or("?")
                ));
            }
            return Ok(());
        }
        LoginStart::Started(p) | LoginStart::Joined { pending: p, .. } => p,
    };
    let spinner = spinner(out, "Connecting…");
    let outcome = follow(&pending, &spinner, out).await;
    spinner.finish_and_clear();
    match outcome? {
        LoginPhase::Confirmed(record) => {
            if out.json {
                let mut v = json!({"success": true, "session": record.name,
                    "backend": record.backend.as_str(), "bot_id": record.bot_id,
                    "user_id": record.user_id});
                if let Some(endpoint) = &pending.endpoint {
                    v["endpoint"] = json!(endpoint);
                }
                out.print_json(&v);
            } else {
                let account = match &pending.endpoint {
                    Some(endpoint) => format!(
                        "Wechaty account {} at {endpoint}",
                        record.bot_id.as_deref().unwrap_or("?")
                    ),
                    None => format!(
                        "bot {}, account {}",
                        record.bot_id.as_deref().unwrap_or("?"),
                        record.user_id.as_deref().unwrap_or("?")
                    ),
                };
                out.line(&format!("Logged in: session {:?}, {account}.", record.name));
            }
            Ok(())
        }
        _ => {
            if out.json {
                out.print_json(
                    &json!({"success": true, "session": pending.session, "already_bound": true}),
                );
            } else {
                out.line("This WeChat account is already bound to a session here; its credentials are unchanged.");
            }
            Ok(())
        }
    }
}

/// Shows the login as it goes — each QR code once, the scan, a prompt for the verification
/// code — until it ends; the final phase (confirmed or already bound), or the failure.
async fn follow(
    pending: &PendingLogin,
    spinner: &ProgressBar,
    out: &Output,
) -> AppResult<LoginPhase> {
    let mut state = pending.watch();
    loop {
        let now = state.borrow_and_update().clone();
        if let Some(qr) = &now.qr {
            if pending.mark_shown(qr.generation) {
                spinner.suspend(|| show_qr(&qr.content, out, qr.renewal));
                spinner.set_message("Waiting for the QR code to be scanned…");
            }
        }
        match &now.phase {
            LoginPhase::Starting | LoginPhase::WaitingForScan => {}
            LoginPhase::Scanned => spinner.set_message("Scanned. Confirm the login on your phone…"),
            LoginPhase::NeedVerifyCode { wrong } => {
                // Reading stdin blocks: do it off the (single-threaded) runtime.
                let (pb, wrong) = (spinner.clone(), *wrong);
                let code = tokio::task::spawn_blocking(move || pb.suspend(|| prompt_code(wrong)))
                    .await
                    .unwrap_or(None);
                match code {
                    Some(c) => pending.submit_code(&c),
                    None => {
                        return Err(AppError::Login(
                            "the phone shows a verification code, but no terminal is attached to type it in".into(),
                        ))
                    }
                }
            }
            LoginPhase::Failed(why) => return Err(AppError::Login(why.clone())),
            done @ (LoginPhase::Confirmed(_) | LoginPhase::AlreadyBound) => return Ok(done.clone()),
        }
        if state.changed().await.is_err() {
            // The login task ended: its last state is final.
            let last = state.borrow().phase.clone();
            return match last {
                LoginPhase::Failed(why) => Err(AppError::Login(why)),
                done if done.is_final() => Ok(done),
                _ => Err(AppError::Login("the login ended".into())),
            };
        }
    }
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

/// Draws a QR code on stderr (stdout stays clean for `--json`), saying why it replaced the
/// last one.
fn show_qr(content: &str, out: &Output, renewed: Option<QrRenewal>) {
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
    draw_qr(content, out);
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
