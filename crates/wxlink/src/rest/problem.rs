//! Errors as one JSON shape (RFC 9457 problem details, `application/problem+json`) with a
//! stable `kind`: the [`ErrorKind`] names the CLI and MCP use, with their HTTP status.
//! Request bodies, queries and paths that cannot be read become `invalid` problems too, so a
//! client never has to parse axum's plain-text rejections.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{AppError, ErrorKind};

/// An error as the REST API answers it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem.
    #[serde(rename = "type")]
    pub type_uri: String,
    /// A short summary of the kind.
    pub title: String,
    /// The HTTP status.
    pub status: u16,
    /// Stable machine name: `invalid`, `unknown_session`, `message_not_found`, `too_large`,
    /// `quota_exhausted`, `upstream`, `unauthorized`, `csrf`, … (the CLI's and MCP's names).
    pub kind: String,
    /// What happened, in words for a person.
    pub detail: String,
}

impl Problem {
    /// A problem of `kind` with `status` and `detail`.
    pub fn new(status: StatusCode, kind: &str, detail: impl Into<String>) -> Problem {
        Problem {
            type_uri: format!("https://wxlink.dev/errors/{kind}"),
            title: kind.replace('_', " "),
            status: status.as_u16(),
            kind: kind.to_string(),
            detail: detail.into(),
        }
    }
}

impl IntoResponse for Problem {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = (status, axum::Json(self)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// An error on its way out of a handler: the service's, or a request that could not be read.
#[derive(Debug)]
pub enum ApiError {
    /// What the service refused or failed at.
    App(AppError),
    /// A request refused before reaching the service.
    Request(Problem),
}

impl From<AppError> for ApiError {
    fn from(e: AppError) -> Self {
        ApiError::App(e)
    }
}

impl From<Problem> for ApiError {
    fn from(p: Problem) -> Self {
        ApiError::Request(p)
    }
}

impl From<crate::store::StoreError> for ApiError {
    fn from(e: crate::store::StoreError) -> Self {
        ApiError::App(e.into())
    }
}

impl ApiError {
    /// `invalid` (400) with this text.
    pub fn invalid(detail: impl Into<String>) -> ApiError {
        ApiError::App(AppError::Invalid(detail.into()))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let e = match self {
            ApiError::Request(p) => return p.into_response(),
            ApiError::App(e) => e,
        };
        let kind: ErrorKind = e.kind();
        let status =
            StatusCode::from_u16(kind.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        if status.is_server_error() {
            tracing::warn!(error = %e, "REST request failed");
        }
        Problem::new(status, kind.as_str(), e.to_string()).into_response()
    }
}

/// What handlers return.
pub type ApiResult<T> = Result<T, ApiError>;

/// A JSON body, refused as a problem when it cannot be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Body<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for Body<T> {
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(v)) => Ok(Body(v)),
            Err(e) => Err(json_rejection(e)),
        }
    }
}

fn json_rejection(e: JsonRejection) -> Problem {
    let status = match &e {
        JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
        _ => StatusCode::BAD_REQUEST,
    };
    Problem::new(status, ErrorKind::Invalid.as_str(), e.body_text())
}

/// Query parameters, refused as a problem when they cannot be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Params<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for Params<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(v)) => Ok(Params(v)),
            Err(e) => Err(query_rejection(e)),
        }
    }
}

fn query_rejection(e: QueryRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        ErrorKind::Invalid.as_str(),
        e.body_text(),
    )
}

/// Path segments, refused as a problem when they cannot be read.
#[derive(Debug, Clone, Copy, Default)]
pub struct Segment<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for Segment<T> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(Segment(v)),
            Err(e) => Err(path_rejection(e)),
        }
    }
}

fn path_rejection(e: PathRejection) -> Problem {
    Problem::new(
        StatusCode::BAD_REQUEST,
        ErrorKind::Invalid.as_str(),
        e.body_text(),
    )
}
