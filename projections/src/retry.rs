//! Parked events re-applied after their cause was fixed.

use std::collections::HashSet;

use serde::Serialize;
use sqlx::Acquire;

use crate::projection::{FailureKind, ProjectionError, Target};
use crate::projector::{BATCH_SIZE, Projector};
use crate::{FeedPosition, checkpoint, feed, parking};

/// What [`Projector::retry_parked`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Retried {
    /// Parked events applied now.
    pub applied: u64,
    /// Parked events that still fail (or wait for one of their stream that does).
    pub still_parked: u64,
    /// Whether the projection had stopped (`failed`) and runs again.
    pub resumed: bool,
}

impl Projector {
    /// Re-applies the events `name` parked, in feed order, after their cause was fixed;
    /// those that still fail stay parked (with their streams' later events). A projection
    /// that had stopped (`failed`) runs again. The live projector waits meanwhile.
    pub async fn retry_parked(&self, name: &str) -> Result<Retried, ProjectionError> {
        let Some(projection) = self.projection(name).cloned() else {
            return Ok(Retried::default());
        };
        let mut tx = self.pool().begin().await?;
        let Some(current) = checkpoint::lock(&mut tx, name, false).await? else {
            return Ok(Retried::default());
        };
        let mut retried = Retried {
            resumed: current.failed(),
            ..Retried::default()
        };
        let mut still_failing: HashSet<String> = HashSet::new();
        let mut after = FeedPosition::START;
        loop {
            let positions = parking::positions(&mut tx, name, after, BATCH_SIZE).await?;
            let Some(last) = positions.last().copied() else {
                break;
            };
            after = last;
            let wanted: Vec<i64> = positions.iter().map(|p| p.global_position).collect();
            for event in feed::read_positions(&mut *tx, &wanted).await? {
                let position = event.position.global_position;
                if still_failing.contains(&event.aggregate_id) {
                    parking::park(&mut tx, name, &event, parking::WAITING).await?;
                    retried.still_parked += 1;
                    continue;
                }
                let mut savepoint = tx.begin().await?;
                let applied = projection
                    .apply(&mut savepoint, Target::Live, std::slice::from_ref(&event))
                    .await;
                match applied {
                    Ok(()) => {
                        savepoint.commit().await?;
                        parking::release(&mut tx, name, position).await?;
                        retried.applied += 1;
                    }
                    Err(err) if err.kind() == FailureKind::Transient => return Err(err),
                    Err(err) => {
                        savepoint.rollback().await?;
                        parking::park(&mut tx, name, &event, &err.to_string()).await?;
                        still_failing.insert(event.aggregate_id.clone());
                        retried.still_parked += 1;
                    }
                }
            }
        }
        if retried.resumed {
            sqlx::query(
                "UPDATE projection_checkpoints SET state = 'running', error = NULL, updated_at = now()
                  WHERE projection = $1",
            )
            .bind(name)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        tracing::info!(projection = name, ?retried, "parked events retried");
        Ok(retried)
    }
}
