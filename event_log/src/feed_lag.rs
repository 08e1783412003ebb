//! How far the feed runs ahead of a position: its head, and how many events (and how
//! old the oldest of them) a reader at a position has not seen yet. What projections'
//! status, rebuild progress and the horizon watcher report.

use sqlx::PgExecutor;

use crate::FeedPosition;

/// The highest global position written (0 for an empty log).
pub async fn head<'c>(executor: impl PgExecutor<'c>) -> Result<i64, sqlx::Error> {
    let head: Option<i64> = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(executor)
        .await?;
    Ok(head.unwrap_or(0))
}

/// The events after `position`: how many, and the age in seconds of the oldest (0 when
/// there are none).
pub async fn behind<'c>(
    executor: impl PgExecutor<'c>,
    position: FeedPosition,
) -> Result<(i64, f64), sqlx::Error> {
    let (count, age): (i64, Option<f64>) = sqlx::query_as(
        "SELECT count(*), extract(epoch FROM now() - min(recorded_at))::float8
           FROM events
          WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)",
    )
    .bind(position.transaction_id)
    .bind(position.global_position)
    .fetch_one(executor)
    .await?;
    Ok((count, age.unwrap_or(0.0).max(0.0)))
}

/// The age in seconds of the first event after `position` in feed order (0 when there
/// is none): one cheap look (the feed's index), for health checks.
pub async fn age_of_next<'c>(
    executor: impl PgExecutor<'c>,
    position: FeedPosition,
) -> Result<f64, sqlx::Error> {
    let age: Option<f64> = sqlx::query_scalar(
        "SELECT extract(epoch FROM now() - (
                    SELECT recorded_at FROM events
                     WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                     ORDER BY transaction_id, global_position
                     LIMIT 1))::float8",
    )
    .bind(position.transaction_id)
    .bind(position.global_position)
    .fetch_one(executor)
    .await?;
    Ok(age.unwrap_or(0.0))
}
