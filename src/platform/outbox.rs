//! The calls to WeChat that events cause (table `platform_calls`): added by the feed's
//! subscribers inside their checkpoint's transaction, so a crash between an event and
//! its call loses nothing; claimed by one deliverer at a time (a lease, so a crashed one
//! frees its calls), retried with capped backoff, failed for good when WeChat will never
//! take them (recorded, retried only when an operator asks).

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use sqlx::{PgConnection, PgPool};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::database::DatabaseError;

/// The channel a subscriber notifies when it added calls (sent at its commit).
pub const CHANNEL: &str = "ordo_platform_calls";
/// How long a deliverer holds a call it is making.
const CLAIM: Duration = Duration::from_secs(60);
/// The longest wait between two attempts of a call.
pub const MAX_BACKOFF: Duration = Duration::from_secs(600);

/// A call, as the deliverer makes it.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct Call {
    pub id: i64,
    pub kind: String,
    pub key: String,
    pub order_id: Option<Uuid>,
    pub payload: Value,
    pub revision: i32,
    /// This attempt's number, from 1.
    pub attempts: i32,
    pub event_at: DateTime<Utc>,
}

/// A call, as operators see it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema, sqlx::FromRow)]
pub struct CallView {
    pub id: i64,
    /// `shipping_upload` or `subscribe_message`.
    pub kind: String,
    pub order_id: Option<Uuid>,
    /// `pending`, `done`, `failed` or `skipped`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub done_at: Option<DateTime<Utc>>,
    #[schema(value_type = Object)]
    pub payload: Value,
}

/// What became of one attempt of a call, to record.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    pub call: &'a Call,
    /// `done`, `skipped`, `failed`, or `pending` (due again after a backoff).
    pub state: &'static str,
    /// Why it was skipped, failed or is to be tried again.
    pub note: Option<&'a str>,
}

/// A call to add for an event.
#[derive(Debug, Clone)]
pub struct NewCall {
    pub kind: &'static str,
    pub key: String,
    pub order_id: Option<Uuid>,
    pub payload: Value,
    pub event_at: DateTime<Utc>,
    /// A correction: the call is made again (with the log's newest facts) even if it was
    /// made already, unless it was made for this event or a later one (a subscriber
    /// started again from an earlier position never makes a call twice).
    pub again: bool,
}

