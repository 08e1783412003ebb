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

use crate::http::error::ApiError;
use crate::state::AppState;

/// Auditors' requests read the whole log (verification replays it) or a stream's whole
/// history (an order's, a product's stock as of a time): minutes, not seconds.
const AUDIT_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Whether `path` is an auditor's (`http/admin/audit/`, `http/admin/orders/history.rs`).
fn is_audit(path: &str) -> bool {
    path.starts_with("/api/v1/admin/audit/")
        || (path.starts_with("/api/v1/admin/")
            && ["/history", "/state", "/stock"]
                .iter()
                .any(|end| path.ends_with(end)))
}

/// Marks a request whose handler runs to completion whatever the deadline.
#[derive(Debug, Clone, Copy)]
pub struct RunsToCompletion;

/// The deadline of a request to `path`.
pub fn for_path(state: &AppState, path: &str) -> Duration {
    if is_audit(path) {
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

#[cfg(test)]
mod tests {
    use super::is_audit;

    #[test]
    fn every_auditors_route_gets_the_long_deadline() {
        for path in [
            "/api/v1/admin/audit/verify",
            "/api/v1/admin/audit/export",
            "/api/v1/admin/orders/0190/history",
            "/api/v1/admin/orders/0190/state",
            "/api/v1/admin/products/0190/stock",
        ] {
            assert!(is_audit(path), "{path}");
        }
        for path in [
            "/api/v1/orders",
            "/api/v1/orders/0190/cancel",
            "/api/v1/admin/products",
        ] {
            assert!(!is_audit(path), "{path}");
        }
    }
}
