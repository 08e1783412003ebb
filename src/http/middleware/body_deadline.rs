//! The request body must arrive within its deadline ([`crate::client_deadlines`]) on
//! every route: whatever reads it (a handler's extractor, or the idempotency guard,
//! which reads a keyed request's body before any handler deadline) fails at the
//! deadline, and the client is answered 408 on a connection that is then closed.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http_body::{Frame, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::http::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Middleware: gives the body a deadline; answers 408 when it passed before the body
/// was in, whatever the handler made of the failed read.
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let after = state.client_deadlines.body;
    let expired = Arc::new(AtomicBool::new(false));
    let request = request.map(|inner| {
        Body::new(Deadlined {
            inner,
            deadline: Box::pin(tokio::time::sleep_until(Instant::now() + after)),
            expired: Arc::clone(&expired),
        })
    });
    let response = next.run(request).await;
    if !expired.load(Ordering::Acquire) {
        return response;
    }
    let mut response = ApiError::new(
        ErrorCode::RequestTimeout,
        format!(
            "the request body did not arrive within {} s",
            after.as_secs_f64()
        ),
    )
    .into_response();
    // What is left of the body is never read: the connection cannot carry another
    // request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A body that fails once its deadline passes with data still to come.
struct Deadlined {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    expired: Arc<AtomicBool>,
}

/// The read error past the deadline (the client sees the 408 [`limit`] answers).
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive in time")]
struct BodyTooSlow;

impl http_body::Body for Deadlined {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        // What already arrived is taken even past the deadline: only waiting is cut off.
        if let Poll::Ready(frame) = Pin::new(&mut self.inner).poll_frame(cx) {
            return Poll::Ready(frame);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            self.expired.store(true, Ordering::Release);
            return Poll::Ready(Some(Err(axum::Error::new(BodyTooSlow))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
