//! The Wechaty login as a [`LoginFlow`]: connect to the puppet service (a refused token fails
//! at once), then follow its one event stream — QR codes to show, the scan, and the login of an
//! account (at once when the service's account is already logged in).

use async_trait::async_trait;

use super::up;
use crate::model::{BackendKind, Secret};
use crate::store::LoginRecord;
use crate::upstream::{
    LoginEvent, LoginFlow, LoginParams, QrRenewal, UpResult, UpstreamError, UpstreamFailure,
};

/// A login through a Wechaty Puppet Service.
pub struct WechatyLogin {
    client: ::wechaty::Client,
    /// Opened on the first [`LoginFlow::next`], after the service layer had its say.
    events: Option<::wechaty::EventStream>,
    endpoint: String,
    token: Secret<String>,
    last_qr: Option<String>,
}

impl WechatyLogin {
    /// Connects to the service at `params.endpoint` with `params.token`.
    pub async fn connect(params: &LoginParams) -> UpResult<Self> {
        let (Some(endpoint), Some(token)) = (&params.endpoint, &params.token) else {
            return Err(UpstreamError::new(
                BackendKind::Wechaty,
                UpstreamFailure::Invalid,
                "a Wechaty login needs an endpoint (HOST:PORT, or https://HOST:PORT for TLS) \
                 and the service's token",
            ));
        };
        let config = super::config(endpoint, token).await?;
        let client = ::wechaty::Client::connect(config).await.map_err(up)?;
        Ok(WechatyLogin {
            client,
            events: None,
            endpoint: endpoint.clone(),
            token: token.clone(),
            last_qr: None,
        })
    }
}

#[async_trait]
impl LoginFlow for WechatyLogin {
    async fn next(&mut self) -> UpResult<LoginEvent> {
        if self.events.is_none() {
            self.events = Some(self.client.events().map_err(up)?);
        }
        let Some(events) = self.events.as_mut() else {
            return Ok(LoginEvent::Waiting);
        };
        loop {
            let Some(event) = events.recv().await else {
                return Err(UpstreamError::new(
                    BackendKind::Wechaty,
                    UpstreamFailure::Unavailable,
                    "the Wechaty event stream ended",
                ));
            };
            match event {
                ::wechaty::PuppetEvent::Login { contact_id } => {
                    return Ok(LoginEvent::Confirmed(LoginRecord {
                        backend: BackendKind::Wechaty,
                        bot_id: contact_id.clone(),
                        user_id: Some(contact_id),
                        token: self.token.clone(),
                        base_url: Some(self.endpoint.clone()),
                    }))
                }
                ::wechaty::PuppetEvent::Scan { status, qrcode, .. } => match status {
                    ::wechaty::ScanStatus::Scanned => return Ok(LoginEvent::Scanned),
                    _ => {
                        if let Some(qr) = qrcode.filter(|q| !q.is_empty()) {
                            if self.last_qr.as_ref() != Some(&qr) {
                                let renewal = self.last_qr.is_some().then_some(QrRenewal::Expired);
                                self.last_qr = Some(qr.clone());
                                return Ok(LoginEvent::Qr {
                                    content: qr,
                                    renewal,
                                });
                            }
                        }
                    }
                },
                ::wechaty::PuppetEvent::Disconnected {
                    error,
                    reconnect_in: None,
                } => return Err(up(error)),
                _ => {}
            }
        }
    }

    fn submit_verify_code(&mut self, _code: &str) {
        tracing::debug!("a Wechaty login takes no verification code; ignored");
    }

    async fn close(self: Box<Self>) {
        if let Some(events) = self.events {
            events.shutdown().await;
        }
    }
}
