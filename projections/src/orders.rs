//! The order views: one row per order, everything `GET /orders/{id}` shows, indexed for
//! a user's list by status and recency.

use aggregates::order::OrderEvent;
use cqrs_es::Aggregate;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError};

pub struct OrderViews;

#[async_trait::async_trait]
impl Projection for OrderViews {
    fn name(&self) -> &'static str {
        "orders"
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        for event in events
            .iter()
            .filter(|event| event.aggregate_type == aggregates::order::Order::TYPE)
        {
            apply_one(conn, event).await?;
        }
        Ok(())
    }
}

fn unreadable(event: &RecordedEvent, message: impl ToString) -> ProjectionError {
    ProjectionError::Unreadable {
        position: event.position.global_position,
        event_type: event.event_type.clone(),
        message: message.to_string(),
    }
}

async fn apply_one(conn: &mut PgConnection, event: &RecordedEvent) -> Result<(), ProjectionError> {
    let order_id = Uuid::parse_str(&event.aggregate_id).map_err(|err| unreadable(event, err))?;
    let payload: OrderEvent =
        serde_json::from_value(event.payload.clone()).map_err(|err| unreadable(event, err))?;
    let version = event.sequence;
    match payload {
        OrderEvent::OrderPlaced {
            user_id,
            lines,
            total_cents,
            address,
            remark,
            placed_at,
            expires_at,
        } => {
            sqlx::query(
                "INSERT INTO order_views (order_id, user_id, status, lines, total_cents, address,
                                          remark, created_at, expires_at, version)
                 VALUES ($1, $2, 'awaiting_payment', $3, $4, $5, $6, $7, $8, $9)
                 ON CONFLICT (order_id) DO NOTHING",
            )
            .bind(order_id)
            .bind(user_id)
            .bind(json!(lines))
            .bind(total_cents)
            .bind(json!(address))
            .bind(remark)
            .bind(placed_at)
            .bind(expires_at)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        OrderEvent::OrderPaid { paid_at, .. } => {
            sqlx::query(
                "UPDATE order_views SET status = 'paid', paid_at = $2, version = $3
                  WHERE order_id = $1 AND version < $3",
            )
            .bind(order_id)
            .bind(paid_at)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        OrderEvent::OrderCancelled {
            reason,
            cancelled_at,
        } => {
            sqlx::query(
                "UPDATE order_views
                    SET status = 'cancelled', cancelled_at = $2, cancel_reason = $3, version = $4
                  WHERE order_id = $1 AND version < $4",
            )
            .bind(order_id)
            .bind(cancelled_at)
            .bind(reason.as_str())
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        OrderEvent::OrderShipped {
            carrier,
            tracking_no,
            shipped_at,
        } => {
            sqlx::query(
                "UPDATE order_views
                    SET status = 'shipped', carrier = $2, tracking_no = $3, shipped_at = $4,
                        version = $5
                  WHERE order_id = $1 AND version < $5",
            )
            .bind(order_id)
            .bind(carrier)
            .bind(tracking_no)
            .bind(shipped_at)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
        OrderEvent::OrderCompleted { completed_at } => {
            sqlx::query(
                "UPDATE order_views SET status = 'completed', completed_at = $2, version = $3
                  WHERE order_id = $1 AND version < $3",
            )
            .bind(order_id)
            .bind(completed_at)
            .bind(version)
            .execute(&mut *conn)
            .await?;
        }
    }
    Ok(())
}
