//! The iLink QR login as a [`LoginFlow`]: the `ilink` crate's state machine (all eight QR
//! statuses: scanned, redirect, verify code, expiry with a new code, already bound, confirmed),
//! reporting the first QR code as its first event.

use async_trait::async_trait;

use super::up;
use crate::model::BackendKind;
use crate::store::LoginRecord;
use crate::upstream::{LoginEvent, LoginFlow, LoginParams, QrRenewal, UpResult};

/// An iLink QR login.
pub struct IlinkLogin {
    flow: ::ilink::LoginFlow,
    /// The first QR code, until reported.
    first: Option<String>,
}

impl IlinkLogin {
    /// Fetches the first QR code (offering the tokens this installation holds, so the server
    /// can answer "already bound").
    pub async fn start(client: &::ilink::Client, params: &LoginParams) -> UpResult<Self> {
        let options = ::ilink::LoginOptions {
            local_tokens: params
                .local_tokens
                .iter()
                .map(|t| t.expose_str().to_owned())
                .collect(),
            deadline: params.deadline,
            ..::ilink::LoginOptions::default()
        };
        let flow = ::ilink::LoginFlow::start(client, options)
            .await
            .map_err(up)?;
        let first = Some(flow.qr().content.clone());
        Ok(IlinkLogin { flow, first })
    }
}

#[async_trait]
impl LoginFlow for IlinkLogin {
    async fn next(&mut self) -> UpResult<LoginEvent> {
        if let Some(content) = self.first.take() {
            return Ok(LoginEvent::Qr {
                content,
                renewal: None,
            });
        }
        let event = self.flow.poll().await.map_err(up)?;
        Ok(match event {
            ::ilink::LoginEvent::Waiting => LoginEvent::Waiting,
            ::ilink::LoginEvent::Redirected(url) => {
                tracing::info!(%url, "login continues at another data centre");
                LoginEvent::Waiting
            }
            ::ilink::LoginEvent::Scanned => LoginEvent::Scanned,
            ::ilink::LoginEvent::NeedVerifyCode { wrong_code } => {
                LoginEvent::NeedVerifyCode { wrong: wrong_code }
            }
            ::ilink::LoginEvent::NewQr(qr, why) => LoginEvent::Qr {
                content: qr.content,
                renewal: Some(match why {
                    ::ilink::QrRenewal::Expired => QrRenewal::Expired,
                    ::ilink::QrRenewal::VerifyCodeBlocked => QrRenewal::VerifyCodeBlocked,
                }),
            },
            ::ilink::LoginEvent::AlreadyBound => LoginEvent::AlreadyBound,
            ::ilink::LoginEvent::Confirmed(creds) => LoginEvent::Confirmed(LoginRecord {
                backend: BackendKind::Ilink,
                bot_id: creds.bot_id,
                user_id: creds.user_id,
                token: creds.token.into(),
                base_url: creds.base_url.map(|u| u.to_string()),
            }),
        })
    }

    fn submit_verify_code(&mut self, code: &str) {
        self.flow.submit_verify_code(code);
    }
}
