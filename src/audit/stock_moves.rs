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
    /// Units moved.
    pub quantity: i64,
    /// The order behind a reservation, release, sale or return (absent for a restock or
    /// write-off).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<Uuid>,
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
    /// Walking back from the loaded state gave a stock no event could have left: the
    /// snapshot disagrees with the events (`ordo audit verify` says more).
    #[error(
        "the stock before event {0} would be {1} on hand, {2} reserved: the snapshot disagrees with the events"
    )]
    Inconsistent(i64, i64, i64),
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
        let position = event.global_position;
        let (quantity, order_id) = match decoded {
            StockEvent::StockAdded { quantity, .. }
            | StockEvent::StockWrittenOff { quantity, .. } => (quantity, None),
            StockEvent::StockReserved { order_id, quantity }
            | StockEvent::StockReleased { order_id, quantity }
            | StockEvent::StockSold { order_id, quantity }
            | StockEvent::StockReturned { order_id, quantity } => (quantity, Some(order_id)),
        };
        moves.push(StockMove {
            on_hand,
            reserved,
            available: on_hand - reserved,
            quantity,
            order_id,
            event: HistoryEntry::from(event),
        });
        let (on_hand_change, reserved_change) = decoded.moves();
        on_hand -= on_hand_change;
        reserved -= reserved_change;
        if reserved < 0 || reserved > on_hand {
            return Err(MovesError::Inconsistent(position, on_hand, reserved));
        }
    }
    moves.reverse();
    Ok(moves)
}
