//! A key's row in `idempotency_keys`: claimed before the handler runs, kept alive by a
//! heartbeat while it runs, and completed with the answer to replay.
//!
//! A claim is taken over only when its holder is gone: a running request, however long
//! its handler takes (a lock it waits for, a slow WeChat), says it is alive every
//! [`HEARTBEAT_EVERY`], so a retry finds it running (409) rather than abandoned, and never
//! writes a second time beside it. Only a claim whose heartbeat stopped for
//! [`ABANDONED_AFTER`] (its server stopped) is handed to the next retry.

use std::time::Duration;

use axum::http::StatusCode;
use serde_json::Value;
use sqlx::{PgPool, Row};

use super::{ClaimError, IdempotencyStore, KeyHolder};
use crate::database::DatabaseError;
use crate::retention::IDEMPOTENCY_REPLAY_WINDOW;

/// How often a running request refreshes its claim.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);
/// A claim whose heartbeat is this old was abandoned: six beats missed, which a live
/// server with a reachable database does not do.
const ABANDONED_AFTER: Duration = Duration::from_secs(30);
/// How often a claim is tried when the row it met vanished before it could be read (its
/// request answered something retryable and freed the key meanwhile).
const CLAIM_ATTEMPTS: usize = 3;

/// What to do with a request carrying a key.
pub enum Claim {
    /// First time (or taking over an abandoned claim): run it, then [`complete`].
    Run { key: String, taken_over: bool },
    /// Answered before: send this again.
    Replay(StatusCode, Value),
}

/// Claims `key` for `user` and this request body.
pub(super) async fn claim(
    pool: &PgPool,
    user: &str,
    key: String,
    hash: &[u8],
) -> Result<Claim, ClaimError> {
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
    for _ in 0..CLAIM_ATTEMPTS {
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
        let Some(row) = sqlx::query(
            "SELECT request_hash, status, answer,
                    updated_at < now() - make_interval(secs => $3) AS abandoned
               FROM idempotency_keys WHERE user_id = $1 AND key = $2",
        )
        .bind(user)
        .bind(&key)
        .bind(ABANDONED_AFTER.as_secs_f64())
        .fetch_optional(pool)
        .await?
        else {
            // Freed between the insert and this read: claim it anew.
            continue;
        };
        if row.try_get::<Vec<u8>, _>("request_hash")? != hash {
            return Err(ClaimError::OtherRequest);
        }
        if let (Some(status), Some(answer)) = (
            row.try_get::<Option<i16>, _>("status")?,
            row.try_get::<Option<Value>, _>("answer")?,
        ) {
            let status = StatusCode::from_u16(u16::try_from(status).unwrap_or(200))
                .unwrap_or(StatusCode::OK);
            return Ok(Claim::Replay(status, answer));
        }
        if row.try_get::<bool, _>("abandoned")? && take_over(pool, user, &key).await? {
            return Ok(Claim::Run {
                key,
                taken_over: true,
            });
        }
        break;
    }
    Err(ClaimError::Running)
}

/// Takes over an abandoned claim, unless another retry just did (or its holder's
/// heartbeat came back).
async fn take_over(pool: &PgPool, user: &str, key: &str) -> Result<bool, sqlx::Error> {
    let taken = sqlx::query(
        "UPDATE idempotency_keys SET updated_at = now()
          WHERE user_id = $1 AND key = $2 AND status IS NULL
            AND updated_at < now() - make_interval(secs => $3)",
    )
    .bind(user)
    .bind(key)
    .bind(ABANDONED_AFTER.as_secs_f64())
    .execute(pool)
    .await?
    .rows_affected();
    Ok(taken == 1)
}

/// A running request's claim, refreshed every [`HEARTBEAT_EVERY`] until this is dropped
/// (the request answered, or its task ended any other way).
pub struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub(super) fn start(pool: PgPool, user: String, key: String) -> Self {
        Self(tokio::spawn(async move {
            let mut beat = tokio::time::interval(HEARTBEAT_EVERY);
            beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            // The first tick is now: the claim was just made.
            beat.tick().await;
            loop {
                beat.tick().await;
                // A claim already answered, freed or handed over (`-infinity`) is left
                // alone: a beat that arrives late must not make it look alive again.
                let beat = sqlx::query(
                    "UPDATE idempotency_keys SET updated_at = now()
                      WHERE user_id = $1 AND key = $2 AND status IS NULL
                        AND updated_at > '-infinity'",
                )
                .bind(&user)
                .bind(&key)
                .execute(&pool)
                .await;
                if let Err(err) = beat {
                    tracing::warn!(%err, "could not refresh a running idempotent request's claim");
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Stores the answer to replay. A retryable answer (`retryable`: a retry of the same
/// request may get another) is not stored: the key is freed when the request wrote
/// nothing, or handed over to the next retry when it did.
pub(super) async fn complete(
    store: &IdempotencyStore,
    holder: &KeyHolder,
    status: StatusCode,
    answer: &Value,
    retryable: bool,
) -> Result<(), DatabaseError> {
    let pool = &store.pool;
    let (user, key) = (holder.user.as_str(), holder.key.as_str());
    if retryable {
        if store.written_by(holder, None).await?.is_some() {
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
