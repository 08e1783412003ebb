//! Projection checkpoints: where each projection (and each rebuild's shadow) has read the
//! feed up to, and whether it is running or stopped on an error.

use chrono::{DateTime, Utc};
use sqlx::{FromRow, PgConnection, PgExecutor};

use crate::FeedPosition;

/// A row of `projection_checkpoints`.
#[derive(Debug, Clone, PartialEq, Eq, FromRow)]
pub struct Checkpoint {
    pub projection: String,
    pub version: i32,
    pub transaction_id: i64,
    pub global_position: i64,
    pub state: String,
    pub error: Option<String>,
    /// Why the last rebuild stopped before it swapped in (escaped, as stored).
    pub rebuild_error: Option<String>,
    pub updated_at: DateTime<Utc>,
    /// Whether events are parked for it (read by [`lock`] only; false elsewhere): when
    /// none are, a batch need not ask whether its streams wait behind one.
    #[sqlx(default)]
    pub parked: bool,
}

impl Checkpoint {
    pub fn position(&self) -> FeedPosition {
        FeedPosition {
            transaction_id: self.transaction_id,
            global_position: self.global_position,
        }
    }

    pub fn failed(&self) -> bool {
        self.state == "failed"
    }
}

const COLUMNS: &str = "projection, version, transaction_id::text::bigint AS transaction_id,
                       global_position, state, error, rebuild_error, updated_at";

/// Creates the checkpoint `name` at `position` unless it exists.
pub async fn ensure_at<'c>(
    executor: impl PgExecutor<'c>,
    name: &str,
    position: FeedPosition,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection, transaction_id, global_position)
         VALUES ($1, $2::bigint::text::xid8, $3)
         ON CONFLICT (projection) DO NOTHING",
    )
    .bind(name)
    .bind(position.transaction_id)
    .bind(position.global_position)
    .execute(executor)
    .await?;
    Ok(())
}

/// Creates the checkpoint `name` at the start of the feed unless it exists.
pub async fn ensure<'c>(executor: impl PgExecutor<'c>, name: &str) -> Result<(), sqlx::Error> {
    sqlx::query(
        "INSERT INTO projection_checkpoints (projection) VALUES ($1)
         ON CONFLICT (projection) DO NOTHING",
    )
    .bind(name)
    .execute(executor)
    .await?;
    Ok(())
}

/// The checkpoint `name`, without locking it.
pub async fn read<'c>(
    executor: impl PgExecutor<'c>,
    name: &str,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_checkpoints WHERE projection = $1"
    ))
    .bind(name)
    .fetch_optional(executor)
    .await
}

/// Every checkpoint, by name.
pub async fn all<'c>(executor: impl PgExecutor<'c>) -> Result<Vec<Checkpoint>, sqlx::Error> {
    sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM projection_checkpoints ORDER BY projection"
    ))
    .fetch_all(executor)
    .await
}

/// Locks the checkpoint `name` for this transaction. With `skip_locked`, answers `None`
/// at once when another transaction holds it; otherwise waits for it.
pub async fn lock(
    conn: &mut PgConnection,
    name: &str,
    skip_locked: bool,
) -> Result<Option<Checkpoint>, sqlx::Error> {
    let wait = if skip_locked { "SKIP LOCKED" } else { "" };
    // Whether any event is parked is read with the lock: only the lock's holder parks.
    sqlx::query_as(&format!(
        "SELECT {COLUMNS},
                EXISTS (SELECT 1 FROM projection_parked_events p
                         WHERE p.projection = projection_checkpoints.projection) AS parked
           FROM projection_checkpoints WHERE projection = $1 FOR UPDATE {wait}"
    ))
    .bind(name)
    .fetch_optional(conn)
    .await
}

/// Moves the checkpoint `name` to `position`.
pub async fn advance(
    conn: &mut PgConnection,
    name: &str,
    position: FeedPosition,
) -> Result<(), sqlx::Error> {
    sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $2::bigint::text::xid8, global_position = $3, updated_at = now()
          WHERE projection = $1",
    )
    .bind(name)
    .bind(position.transaction_id)
    .bind(position.global_position)
    .execute(conn)
    .await?;
    Ok(())
}
