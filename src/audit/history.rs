//! An order's history (its events and the stock moves it caused) and any stream's state
//! as of an instant, rebuilt from its events.

use aggregates::order::Order;
use aggregates::stock::Stock;
use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use serde::Serialize;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use super::{AuditEvent, COLUMNS, STOCK_ORDER_ID};
use projections::upcasting;

/// One line of a history.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct HistoryEntry {
    /// The event's global position.
    pub position: i64,
    /// The event type, e.g. `OrderPlaced`, `StockReserved`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// `Order` or `Stock`.
    pub aggregate_type: String,
    pub aggregate_id: String,
    /// The event's sequence in its stream.
    pub version: i64,
    pub recorded_at: DateTime<Utc>,
    /// Who caused it: `{id, role}` (`system` for ordo's own workers).
    #[schema(value_type = Object)]
    pub actor: Value,
    pub request_id: Option<String>,
    #[schema(value_type = Object)]
    pub payload: Value,
}

impl From<AuditEvent> for HistoryEntry {
    fn from(event: AuditEvent) -> Self {
        let metadata: Value = serde_json::from_str(&event.metadata).unwrap_or(Value::Null);
        Self {
            position: event.global_position,
            event_type: event.event_type,
            aggregate_type: event.aggregate_type,
            aggregate_id: event.aggregate_id,
            version: event.sequence,
            recorded_at: event.recorded_at,
            actor: serde_json::json!({
                "id": metadata.get("actor_id"),
                "role": metadata.get("actor_role"),
            }),
            request_id: metadata
                .get("request_id")
                .and_then(Value::as_str)
                .map(str::to_owned),
            payload: serde_json::from_str(&event.payload).unwrap_or(Value::Null),
        }
    }
}

/// Every event of the order and of the stock moves it caused, in commit order; empty if
/// there is no such order.
pub async fn order_history(
    pool: &PgPool,
    order_id: Uuid,
) -> Result<Vec<HistoryEntry>, sqlx::Error> {
    let events: Vec<AuditEvent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events
          WHERE (aggregate_type = 'Order' AND aggregate_id = $1)
             OR (aggregate_type = 'Stock' AND {STOCK_ORDER_ID} = $1)
          ORDER BY events.transaction_id, events.global_position"
    ))
    .bind(order_id.to_string())
    .fetch_all(pool)
    .await?;
    Ok(events.into_iter().map(HistoryEntry::from).collect())
}

/// A stream's state as of an instant.
#[derive(Debug, Clone)]
pub struct AsOf<A> {
    pub state: A,
    /// Events applied: the stream's version at that instant (0: it did not exist yet).
    pub version: i64,
}

/// The aggregate `A` of `id` rebuilt from its events recorded at or before `as_of`.
pub async fn state_as_of<A: Aggregate + Default>(
    pool: &PgPool,
    id: &str,
    as_of: DateTime<Utc>,
) -> Result<AsOf<A>, StateError> {
    // The payload as stored (`json`, verbatim): `jsonb` cannot hold every text an old
    // event may carry (U+0000).
    let payloads: Vec<(i64, String, String, String)> = sqlx::query_as(
        "SELECT sequence, event_type, event_version, payload::text FROM events
          WHERE aggregate_type = $1 AND aggregate_id = $2 AND recorded_at <= $3
          ORDER BY sequence",
    )
    .bind(A::TYPE)
    .bind(id)
    .bind(as_of)
    .fetch_all(pool)
    .await?;
    let mut state = A::default();
    let mut version = 0;
    for (sequence, event_type, event_version, payload) in payloads {
        let event: A::Event = upcasting::decode(&event_type, &event_version, &payload)
            .map_err(|err| StateError::Unreadable(sequence, err.to_string()))?;
        state.apply(event);
        version = sequence;
    }
    Ok(AsOf { state, version })
}

/// The order as of `as_of`, with the stock of each of its products then.
pub async fn order_as_of(
    pool: &PgPool,
    order_id: Uuid,
    as_of: DateTime<Utc>,
) -> Result<(AsOf<Order>, Vec<(Uuid, Uuid, AsOf<Stock>)>), StateError> {
    let order = state_as_of::<Order>(pool, &order_id.to_string(), as_of).await?;
    let mut stocks = Vec::new();
    for line in &order.state.lines {
        let stock = state_as_of::<Stock>(pool, &line.sku_id.to_string(), as_of).await?;
        stocks.push((line.product_id, line.sku_id, stock));
    }
    Ok((order, stocks))
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("event {0} cannot be read: {1}")]
    Unreadable(i64, String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}
