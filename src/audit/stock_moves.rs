//! A product's latest stock moves, each with the stock it left: what the console charts.
//!
//! The stock after each move is found backwards from the stream's current state (loaded
//! through its snapshot), taking each move's change back out. Cost follows the moves
//! asked for, not the stream's length: a flash-sale product with a million moves answers
//! as fast as a new one.

use aggregates::stock::{Stock, StockEvent};
use serde::Serialize;
use sqlx::PgPool;
use uuid::Uuid;

use super::history::HistoryEntry;
use super::{AuditEvent, COLUMNS};
use crate::event_store::{EventStore, LoadError};
use projections::upcasting;

/// Most moves one answer holds.
pub const MAX_MOVES: i64 = 1_000;

/// One move and the stock right after it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StockMove {
    #[serde(flatten)]
    pub event: HistoryEntry,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum MovesError {
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error("stock event {0} cannot be read: {1}")]
    Unreadable(i64, String),
}

/// The product's last `limit` stock moves, oldest first; empty when it has none.
pub async fn latest(
    pool: &PgPool,
    product_id: Uuid,
    limit: i64,
) -> Result<Vec<StockMove>, MovesError> {
    let id = product_id.to_string();
    let current = EventStore::new(pool.clone()).load::<Stock>(&id).await?;
    // Bounded by the loaded version: moves appended since do not shift the walk.
    let events: Vec<AuditEvent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND sequence <= $3
          ORDER BY sequence DESC LIMIT $4"
    ))
    .bind(<Stock as cqrs_es::Aggregate>::TYPE)
    .bind(&id)
    .bind(current.sequence)
    .bind(limit.clamp(1, MAX_MOVES))
    .fetch_all(pool)
    .await?;
    let (mut on_hand, mut reserved) = (current.aggregate.on_hand(), current.aggregate.reserved());
    let mut moves = Vec::with_capacity(events.len());
    for event in events {
        let decoded: StockEvent =
            upcasting::decode(&event.event_type, &event.event_version, &event.payload)
                .map_err(|err| MovesError::Unreadable(event.global_position, err.to_string()))?;
        moves.push(StockMove {
            on_hand,
            reserved,
            available: on_hand - reserved,
            event: HistoryEntry::from(event),
        });
        let (on_hand_change, reserved_change) = decoded.moves();
        on_hand -= on_hand_change;
        reserved -= reserved_change;
    }
    moves.reverse();
    Ok(moves)
}
