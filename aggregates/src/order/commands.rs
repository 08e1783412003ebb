use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use uuid::Uuid;

use super::{Address, CancelReason, OrderLine, RefundOutcome, RefundScope, ShipmentDetails};

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
