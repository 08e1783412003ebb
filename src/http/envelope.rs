//! The JSON envelope every response uses: `{"code": 0, "message": "ok", "data": ...}`.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Envelope<T> {
    pub code: u32,
    pub message: String,
    pub data: T,
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
