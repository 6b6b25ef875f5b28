//! Transport faults (spec §16.2): a middleware in front of the API and the CDN that, when a
//! fault is armed for the endpoint being called, answers with an HTTP error, a malformed or
//! truncated body, a connection dropped mid-body, or a delay — or lets the request through and
//! then strips `x-encrypted-param` from a CDN upload answer.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::control::FaultSpec;
use crate::Shared;

pub(crate) async fn apply(State(shared): State<Arc<Shared>>, req: Request, next: Next) -> Response {
    let endpoint = crate::api::endpoint_name(req.uri().path());
    let bearer = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|t| t.trim().to_string());
    let fault = shared.lock().take_fault(&endpoint, bearer.as_deref());
    let Some(fault) = fault else {
        return next.run(req).await;
    };
    tracing::debug!(%endpoint, ?fault, "fake iLink injecting a fault");
    match fault {
        FaultSpec::Status(code) => {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
            (
                status,
                format!("<html><body>{code} fault injected</body></html>"),
            )
                .into_response()
        }
        FaultSpec::Malformed => json_200("<html><body>502 Bad Gateway</body></html>"),
        FaultSpec::Truncated => json_200(r#"{"ret":0,"msgs":[{"seq":1,"message_id":74625006"#),
        FaultSpec::Drop => {
            // Headers and the first part of the body go out; then, once they are flushed, the
            // stream fails and hyper cuts the connection mid-body.
            let head = futures_util::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(
                br#"{"ret":0,"msgs":["#,
            ))]);
            // A short pause lets hyper flush the first chunk before the stream fails.
            let cut = futures_util::stream::once(async {
                tokio::time::sleep(Duration::from_millis(20)).await;
                Err(std::io::Error::new(
                    std::io::ErrorKind::ConnectionReset,
                    "connection dropped by fault injection",
                ))
            });
            Response::builder()
                .header(header::CONTENT_TYPE, "application/json")
                .header(header::CONTENT_LENGTH, "4096")
                .body(Body::from_stream(futures_util::StreamExt::chain(head, cut)))
                .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
        }
        FaultSpec::DelayMs(ms) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            next.run(req).await
        }
        FaultSpec::NoParam => {
            let mut resp = next.run(req).await;
            resp.headers_mut().remove("x-encrypted-param");
            resp
        }
        FaultSpec::CdnError { status, message } => crate::cdn::cdn_error(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            &message,
        ),
    }
}

fn json_200(body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}
