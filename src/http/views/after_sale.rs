//! An after-sale as the API shows it, to its shopper and to the merchant.

use chrono::{DateTime, Utc};
use projections::after_sales::query::AfterSaleRow;
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use uuid::Uuid;

use aggregates::order::{OrderError, parse_after_sale_id};

use crate::event_store::FeedPosition;
use crate::http::error::ApiError;
use crate::http::schemas::RefundLineSchema;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use crate::write::WriteError;

#[derive(Debug, Serialize, ToSchema)]
pub struct AfterSaleView {
    /// The after-sale's id: its order's id (32 hex digits), `A` and its number.
    pub id: String,
    pub order_id: Uuid,
    /// `refund_only` or `return_refund`.
    #[schema(pattern = "^(refund_only|return_refund)$")]
    pub kind: String,
    /// `requested`, `rejected`, `awaiting_return` (approved: the goods are to be sent
    /// back), `return_shipped`, `refunding`, `refunded` or `refund_failed`.
    #[schema(
        pattern = "^(requested|rejected|awaiting_return|return_shipped|refunding|refunded|refund_failed)$"
    )]
    pub status: String,
    /// The units asked for.
    #[schema(value_type = Vec<RefundLineSchema>)]
    pub lines: Value,
    /// The shopper's reason.
    pub reason: String,
    /// What the merchant approved.
    pub refund_cents: Option<i64>,
    /// The refund that pays it (the order's `refunds` show where it is).
    pub refund_no: Option<String>,
    /// Why the merchant rejected it.
    pub reject_reason: Option<String>,
    /// The shopper's return shipment.
    pub return_shipment: Option<ReturnShipmentView>,
    pub requested_at: DateTime<Utc>,
    /// When the merchant received the returned goods.
    pub received_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReturnShipmentView {
    /// WeChat's delivery id of the carrier, e.g. `SF`.
    pub express_company: String,
    pub tracking_no: String,
}

impl From<AfterSaleRow> for AfterSaleView {
    fn from(row: AfterSaleRow) -> Self {
        let return_shipment = match (row.return_express_company, row.return_tracking_no) {
            (Some(express_company), Some(tracking_no)) => Some(ReturnShipmentView {
                express_company,
                tracking_no,
            }),
            _ => None,
        };
        Self {
            id: row.after_sale_id,
            order_id: row.order_id,
            kind: row.kind,
            status: row.status,
            lines: row.lines,
            reason: row.reason,
            refund_cents: row.refund_cents,
            refund_no: row.refund_no,
            reject_reason: row.reject_reason,
            return_shipment,
            requested_at: row.requested_at,
            received_at: row.received_at,
            updated_at: row.updated_at,
        }
    }
}

/// The after-sale an id names, or a 404.
pub fn parse_id(id: &str) -> Result<(Uuid, u32), ApiError> {
    parse_after_sale_id(id).ok_or_else(|| ApiError::not_found("after-sale"))
}

/// An unknown after-sale is a 404 like an unknown order.
pub fn not_found_if_unknown(err: WriteError) -> ApiError {
    match err {
        WriteError::Order(OrderError::UnknownAfterSale(_)) => ApiError::not_found("after-sale"),
        other => other.into(),
    }
}

/// The after-sale `id` as the read model shows it once it caught up with `position`.
pub async fn after_sale_view(
    state: &AppState,
    id: &str,
    position: FeedPosition,
) -> Result<AfterSaleView, ApiError> {
    await_projections(state, &["after_sales", "orders"], position).await;
    let row = state
        .reads
        .after_sale(id)
        .await?
        .ok_or_else(|| ApiError::not_found("after-sale"))?;
    Ok(row.into())
}
