//! A batch that failed for a reason other than a passing database problem, applied again
//! one event at a time, each in a savepoint, to find the events that fail: those are
//! parked with their stream's later events (see [`crate::parking`]) and the rest applied —
//! or, for a failure of unknown cause in a projection whose policy is
//! [`UnknownFailure::Stop`], the projection stops at the event, `failed`, until an
//! operator retries it ([`Projector::retry_parked`]).

use sqlx::{Acquire, PgConnection};

use crate::feed::read_feed_until;
use crate::projection::{FailureKind, Projection, ProjectionError, Target, UnknownFailure};
use crate::projector::{BATCH_SIZE, Projector, Step};
use crate::{FeedPosition, RecordedEvent, checkpoint, parking};

impl Projector {
    /// The batch that just failed, again, event by event (see [`apply_one_by_one`]).
    pub(crate) async fn step_one_by_one(
        &self,
        projection: &dyn Projection,
        target: Target,
        until: FeedPosition,
    ) -> Result<Step, ProjectionError> {
        let name = target.checkpoint(projection.name());
        let mut tx = self.pool().begin().await?;
        let Some(current) = checkpoint::lock(&mut tx, &name, true).await? else {
            return Ok(Step::Standby);
        };
        if current.failed() {
            return Ok(Step::Failed);
        }
        let events = read_feed_until(&mut *tx, current.position(), until, BATCH_SIZE).await?;
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(Step::CaughtUp);
        };
        match apply_one_by_one(&mut tx, projection, target, &events).await {
            Ok(()) => {
                checkpoint::advance(&mut tx, &name, last).await?;
                tx.commit().await?;
                self.publish_if_live(projection, target, last);
                Ok(Step::Applied(events.len()))
            }
            Err((_, err)) if err.kind() == FailureKind::Transient => Err(err),
            Err((done, err)) => {
                // Keep what applied before the event, and stop at it.
                if let Some(done) = done {
                    checkpoint::advance(&mut tx, &name, done).await?;
                }
                tx.commit().await?;
                let at = events
                    .iter()
                    .find(|event| done.is_none_or(|done| event.position > done))
                    .map_or(0, |event| event.position.global_position);
                self.record_failure(&name, &format!("event at position {at}: {err}"))
                    .await?;
                Err(err)
            }
        }
    }

    async fn record_failure(&self, name: &str, error: &str) -> Result<(), sqlx::Error> {
        tracing::error!(
            projection = name,
            error,
            "projection stopped; it waits here until an operator retries it"
        );
        sqlx::query(
            "UPDATE projection_checkpoints SET state = 'failed', error = $2, updated_at = now()
              WHERE projection = $1",
        )
        .bind(name)
        .bind(crate::stored_text::escape(error).as_ref())
        .execute(self.pool())
        .await?;
        Ok(())
    }
}

/// Applies `events` one at a time, each in a savepoint, parking those that fail (and
/// their streams' later events). Stops at the first event whose failure the projection's
/// policy says to stop at: `Err` with the events before it applied in `conn`'s
/// transaction, and the position of the last one (if any) to advance the checkpoint to.
async fn apply_one_by_one(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    events: &[RecordedEvent],
) -> Result<(), (Option<FeedPosition>, ProjectionError)> {
    let name = target.checkpoint(projection.name());
    let fail = |done: Option<FeedPosition>| move |err: sqlx::Error| (done, err.into());
    let mut done = None;
    let mut waiting = parking::waiting_streams(&mut *conn, &name, events)
        .await
        .map_err(fail(done))?;
    for event in events {
        if waiting.contains(&event.aggregate_id) {
            parking::park(&mut *conn, &name, event, parking::WAITING)
                .await
                .map_err(fail(done))?;
            done = Some(event.position);
            continue;
        }
        let mut savepoint = conn.begin().await.map_err(fail(done))?;
        match projection
            .apply(&mut savepoint, target, std::slice::from_ref(event))
            .await
        {
            Ok(()) => savepoint.commit().await.map_err(fail(done))?,
            Err(err) => {
                savepoint.rollback().await.map_err(fail(done))?;
                let park = match err.kind() {
                    FailureKind::Transient => return Err((done, err)),
                    FailureKind::Event => true,
                    FailureKind::Unknown => projection.on_unknown_failure() == UnknownFailure::Park,
                };
                if !park {
                    return Err((done, err));
                }
                parking::park(&mut *conn, &name, event, &err.to_string())
                    .await
                    .map_err(fail(done))?;
                waiting.insert(event.aggregate_id.clone());
            }
        }
        done = Some(event.position);
    }
    Ok(())
}
