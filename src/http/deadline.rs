//! How long a request may run before the client is answered 503.
//!
//! A request the idempotency guard took (it carries a key) is not cut off: the guard
//! answers the client 503 at the deadline itself and lets the handler finish in its task,
//! then stores the real answer, so a retry with the key gets the order that was placed,
//! not a second one. Any other request's handler is dropped at the deadline; its write,
//! if any, is one statement or runs in a task of its own, so nothing is left half done.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::app::AppState;

/// A request's default deadline.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Auditors' requests read the whole log (verification replays it): minutes, not seconds.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(30 * 60);
const AUDIT_PATHS: &str = "/api/v1/admin/audit";

/// Marks a request whose handler runs to completion whatever the deadline.
#[derive(Debug, Clone, Copy)]
pub struct RunsToCompletion;

/// The deadline of a request to `path`.
pub fn for_path(state: &AppState, path: &str) -> Duration {
    if path.starts_with(AUDIT_PATHS) {
        AUDIT_TIMEOUT
    } else {
        state.request_timeout
    }
}

/// The answer at the deadline.
pub fn timed_out() -> Response {
    ApiError::unavailable(
        "the request took too long; retry (with the same Idempotency-Key if it may have written)",
    )
    .into_response()
}

/// Middleware: answers 503 when the handler is not done by the deadline.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.extensions().get::<RunsToCompletion>().is_some() {
        return next.run(request).await;
    }
    let after = for_path(&state, request.uri().path());
    tokio::time::timeout(after, next.run(request))
        .await
        .unwrap_or_else(|_| timed_out())
}
