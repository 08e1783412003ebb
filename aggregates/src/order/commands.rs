use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::{
    Address, AfterSaleKind, CancelReason, OrderLine, RefundLine, RefundOutcome, RefundScope,
    ShipmentDetails,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderCommand {
    PlaceOrder(NewOrder),
    /// The payment provider confirmed `amount_cents` under `payment_id`.
    PayOrder {
        payment_id: String,
        amount_cents: i64,
        paid_at: DateTime<Utc>,
    },
    CancelOrder {
        reason: CancelReason,
        cancelled_at: DateTime<Utc>,
    },
    /// Ships a paid order; on a shipped order with other details, corrects its shipment
    /// (once); with the same details, changes nothing.
    ShipOrder {
        details: ShipmentDetails,
        shipped_at: DateTime<Utc>,
    },
    ConfirmReceipt {
        completed_at: DateTime<Utc>,
    },
    /// An operator refunds the order: the whole of what it holds (the rest of its
    /// payment if it is paid, shipped or completed, and every payment it could not take),
    /// or part of its payment. `order_id` numbers the refunds.
    RequestRefund {
        order_id: Uuid,
        scope: RefundScope,
        reason: String,
        requested_at: DateTime<Utc>,
    },
    /// The shopper asks for an after-sale; a return only within `return_window` of
    /// shipping.
    RequestAfterSale {
        kind: AfterSaleKind,
        lines: Vec<RefundLine>,
        reason: String,
        requested_at: DateTime<Utc>,
        return_window: chrono::Duration,
    },
    /// The merchant approves after-sale `no` (`order_id` numbers its refund).
    ApproveAfterSale {
        order_id: Uuid,
        no: u32,
        refund_cents: Option<i64>,
        approved_at: DateTime<Utc>,
    },
    RejectAfterSale {
        no: u32,
        reason: String,
        rejected_at: DateTime<Utc>,
    },
    /// The shopper's return shipment of after-sale `no`.
    ShipReturn {
        no: u32,
        express_company: String,
        tracking_no: String,
        shipped_at: DateTime<Utc>,
    },
    /// The merchant received the goods of after-sale `no` (`order_id` numbers its refund).
    ReceiveReturn {
        order_id: Uuid,
        no: u32,
        received_at: DateTime<Utc>,
    },
    /// The payment provider's answer on a refund, for `amount_cents`; from a notice,
    /// naming the payment (`transaction_id`) the refund returns.
    SettleRefund {
        refund_no: String,
        amount_cents: i64,
        transaction_id: Option<String>,
        outcome: RefundOutcome,
    },
}

/// A new order, its lines priced by the caller from the catalog at this moment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewOrder {
    pub user_id: String,
    pub lines: Vec<OrderLine>,
    pub address: Address,
    pub remark: String,
    pub placed_at: DateTime<Utc>,
    /// When the order is cancelled unless paid.
    pub expires_at: DateTime<Utc>,
}
