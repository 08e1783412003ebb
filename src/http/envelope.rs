//! The JSON envelope every response uses: `{"code": 0, "message": "ok", "data": ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// A successful answer: `code` 0, `message` "ok", the result in `data`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Envelope<T> {
    /// 0 on success.
    pub code: u32,
    pub message: String,
    pub data: T,
}

/// A failed answer. `code` is stable per kind of failure (see the document's description);
/// `data` holds details: `errors` (`[{field, message}]`) for 400/422, `shortages` for
/// 40901, or null.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// The stable error code, e.g. 42200.
    pub code: u32,
    /// What went wrong, readable.
    pub message: String,
    #[schema(value_type = Object, nullable)]
    pub data: serde_json::Value,
}

/// A successful answer: HTTP status plus `data`.
#[derive(Debug)]
pub struct Success<T>(pub StatusCode, pub T);

impl<T> Success<T> {
    pub fn ok(data: T) -> Self {
        Self(StatusCode::OK, data)
    }

    pub fn created(data: T) -> Self {
        Self(StatusCode::CREATED, data)
    }
}

impl<T: Serialize> Success<T> {
    /// The envelope as JSON, as the client receives it.
    pub fn envelope(&self) -> serde_json::Value {
        serde_json::json!({"code": 0, "message": "ok", "data": self.1})
    }
}

impl<T: Serialize> IntoResponse for Success<T> {
    fn into_response(self) -> Response {
        let body = Envelope {
            code: 0,
            message: "ok".to_owned(),
            data: self.1,
        };
        (self.0, Json(body)).into_response()
    }
}
