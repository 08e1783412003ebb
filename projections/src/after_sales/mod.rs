//! The after-sales read model (`after_sales`): one row per after-sale request with where
//! it stands, for the shopper's list on an order and the merchant's queue by status.
//!
//! Its status follows the after-sale's events and, once its refund is asked, that
//! refund's answer (`refunding` → `refunded` or `refund_failed`). After-sales are rare:
//! a batch's events are applied one statement each, in order; every other event is
//! skipped by its type before it is decoded, so a rebuild walks past them quickly.

pub mod query;

use aggregates::order::{Order, OrderEvent, after_sale_id};
use cqrs_es::Aggregate;
use serde_json::json;
use sqlx::PgConnection;
use uuid::Uuid;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError, Target, decode};

pub struct AfterSales;

/// The event types this read model reads.
const TYPES: [&str; 7] = [
    OrderEvent::AFTER_SALE_REQUESTED,
    OrderEvent::AFTER_SALE_APPROVED,
    OrderEvent::AFTER_SALE_REJECTED,
    OrderEvent::RETURN_SHIPPED,
    OrderEvent::RETURN_RECEIVED,
    OrderEvent::REFUND_SUCCEEDED,
    OrderEvent::REFUND_FAILED,
];

#[async_trait::async_trait]
impl Projection for AfterSales {
    fn name(&self) -> &'static str {
        "after_sales"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Order::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["after_sales"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let table = target.table("after_sales");
        for event in events
            .iter()
            .filter(|e| e.aggregate_type == Order::TYPE && TYPES.contains(&e.event_type.as_str()))
        {
            let order_id = Uuid::parse_str(&event.aggregate_id)
                .map_err(|err| ProjectionError::unreadable(event, err))?;
            let at = event.recorded_at;
            let payload: OrderEvent = decode(event)?;
            let id = |no: u32| after_sale_id(order_id, no);
            match payload {
                OrderEvent::AfterSaleRequested {
                    no,
                    kind,
                    lines,
                    reason,
                    requested_at,
                } => {
                    sqlx::query(&format!(
                    "INSERT INTO {table} (after_sale_id, order_id, no, kind, status, lines, reason,
                                          requested_at, updated_at)
                     VALUES ($1, $2, $3, $4, 'requested', $5, $6, $7, $8)
                     ON CONFLICT (after_sale_id) DO NOTHING"
                ))
                    .bind(id(no))
                    .bind(order_id)
                    .bind(i64::from(no))
                    .bind(kind.as_str())
                    .bind(json!(lines))
                    .bind(reason)
                    .bind(requested_at)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                }
                OrderEvent::AfterSaleApproved {
                    no,
                    refund_cents,
                    refund_no,
                    ..
                } => {
                    sqlx::query(&format!(
                        "UPDATE {table} SET refund_cents = $2, refund_no = $3, updated_at = $4,
                            status = CASE WHEN $3 IS NULL THEN 'awaiting_return'
                                          ELSE 'refunding' END
                      WHERE after_sale_id = $1"
                    ))
                    .bind(id(no))
                    .bind(refund_cents)
                    .bind(refund_no)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                }
                OrderEvent::AfterSaleRejected { no, reason, .. } => {
                    sqlx::query(&format!(
                    "UPDATE {table} SET status = 'rejected', reject_reason = $2, updated_at = $3
                      WHERE after_sale_id = $1"
                ))
                    .bind(id(no))
                    .bind(reason)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                }
                OrderEvent::ReturnShipped {
                    no,
                    express_company,
                    tracking_no,
                    ..
                } => {
                    sqlx::query(&format!(
                        "UPDATE {table} SET status = 'return_shipped', return_express_company = $2,
                            return_tracking_no = $3, updated_at = $4
                      WHERE after_sale_id = $1"
                    ))
                    .bind(id(no))
                    .bind(express_company)
                    .bind(tracking_no)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                }
                OrderEvent::ReturnReceived { no, refund_no, .. } => {
                    sqlx::query(&format!(
                        "UPDATE {table} SET status = 'refunding', refund_no = $2, received_at = $3,
                            updated_at = $3
                      WHERE after_sale_id = $1"
                    ))
                    .bind(id(no))
                    .bind(refund_no)
                    .bind(at)
                    .execute(&mut *conn)
                    .await?
                }
                OrderEvent::RefundSucceeded { refund_no, .. } => {
                    refund_answer(conn, &table, order_id, refund_no, "refunded", at).await?
                }
                OrderEvent::RefundFailed { refund_no, .. } => {
                    refund_answer(conn, &table, order_id, refund_no, "refund_failed", at).await?
                }
                _ => continue,
            };
        }
        Ok(())
    }
}

/// The after-sale its refund `refund_no` pays (if any) moves to `status`.
async fn refund_answer(
    conn: &mut PgConnection,
    table: &str,
    order_id: Uuid,
    refund_no: String,
    status: &'static str,
    at: chrono::DateTime<chrono::Utc>,
) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
    sqlx::query(&format!(
        "UPDATE {table} SET status = $3, updated_at = $4
          WHERE order_id = $1 AND refund_no = $2"
    ))
    .bind(order_id)
    .bind(refund_no)
    .bind(status)
    .bind(at)
    .execute(conn)
    .await
}
