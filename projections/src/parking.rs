//! Parked events: events a projection set aside because it could not apply them, so
//! that one bad event never stops the read side. Each is recorded with its position, its
//! stream and the error; the stream's later events are parked behind it (applying them
//! without it would leave its row wrong, and a retry could then not put it right), and
//! [`crate::Projector::retry_parked`] re-applies them in feed order after a fix.

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::{FeedPosition, RecordedEvent, stored_text};

/// Why an event is parked behind another of its stream.
pub const WAITING: &str = "waits for an earlier parked event of its stream";

/// One parked event, as operators list it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, FromRow)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ParkedEvent {
    /// The projection (or a rebuild's copy, `<name>__rebuild`) that parked it.
    pub projection: String,
    /// The event's global position.
    pub position: i64,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    /// Why it could not be applied (the last attempt's error).
    pub error: String,
    /// How many times it was tried.
    pub attempts: i32,
    pub parked_at: DateTime<Utc>,
    pub last_attempt_at: DateTime<Utc>,
}

/// Parks `event` for the checkpoint `name` with `error`; parked again, its attempts count up.
pub async fn park(
    conn: &mut PgConnection,
    name: &str,
    event: &RecordedEvent,
    error: &str,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_parked_events AS p
                (projection, global_position, transaction_id, aggregate_type, aggregate_id,
                 sequence, event_type, error)
         VALUES ($1, $2, $3::bigint::text::xid8, $4, $5, $6, $7, $8)
         ON CONFLICT (projection, global_position) DO UPDATE
            SET error = excluded.error, attempts = p.attempts + 1, last_attempt_at = now()",
    )
    .bind(name)
    .bind(event.position.global_position)
    .bind(event.position.transaction_id)
    .bind(stored_text::escape(&event.aggregate_type).as_ref())
    .bind(stored_text::escape(&event.aggregate_id).as_ref())
    .bind(event.sequence)
    .bind(stored_text::escape(&event.event_type).as_ref())
    .bind(stored_text::escape(error).as_ref())
    .execute(conn)
    .await?;
    tracing::warn!(
        projection = name,
        position = event.position.global_position,
        event_type = event.event_type,
        error,
        "event parked"
    );
    Ok(())
}

/// The streams among `events`' that have an event parked for `name`: their events wait.
pub async fn waiting_streams(
    conn: &mut PgConnection,
    name: &str,
    events: &[RecordedEvent],
) -> Result<HashSet<String>, sqlx::Error> {
    let ids: Vec<String> = events
        .iter()
        .map(|event| stored_text::escaped(event.aggregate_id.clone()))
        .collect();
    let waiting: Vec<String> = sqlx::query_scalar(
        "SELECT DISTINCT aggregate_id FROM projection_parked_events
          WHERE projection = $1 AND aggregate_id = ANY($2)",
    )
    .bind(name)
    .bind(&ids)
    .fetch_all(conn)
    .await?;
    Ok(waiting.into_iter().map(stored_text::unescaped).collect())
}

/// Where each parked event of `name` is in the feed, in feed order (at most `limit`).
pub async fn positions(
    conn: &mut PgConnection,
    name: &str,
    after: FeedPosition,
    limit: i64,
) -> Result<Vec<FeedPosition>, sqlx::Error> {
    let rows: Vec<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM projection_parked_events
          WHERE projection = $1 AND (transaction_id, global_position) > ($2::bigint::text::xid8, $3)
          ORDER BY transaction_id, global_position
          LIMIT $4",
    )
    .bind(name)
    .bind(after.transaction_id)
    .bind(after.global_position)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(transaction_id, global_position)| FeedPosition {
            transaction_id,
            global_position,
        })
        .collect())
}

/// Forgets the parked event of `name` at `position` (it was applied).
pub async fn release(
    conn: &mut PgConnection,
    name: &str,
    position: i64,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "DELETE FROM projection_parked_events WHERE projection = $1 AND global_position = $2",
    )
    .bind(name)
    .bind(position)
    .execute(conn)
    .await?;
    Ok(())
}

/// The parked events, of one projection or all, in feed order: a page of them.
pub async fn list<'c>(
    executor: impl PgExecutor<'c>,
    name: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<Vec<ParkedEvent>, sqlx::Error> {
    let rows: Vec<ParkedEvent> = sqlx::query_as(
        "SELECT projection, global_position AS position, aggregate_type, aggregate_id,
                sequence, event_type, error, attempts, parked_at, last_attempt_at
           FROM projection_parked_events
          WHERE $1::text IS NULL OR projection = $1
          ORDER BY projection, transaction_id, global_position
          LIMIT $2 OFFSET $3",
    )
    .bind(name)
    .bind(limit)
    .bind(offset)
    .fetch_all(executor)
    .await?;
    Ok(rows
        .into_iter()
        .map(|row| ParkedEvent {
            aggregate_type: stored_text::unescaped(row.aggregate_type),
            aggregate_id: stored_text::unescaped(row.aggregate_id),
            event_type: stored_text::unescaped(row.event_type),
            error: stored_text::unescaped(row.error),
            ..row
        })
        .collect())
}

/// How many events each checkpoint has parked (checkpoints with none are absent).
pub async fn counts<'c>(
    executor: impl PgExecutor<'c>,
) -> Result<HashMap<String, i64>, sqlx::Error> {
    let rows: Vec<(String, i64)> = sqlx::query_as(
        "SELECT projection, count(*) FROM projection_parked_events GROUP BY projection",
    )
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().collect())
}

/// Forgets every event `name` parked (a copy of a projection being started afresh or
/// dropped).
pub async fn discard(conn: &mut PgConnection, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query("DELETE FROM projection_parked_events WHERE projection = $1")
        .bind(name)
        .execute(conn)
        .await?;
    Ok(())
}

/// Makes what `from` parked `to`'s, replacing `to`'s own (a rebuilt copy swapped in).
pub async fn hand_over(conn: &mut PgConnection, from: &str, to: &str) -> Result<(), sqlx::Error> {
    discard(conn, to).await?;
    sqlx::query("UPDATE projection_parked_events SET projection = $2 WHERE projection = $1")
        .bind(from)
        .bind(to)
        .execute(conn)
        .await?;
    Ok(())
}
