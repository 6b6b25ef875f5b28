//! QR login (spec §5): fetch a QR code (POST with `local_token_list`, falling back to GET), then
//! long-poll its status through all eight statuses — IDC redirects, verify codes, blocked codes,
//! expiry with a fresh QR, "already bound" — until the phone confirms.
//!
//! [`LoginFlow`] is a step-at-a-time state machine so that a terminal prompt, an MCP tool call or
//! a web page can each drive it and show its events their own way.

use std::time::{Duration, Instant};

use url::Url;

use crate::client::{Client, Credentials};
use crate::error::{Error, Result};
use crate::wire::{QrCodeRequest, QrCodeResponse, QrStatusResponse};

/// A QR code to show the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QrCode {
    /// Handle used to poll the status (not what the user scans).
    pub qrcode: String,
    /// The text to encode in the QR image (a URL the WeChat app opens).
    pub content: String,
}

/// One answer of `get_qrcode_status`, typed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QrStatus {
    /// `wait`: not scanned yet.
    Wait,
    /// `scaned`: scanned, waiting for confirmation on the phone (or a verify code was accepted).
    Scanned,
    /// `confirmed`: the credentials.
    Confirmed(Credentials),
    /// `expired`: the QR code expired.
    Expired,
    /// `scaned_but_redirect`: keep polling at another host.
    Redirect(Option<String>),
    /// `need_verifycode`: the phone shows a number the user must type in.
    NeedVerifyCode,
    /// `verify_code_blocked`: too many wrong codes; a new QR is needed.
    VerifyCodeBlocked,
    /// `binded_redirect`: this WeChat user is already bound to this installation.
    AlreadyBound,
    /// A status this client does not know; treated as `wait`.
    Unknown(String),
}

impl Client {
    /// Fetches a new login QR code: `POST get_bot_qrcode` with `local_token_list` (so the server
    /// can answer "already bound"), falling back to `GET` when the server answers 404 or 405.
    pub async fn get_qr_code(&self, local_tokens: &[String]) -> Result<QrCode> {
        const ENDPOINT: &str = "ilink/bot/get_bot_qrcode";
        let url = self
            .config()
            .qr_base
            .join("ilink/bot/get_bot_qrcode?bot_type=3")
            .map_err(|e| Error::InvalidInput(format!("bad QR base: {e}")))?;
        let body = QrCodeRequest {
            local_token_list: local_tokens.iter().take(10).cloned().collect(),
        };
        let timeout = self.config().timeouts.api;
        let resp: QrCodeResponse = match self
            .call(ENDPOINT, url.clone(), None, Some(&body), timeout)
            .await
        {
            Err(Error::HttpStatus {
                status: 404 | 405, ..
            }) => self.call(ENDPOINT, url, None, None::<&()>, timeout).await?,
            other => other?,
        };
        match (resp.qrcode, resp.qrcode_img_content) {
            (Some(qrcode), Some(content)) if !qrcode.is_empty() && !content.is_empty() => {
                Ok(QrCode { qrcode, content })
            }
            _ => Err(Error::Login(
                "the server's QR answer has no qrcode or qrcode_img_content".into(),
            )),
        }
    }

