//! What the engine tests share: a fake iLink server and a service on a temporary data
//! directory, sessions logged in to the fake, and waiting for messages.
#![allow(dead_code)]

pub mod http;
pub mod rest;
pub mod stdio;

use std::sync::Arc;
use std::time::Duration;

use ilink::BackoffPolicy;
use ilink_fake::{BotAccount, FakeIlink, InboundSpec};
use wxlink::model::BackendKind;
use wxlink::service::pollers::Pollers;
use wxlink::service::{Event as AppEvent, Service as App, ServiceOptions};
use wxlink::store::{Direction, HistoryQuery, LoginRecord};
use wxlink::upstream::UpstreamOptions;

pub struct Env {
    pub fake: Arc<FakeIlink>,
    pub app: Arc<App>,
    pub dir: tempfile::TempDir,
}

pub async fn env() -> Env {
    let fake = Arc::new(FakeIlink::start().await.unwrap());
    fake.configure(|c| c.hold_ms = 300);
    let dir = tempfile::tempdir().unwrap();
    let app = open_app(&fake, dir.path());
    Env { fake, app, dir }
}

pub fn open_app(fake: &FakeIlink, dir: &std::path::Path) -> Arc<App> {
    open_app_with(fake, dir, |_| {})
}

/// [`open_app`] with options changed by `change`.
pub fn open_app_with(
    fake: &FakeIlink,
    dir: &std::path::Path,
    change: impl FnOnce(&mut ServiceOptions),
) -> Arc<App> {
    let mut options = ServiceOptions {
        data_dir: Some(dir.to_path_buf()),
        upstream: UpstreamOptions {
            ilink_base: Some(fake.base_url()),
            cdn_base: Some(fake.cdn_url()),
            backoff: Some(BackoffPolicy {
                short: Duration::from_millis(50),
                long: Duration::from_millis(200),
                failures_before_long: 3,
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    change(&mut options);
    App::open(options).unwrap()
}

/// A bot of the fake, saved as session `name` as a confirmed QR login saves it.
pub async fn login_bot(env: &Env, name: &str, user: &str) -> BotAccount {
    let bot = env.fake.create_bot(Some(user));
    env.app
        .store()
        .save_login(
            name,
            &LoginRecord {
                backend: BackendKind::Ilink,
                bot_id: bot.bot_id.clone(),
                user_id: Some(bot.user_id.clone()),
                token: bot.token.clone().into(),
                base_url: Some(env.fake.base_url().to_string()),
            },
        )
        .await
        .unwrap();
    env.app.emit(AppEvent::SessionsChanged);
    bot
}

/// Receives until `n` messages arrived (or panics after 10 s).
pub async fn recv_n(app: &App, consumer: &str, n: usize) -> Vec<wxlink::store::StoredMessage> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while got.len() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {n} messages arrived",
            got.len()
        );
        got.extend(app.recv(consumer, Duration::from_secs(2)).await.unwrap());
    }
    got
}

/// The stored inbound messages (up to 200), newest first, with their total.
pub async fn stored_inbound(app: &App) -> wxlink::store::HistoryPage {
    app.store()
        .history(&HistoryQuery {
            direction: Some(Direction::In),
            limit: 200,
            ..Default::default()
        })
        .await
        .unwrap()
}

pub fn inject(fake: &FakeIlink, bot: &BotAccount, spec: InboundSpec) -> serde_json::Value {
    fake.inject(&spec.to_bot(bot.bot_id.clone())).unwrap()
}

/// The user of `bot` after their first message `text` arrived (so that replies can go out).
pub async fn first_message(env: &Env, bot: &BotAccount, text: &str) -> String {
    let pollers = Pollers::start(env.app.clone());
    inject(&env.fake, bot, InboundSpec::text(text));
    let got = recv_n(&env.app, "default", 1).await;
    pollers.shutdown().await;
    got[0].message.peer.clone()
}

/// A service on `dir` for Wechaty sessions only: iLink points at a closed port, so any mistake
/// that reaches it fails fast.
pub fn wechaty_app(dir: &std::path::Path) -> Arc<App> {
    App::open(ServiceOptions {
        data_dir: Some(dir.to_path_buf()),
        upstream: UpstreamOptions {
            ilink_base: Some("http://127.0.0.1:9/".parse().unwrap()),
            ..Default::default()
        },
        ..Default::default()
    })
    .unwrap()
}
