//! The projector: tails the global feed for every projection and applies each batch
//! **and** advances that projection's checkpoint in one transaction, so a crash between
//! batches, or in the middle of one, neither skips nor repeats an event.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::PgListener;
use sqlx::{PgPool, Row};
use tokio::sync::watch;

use crate::projection::{Projection, ProjectionError};
use crate::{FeedPosition, read_feed};

/// The channel the events table's trigger notifies on commit.
const FEED_CHANNEL: &str = "ordo_events";

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
    batch_size: i64,
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
            batch_size: 500,
            poll_interval: Duration::from_millis(500),
        }
    }

    /// Creates the checkpoint rows of projections that have none yet.
    pub async fn register(&self) -> Result<(), sqlx::Error> {
        for projection in &self.projections {
            sqlx::query(
                "INSERT INTO projection_checkpoints (projection) VALUES ($1)
                 ON CONFLICT (projection) DO NOTHING",
            )
            .bind(projection.name())
            .execute(&self.pool)
            .await?;
        }
        Ok(())
    }

    /// Applies one batch of `projection`, in one transaction with its checkpoint.
    pub async fn step(&self, projection: &dyn Projection) -> Result<Step, ProjectionError> {
        let mut tx = self.pool.begin().await?;
        // The row lock makes this process the projection's only writer for the batch;
        // another process's projector skips it (SKIP LOCKED) and stands by.
        let Some(row) = sqlx::query(
            "SELECT transaction_id::text::bigint AS transaction_id, global_position, state
               FROM projection_checkpoints WHERE projection = $1
                FOR UPDATE SKIP LOCKED",
        )
        .bind(projection.name())
        .fetch_optional(&mut *tx)
        .await?
        else {
            // Follow the active projector's progress, for read-your-writes waits here.
            let position = sqlx::query(
                "SELECT transaction_id::text::bigint AS transaction_id, global_position
                   FROM projection_checkpoints WHERE projection = $1",
            )
            .bind(projection.name())
            .fetch_one(&self.pool)
            .await?;
            self.publish(
                projection.name(),
                FeedPosition {
                    transaction_id: position.try_get("transaction_id")?,
                    global_position: position.try_get("global_position")?,
                },
            );
            return Ok(Step::Standby);
        };
        if row.try_get::<String, _>("state")? == "failed" {
            return Ok(Step::Failed);
        }
        let checkpoint = FeedPosition {
            transaction_id: row.try_get("transaction_id")?,
            global_position: row.try_get("global_position")?,
        };
        self.publish(projection.name(), checkpoint);
        let events = read_feed(&mut *tx, checkpoint, self.batch_size).await?;
        let Some(last) = events.last().map(|event| event.position) else {
            return Ok(Step::CaughtUp);
        };
        if let Err(err) = projection.apply(&mut tx, &events).await {
            tx.rollback().await?;
            self.record_failure(projection.name(), &err).await?;
            return Err(err);
        }
        sqlx::query(
            "UPDATE projection_checkpoints
                SET transaction_id = $2::bigint::text::xid8, global_position = $3,
                    updated_at = now()
              WHERE projection = $1",
        )
        .bind(projection.name())
        .bind(last.transaction_id)
        .bind(last.global_position)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.publish(projection.name(), last);
        Ok(Step::Applied(events.len()))
    }

    /// Runs every projection until each is caught up, standing by or failed.
    pub async fn catch_up(&self) -> Result<(), ProjectionError> {
        for projection in &self.projections {
            while let Step::Applied(_) = self.step(projection.as_ref()).await? {}
        }
        Ok(())
    }

    /// Tails the feed until `shutdown` changes: woken by NOTIFY, polling as a fallback
    /// (a lost notification, or events that were not yet below the horizon).
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
