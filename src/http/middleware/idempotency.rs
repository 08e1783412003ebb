//! `Idempotency-Key` on every POST: a retried request with the same key from the same
//! user within 24 h ([`crate::retention::IDEMPOTENCY_REPLAY_WINDOW`]) gets the first
//! answer again and creates nothing new; the same key with a different request (path or
//! body) is a 422.
//!
//! The key is claimed in `idempotency_keys` before the handler runs (so concurrent
//! retries in any process wait for the first), kept alive while it runs however long it
//! takes, and the answer stored after it (`crate::idempotency`, the store). If the server stops between the
//! write and storing the answer, its heartbeat stops and the claim goes stale; the next
//! retry takes it over and the handler is told so ([`TakenOver`]): it finds what was
//! written through the events' metadata, which records the key in the same statement as
//! the write, and answers from that instead of writing again.
//!
//! Exactly once: an answer a retry could change (409 busy, 429, any 5xx) is never
//! replayed. If the request wrote nothing, its key is freed and a retry runs anew; if it
//! did write (a 5xx after the commit), the claim is handed straight to the next retry as
//! taken over, which answers what was written. Answers holding secrets are never stored:
//! the auth endpoints (login, refresh, logout) ignore the header.

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::auth::Role;
use crate::http::ADMIN_PREFIX;
use crate::http::MAX_BODY_BYTES;
use crate::http::error::ApiError;
use crate::http::error::ErrorCode;
use crate::http::extract::caller::AuthUser;
use crate::http::middleware::deadline::{self, RunsToCompletion};
use crate::idempotency::{Claim, ClaimError, IdempotencyStore, KeyHolder};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;

/// The request's key, if it sent a valid one.
fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get(HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().unwrap_or_default().trim();
    if key.is_empty() || key.chars().count() > MAX_KEY_CHARS {
        return Err(ApiError::malformed_field(
            "Idempotency-Key",
            "must be 1 to 255 visible characters",
        ));
    }
    Ok(Some(key.to_owned()))
}

/// Marks a request whose key's earlier run stopped before answering: it may have
/// written already.
#[derive(Debug, Clone)]
struct TakenOver {
    holder: KeyHolder,
    store: IdempotencyStore,
}

/// A handler's view of the guard: whether this request retries one whose first run
/// stopped before answering, and if so what that run wrote. A handler that writes asks
/// before writing, and answers what was written instead of writing again.
#[derive(Debug, Clone, Default)]
pub struct Retry(Option<TakenOver>);

impl<S: Send + Sync> FromRequestParts<S> for Retry {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(parts.extensions.get::<TakenOver>().cloned()))
    }
}

impl Retry {
    /// The stream the first run created with an event of `event_type`, if it did.
    pub async fn created(&self, event_type: &str) -> Result<Option<uuid::Uuid>, ApiError> {
        let Some(taken_over) = &self.0 else {
            return Ok(None);
        };
        Ok(taken_over
            .store
            .written_by(&taken_over.holder, Some(event_type))
            .await?
            .and_then(|id| uuid::Uuid::parse_str(&id).ok()))
    }

    /// Whether the first run wrote an event of `event_type` to `stream`.
    pub async fn wrote(&self, event_type: &str, stream: uuid::Uuid) -> Result<bool, ApiError> {
        Ok(self.created(event_type).await? == Some(stream))
    }
}

/// Marks a replayed answer, so a client can tell it from a fresh one.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Paths whose answers hold secrets (tokens: a login's, a console's): never stored, so
/// the header is ignored.
const UNSTORED_PREFIXES: [&str; 2] = ["/api/v1/auth/", "/api/v1/admin/console/"];
/// Image uploads are idempotent by content (stored and listed once) and too large to
/// keep: the header is ignored.
const UNSTORED_SUFFIX: &str = "/images";

/// Whether a POST to `path` ignores `Idempotency-Key` (its answer is never stored).
pub fn ignores_key(path: &str) -> bool {
    UNSTORED_PREFIXES
        .iter()
        .any(|prefix| path.starts_with(prefix))
        || path.ends_with(UNSTORED_SUFFIX)
}

