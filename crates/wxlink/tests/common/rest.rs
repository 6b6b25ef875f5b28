//! The REST API and admin panel served in-process on a real socket (the service of an
//! [`Env`](super::Env), its pollers running), and a client for it.

use std::sync::Arc;
use std::time::Duration;

use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use serde_json::Value;
use wxlink::http::{HttpOptions, Server};
use wxlink::mcp::{ToolMode, WxlinkFactory};
use wxlink::model::Secret;
use wxlink::service::pollers::Pollers;
use wxlink::service::Service;

pub const TOKEN: &str = "s3cret-token-for-tests";

pub struct Api {
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// A client that sends the bearer token.
    pub client: reqwest::Client,
    /// A client that sends nothing.
    pub anonymous: reqwest::Client,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
    pollers: Option<Pollers>,
}

/// Serves `app` with a token and the admin panel.
pub async fn serve(app: &Arc<Service>) -> Api {
    serve_with(app, Some(TOKEN)).await
}

pub async fn serve_with(app: &Arc<Service>, token: Option<&str>) -> Api {
    let server = Server::bind(&HttpOptions {
        host: "127.0.0.1".into(),
        port: 0,
        token: token.map(|t| Secret::new(t.to_string())),
        allow_no_auth: false,
        session_timeout: wxlink::http::DEFAULT_SESSION_TIMEOUT,
        admin: true,
    })
    .await
    .unwrap();
    let base = server.base_url();
    let router = server.app(
        app.clone(),
        WxlinkFactory::new(app.clone(), ToolMode::Auto, false),
    );
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        server
            .serve(router, async move {
                let _ = stopped.await;
            })
            .await
            .unwrap();
    });
    let mut headers = HeaderMap::new();
    if let Some(t) = token {
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {t}")).unwrap(),
        );
    }
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    Api {
        base,
        client,
        anonymous: reqwest::Client::new(),
        stop: Some(stop),
        task: Some(task),
        pollers: Some(Pollers::start(app.clone())),
    }
}

impl Api {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// GET with the token; the status and the JSON body (`Null` when not JSON).
    pub async fn get(&self, path: &str) -> (u16, Value) {
        let r = self.client.get(self.url(path)).send().await.unwrap();
        status_json(r).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .post(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn patch(&self, path: &str, body: Value) -> (u16, Value) {
        let r = self
            .client
            .patch(self.url(path))
            .json(&body)
            .send()
            .await
            .unwrap();
        status_json(r).await
    }

    pub async fn stop(mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            let _ = t.await;
        }
        if let Some(p) = self.pollers.take() {
            p.shutdown().await;
        }
    }
}

pub async fn status_json(r: reqwest::Response) -> (u16, Value) {
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let text = r.text().await.unwrap();
    let v = if ct.contains("json") {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("bad JSON ({e}): {text}"))
    } else {
        Value::Null
    };
    (status, v)
}

/// Asserts a problem of `status` and `kind`.
pub fn assert_problem(got: &(u16, Value), status: u16, kind: &str) {
    assert_eq!(got.0, status, "{}", got.1);
    assert_eq!(got.1["kind"], kind, "{}", got.1);
    assert_eq!(got.1["status"], status, "{}", got.1);
    assert!(got.1["detail"].as_str().is_some_and(|d| !d.is_empty()));
}

/// Waits until history holds `n` messages matching `query`.
pub async fn wait_history(api: &Api, query: &str, n: usize) -> Value {
    for _ in 0..200 {
        let (status, page) = api.get(&format!("/api/v1/messages?{query}")).await;
        assert_eq!(status, 200, "{page}");
        if page["messages"].as_array().unwrap().len() >= n {
            return page;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("history never held {n} messages for {query}");
}
