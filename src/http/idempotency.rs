//! `Idempotency-Key` on every POST: a retried request with the same key from the same
//! user within 24 h ([`IDEMPOTENCY_REPLAY_WINDOW`]) gets the first answer again and
//! creates nothing new; the same key with a different request (path or body) is a 422.
//!
//! The key is claimed in `idempotency_keys` before the handler runs (so concurrent
//! retries in any process wait for the first), and the answer stored after it. If the
//! server stops between the write and storing the answer, the claim goes stale; the next
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
use sqlx::{PgPool, Row};
use tracing::Instrument;

use super::MAX_BODY_BYTES;
use super::caller::AuthUser;
use super::deadline::{self, RunsToCompletion};
use super::error::{ApiError, ErrorCode};
use crate::auth::Role;
use crate::retention::IDEMPOTENCY_REPLAY_WINDOW;
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// A claim without an answer for this long was abandoned (its server stopped).
const ABANDONED_AFTER_SECS: i64 = 60;

/// What to do with a request carrying a key.
enum Claim {
    /// First time (or taking over an abandoned claim): run it, then [`complete`].
    Run { key: String, taken_over: bool },
    /// Answered before: send this again.
    Replay(StatusCode, Value),
}

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

/// Claims `key` for `user` and this request body.
async fn claim(pool: &PgPool, user: &str, key: String, hash: &[u8]) -> Result<Claim, ApiError> {
    // An expired claim frees its key (the retention purge deletes the others, by the
    // same window).
    sqlx::query(
        "DELETE FROM idempotency_keys
          WHERE user_id = $1 AND key = $2 AND created_at < now() - make_interval(secs => $3)",
    )
    .bind(user)
    .bind(&key)
    .bind(IDEMPOTENCY_REPLAY_WINDOW.as_secs_f64())
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user)
    .bind(&key)
    .bind(hash)
    .execute(pool)
    .await?
    .rows_affected();
    if inserted == 1 {
        return Ok(Claim::Run {
            key,
            taken_over: false,
        });
    }
    let row = sqlx::query(
        "SELECT request_hash, status, answer,
                updated_at < now() - make_interval(secs => $3) AS abandoned
           FROM idempotency_keys WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(&key)
    .bind(ABANDONED_AFTER_SECS as f64)
    .fetch_one(pool)
    .await?;
    if row.try_get::<Vec<u8>, _>("request_hash")? != hash {
        return Err(ApiError::new(
            ErrorCode::Validation,
            "Idempotency-Key: already used with a different request",
        )
        .with_data(serde_json::json!({"errors": [{"field": "Idempotency-Key",
            "message": "already used with a different request"}]})));
    }
    if let (Some(status), Some(answer)) = (
        row.try_get::<Option<i16>, _>("status")?,
        row.try_get::<Option<Value>, _>("answer")?,
    ) {
        let status =
            StatusCode::from_u16(u16::try_from(status).unwrap_or(200)).unwrap_or(StatusCode::OK);
        return Ok(Claim::Replay(status, answer));
    }
    if row.try_get::<bool, _>("abandoned")? {
        let taken = sqlx::query(
            "UPDATE idempotency_keys SET updated_at = now()
              WHERE user_id = $1 AND key = $2 AND status IS NULL
                AND updated_at < now() - make_interval(secs => $3)",
        )
        .bind(user)
        .bind(&key)
        .bind(ABANDONED_AFTER_SECS as f64)
        .execute(pool)
        .await?
        .rows_affected();
        if taken == 1 {
            return Ok(Claim::Run {
                key,
                taken_over: true,
            });
        }
    }
    Err(ApiError::busy(
        "a request with this Idempotency-Key is still running; retry shortly",
        "1",
    ))
}

/// Whether a retry of the same request may get another answer: busy (the write lost
/// to others, 40903), rate-limited, or a server error.
fn is_retryable(status: StatusCode, answer: &Value) -> bool {
    status.is_server_error()
        || status == StatusCode::TOO_MANY_REQUESTS
        || (status == StatusCode::CONFLICT && answer["code"] == ErrorCode::Busy as u32)
}