/// Middleware: answers a POST carrying an `Idempotency-Key` at most once per user and key.
/// Requests without a valid token pass through to be refused by their handler.
pub async fn guard(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if request.method() != Method::POST
        || !request.headers().contains_key(HEADER)
        || ignores_key(request.uri().path())
    {
        return next.run(request).await;
    }
    let (mut parts, body) = request.into_parts();
    // Who asks first: a request without a valid token is its handler's 401, whatever
    // else is wrong with it.
    let Ok(AuthUser(claims)) = AuthUser::from_request_parts(&mut parts, &state).await else {
        return next.run(Request::from_parts(parts, body)).await;
    };
    // ... and one who may not ask is its handler's 403: a shopper's key never reaches
    // an operator's endpoint.
    if parts.uri.path().starts_with(ADMIN_PREFIX) && claims.role != Role::Admin {
        return next.run(Request::from_parts(parts, body)).await;
    }
    let key = match key_of(&parts.headers) {
        Ok(Some(key)) => key,
        Ok(None) => return next.run(Request::from_parts(parts, body)).await,
        Err(error) => return error.into_response(),
    };
    let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY_BYTES).await else {
        return ApiError::payload_too_large().into_response();
    };
    let mut hash = Sha256::new();
    hash.update(parts.uri.path().as_bytes());
    hash.update(b"\n");
    hash.update(&bytes);
    let hash = hash.finalize().to_vec();

    let user = claims.sub;
    let store = state.idempotency.clone();
    let (key, taken_over) = match store.claim(&user, key, &hash).await {
        Ok(Claim::Run { key, taken_over }) => (key, taken_over),
        Ok(Claim::Replay(status, answer)) => {
            let mut response = (status, axum::Json(answer)).into_response();
            response
                .headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return response;
        }
        Err(error) => return claim_error(error).into_response(),
    };
    let holder = KeyHolder { user, key };
    if taken_over {
        parts.extensions.insert(TakenOver {
            holder: holder.clone(),
            store: store.clone(),
        });
    }
    // A task of its own: a client that hangs up, or a deadline that passes, does not cut
    // the request between its write and storing its answer, so its retry gets the answer
    // instead of a stale claim or a second write.
    let deadline = deadline::for_path(&state, parts.uri.path());
    parts.extensions.insert(RunsToCompletion);
    let request = Request::from_parts(parts, Body::from(bytes));
    let mut answered = tokio::spawn(
        async move {
            let heartbeat = store.heartbeat(&holder);
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            let answer = axum::body::to_bytes(body, usize::MAX).await;
            // Stopped before the claim is completed, freed or handed over.
            drop(heartbeat);
            let Ok(answer) = answer else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let stored = serde_json::from_slice::<Value>(&answer).unwrap_or(Value::Null);
            let retryable = is_retryable(parts.status, &stored);
            if let Err(err) = store
                .complete(&holder, parts.status, &stored, retryable)
                .await
            {
                tracing::warn!(%err, "could not store the answer of an idempotent request");
            }
            Response::from_parts(parts, Body::from(answer))
        }
        .instrument(tracing::Span::current()),
    );
    match tokio::time::timeout(deadline, &mut answered).await {
        Ok(answer) => answer.unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response()),
        // The handler goes on; the key stays claimed until it has answered.
        Err(_) => deadline::timed_out(),
    }
}

/// Whether a retry of the same request may get another answer: busy (the write lost
/// to others, 40903), rate-limited, or a server error.
fn is_retryable(status: StatusCode, answer: &Value) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::CONFLICT && answer["code"] == ErrorCode::Busy as u32)
}

fn claim_error(err: ClaimError) -> ApiError {
    match err {
        ClaimError::OtherRequest => ApiError::new(ErrorCode::Validation, err.to_string())
            .with_data(serde_json::json!({"errors": [{"field": "Idempotency-Key",
                "message": "already used with a different request"}]})),
        ClaimError::Running => ApiError::busy(err.to_string(), "1"),
        ClaimError::Database(err) => err.into(),
    }
}
