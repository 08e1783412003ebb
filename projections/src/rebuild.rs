//! Blue/green rebuilds: a projection is rebuilt from position zero into shadow tables
//! while the live tables keep serving, caught up to the head, and swapped in within one
//! transaction. Interrupted, it resumes from the shadow's own checkpoint when run again.

use std::time::Instant;

use sqlx::{Acquire, PgConnection};

use crate::projection::{Projection, ProjectionError, Target};
use crate::projector::{BATCH_SIZE, Projector, Step, apply_next_batch};
use crate::{FeedPosition, checkpoint, parking};

/// Where a rebuild stands, for progress bars and the status endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RebuildProgress {
    /// Events applied to the shadow by this run.
    pub applied: u64,
    /// The shadow's global position and the feed's highest one.
    pub position: i64,
    pub head: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum RebuildError {
    #[error("no projection is called {0}")]
    Unknown(String),
    #[error("{0}")]
    Busy(&'static str),
    #[error("cancelled")]
    Cancelled,
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Rebuilds `name`, calling `progress` after every batch. Returns the events applied.
pub async fn rebuild(
    projector: &Projector,
    name: &str,
    mut progress: impl FnMut(RebuildProgress),
) -> Result<u64, RebuildError> {
    let projection = projector
        .projection(name)
        .ok_or_else(|| RebuildError::Unknown(name.to_owned()))?
        .clone();
    let pool = projector.pool();
    checkpoint::ensure(pool, name).await?;
    prepare_shadow(&mut *pool.acquire().await?, projection.as_ref()).await?;

    let started = Instant::now();
    let mut applied = 0u64;
    loop {
        match projector
            .step_into(projection.as_ref(), Target::Shadow)
            .await?
        {
            Step::Applied(n) => {
                applied += n as u64;
                progress(current_progress(pool, projection.as_ref(), applied).await?);
            }
            Step::CaughtUp => break,
            // Another rebuild of the same projection is running; let it finish.
            Step::Standby | Step::Failed => return Ok(applied),
        }
    }
    applied += swap(&mut *pool.acquire().await?, projection.as_ref()).await?;
    tracing::info!(
        projection = name,
        applied,
        seconds = started.elapsed().as_secs_f64(),
        "rebuilt and swapped in"
    );
    Ok(applied)
}

/// Creates the shadow tables and checkpoint, unless an interrupted rebuild left them.
pub async fn prepare_shadow(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), RebuildError> {
    prepare_copy(conn, projection, Target::Shadow, true).await
}

/// Creates empty copies of the projection's tables for `target`, with a checkpoint at
/// the start of the feed; with `resume`, keeps copies an interrupted run left.
pub async fn prepare_copy(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    resume: bool,
) -> Result<(), RebuildError> {
    let shadow = target.checkpoint(projection.name());
    let mut tx = conn.begin().await?;
    if resume
        && checkpoint::read(&mut *tx, &shadow)
            .await?
            .is_some_and(|c| !c.failed())
    {
        return Ok(());
    }
    for table in projection.tables() {
        let copy = target.table(table);
        sqlx::query(&format!("DROP TABLE IF EXISTS {copy}"))
            .execute(&mut *tx)
            .await?;
        sqlx::query(&format!("CREATE TABLE {copy} (LIKE {table} INCLUDING ALL)"))
            .execute(&mut *tx)
            .await?;
    }
    sqlx::query("DELETE FROM projection_checkpoints WHERE projection = $1")
        .bind(&shadow)
        .execute(&mut *tx)
        .await?;
    parking::discard(&mut tx, &shadow).await?;
    checkpoint::ensure(&mut *tx, &shadow).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies what the shadow still lacks and swaps it in, in one transaction that holds
/// the live checkpoint (so the live projector waits). Returns the events applied here.
async fn swap(conn: &mut PgConnection, projection: &dyn Projection) -> Result<u64, RebuildError> {
    let live = projection.name();
    let shadow = Target::Shadow.checkpoint(live);
    let mut tx = conn.begin().await?;
    checkpoint::lock(&mut tx, live, false).await?;
    let Some(mut position) = checkpoint::lock(&mut tx, &shadow, false)
        .await?
        .map(|c| c.position())
    else {
        return Ok(0);
    };
    let mut applied = 0u64;
    while let Some((n, last)) = apply_next_batch(
        &mut tx,
        projection,
        Target::Shadow,
        (position, FeedPosition::END),
        BATCH_SIZE,
    )
    .await?
    {
        applied += n as u64;
        position = last;
    }
    for table in projection.tables() {
        let (copy, old) = (Target::Shadow.table(table), format!("{table}__old"));
        for statement in [
            format!("ALTER TABLE {table} RENAME TO {old}"),
            format!("ALTER TABLE {copy} RENAME TO {table}"),
            format!("DROP TABLE {old}"),
        ] {
            sqlx::query(&statement).execute(&mut *tx).await?;
        }
    }
    sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $2::bigint::text::xid8, global_position = $3,
                version = version + 1, state = 'running', error = NULL, updated_at = now()
          WHERE projection = $1",
    )
    .bind(live)
    .bind(position.transaction_id)
    .bind(position.global_position)
    .execute(&mut *tx)
    .await?;
    sqlx::query("DELETE FROM projection_checkpoints WHERE projection = $1")
        .bind(&shadow)
        .execute(&mut *tx)
        .await?;
    // What the rebuilt copy parked replaces what the old one had.
    parking::hand_over(&mut tx, &shadow, live).await?;
    tx.commit().await?;
    Ok(applied)
}

async fn current_progress(
    pool: &sqlx::PgPool,
    projection: &dyn Projection,
    applied: u64,
) -> Result<RebuildProgress, sqlx::Error> {
    let shadow = checkpoint::read(pool, &Target::Shadow.checkpoint(projection.name())).await?;
    let head: Option<i64> = sqlx::query_scalar("SELECT max(global_position) FROM events")
        .fetch_one(pool)
        .await?;
    Ok(RebuildProgress {
        applied,
        position: shadow.map_or(0, |c| c.global_position),
        head: head.unwrap_or(0),
    })
}
