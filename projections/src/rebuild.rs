//! Blue/green rebuilds: a projection is rebuilt from position zero into shadow tables
//! while the live tables keep serving, caught up to the head, and swapped in within one
//! transaction. Interrupted, it resumes from the shadow's own checkpoint when run again.

use std::time::{Duration, Instant};

use sqlx::pool::PoolConnection;
use sqlx::{Acquire, PgConnection, PgPool, Postgres};

use crate::projection::{Projection, ProjectionError, Target};
use crate::projector::{BATCH_SIZE, Projector, Step, apply_next_batch};
use crate::table_copy::{self, prepare_copy};
use crate::{FeedPosition, checkpoint, parking};

/// The first key of the advisory lock a rebuild holds (the second is its projection's
/// name, hashed): whoever sees it held knows a rebuild of that projection is running now.
pub(crate) const REBUILD_LOCK: i32 = 0x6f72_6462; // "ordb"

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
    #[error(
        "{0} calls WeChat: its calls are never made again from the start of the feed \
         (retry its failed calls instead)"
    )]
    NotReplayable(String),
    #[error("{0}")]
    Busy(&'static str),
    #[error("cancelled")]
    Cancelled,
    /// The shadow copy stopped on an event it could not apply.
    #[error("{0}")]
    Stopped(String),
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Rebuilds `name`, calling `progress` after every batch. Returns the events applied.
pub async fn rebuild(
    projector: &Projector,
    name: &str,
    progress: impl FnMut(RebuildProgress),
) -> Result<u64, RebuildError> {
    RebuildLock::acquire(projector, name)
        .await?
        .rebuild(projector, progress)
        .await
}

/// The right to rebuild one projection: one rebuild of it at a time, across every
/// process on the database, and visible to all of them while it runs.
pub struct RebuildLock {
    connection: PoolConnection<Postgres>,
    name: String,
}

impl RebuildLock {
    /// Takes the lock, or answers [`RebuildError::Busy`] when a rebuild of `name` runs.
    pub async fn acquire(projector: &Projector, name: &str) -> Result<Self, RebuildError> {
        match projector.projection(name) {
            None => return Err(RebuildError::Unknown(name.to_owned())),
            Some(projection) if !projection.replayable() => {
                return Err(RebuildError::NotReplayable(name.to_owned()));
            }
            Some(_) => {}
        }
        let mut connection = projector.pool().acquire().await?;
        // Dropped unfinished (a process stopping), the connection closes and the lock goes
        // with it: it never returns to the pool still held.
        connection.close_on_drop();
        let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1, hashtext($2))")
            .bind(REBUILD_LOCK)
            .bind(name)
            .fetch_one(&mut *connection)
            .await?;
        if !locked {
            return Err(RebuildError::Busy(
                "a rebuild of this projection is already running; watch its progress",
            ));
        }
        Ok(Self {
            connection,
            name: name.to_owned(),
        })
    }

    /// Runs the rebuild. Until its swap clears it, the projection's checkpoint says it was
    /// interrupted, or, if it fails, why (`rebuild_error` in the status).
    pub async fn rebuild(
        mut self,
        projector: &Projector,
        progress: impl FnMut(RebuildProgress),
    ) -> Result<u64, RebuildError> {
        let pool = projector.pool();
        let result = async {
            // Stays if this process dies before the swap clears it.
            record_outcome(pool, &self.name, Some(INTERRUPTED)).await?;
            rebuild_locked(projector, &self.name, progress).await
        }
        .await;
        if let Err(err) = &result {
            tracing::error!(projection = self.name, %err, "rebuild stopped");
            if let Err(unrecorded) = record_outcome(pool, &self.name, Some(&err.to_string())).await
            {
                tracing::warn!(projection = self.name, %unrecorded, "could not record why");
            }
        }
        let unlocked = sqlx::query("SELECT pg_advisory_unlock($1, hashtext($2))")
            .bind(REBUILD_LOCK)
            .bind(&self.name)
            .execute(&mut *self.connection)
            .await;
        if let Err(err) = unlocked {
            // The connection closes on drop, which releases the lock all the same.
            tracing::warn!(%err, "could not release the rebuild lock");
        }
        result
    }
}

