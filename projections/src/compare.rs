//! Compares a projection's live tables with a replay of the whole feed into fresh copies:
//! what `ordo audit verify` reports as "read model vs replay".
//!
//! Without slowing the shop: the live tables are read in a read-only REPEATABLE READ
//! transaction, which sees them and their checkpoint as of one instant, takes no lock and
//! holds no transaction id (so the feed's horizon, and with it the live projectors, move
//! on); the replay is brought to exactly that checkpoint batch by batch in transactions
//! of its own; then both are read in one order and compared row by row, in Rust, memory
//! flat.

use std::cmp::Ordering;

use futures::TryStreamExt;
use serde::Serialize;
use sqlx::pool::PoolConnection;
use sqlx::{Acquire, PgConnection, Postgres};

use crate::cancellation::Cancellation;
use crate::projection::{Projection, Target};
use crate::projector::{Projector, Step};
use crate::rebuild::RebuildError;
use crate::table_copy::prepare_copy;
use crate::{checkpoint, parking};

/// How far the live tables are from a replay.
#[derive(Debug, Clone, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Comparison {
    pub projection: String,
    /// The feed position both were compared at.
    pub position: i64,
    /// Rows the replay has and the live tables lack (or hold differently).
    pub missing_rows: i64,
    /// Rows the live tables have and the replay lacks (or holds differently).
    pub extra_rows: i64,
}

impl Comparison {
    pub fn matches(&self) -> bool {
        self.missing_rows == 0 && self.extra_rows == 0
    }
}

/// The advisory lock held while a comparison runs ("ordocmp"): the replay tables have one
/// name per projection, so one comparison at a time.
const COMPARE_LOCK: i64 = 0x006f_7264_6f63_6d70;

/// Replays `name` from the start of the feed and compares it with the live tables.
/// Stops with [`RebuildError::Cancelled`] soon after `cancellation` fires.
pub async fn compare(
    projector: &Projector,
    name: &str,
    cancellation: &Cancellation,
) -> Result<Comparison, RebuildError> {
    let projection = projector
        .projection(name)
        .ok_or_else(|| RebuildError::Unknown(name.to_owned()))?
        .clone();
    if !projection.replayable() {
        return Err(RebuildError::NotReplayable(name.to_owned()));
    }
    let pool = projector.pool();
    checkpoint::ensure(pool, name).await?;
    let mut lock = pool.acquire().await?;
    // Dropped unfinished (its caller gone), the connection closes, and the session's
    // lock goes with it: it never returns to the pool still holding the lock.
    lock.close_on_drop();
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(COMPARE_LOCK)
        .fetch_one(&mut *lock)
        .await?;
    if !locked {
        return Err(RebuildError::Busy(
            "another verification is comparing the read models; try again when it ends",
        ));
    }
    let result = replay_and_compare(projector, &mut lock, projection.as_ref(), cancellation).await;
    release(lock).await;
    result
}

async fn release(mut lock: PoolConnection<Postgres>) {
    let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(COMPARE_LOCK)
        .execute(&mut *lock)
        .await;
    if let Err(err) = unlocked {
        // The connection closes on drop, which releases the lock all the same.
        tracing::warn!(%err, "could not release the comparison lock");
    }
}

async fn replay_and_compare(
    projector: &Projector,
    conn: &mut PgConnection,
    projection: &dyn Projection,
    cancellation: &Cancellation,
) -> Result<Comparison, RebuildError> {
    prepare_copy(conn, projection, Target::Replay, false).await?;
    let result = compare_at_a_snapshot(projector, projection, cancellation).await;
    drop_copy(conn, projection).await?;
    result
}

