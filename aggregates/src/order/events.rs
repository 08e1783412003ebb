use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{Address, CancelReason, OrderLine, RefundReason};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    OrderPlaced {
        user_id: String,
        lines: Vec<OrderLine>,
        total_cents: i64,
        address: Address,
        remark: String,
        placed_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
    },
    OrderPaid {
        payment_id: String,
        amount_cents: i64,
        paid_at: DateTime<Utc>,
    },
    OrderCancelled {
        reason: CancelReason,
        cancelled_at: DateTime<Utc>,
    },
    /// A payment the order could not take (it was cancelled, or paid already): recorded,
    /// the order's status unchanged. A `RefundRequired` follows.
    PaymentReceived {
        payment_id: String,
        amount_cents: i64,
        paid_at: DateTime<Utc>,
    },
    /// The money of this payment must go back to the shopper.
    RefundRequired {
        payment_id: String,
        amount_cents: i64,
        reason: RefundReason,
    },
    OrderShipped {
        carrier: String,
        tracking_no: String,
        shipped_at: DateTime<Utc>,
    },
    OrderCompleted {
        completed_at: DateTime<Utc>,
    },
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrderPlaced { .. } => "OrderPlaced",
            Self::OrderPaid { .. } => "OrderPaid",
            Self::OrderCancelled { .. } => "OrderCancelled",
            Self::PaymentReceived { .. } => "PaymentReceived",
            Self::RefundRequired { .. } => "RefundRequired",
            Self::OrderShipped { .. } => "OrderShipped",
            Self::OrderCompleted { .. } => "OrderCompleted",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