    /// One long poll of `get_qrcode_status` at `base`, with a verify code when the user typed one.
    pub async fn get_qr_status(
        &self,
        base: &Url,
        qrcode: &str,
        verify_code: Option<&str>,
    ) -> Result<QrStatus> {
        let mut url = base
            .join("ilink/bot/get_qrcode_status")
            .map_err(|e| Error::InvalidInput(format!("bad QR base: {e}")))?;
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("qrcode", qrcode);
            if let Some(code) = verify_code {
                q.append_pair("verify_code", code);
            }
        }
        let resp: QrStatusResponse = self
            .call(
                "ilink/bot/get_qrcode_status",
                url,
                None,
                None::<&()>,
                self.config().timeouts.qr_status,
            )
            .await?;
        Ok(match resp.status.as_deref().unwrap_or("") {
            "wait" | "" => QrStatus::Wait,
            "scaned" | "scanned" => QrStatus::Scanned,
            "expired" => QrStatus::Expired,
            "scaned_but_redirect" => {
                QrStatus::Redirect(resp.redirect_host.filter(|h| !h.trim().is_empty()))
            }
            "need_verifycode" => QrStatus::NeedVerifyCode,
            "verify_code_blocked" => QrStatus::VerifyCodeBlocked,
            "binded_redirect" => QrStatus::AlreadyBound,
            "confirmed" => {
                let token = resp.bot_token.filter(|t| !t.trim().is_empty());
                let bot_id = resp.ilink_bot_id.filter(|b| !b.trim().is_empty());
                let (Some(token), Some(bot_id)) = (token, bot_id) else {
                    return Err(Error::Login(
                        "the server confirmed the login but sent no bot_token or ilink_bot_id"
                            .into(),
                    ));
                };
                QrStatus::Confirmed(Credentials {
                    token,
                    bot_id,
                    user_id: resp.ilink_user_id.filter(|u| !u.is_empty()),
                    base_url: resp
                        .baseurl
                        .as_deref()
                        .filter(|b| !b.trim().is_empty())
                        .and_then(|b| Url::parse(b.trim()).ok()),
                })
            }
            other => QrStatus::Unknown(other.to_string()),
        })
    }
}

/// How a [`LoginFlow`] behaves.
#[derive(Debug, Clone)]
pub struct LoginOptions {
    /// Tokens this installation already holds, newest first (lets the server answer "already bound").
    pub local_tokens: Vec<String>,
    /// QR codes to show in total before giving up (expired or blocked ones are replaced).
    pub max_qr_codes: u32,
    /// Overall time limit.
    pub deadline: Duration,
    /// Pause after a `wait`/`scaned` answer (the server holds the poll, so this can be short).
    pub poll_pause: Duration,
    /// Pause after a failed poll (network error, gateway error), so an outage never spins.
    pub error_pause: Duration,
}

impl Default for LoginOptions {
    fn default() -> Self {
        LoginOptions {
            local_tokens: Vec::new(),
            max_qr_codes: 5,
            deadline: Duration::from_secs(480),
            poll_pause: Duration::from_millis(500),
            error_pause: Duration::from_secs(2),
        }
    }
}

/// Why a new QR code replaced the old one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QrRenewal {
    /// The old one expired.
    Expired,
    /// Too many wrong verify codes were typed.
    VerifyCodeBlocked,
}

/// What one step of a [`LoginFlow`] observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LoginEvent {
    /// Nothing yet (also after a failed poll, which is retried).
    Waiting,
    /// Scanned; waiting for the user to confirm on the phone.
    Scanned,
    /// Polling moved to another data centre.
    Redirected(Url),
    /// The user must type the number shown on the phone ([`LoginFlow::submit_verify_code`]).
    /// `wrong_code` is true when the code just submitted was refused.
    NeedVerifyCode {
        /// The previous code was wrong.
        wrong_code: bool,
    },
    /// A new QR code replaced the old one; show it.
    NewQr(QrCode, QrRenewal),
    /// Logged in.
    Confirmed(Credentials),
    /// This WeChat user is already bound to this installation; keep the existing credentials.
    AlreadyBound,
}

/// A QR login in progress, advanced one poll at a time with [`LoginFlow::poll`].
#[derive(Debug)]
pub struct LoginFlow {
    client: Client,
    options: LoginOptions,
    qr: QrCode,
    poll_base: Url,
    pending_code: Option<String>,
    qr_count: u32,
    started: Instant,
    finished: bool,
}

impl LoginFlow {
    /// Fetches the first QR code.
    pub async fn start(client: &Client, options: LoginOptions) -> Result<Self> {
        let qr = client.get_qr_code(&options.local_tokens).await?;
        Ok(LoginFlow {
            poll_base: client.config().qr_base.clone(),
            client: client.clone(),
            options,
            qr,
            pending_code: None,
            qr_count: 1,
            started: Instant::now(),
            finished: false,
        })
    }

    /// The QR code to show now.
    pub fn qr(&self) -> &QrCode {
        &self.qr
    }

    /// How many QR codes have been shown so far.
    pub fn qr_count(&self) -> u32 {
        self.qr_count
    }

