//! The Wechaty listener: holds the puppet service's one event stream for a session (the stream
//! reconnects by itself), fetches and stores every message it announces, and marks the session
//! expired when the account logs out or the token is refused.

use std::time::Duration;

use super::normalize;
use crate::store::{Direction, SessionRecord};
use crate::timefmt::now_ms;
use crate::upstream::{Shutdown, Sink};

/// Listens for `session` until shutdown, logout, or the session is no longer wanted.
pub async fn run(
    session: &SessionRecord,
    client: &::wechaty::Client,
    sink: &dyn Sink,
    mut shutdown: Shutdown,
) {
    let name = session.name.as_str();
    let mut events = match client.events() {
        Ok(ev) => ev,
        Err(e) => {
            tracing::warn!(session = %name, error = %e, "cannot open the event stream");
            return;
        }
    };
    tracing::info!(session = %name, "listening to the Wechaty event stream");
    let mut self_id = session.bot_id.clone();
    // A logout, re-login or rename elsewhere must free the stream promptly even when no event
    // comes: check the session every second.
    let mut check = tokio::time::interval(Duration::from_secs(1));
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        let event = tokio::select! {
            biased;
            _ = shutdown.changed() => break,
            _ = check.tick() => {
                if sink.still_wanted().await {
                    continue;
                }
                break;
            }
            ev = events.recv() => ev,
        };
        let Some(event) = event else { break };
        match event {
            ::wechaty::PuppetEvent::Message { message_id } => {
                store_message(name, client, sink, self_id.as_deref(), &message_id).await;
            }
            ::wechaty::PuppetEvent::Login { contact_id } => self_id = Some(contact_id),
            ::wechaty::PuppetEvent::Logout { data, .. } => {
                tracing::warn!(session = %name, reason = ?data, "the Wechaty account logged out");
                sink.expired().await;
                break;
            }
            ::wechaty::PuppetEvent::Disconnected {
                error,
                reconnect_in: None,
            } => {
                tracing::warn!(session = %name, error = %error, "the Wechaty event stream gave up");
                if error.is_fatal() {
                    sink.expired().await;
                }
                break;
            }
            ::wechaty::PuppetEvent::Disconnected {
                error,
                reconnect_in,
            } => {
                tracing::info!(session = %name, error = %error, retry_in = ?reconnect_in, "Wechaty event stream lost; reconnecting");
            }
            _ => {}
        }
        if !sink.still_wanted().await {
            break;
        }
    }
    events.shutdown().await;
    tracing::info!(session = %name, "stopped listening");
}

/// Fetches one announced message and stores it (a failure is logged: the service does not
/// announce a message twice, so there is nothing to retry from).
async fn store_message(
    session: &str,
    client: &::wechaty::Client,
    sink: &dyn Sink,
    self_id: Option<&str>,
    message_id: &str,
) {
    let payload = match client.message(message_id).await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(session, message_id, error = %e, "cannot fetch the message");
            return;
        }
    };
    let row = normalize::message(session, self_id, &payload, now_ms());
    if row.direction == Direction::Out {
        tracing::debug!(
            session,
            message_id,
            "a message the bot's account sent elsewhere"
        );
    }
    if let Err(e) = sink.store(vec![row], None, String::new()).await {
        tracing::warn!(message_id, error = %e, "cannot store the message");
    }
}