/// Adds `calls` inside the caller's transaction; an event seen again adds nothing.
pub async fn add(conn: &mut PgConnection, calls: &[NewCall]) -> Result<(), sqlx::Error> {
    for call in calls {
        sqlx::query(
            "INSERT INTO platform_calls (kind, key, order_id, payload, event_at)
             VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (kind, key) DO UPDATE
                SET state = 'pending', revision = platform_calls.revision + 1, attempts = 0,
                    next_attempt_at = now(), last_error = NULL, done_at = NULL,
                    payload = EXCLUDED.payload, event_at = EXCLUDED.event_at
              WHERE $6 AND platform_calls.event_at < EXCLUDED.event_at",
        )
        .bind(call.kind)
        .bind(&call.key)
        .bind(call.order_id)
        .bind(&call.payload)
        .bind(call.event_at)
        .bind(call.again)
        .execute(&mut *conn)
        .await?;
    }
    if !calls.is_empty() {
        sqlx::query("SELECT pg_notify($1, '')")
            .bind(CHANNEL)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The calls table, for deliverers and operators.
#[derive(Debug, Clone)]
pub struct Outbox {
    pool: PgPool,
}

impl Outbox {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Claims up to `limit` calls that are due (none another deliverer holds).
    pub async fn claim(&self, limit: i64) -> Result<Vec<Call>, DatabaseError> {
        Ok(sqlx::query_as(
            "UPDATE platform_calls
                SET claimed_until = now() + make_interval(secs => $1), attempts = attempts + 1
              WHERE id IN (
                    SELECT id FROM platform_calls
                     WHERE state = 'pending' AND next_attempt_at <= now()
                       AND (claimed_until IS NULL OR claimed_until < now())
                     ORDER BY next_attempt_at LIMIT $2
                     FOR UPDATE SKIP LOCKED)
             RETURNING id, kind, key, order_id, payload, revision, attempts, event_at",
        )
        .bind(CLAIM.as_secs_f64())
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Records what became of a batch of calls in one statement: `state` is `done`,
    /// `skipped`, `failed`, or `pending` with a `backoff` before the call is due again.
    /// Only for the revision each made: a correction added meanwhile stays due.
    pub async fn record(&self, outcomes: &[Outcome<'_>]) -> Result<(), DatabaseError> {
        if outcomes.is_empty() {
            return Ok(());
        }
        let ids: Vec<i64> = outcomes.iter().map(|o| o.call.id).collect();
        let revisions: Vec<i32> = outcomes.iter().map(|o| o.call.revision).collect();
        let states: Vec<&str> = outcomes.iter().map(|o| o.state).collect();
        let notes: Vec<Option<&str>> = outcomes.iter().map(|o| o.note).collect();
        let backoffs: Vec<Option<f64>> = outcomes
            .iter()
            .map(|o| (o.state == "pending").then(|| backoff(o.call.attempts).as_secs_f64()))
            .collect();
        // A call corrected meanwhile (another revision) keeps its state and is due now:
        // only the claim is let go.
        sqlx::query(
            "UPDATE platform_calls p
                SET claimed_until = NULL,
                    state = CASE WHEN o.revision = p.revision THEN o.state ELSE p.state END,
                    last_error = CASE WHEN o.revision = p.revision THEN o.note
                                      ELSE p.last_error END,
                    done_at = CASE WHEN o.revision <> p.revision THEN p.done_at
                                   WHEN o.state IN ('done', 'skipped') THEN now() END,
                    next_attempt_at = CASE WHEN o.revision = p.revision AND o.backoff IS NOT NULL
                                           THEN now() + make_interval(secs => o.backoff)
                                           ELSE p.next_attempt_at END
               FROM unnest($1::bigint[], $2::int[], $3::text[], $4::text[], $5::float8[])
                    AS o (id, revision, state, note, backoff)
              WHERE p.id = o.id",
        )
        .bind(ids)
        .bind(revisions)
        .bind(states)
        .bind(notes)
        .bind(backoffs)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An operator asks for failed calls of an order (or every failed call of a kind) to
    /// be made again now: how many.
    pub async fn retry_failed(
        &self,
        kind: &str,
        order_id: Option<Uuid>,
    ) -> Result<u64, DatabaseError> {
        Ok(sqlx::query(
            "UPDATE platform_calls
                SET state = 'pending', attempts = 0, next_attempt_at = now(), claimed_until = NULL
              WHERE kind = $1 AND state = 'failed' AND ($2::uuid IS NULL OR order_id = $2)",
        )
        .bind(kind)
        .bind(order_id)
        .execute(&self.pool)
        .await?
        .rows_affected())
    }

    /// The calls of `kind` in `state`, newest first.
    pub async fn list(
        &self,
        kind: &str,
        state: &str,
        limit: i64,
    ) -> Result<Vec<CallView>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, kind, order_id, state, attempts, last_error, created_at, done_at, payload
               FROM platform_calls WHERE kind = $1 AND state = $2
              ORDER BY created_at DESC LIMIT $3",
        )
        .bind(kind)
        .bind(state)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// The order's call of `kind`, if there is one.
    pub async fn of_order(
        &self,
        kind: &str,
        order_id: Uuid,
    ) -> Result<Option<CallView>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT id, kind, order_id, state, attempts, last_error, created_at, done_at, payload
               FROM platform_calls WHERE kind = $1 AND order_id = $2
              ORDER BY created_at DESC LIMIT 1",
        )
        .bind(kind)
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?)
    }
}

/// The wait before attempt `attempts + 1`: 1 s, 2 s, 4 s, … up to [`MAX_BACKOFF`].
pub fn backoff(attempts: i32) -> Duration {
    let exponent = u32::try_from(attempts.clamp(1, 20) - 1).unwrap_or(0);
    Duration::from_secs(1u64 << exponent).min(MAX_BACKOFF)
}

/// The calls of `kind`, by where they stand (for the subscriber's status, which the
/// console asks every few seconds): each count through its partial index, so it costs
/// what is waiting, failed or recent, not the table's history.
pub async fn backlog(pool: &PgPool, kind: &str) -> Result<projections::Backlog, sqlx::Error> {
    let (pending, oldest, failed, done_last_hour): (i64, Option<f64>, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM platform_calls WHERE state = 'pending' AND kind = $1),
                    (SELECT extract(epoch FROM now() - min(event_at))::float8
                       FROM platform_calls WHERE state = 'pending' AND kind = $1),
                    (SELECT count(*) FROM platform_calls WHERE state = 'failed' AND kind = $1),
                    (SELECT count(*) FROM platform_calls
                      WHERE done_at > now() - interval '1 hour' AND kind = $1)",
    )
    .bind(kind)
    .fetch_one(pool)
    .await?;
    Ok(projections::Backlog {
        pending,
        failed,
        done_last_hour,
        oldest_pending_seconds: oldest.unwrap_or(0.0).max(0.0),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_backoff_doubles_up_to_its_cap() {
        let waits: Vec<u64> = [1, 2, 3, 10, 11, 50].map(|n| backoff(n).as_secs()).to_vec();
        assert_eq!(waits, [1, 2, 4, 512, 600, 600]);
    }
}
