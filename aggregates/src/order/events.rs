use chrono::{DateTime, Utc};
use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};

use super::{
    Address, AfterSaleKind, CancelReason, LogisticsType, OrderLine, OrderStatus, RefundKind,
    RefundLine, RefundReason,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum OrderEvent {
    /// Version 2 adds `limits_counted`; version 3 names each line's `sku_id` (and
    /// `spec`, when the product has specs).
    OrderPlaced {
        user_id: String,
        lines: Vec<OrderLine>,
        total_cents: i64,
        address: Address,
        remark: String,
        placed_at: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        /// Whether the shopper's purchase limits count the order (its `PurchaseOpened`
        /// is in the same append): true for every order placed since limits exist, false
        /// for those placed before (version 1), whose refund gives the limits nothing back.
        limits_counted: bool,
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
    /// Version 2 names WeChat's delivery id and the logistics type (version 1 upcasts to
    /// none and `express`).
    OrderShipped {
        carrier: String,
        tracking_no: String,
        shipped_at: DateTime<Utc>,
        express_company: Option<String>,
        logistics_type: LogisticsType,
    },
    /// The operator corrected a shipped order's carrier or tracking number (once).
    ShipmentCorrected {
        carrier: String,
        tracking_no: String,
        express_company: Option<String>,
        logistics_type: LogisticsType,
        corrected_at: DateTime<Utc>,
    },
    OrderCompleted {
        completed_at: DateTime<Utc>,
    },
    /// An operator asked for money back (`reason`); the refund goes to the payment
    /// provider as `refund_no`. A refund of the rest of the order's own payment moves the
    /// order to `refunding`; a partial one leaves its status alone.
    ///
    /// Version 2 names the units it covers (`lines`; absent in version 1, whose order
    /// refund covered every line) and what the payment took in all (`payment_cents`:
    /// version 1 refunded whole payments, so its amount).
    RefundRequested {
        refund_no: String,
        payment_id: String,
        amount_cents: i64,
        kind: RefundKind,
        reason: String,
        requested_at: DateTime<Utc>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        lines: Option<Vec<RefundLine>>,
        payment_cents: i64,
    },
    /// The provider returned the money: an order refund makes the order `refunded`.
    RefundSucceeded {
        refund_no: String,
        kind: RefundKind,
        amount_cents: i64,
        provider_refund_id: String,
        refunded_at: DateTime<Utc>,
    },
    /// The provider reports the refund stuck (WeChat Pay's `ABNORMAL`: the shopper's
    /// account could not take the money): not a refusal, the money may still arrive.
    /// The refund stays in progress and the order `refunding`, flagged for an operator,
    /// until the provider's final word (`RefundSucceeded` or `RefundFailed`).
    RefundAbnormal {
        refund_no: String,
        kind: RefundKind,
        reason: String,
        reported_at: DateTime<Utc>,
    },
    /// The provider refused or gave up: an order refund puts the order back where it was
    /// (`back_to`: paid or shipped; `None` for other refunds).
    RefundFailed {
        refund_no: String,
        kind: RefundKind,
        reason: String,
        failed_at: DateTime<Utc>,
        back_to: Option<OrderStatus>,
    },
    /// The shopper asked for after-sale `no` (numbered from 1) on these units.
    AfterSaleRequested {
        no: u32,
        kind: AfterSaleKind,
        lines: Vec<RefundLine>,
        reason: String,
        requested_at: DateTime<Utc>,
    },
    /// The merchant approved it for `refund_cents`; a refund-only's refund (`refund_no`)
    /// is requested in the same append.
    AfterSaleApproved {
        no: u32,
        refund_cents: i64,
        refund_no: Option<String>,
        approved_at: DateTime<Utc>,
    },
    AfterSaleRejected {
        no: u32,
        reason: String,
        rejected_at: DateTime<Utc>,
    },
    /// The shopper sent the goods of return `no` back.
    ReturnShipped {
        no: u32,
        express_company: String,
        tracking_no: String,
        shipped_at: DateTime<Utc>,
    },
    /// The merchant received them: `lines` go back to stock in the same append, and the
    /// approved amount is refunded (`refund_no`).
    ReturnReceived {
        no: u32,
        lines: Vec<RefundLine>,
        refund_no: Option<String>,
        received_at: DateTime<Utc>,
    },
}

/// The stored name of each event type (`event_type` in the log): spelled once, here.
impl OrderEvent {
    pub const ORDER_PLACED: &'static str = "OrderPlaced";
    pub const ORDER_PAID: &'static str = "OrderPaid";
    pub const ORDER_CANCELLED: &'static str = "OrderCancelled";
    pub const PAYMENT_RECEIVED: &'static str = "PaymentReceived";
    pub const REFUND_REQUIRED: &'static str = "RefundRequired";
    pub const ORDER_SHIPPED: &'static str = "OrderShipped";
    pub const SHIPMENT_CORRECTED: &'static str = "ShipmentCorrected";
    pub const ORDER_COMPLETED: &'static str = "OrderCompleted";
    pub const REFUND_REQUESTED: &'static str = "RefundRequested";
    pub const REFUND_SUCCEEDED: &'static str = "RefundSucceeded";
    pub const REFUND_FAILED: &'static str = "RefundFailed";
    pub const REFUND_ABNORMAL: &'static str = "RefundAbnormal";
    pub const AFTER_SALE_REQUESTED: &'static str = "AfterSaleRequested";
    pub const AFTER_SALE_APPROVED: &'static str = "AfterSaleApproved";
    pub const AFTER_SALE_REJECTED: &'static str = "AfterSaleRejected";
    pub const RETURN_SHIPPED: &'static str = "ReturnShipped";
    pub const RETURN_RECEIVED: &'static str = "ReturnReceived";
}

impl OrderEvent {
    /// The order's status once this event applies to an order in status `before`: the one
    /// rule both the aggregate and the orders read model follow.
    pub fn status_after(&self, before: Option<OrderStatus>) -> Option<OrderStatus> {
        match self {
            Self::OrderPlaced { .. } => Some(OrderStatus::AwaitingPayment),
            Self::OrderPaid { .. } => Some(OrderStatus::Paid),
            Self::OrderCancelled { .. } => Some(OrderStatus::Cancelled),
            Self::OrderShipped { .. } => Some(OrderStatus::Shipped),
            Self::OrderCompleted { .. } => Some(OrderStatus::Completed),
            Self::RefundRequested {
                kind: RefundKind::Order,
                ..
            } => Some(OrderStatus::Refunding),
            Self::RefundSucceeded {
                kind: RefundKind::Order,
                ..
            } => Some(OrderStatus::Refunded),
            Self::RefundFailed {
                back_to: Some(back_to),
                ..
            } => Some(*back_to),
            // Recorded beside the order; its status stays.
            Self::PaymentReceived { .. }
            | Self::RefundRequired { .. }
            | Self::RefundRequested { .. }
            | Self::RefundSucceeded { .. }
            | Self::RefundFailed { .. }
            | Self::RefundAbnormal { .. }
            | Self::ShipmentCorrected { .. }
            | Self::AfterSaleRequested { .. }
            | Self::AfterSaleApproved { .. }
            | Self::AfterSaleRejected { .. }
            | Self::ReturnShipped { .. }
            | Self::ReturnReceived { .. } => before,
        }
    }
}

impl DomainEvent for OrderEvent {
    fn event_type(&self) -> String {
        match self {
            Self::OrderPlaced { .. } => Self::ORDER_PLACED,
            Self::OrderPaid { .. } => Self::ORDER_PAID,
            Self::OrderCancelled { .. } => Self::ORDER_CANCELLED,
            Self::PaymentReceived { .. } => Self::PAYMENT_RECEIVED,
            Self::RefundRequired { .. } => Self::REFUND_REQUIRED,
            Self::OrderShipped { .. } => Self::ORDER_SHIPPED,
            Self::ShipmentCorrected { .. } => Self::SHIPMENT_CORRECTED,
            Self::OrderCompleted { .. } => Self::ORDER_COMPLETED,
            Self::RefundRequested { .. } => Self::REFUND_REQUESTED,
            Self::RefundSucceeded { .. } => Self::REFUND_SUCCEEDED,
            Self::RefundFailed { .. } => Self::REFUND_FAILED,
            Self::RefundAbnormal { .. } => Self::REFUND_ABNORMAL,
            Self::AfterSaleRequested { .. } => Self::AFTER_SALE_REQUESTED,
            Self::AfterSaleApproved { .. } => Self::AFTER_SALE_APPROVED,
            Self::AfterSaleRejected { .. } => Self::AFTER_SALE_REJECTED,
            Self::ReturnShipped { .. } => Self::RETURN_SHIPPED,
            Self::ReturnReceived { .. } => Self::RETURN_RECEIVED,
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        match self {
            Self::OrderPlaced { .. } => "3",
            Self::OrderShipped { .. } | Self::RefundRequested { .. } => "2",
            _ => "1",
        }
        .to_owned()
    }
}
