//! Compares a projection's live tables with a replay of the whole feed into fresh copies:
//! what `ordo audit verify` reports as "read model vs replay". The live tables keep
//! serving; the final comparison runs in one transaction holding the live checkpoint,
//! with both copies brought to the same feed position.

use serde::Serialize;
use sqlx::{Acquire, PgConnection};

use crate::projection::{Projection, Target};
use crate::projector::{BATCH_SIZE, Projector, Step, apply_next_batch};
use crate::rebuild::{RebuildError, prepare_copy};
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

/// Replays `name` from the start of the feed and compares it with the live tables.
pub async fn compare(projector: &Projector, name: &str) -> Result<Comparison, RebuildError> {
    let projection = projector
        .projection(name)
        .ok_or_else(|| RebuildError::Unknown(name.to_owned()))?
        .clone();
    let pool = projector.pool();
    checkpoint::ensure(pool, name).await?;
    let mut conn = pool.acquire().await?;
    // The replay tables have one name per projection: one comparison at a time.
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_lock($1)")
        .bind(COMPARE_LOCK)
        .fetch_one(&mut *conn)
        .await?;
    if !locked {
        return Err(RebuildError::Busy(
            "another verification is comparing the read models; try again when it ends",
        ));
    }
    let result = replay_and_compare(projector, &mut conn, projection.as_ref()).await;
    sqlx::query("SELECT pg_advisory_unlock($1)")
        .bind(COMPARE_LOCK)
        .execute(&mut *conn)
        .await?;
    result
}

/// The advisory lock held while a comparison runs ("ordocmp").
const COMPARE_LOCK: i64 = 0x006f_7264_6f63_6d70;

async fn replay_and_compare(
    projector: &Projector,
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<Comparison, RebuildError> {
    prepare_copy(conn, projection, Target::Replay, false).await?;
    // Most of the replay runs outside the final transaction, batch by batch.
    while let Step::Applied(_) = projector.step_into(projection, Target::Replay).await? {}
    let result = finish(conn, projection).await;
    drop_copy(conn, projection).await?;
    result
}

/// Brings live and replay to one position and counts the differing rows.
async fn finish(
    conn: &mut PgConnection,
    projection: &dyn Projection,
) -> Result<Comparison, RebuildError> {
    let live = projection.name();
    let replay = Target::Replay.checkpoint(live);
    let mut tx = conn.begin().await?;
    let Some(mut live_at) = checkpoint::lock(&mut tx, live, false).await? else {
        return Err(RebuildError::Unknown(live.to_owned()));
    };
    let Some(mut replay_at) = checkpoint::lock(&mut tx, &replay, false).await? else {
        return Err(RebuildError::Unknown(replay));
    };
    // New events may commit meanwhile: repeat until both stop at the same position.
    loop {
        while let Some((_, last)) = apply_next_batch(
            &mut tx,
            projection,
            Target::Replay,
            replay_at.position(),
            BATCH_SIZE,
        )
        .await?
        {
            replay_at.transaction_id = last.transaction_id;
            replay_at.global_position = last.global_position;
        }
        if live_at.failed() || live_at.position() >= replay_at.position() {
            break;
        }
        while live_at.position() < replay_at.position() {
            let Some((_, last)) = apply_next_batch(
                &mut tx,
                projection,
                Target::Live,
                live_at.position(),
                BATCH_SIZE,
            )
            .await?
            else {
                break;
            };
            live_at.transaction_id = last.transaction_id;
            live_at.global_position = last.global_position;
        }
        if live_at.position() == replay_at.position() {
            break;
        }
    }
    let (mut missing_rows, mut extra_rows) = (0, 0);
    for table in projection.tables() {
        let copy = Target::Replay.table(table);
        let count = |from: &str, minus: &str| {
            format!(
                "SELECT count(*) FROM (SELECT to_jsonb(a) FROM {from} a
                                       EXCEPT ALL SELECT to_jsonb(b) FROM {minus} b) d"
            )
        };
        let missing: i64 = sqlx::query_scalar(&count(&copy, table))
            .fetch_one(&mut *tx)
            .await?;
        let extra: i64 = sqlx::query_scalar(&count(table, &copy))
            .fetch_one(&mut *tx)
            .await?;
        missing_rows += missing;
        extra_rows += extra;
    }
    tx.commit().await?;
    Ok(Comparison {
        projection: live.to_owned(),
        position: replay_at.global_position,
        missing_rows,
        extra_rows,
    })
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
