//! An order as the API shows it, from the write side's state or from the order views.

use aggregates::order::{Address, Order, OrderLine, Refund};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::extract::paging::{Page, Paging};
use crate::http::schemas::{AddressSchema, RefundSchema};
use crate::media::MediaUrls;
use projections::orders::query::OrderRow;

/// An order as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderView {
    pub id: Uuid,
    /// `awaiting_payment`, `paid`, `shipped`, `completed`, `cancelled`, `refunding` or
    /// `refunded`.
    pub status: String,
    pub lines: Vec<LineView>,
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

/// One SKU of an order, as it was when the order was placed.
#[derive(Debug, Serialize, ToSchema)]
#[schema(as = OrderLine)]
pub struct LineView {
    pub product_id: Uuid,
    /// The SKU it holds (the product's id for a product without specs).
    pub sku_id: Uuid,
    /// The product's name when the order was placed.
    pub name: String,
    /// The SKU's values (`{"size": "M"}`); empty for a product without specs.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub spec: aggregates::product::SpecValues,
    /// The SKU's unit price when the order was placed.
    pub unit_price_cents: i64,
    pub quantity: i64,
    /// The URL of the SKU's picture (or else the product's cover) when the order was
    /// placed; null when it had none.
    pub image: Option<String>,
}

impl LineView {
    fn all(lines: Vec<OrderLine>, urls: &MediaUrls) -> Vec<Self> {
        lines
            .into_iter()
            .map(|line| Self {
                image: line.image.as_deref().map(|key| urls.url(key)),
                product_id: line.product_id,
                sku_id: line.sku_id,
                name: line.name,
                spec: line.spec,
                unit_price_cents: line.unit_price_cents,
                quantity: line.quantity,
            })
            .collect()
    }
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
    pub fn of(id: Uuid, order: Order, urls: &MediaUrls) -> Self {
        let shipment = order.shipment;
        Self {
            id,
            status: order
                .status
                .map_or("unknown", |status| status.as_str())
                .to_owned(),
            lines: LineView::all(order.lines, urls),
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

impl OrderView {
    pub fn from_row(row: OrderRow, urls: &MediaUrls) -> Self {
        let refunds = row.refunds();
        Self {
            id: row.order_id,
            status: row.status,
            lines: LineView::all(row.lines.0, urls),
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

impl OrderView {
    /// One page of orders from the order views.
    pub fn page(rows: Vec<OrderRow>, total: i64, paging: Paging, urls: &MediaUrls) -> Page<Self> {
        let list = rows
            .into_iter()
            .map(|row| Self::from_row(row, urls))
            .collect();
        Page::new(list, total, paging)
    }
}
