//! The answer WeChat Pay expects from a notice URL, `{"code": "SUCCESS" | "FAIL",
//! "message"}` (not the envelope), made from what became of the notice.

use axum::Json;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::http::error::ApiError;
use crate::http::middleware::request_id::REQUEST_ID_HEADER;
use crate::http::views::read_your_writes::await_projections;
use crate::payments::NoticeHandled;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct NoticeAnswer {
    code: &'static str,
    message: String,
}

/// WeChat Pay's answer with this status.
pub fn notice_answer(status: StatusCode, message: impl Into<String>) -> Response {
    let code = if status.is_success() {
        "SUCCESS"
    } else {
        "FAIL"
    };
    let answer = NoticeAnswer {
        code,
        message: message.into(),
    };
    (status, Json(answer)).into_response()
}

/// The answer to a notice, once the read models show what it wrote.
pub async fn answer(state: &AppState, handled: NoticeHandled) -> Response {
    match handled {
        NoticeHandled::Taken { written } => {
            if let Some(position) = written {
                await_projections(state, &["orders", "catalog"], position).await;
            }
            notice_answer(StatusCode::OK, "OK")
        }
        NoticeHandled::Refused { status, reason } => notice_answer(status, reason),
        NoticeHandled::Failed(err) => {
            let error = ApiError::from(err);
            notice_answer(error.status(), error.message)
        }
    }
}

/// The request id the request-id layer gave the notice's request.
pub fn request_id(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok())
}
