//! `Idempotency-Key`: a retried POST with the same key from the same user within 24 h
//! gets the first answer again and creates nothing new; the same key with a different
//! body is a 422.
//!
//! The key is claimed in `idempotency_keys` before the write (so concurrent retries in
//! any process wait for the first), and the answer stored after it. If the server stops
//! between the write and storing the answer, the claim goes stale; the next retry takes
//! it over, and the handler finds what was written through the events' metadata, which
//! records the key in the same statement as the write.

use axum::http::{HeaderMap, StatusCode};
use serde::Serialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use sqlx::{PgPool, Row};

use super::error::{ApiError, ErrorCode};

pub const HEADER: &str = "idempotency-key";
const MAX_KEY_CHARS: usize = 255;
/// A claim without an answer for this long was abandoned (its server stopped).
const ABANDONED_AFTER_SECS: i64 = 60;

/// What to do with a request carrying a key.
pub enum Claim {
    /// First time (or taking over an abandoned claim): run it, then [`complete`].
    Run { key: String, taken_over: bool },
    /// Answered before: send this again.
    Replay(StatusCode, Value),
}

/// The request's key, if it sent a valid one.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
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
pub async fn claim(
    pool: &PgPool,
    user: &str,
    key: String,
    request: &impl Serialize,
) -> Result<Claim, ApiError> {
    let hash = Sha256::digest(serde_json::to_vec(request).unwrap_or_default()).to_vec();
    // An expired claim frees its key.
    sqlx::query(
        "DELETE FROM idempotency_keys
          WHERE user_id = $1 AND key = $2 AND created_at < now() - interval '24 hours'",
    )
    .bind(user)
    .bind(&key)
    .execute(pool)
    .await?;
    let inserted = sqlx::query(
        "INSERT INTO idempotency_keys (user_id, key, request_hash) VALUES ($1, $2, $3)
         ON CONFLICT (user_id, key) DO NOTHING",
    )
    .bind(user)
    .bind(&key)
    .bind(&hash)
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
            StatusCode::UNPROCESSABLE_ENTITY,
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
    let mut busy = ApiError::new(
        StatusCode::CONFLICT,
        ErrorCode::Busy,
        "a request with this Idempotency-Key is still running; retry shortly",
    );
    busy.retry_after = Some("1");
    Err(busy)
}

/// Stores the answer to replay. A server error frees the key instead, so a retry runs.
pub async fn complete(
    pool: &PgPool,
    user: &str,
    key: &str,
    status: StatusCode,
    answer: &Value,
) -> Result<(), sqlx::Error> {
    if status.is_server_error() {
        sqlx::query("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2")
            .bind(user)
            .bind(key)
            .execute(pool)
            .await?;
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