/// How often, and how long apart, a rebuild tries again when its copy's checkpoint row
/// is held: 5 s in all.
const STANDBY_TRIES: u32 = 100;
const STANDBY_PAUSE: Duration = Duration::from_millis(50);

/// What a rebuild says of itself until it swaps in or fails: if it is still there and
/// no rebuild holds the lock, its process stopped.
const INTERRUPTED: &str = "interrupted: its process stopped before the copy was swapped in; \
                           start it again to resume from where it stopped";

/// Records why the last rebuild of `name` stopped (the swap clears it).
async fn record_outcome(pool: &PgPool, name: &str, error: Option<&str>) -> Result<(), sqlx::Error> {
    sqlx::query("UPDATE projection_checkpoints SET rebuild_error = $2 WHERE projection = $1")
        .bind(name)
        .bind(error.map(|error| crate::stored_text::escape(error).into_owned()))
        .execute(pool)
        .await?;
    Ok(())
}

async fn rebuild_locked(
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
    // Unless an interrupted rebuild left them.
    prepare_copy(
        &mut *pool.acquire().await?,
        projection.as_ref(),
        Target::Shadow,
        true,
    )
    .await?;

    let started = Instant::now();
    let mut applied = 0u64;
    let mut standing_by = 0;
    loop {
        match projector
            .step_into(projection.as_ref(), Target::Shadow)
            .await?
        {
            Step::Applied(n) => {
                standing_by = 0;
                applied += n as u64;
                progress(current_progress(pool, projection.as_ref(), applied).await?);
            }
            Step::CaughtUp => break,
            // The lock says no other rebuild of it runs: the shadow's row was held for a
            // moment (by a rebuild of an older server, which takes no lock, if any).
            Step::Standby => {
                standing_by += 1;
                if standing_by > STANDBY_TRIES {
                    return Err(RebuildError::Busy(
                        "another process holds this projection's rebuild copy; try again later",
                    ));
                }
                tokio::time::sleep(STANDBY_PAUSE).await;
            }
            Step::Failed => {
                let shadow = checkpoint::read(pool, &Target::Shadow.checkpoint(name)).await?;
                return Err(RebuildError::Stopped(
                    shadow
                        .and_then(|c| c.error)
                        .map(crate::stored_text::unescaped)
                        .unwrap_or_else(|| "the copy stopped on an event".to_owned()),
                ));
            }
        }
    }
    let mut conn = pool.acquire().await?;
    table_copy::complete_indexes(&mut conn, projection.as_ref()).await?;
    applied += swap(&mut conn, projection.as_ref()).await?;
    tracing::info!(
        projection = name,
        applied,
        seconds = started.elapsed().as_secs_f64(),
        "rebuilt and swapped in"
    );
    Ok(applied)
}

/// Applies what the shadow still lacks and swaps it in, in one transaction that holds
/// the live checkpoint (so the live projector waits). Returns the events applied here.
async fn swap(conn: &mut PgConnection, projection: &dyn Projection) -> Result<u64, RebuildError> {
    let live = projection.name();
    let shadow = Target::Shadow.checkpoint(live);
    let mut tx = conn.begin().await?;
    checkpoint::lock(&mut tx, live, false).await?;
    let Some((mut position, parked)) = checkpoint::lock(&mut tx, &shadow, false)
        .await?
        .map(|c| (c.position(), c.parked))
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
        parked,
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
        table_copy::restore_index_names(&mut tx, table).await?;
    }
    sqlx::query(
        "UPDATE projection_checkpoints
            SET transaction_id = $2::bigint::text::xid8, global_position = $3,
                version = version + 1, state = 'running', error = NULL, rebuild_error = NULL,
                updated_at = now()
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
    let head = event_log::feed_lag::head(pool).await?;
    Ok(RebuildProgress {
        applied,
        position: shadow.map_or(0, |c| c.global_position),
        head,
    })
}
