//! ordo's HTTP errors: the one place where failures become statuses, stable codes and
//! readable messages. Internal causes are logged, never shown to the client.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde_json::Value;

use super::envelope::Envelope;

/// Seconds a client should wait before retrying when the database is unavailable.
const RETRY_AFTER_UNAVAILABLE_SECS: &str = "5";

/// Stable error codes (the envelope's `code`), one per kind of failure. Clients match on
/// them; never renumber one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// 400: the request could not be read (malformed JSON, bad query string).
    Malformed = 40000,
    /// 401: no valid access token.
    Unauthorized = 40100,
    /// 403: the token's role may not do this.
    Forbidden = 40300,
    /// 404: no such resource (or not yours).
    NotFound = 40400,
    /// 409: the request conflicts with the current state.
    Conflict = 40900,
    /// 413: the body is too large.
    PayloadTooLarge = 41300,
    /// 422: the request was read but a field is invalid.
    Validation = 42200,
    /// 429: too many requests.
    RateLimited = 42900,
    /// 500: a fault on our side.
    Internal = 50000,
    /// 503: the database (or another dependency) is unavailable; retry later.
    Unavailable = 50300,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: ErrorCode,
    pub message: String,
    pub data: Value,
}

impl ApiError {
    pub fn new(status: StatusCode, code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            data: Value::Null,
        }
    }

    pub fn with_data(mut self, data: impl Serialize) -> Self {
        self.data = serde_json::to_value(data).unwrap_or(Value::Null);
        self
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            ErrorCode::NotFound,
            format!("{what} not found"),
        )
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            message,
        )
    }

    /// A failure the client cannot fix: logged with its cause, answered without it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::Internal,
            "internal error; it has been logged",
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) | sqlx::Error::PoolClosed => {
                tracing::warn!(%err, "database unavailable");
                Self::unavailable("the database is unavailable; retry shortly")
            }
            _ => Self::internal(&err),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Envelope {
            code: self.code as u32,
            message: self.message,
            data: self.data,
        };
        let mut response = (self.status, Json(body)).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_static(RETRY_AFTER_UNAVAILABLE_SECS),
            );
        }
        response
    }
}
