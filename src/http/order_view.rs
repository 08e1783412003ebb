//! An order as the API shows it, from the write side's state or from the order views.

use aggregates::order::{Address, Order, OrderLine, Refund};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::schemas::{AddressSchema, OrderLineSchema, RefundSchema};
use projections::orders::query::OrderRow;

/// An order as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    /// `awaiting_payment`, `paid`, `shipped`, `completed`, `cancelled`, `refunding` or
    /// `refunded`.
    pub status: String,
    #[schema(value_type = Vec<OrderLineSchema>)]
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    #[schema(value_type = AddressSchema)]
    pub address: Address,
    pub remark: String,
    pub created_at: Option<DateTime<Utc>>,
    /// When an unpaid order is cancelled with reason `payment_timeout`.
    pub expires_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    /// `by_user` or `payment_timeout`.
    pub cancel_reason: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    /// The WeChat Pay transaction that paid the order.
    pub payment_id: Option<String>,
    /// Payments the order could not take (it was cancelled, or paid already): their money
    /// goes back to the shopper.
    pub refunds_due: Vec<RefundView>,
    /// Every refund asked for, oldest first.
    #[schema(value_type = Vec<RefundSchema>)]
    pub refunds: Vec<Refund>,
    /// When the order's payment was refunded.
    pub refunded_at: Option<DateTime<Utc>>,
}

/// A payment owed back to the shopper.
#[derive(Debug, Serialize, ToSchema)]
pub struct RefundView {
    pub payment_id: String,
    pub amount_cents: i64,
    /// `paid_after_cancel` or `paid_twice`.
    pub reason: String,
}

impl OrderView {
    pub fn of(id: Uuid, order: Order) -> Self {
        let shipment = order.shipment;
        Self {
            id,
            status: order
                .status
                .map_or("unknown", |status| status.as_str())
                .to_owned(),
            lines: order.lines,
            total_cents: order.total_cents,
            address: order.address,
            remark: order.remark,
            created_at: order.placed_at,
            expires_at: order.expires_at,
            paid_at: order.paid_at,
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason.map(|reason| reason.as_str().to_owned()),
            carrier: shipment.as_ref().map(|s| s.carrier.clone()),
            tracking_no: shipment.as_ref().map(|s| s.tracking_no.clone()),
            shipped_at: shipment.map(|s| s.shipped_at),
            completed_at: order.completed_at,
            payment_id: order.payment_id,
            refunds_due: order
                .refunds_due
                .into_iter()
                .filter_map(|due| {
                    Some(RefundView {
                        reason: due.reason?.as_str().to_owned(),
                        payment_id: due.payment_id,
                        amount_cents: due.amount_cents,
                    })
                })
                .collect(),
            refunds: order.refunds,
            refunded_at: order.refunded_at,
        }
    }
}

impl From<OrderRow> for OrderView {
    fn from(row: OrderRow) -> Self {
        let refunds = row.refunds();
        Self {
            id: row.order_id,
            status: row.status,
            lines: row.lines.0,
            total_cents: row.total_cents,
            address: row.address.0,
            remark: row.remark,
            created_at: Some(row.created_at),
            expires_at: Some(row.expires_at),
            paid_at: row.paid_at,
            cancelled_at: row.cancelled_at,
            cancel_reason: row.cancel_reason,
            carrier: row.carrier,
            tracking_no: row.tracking_no,
            shipped_at: row.shipped_at,
            completed_at: row.completed_at,
            payment_id: row.payment_id,
            refunds_due: row
                .refunds_due
                .0
                .into_iter()
                .map(|due| RefundView {
                    payment_id: due.payment_id,
                    amount_cents: due.amount_cents,
                    reason: due.reason,
                })
                .collect(),
            refunds,
            refunded_at: row.refunded_at,
        }
    }
}