/// Reads the live tables as of one instant, replays the feed to the position they had
/// then, and counts the rows that differ.
async fn compare_at_a_snapshot(
    projector: &Projector,
    projection: &dyn Projection,
    cancellation: &Cancellation,
) -> Result<Comparison, RebuildError> {
    let pool = projector.pool();
    let live = projection.name();
    let mut snapshot_conn = pool.acquire().await?;
    let mut snapshot = snapshot_conn.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *snapshot)
        .await?;
    // It waits, idle, while the replay catches up (minutes on a big log). Idle
    // transactions are cut short because they hold the feed's horizon back; this one
    // holds no transaction id, so it holds nothing back.
    sqlx::query("SET LOCAL idle_in_transaction_session_timeout = 0")
        .execute(&mut *snapshot)
        .await?;
    // The first read fixes the snapshot: the checkpoint and the tables it describes.
    let position = checkpoint::read(&mut *snapshot, live)
        .await?
        .ok_or_else(|| RebuildError::Unknown(live.to_owned()))?
        .position();
    loop {
        if cancellation.is_cancelled() {
            return Err(RebuildError::Cancelled);
        }
        match projector
            .step_into_until(projection, Target::Replay, position)
            .await?
        {
            Step::Applied(_) => {}
            Step::CaughtUp => break,
            Step::Standby | Step::Failed => {
                return Err(RebuildError::Busy(
                    "the verification's replay is held elsewhere; try again",
                ));
            }
        }
    }
    let mut replay = pool.acquire().await?;
    let (mut missing_rows, mut extra_rows) = (0, 0);
    for table in projection.tables() {
        let (missing, extra) = differing_rows(
            &mut snapshot,
            table,
            &mut replay,
            &Target::Replay.table(table),
            cancellation,
        )
        .await?;
        missing_rows += missing;
        extra_rows += extra;
    }
    snapshot.rollback().await?;
    Ok(Comparison {
        projection: live.to_owned(),
        position: position.global_position,
        missing_rows,
        extra_rows,
    })
}

/// Rows checked between two looks at the cancellation.
const ROWS_PER_CHECK: u64 = 10_000;

/// Compares `live` (read through `live_conn`) with `replay` as multisets of whole rows:
/// (rows only the replay has, rows only the live table has). Both are read as JSON text
/// sorted by bytes, which is also how Rust orders strings, and merged as they stream.
async fn differing_rows(
    live_conn: &mut PgConnection,
    live: &str,
    replay_conn: &mut PgConnection,
    replay: &str,
    cancellation: &Cancellation,
) -> Result<(i64, i64), RebuildError> {
    // Table names are ordo's own constants, never input.
    let rows = |table: &str| {
        format!("SELECT to_jsonb(t)::text FROM {table} t ORDER BY to_jsonb(t)::text COLLATE \"C\"")
    };
    let (live_sql, replay_sql) = (rows(live), rows(replay));
    let mut live_rows = sqlx::query_scalar::<_, String>(&live_sql).fetch(live_conn);
    let mut replay_rows = sqlx::query_scalar::<_, String>(&replay_sql).fetch(replay_conn);
    let (mut missing, mut extra, mut seen) = (0i64, 0i64, 0u64);
    let (mut left, mut right) = (live_rows.try_next().await?, replay_rows.try_next().await?);
    loop {
        seen += 1;
        if seen % ROWS_PER_CHECK == 0 && cancellation.is_cancelled() {
            return Err(RebuildError::Cancelled);
        }
        let order = match (&left, &right) {
            (None, None) => break,
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (Some(l), Some(r)) => l.as_bytes().cmp(r.as_bytes()),
        };
        match order {
            Ordering::Equal => {
                left = live_rows.try_next().await?;
                right = replay_rows.try_next().await?;
            }
            Ordering::Less => {
                extra += 1;
                left = live_rows.try_next().await?;
            }
            Ordering::Greater => {
                missing += 1;
                right = replay_rows.try_next().await?;
            }
        }
    }
    Ok((missing, extra))
}

async fn drop_copy(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<(), sqlx::Error> {
    for table in projection.tables() {
        sqlx::query(&format!(
            "DROP TABLE IF EXISTS {}",
            Target::Replay.table(table)
        ))
        .execute(&mut *conn)
        .await?;
    }
    let replay = Target::Replay.checkpoint(projection.name());
    sqlx::query("DELETE FROM projection_checkpoints WHERE projection = $1")
        .bind(&replay)
        .execute(&mut *conn)
        .await?;
    parking::discard(conn, &replay).await?;
    Ok(())
}