/// Stores the answer to replay. A retryable answer is not stored: the key is freed when
/// the request wrote nothing, or handed over to the next retry when it did.
async fn complete(
    pool: &PgPool,
    user: &str,
    key: &str,
    status: StatusCode,
    answer: &Value,
) -> Result<(), sqlx::Error> {
    if is_retryable(status, answer) {
        let taken_over = TakenOver {
            user: user.to_owned(),
            key: key.to_owned(),
        };
        if taken_over.wrote_anything(pool).await? {
            // Abandoned as of now: the next retry takes it over and answers the write.
            sqlx::query(
                "UPDATE idempotency_keys SET updated_at = '-infinity'
                  WHERE user_id = $1 AND key = $2",
            )
            .bind(user)
            .bind(key)
            .execute(pool)
            .await?;
        } else {
            sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
                .bind(user)
                .bind(key)
                .execute(pool)
                .await?;
        }
        return Ok(());
    }
    sqlx::query(
        "UPDATE idempotency_keys SET status = $3, answer = $4, updated_at = now()
          WHERE user_id = $1 AND key = $2",
    )
    .bind(user)
    .bind(key)
    .bind(i16::try_from(status.as_u16()).unwrap_or(200))
    .bind(answer)
    .execute(pool)
    .await?;
    Ok(())
}

/// Marks a request whose key's earlier run stopped before answering: it may have
/// written already.
#[derive(Debug, Clone)]
struct TakenOver {
    user: String,
    key: String,
}

impl TakenOver {
    /// The stream of an event the earlier run wrote (of `event_type`, or of any type).
    /// Only events since the key was claimed count: a key used again after its 24 hours
    /// must not find the writes of its earlier use.
    async fn find(
        &self,
        pool: &PgPool,
        event_type: Option<&str>,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT e.aggregate_id FROM events e
               JOIN idempotency_keys k ON k.user_id = $2 AND k.key = $1
              WHERE e.metadata ->> 'idempotency_key' = $1 AND e.metadata ->> 'actor_id' = $2
                AND e.recorded_at >= k.created_at
                AND ($3::text IS NULL OR e.event_type = $3)
              LIMIT 1",
        )
        .bind(&self.key)
        .bind(&self.user)
        .bind(event_type)
        .fetch_optional(pool)
        .await
    }

    /// Whether the earlier run wrote any event.
    async fn wrote_anything(&self, pool: &PgPool) -> Result<bool, sqlx::Error> {
        Ok(self.find(pool, None).await?.is_some())
    }

    /// The stream the earlier run wrote an event of `event_type` to, if it did.
    async fn written(&self, pool: &PgPool, event_type: &str) -> Result<Option<String>, ApiError> {
        Ok(self.find(pool, Some(event_type)).await?)
    }
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
    pub async fn created(
        &self,
        pool: &PgPool,
        event_type: &str,
    ) -> Result<Option<uuid::Uuid>, ApiError> {
        let Some(taken_over) = &self.0 else {
            return Ok(None);
        };
        Ok(taken_over
            .written(pool, event_type)
            .await?
            .and_then(|id| uuid::Uuid::parse_str(&id).ok()))
    }

    /// Whether the first run wrote an event of `event_type` to `stream`.
    pub async fn wrote(
        &self,
        pool: &PgPool,
        event_type: &str,
        stream: uuid::Uuid,
    ) -> Result<bool, ApiError> {
        Ok(self.created(pool, event_type).await? == Some(stream))
    }
}

/// Marks a replayed answer, so a client can tell it from a fresh one.
const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// Operators' endpoints: only an admin token gets past their handlers' first check.
const ADMIN_PREFIX: &str = "/api/v1/admin/";

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
    let (key, taken_over) = match claim(&state.pool, &user, key, &hash).await {
        Ok(Claim::Run { key, taken_over }) => (key, taken_over),
        Ok(Claim::Replay(status, answer)) => {
            let mut response = (status, axum::Json(answer)).into_response();
            response
                .headers_mut()
                .insert(REPLAYED, HeaderValue::from_static("true"));
            return response;
        }
        Err(error) => return error.into_response(),
    };
    if taken_over {
        parts.extensions.insert(TakenOver {
            user: user.clone(),
            key: key.clone(),
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
            let response = next.run(request).await;
            let (parts, body) = response.into_parts();
            let Ok(answer) = axum::body::to_bytes(body, usize::MAX).await else {
                return StatusCode::INTERNAL_SERVER_ERROR.into_response();
            };
            let stored = serde_json::from_slice::<Value>(&answer).unwrap_or(Value::Null);
            if let Err(err) = complete(&state.pool, &user, &key, parts.status, &stored).await {
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
