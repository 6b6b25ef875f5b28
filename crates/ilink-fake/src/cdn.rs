//! The fake media CDN under `/c2c/` (spec §10.3–§10.4, §16.1 items 12–13): `POST upload` checks
//! the body against what `getuploadurl` registered — length, decryption with the registered key,
//! plaintext size and MD5 — and answers with `x-encrypted-param`; `GET download` serves stored
//! ciphertext. Errors are 4xx with `x-error-message`, as the real CDN does.

use std::collections::HashMap;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Query, State as AxState};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use ilink::crypto::{md5_hex, AesKey};
use serde_json::Value;

use crate::state::{now_ms, opaque_param, Blob, RecordedRequest, UploadRecord};
use crate::Shared;

/// Largest upload the fake CDN accepts.
const MAX_UPLOAD: usize = 256 * 1024 * 1024;

pub(crate) fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/c2c/upload", any(upload))
        .route("/c2c/download", any(download))
        .layer(DefaultBodyLimit::max(MAX_UPLOAD))
        .with_state(shared)
}

/// A CDN error: status plus `x-error-message`.
pub(crate) fn cdn_error(status: StatusCode, message: &str) -> Response {
    (
        status,
        [("x-error-message", message.to_string())],
        message.to_string(),
    )
        .into_response()
}

fn record(shared: &Shared, method: &Method, uri: &Uri, headers: &HeaderMap, body_len: usize) {
    let mut st = shared.lock();
    if !st.config.record_requests {
        return;
    }
    let mut hdrs: std::collections::BTreeMap<String, String> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    hdrs.insert("x-fake-body-length".into(), body_len.to_string());
    st.record(RecordedRequest {
        endpoint: crate::api::endpoint_name(uri.path()),
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().unwrap_or_default().to_string(),
        headers: hdrs,
        body: Value::Null,
        problems: Vec::new(),
        at_ms: now_ms(),
    });
}

async fn upload(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    record(&shared, &method, &uri, &headers, body.len());
    if method != Method::POST {
        // The real CDN answers PUT and friends with 404.
        return cdn_error(StatusCode::NOT_FOUND, "not found");
    }
    let ctype = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !ctype.starts_with("application/octet-stream") {
        return cdn_error(
            StatusCode::BAD_REQUEST,
            "content-type must be application/octet-stream",
        );
    }
    let param = q.get("encrypted_query_param").cloned().unwrap_or_default();
    let mut st = shared.lock();
    let Some(slot) = st.slots.get(&param).cloned() else {
        return cdn_error(StatusCode::BAD_REQUEST, "unknown encrypted_query_param");
    };
    if q.get("filekey").is_some_and(|fk| *fk != slot.filekey) {
        return cdn_error(StatusCode::BAD_REQUEST, "filekey does not match the upload");
    }
    if body.len() as u64 != slot.filesize {
        return cdn_error(
            StatusCode::BAD_REQUEST,
            &format!(
                "body is {} bytes, filesize was {}",
                body.len(),
                slot.filesize
            ),
        );
    }
    let Ok(key) = AesKey::parse(&slot.aeskey) else {
        return cdn_error(StatusCode::BAD_REQUEST, "registered aeskey is unreadable");
    };
    let Ok(plain) = key.decrypt(&body) else {
        return cdn_error(
            StatusCode::BAD_REQUEST,
            "body does not decrypt with the registered aeskey",
        );
    };
    let plain_md5 = md5_hex(&plain);
    if plain.len() as u64 != slot.rawsize || plain_md5 != slot.rawfilemd5 {
        return cdn_error(
            StatusCode::BAD_REQUEST,
            "decrypted body does not match rawsize/rawfilemd5",
        );
    }
    let download_param = opaque_param("dl");
    st.blobs.insert(
        download_param.clone(),
        Blob {
            bytes: body.clone(),
            key_hex: Some(slot.aeskey.clone()),
        },
    );
    st.uploads.push(UploadRecord {
        slot,
        download_param: download_param.clone(),
        plain_md5,
        plain_size: plain.len() as u64,
        plain: plain.into(),
    });
    (StatusCode::OK, [("x-encrypted-param", download_param)], "").into_response()
}

async fn download(
    AxState(shared): AxState<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    record(&shared, &method, &uri, &headers, 0);
    if method != Method::GET {
        return cdn_error(StatusCode::NOT_FOUND, "not found");
    }
    let param = q.get("encrypted_query_param").cloned().unwrap_or_default();
    let blob = shared.lock().blobs.get(&param).map(|b| b.bytes.clone());
    match blob {
        Some(bytes) => Response::builder()
            .header(header::CONTENT_TYPE, "application/octet-stream")
            .body(Body::from(bytes))
            .unwrap_or_else(|_| {
                cdn_error(StatusCode::INTERNAL_SERVER_ERROR, "response build failed")
            }),
        None => cdn_error(StatusCode::NOT_FOUND, "no such object"),
    }
}
