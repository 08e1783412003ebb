//! The projector: tails the global feed for every projection and applies each batch
//! **and** advances that projection's checkpoint in one transaction, so a crash between
//! batches, or in the middle of one, neither skips nor repeats an event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgConnection, PgPool};
use tokio::sync::watch;

use crate::checkpoint;
use crate::projection::{Projection, ProjectionError, Target};
use crate::{FeedPosition, read_feed};

/// The channel the events table's trigger notifies on commit.
const FEED_CHANNEL: &str = "ordo_events";

/// Events per batch.
pub const BATCH_SIZE: i64 = 2_000;

/// What one step of a projection did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Applied this many events.
    Applied(usize),
    /// Nothing new below the feed's horizon.
    CaughtUp,
    /// Another process holds this projection right now.
    Standby,
    /// The projection stopped on an event it could not apply (see its checkpoint row).
    Failed,
}

/// Feeds a set of projections.
pub struct Projector {
    pool: PgPool,
    projections: Vec<Arc<dyn Projection>>,
    positions: HashMap<&'static str, watch::Sender<FeedPosition>>,
    poll_interval: Duration,
}

impl std::fmt::Debug for Projector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.projections.iter().map(|p| p.name()).collect();
        f.debug_struct("Projector")
            .field("projections", &names)
            .finish()
    }
}

/// Reads the batch after `after`, applies it to `target`'s tables and advances the
/// target's checkpoint, all in the caller's transaction. `None` when caught up.
pub async fn apply_next_batch(
    conn: &mut PgConnection,
    projection: &dyn Projection,
    target: Target,
    after: FeedPosition,
    limit: i64,
) -> Result<Option<(usize, FeedPosition)>, ProjectionError> {
    let events = read_feed(&mut *conn, after, limit).await?;
    let Some(last) = events.last().map(|event| event.position) else {
        return Ok(None);
    };
    projection.apply(&mut *conn, target, &events).await?;
    checkpoint::advance(conn, &target.checkpoint(projection.name()), last).await?;
    Ok(Some((events.len(), last)))
}

impl Projector {
    pub fn new(pool: PgPool, projections: Vec<Arc<dyn Projection>>) -> Self {
        let positions = projections
            .iter()
            .map(|projection| (projection.name(), watch::Sender::new(FeedPosition::START)))
            .collect();
        Self {
            pool,
            projections,
            positions,
            poll_interval: Duration::from_millis(500),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    pub fn projections(&self) -> &[Arc<dyn Projection>] {
        &self.projections
    }

    /// The projection called `name`.
    pub fn projection(&self, name: &str) -> Option<&Arc<dyn Projection>> {
        self.projections.iter().find(|p| p.name() == name)
    }

    /// Creates the checkpoint rows of projections that have none yet.
    pub async fn register(&self) -> Result<(), sqlx::Error> {
        for projection in &self.projections {
            checkpoint::ensure(&self.pool, projection.name()).await?;
        }
        Ok(())
    }

    /// Applies one batch of `projection` to `target`, in one transaction with the
    /// target's checkpoint.
    pub async fn step_into(
        &self,
        projection: &dyn Projection,
        target: Target,
    ) -> Result<Step, ProjectionError> {
        let name = target.checkpoint(projection.name());
        let mut tx = self.pool.begin().await?;
        // The row lock makes this process the projection's only writer for the batch;
        // another process's projector skips it (SKIP LOCKED) and stands by.
        let Some(current) = checkpoint::lock(&mut tx, &name, true).await? else {
            if target == Target::Live {
                // Follow the active projector's progress, for read-your-writes waits here.
                if let Some(active) = checkpoint::read(&self.pool, &name).await? {
                    self.publish(projection.name(), active.position());
                }
            }
            return Ok(Step::Standby);
        };
        if current.failed() {
            return Ok(Step::Failed);
        }
        if target == Target::Live {
            self.publish(projection.name(), current.position());
        }
        match apply_next_batch(&mut tx, projection, target, current.position(), BATCH_SIZE).await {
            Ok(None) => Ok(Step::CaughtUp),
            Ok(Some((applied, last))) => {
                tx.commit().await?;
                if target == Target::Live {
                    self.publish(projection.name(), last);
                }
                Ok(Step::Applied(applied))
            }
            Err(err) => {
                tx.rollback().await?;
                self.record_failure(&name, &err).await?;
                Err(err)
            }
        }
    }

    /// One batch of the live projection.
    pub async fn step(&self, projection: &dyn Projection) -> Result<Step, ProjectionError> {
        self.step_into(projection, Target::Live).await
    }

    /// Runs every projection until each is caught up, standing by or failed; a failing
    /// projection does not hold the others back.
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        let mut first_error = None;
        for projection in &self.projections {
            loop {
                match self.step(projection.as_ref()).await {
                    Ok(Step::Applied(_)) => {}
                    Ok(_) => break,
                    Err(err) => {
                        first_error.get_or_insert(err);
                        break;
                    }
                }
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// Tails the feed until `shutdown` changes: woken by NOTIFY, polling as a fallback
    /// (a lost notification, or events that were not yet below the horizon).
    ///
    /// Stop it with `shutdown`, which it checks between batches; never abort its task:
    /// sqlx 0.8 can return a connection whose future was dropped mid-transaction to the
    /// pool still inside that transaction, where other statements would then run.
    pub async fn run(self: Arc<Self>, mut shutdown: watch::Receiver<bool>) {
        let mut listener = match PgListener::connect_with(&self.pool).await {
            Ok(mut listener) => match listener.listen(FEED_CHANNEL).await {
                Ok(()) => Some(listener),
                Err(err) => {
                    tracing::warn!(%err, "cannot LISTEN for new events; polling only");
                    None
                }
            },
            Err(err) => {
                tracing::warn!(%err, "cannot LISTEN for new events; polling only");
                None
            }
        };
        loop {
            if let Err(err) = self.catch_up().await {
                tracing::error!(%err, "a projection stopped");
            }
            let notified = async {
                match listener.as_mut() {
                    Some(listener) => {
                        let _ = listener.try_recv().await;
                    }
                    None => std::future::pending::<()>().await,
                }
            };
            tokio::select! {
                () = notified => {}
                () = tokio::time::sleep(self.poll_interval) => {}
                _ = shutdown.changed() => return,
            }
        }
    }

    /// Waits until `projection` has applied everything up to `position`, at most
    /// `timeout`. False when it did not get there in time.
    pub async fn wait_for(
        &self,
        projection: &str,
        position: FeedPosition,
        timeout: Duration,
    ) -> bool {
        let Some(sender) = self.positions.get(projection) else {
            return false;
        };
        let mut receiver = sender.subscribe();
        tokio::time::timeout(timeout, receiver.wait_for(|seen| *seen >= position))
            .await
            .is_ok_and(|result| result.is_ok())
    }

    fn publish(&self, projection: &str, position: FeedPosition) {
        if let Some(sender) = self.positions.get(projection) {
            sender.send_if_modified(|seen| {
                let newer = position > *seen;
                if newer {
                    *seen = position;
                }
                newer
            });
        }
    }

    async fn record_failure(&self, name: &str, err: &ProjectionError) -> Result<(), sqlx::Error> {
        tracing::error!(projection = name, %err, "projection failed; it stops here until fixed and rebuilt");
        sqlx::query(
            "UPDATE projection_checkpoints SET state = 'failed', error = $2, updated_at = now()
              WHERE projection = $1",
        )
        .bind(name)
        .bind(err.to_string())
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