    /// Time left before the flow gives up.
    pub fn remaining(&self) -> Duration {
        self.options.deadline.saturating_sub(self.started.elapsed())
    }

    /// Supplies the number shown on the phone; the next [`LoginFlow::poll`] sends it at once.
    pub fn submit_verify_code(&mut self, code: &str) {
        self.pending_code = Some(code.trim().to_string());
    }

    /// Polls once and reports what happened. After [`LoginEvent::Confirmed`] or
    /// [`LoginEvent::AlreadyBound`] the flow is over and further calls fail.
    pub async fn poll(&mut self) -> Result<LoginEvent> {
        if self.finished {
            return Err(Error::Login("this login flow has already finished".into()));
        }
        if self.remaining().is_zero() {
            return Err(Error::Login(format!(
                "no confirmation within {} s; start the login again",
                self.options.deadline.as_secs()
            )));
        }
        let code = self.pending_code.take();
        let sent_code = code.is_some();
        let status = self
            .client
            .get_qr_status(&self.poll_base, &self.qr.qrcode, code.as_deref())
            .await;
        let status = match status {
            Ok(s) => s,
            // A long poll that ran out is a normal "still waiting".
            Err(Error::Timeout { .. }) => return Ok(LoginEvent::Waiting),
            Err(e @ Error::Login(_)) => return Err(e),
            Err(e) => {
                tracing::debug!(error = %e, "QR status poll failed; retrying");
                tokio::time::sleep(self.options.error_pause.min(self.remaining())).await;
                return Ok(LoginEvent::Waiting);
            }
        };
        let event = match status {
            QrStatus::Wait | QrStatus::Unknown(_) => {
                if let QrStatus::Unknown(s) = &status {
                    tracing::debug!(status = %s, "unknown QR status treated as wait");
                }
                self.pause().await;
                LoginEvent::Waiting
            }
            QrStatus::Scanned => {
                self.pause().await;
                LoginEvent::Scanned
            }
            QrStatus::Confirmed(creds) => {
                self.finished = true;
                LoginEvent::Confirmed(creds)
            }
            QrStatus::AlreadyBound => {
                self.finished = true;
                LoginEvent::AlreadyBound
            }
            QrStatus::Redirect(host) => match host.and_then(|h| self.redirect_url(&h)) {
                Some(url) => {
                    self.poll_base = url.clone();
                    LoginEvent::Redirected(url)
                }
                None => {
                    self.pause().await;
                    LoginEvent::Waiting
                }
            },
            QrStatus::NeedVerifyCode => LoginEvent::NeedVerifyCode {
                wrong_code: sent_code,
            },
            QrStatus::Expired => self.renew(QrRenewal::Expired).await?,
            QrStatus::VerifyCodeBlocked => self.renew(QrRenewal::VerifyCodeBlocked).await?,
        };
        Ok(event)
    }

    async fn pause(&self) {
        tokio::time::sleep(self.options.poll_pause.min(self.remaining())).await;
    }

    async fn renew(&mut self, why: QrRenewal) -> Result<LoginEvent> {
        if self.qr_count >= self.options.max_qr_codes {
            self.finished = true;
            return Err(Error::Login(match why {
                QrRenewal::Expired => format!(
                    "the QR code expired {} times without being confirmed",
                    self.qr_count
                ),
                QrRenewal::VerifyCodeBlocked => {
                    "too many wrong verification codes, and no QR codes left to retry".into()
                }
            }));
        }
        self.qr = self.client.get_qr_code(&self.options.local_tokens).await?;
        self.qr_count += 1;
        self.poll_base = self.client.config().qr_base.clone();
        self.pending_code = None;
        Ok(LoginEvent::NewQr(self.qr.clone(), why))
    }

    /// `https://<redirect_host>/`, keeping the configured QR base's scheme so that plain-HTTP test
    /// servers work (spec §20.6); a full URL in `redirect_host` is used as given.
    fn redirect_url(&self, host: &str) -> Option<Url> {
        let host = host.trim();
        let text = if host.contains("://") {
            host.to_string()
        } else {
            format!("{}://{}/", self.client.config().qr_base.scheme(), host)
        };
        Url::parse(&text)
            .ok()
            .map(crate::config::with_trailing_slash)
    }
}
