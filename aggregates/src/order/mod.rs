//! Order: what a shopper bought, and where it is in its lifecycle:
//! `awaiting_payment` → `paid` → `shipped` → `completed`, or `awaiting_payment` →
//! `cancelled` (by the user or by the payment timeout); `paid`, `shipped` or `completed`
//! → `refunding` → `refunded` (or back, when the payment provider refuses the refund).
//! Partial refunds leave the status alone.
//! Every other move is refused.

mod after_sales;
mod commands;
mod details;
mod errors;
mod events;
mod partial_refunds;
mod refunds;
mod shipping;
mod status;
#[cfg(test)]
mod tests;
mod validation;

use chrono::{DateTime, Utc};
use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

pub use after_sales::{
    AFTER_SALE_REASON, AfterSale, AfterSaleKind, AfterSaleStage, MAX_AFTER_SALES, REJECT_REASON,
    ReturnShipment, after_sale_id, parse_after_sale_id,
};
pub use commands::{NewOrder, OrderCommand};
pub use details::{Address, LogisticsType, OrderLine, Shipment, ShipmentDetails};
pub use errors::OrderError;
pub use events::OrderEvent;
pub use partial_refunds::{MAX_REFUNDS_PER_PAYMENT, RefundLine, RefundScope};
pub use refunds::{
    MAX_REFUND_REASON_CHARS, REFUND_REASON, Refund, RefundDue, RefundKind, RefundOutcome,
    RefundReason, RefundStatus,
};
pub use status::{CancelReason, OrderStatus};
pub use validation::{
    ADDRESS_FIELD, MAX_LINES, MAX_QUANTITY, MAX_REMARK_CHARS, OPTIONAL_SHIPMENT_FIELD, REMARK,
    SHIPMENT_FIELD,
};

/// An order as its events make it: everything the API shows of it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Order {
    pub status: Option<OrderStatus>,
    pub user_id: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    pub address: Address,
    pub remark: String,
    pub placed_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    /// Whether the shopper's purchase limits count the order (see `OrderPlaced`).
    pub limits_counted: bool,
    pub paid_at: Option<DateTime<Utc>>,
    pub payment_id: Option<String>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<CancelReason>,
    pub shipment: Option<Shipment>,
    pub completed_at: Option<DateTime<Utc>>,
    /// Payments received that the order could not take.
    pub refunds_due: Vec<RefundDue>,
    /// Every refund asked for, in order.
    #[serde(default)]
    pub refunds: Vec<Refund>,
    /// The status a refund of the order's payment goes back to if it fails.
    #[serde(default)]
    pub refunding_from: Option<OrderStatus>,
    #[serde(default)]
    pub refunded_at: Option<DateTime<Utc>>,
    /// The shopper's after-sale requests, numbered from 1.
    #[serde(default)]
    pub after_sales: Vec<AfterSale>,
}

impl Order {
    /// Takes a payment: an order awaiting payment becomes paid; any other order records
    /// it and requires its refund, so money is never silently kept and stock never sold
    /// twice. The same payment again changes nothing.
    fn pay(
        &self,
        payment_id: String,
        amount_cents: i64,
        paid_at: DateTime<Utc>,
    ) -> Result<Vec<OrderEvent>, OrderError> {
        let status = self.status.ok_or(OrderError::NotFound)?;
        let known = self.payment_id.as_deref() == Some(payment_id.as_str())
            || self
                .refunds_due
                .iter()
                .any(|due| due.payment_id == payment_id);
        if known {
            return Ok(Vec::new());
        }
        if amount_cents != self.total_cents {
            return Err(OrderError::AmountMismatch {
                expected: self.total_cents,
                paid: amount_cents,
            });
        }
        let reason = match status {
            OrderStatus::AwaitingPayment => {
                return Ok(vec![OrderEvent::OrderPaid {
                    payment_id,
                    amount_cents,
                    paid_at,
                }]);
            }
            OrderStatus::Cancelled => RefundReason::PaidAfterCancel,
            OrderStatus::Paid
            | OrderStatus::Shipped
            | OrderStatus::Completed
            | OrderStatus::Refunding
            | OrderStatus::Refunded => RefundReason::PaidTwice,
        };
        Ok(vec![
            OrderEvent::PaymentReceived {
                payment_id: payment_id.clone(),
                amount_cents,
                paid_at,
            },
            OrderEvent::RefundRequired {
                payment_id,
                amount_cents,
                reason,
            },
        ])
    }

    /// Moves the order from `from` on `action`, or says why it cannot.
    fn require(&self, from: OrderStatus, action: &'static str) -> Result<(), OrderError> {
        match self.status {
            None => Err(OrderError::NotFound),
            Some(status) if status == from => Ok(()),
            Some(status) => Err(OrderError::InvalidTransition { status, action }),
        }
    }
}

impl Aggregate for Order {
    const TYPE: &'static str = "Order";
    type Command = OrderCommand;
    type Event = OrderEvent;
    type Error = OrderError;
    type Services = ();

    async fn handle(
        &mut self,
        command: OrderCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), OrderError> {
        let event = match command {
            OrderCommand::PlaceOrder(new) => {
                if self.status.is_some() {
                    return Err(OrderError::AlreadyPlaced);
                }
                let total_cents = validation::validate(&new)?;
                OrderEvent::OrderPlaced {
                    user_id: new.user_id,
                    lines: new.lines,
                    total_cents,
                    address: new.address,
                    remark: new.remark,
                    placed_at: new.placed_at,
                    expires_at: new.expires_at,
                    // Every placement opens the shopper's purchase in the same append.
                    limits_counted: true,
                }
            }
            OrderCommand::PayOrder {
                payment_id,
                amount_cents,
                paid_at,
            } => {
                for event in self.pay(payment_id, amount_cents, paid_at)? {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            OrderCommand::CancelOrder {
                reason,
                cancelled_at,
            } => {
                self.require(OrderStatus::AwaitingPayment, "cancel")?;
                // A timeout never fires early, whatever a read model says.
                if reason == CancelReason::PaymentTimeout
                    && let Some(expires_at) = self.expires_at
                    && cancelled_at < expires_at
                {
                    return Err(OrderError::NotExpired { expires_at });
                }
                OrderEvent::OrderCancelled {
                    reason,
                    cancelled_at,
                }
            }
            OrderCommand::ShipOrder {
                details,
                shipped_at,
            } => {
                let Some(event) = self.ship(details, shipped_at)? else {
                    return Ok(());
                };
                event
            }
            OrderCommand::ConfirmReceipt { completed_at } => {
                self.require(OrderStatus::Shipped, "confirm receipt of")?;
                OrderEvent::OrderCompleted { completed_at }
            }
            OrderCommand::RequestRefund {
                order_id,
                scope,
                reason,
                requested_at,
            } => {
                let key = order_id.simple().to_string();
                let events = match scope {
                    RefundScope::Whole => self.request_refund(&key, reason, requested_at)?,
                    RefundScope::Part {
                        lines,
                        refund_cents,
                    } => {
                        self.request_part_refund(&key, lines, refund_cents, reason, requested_at)?
                    }
                };
                for event in events {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            OrderCommand::RequestAfterSale {
                kind,
                lines,
                reason,
                requested_at,
                return_window,
            } => self.request_after_sale(kind, lines, reason, requested_at, return_window)?,
            OrderCommand::ApproveAfterSale {
                order_id,
                no,
                refund_cents,
                approved_at,
            } => {
                let key = order_id.simple().to_string();
                for event in self.approve_after_sale(&key, no, refund_cents, approved_at)? {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            OrderCommand::RejectAfterSale {
                no,
                reason,
                rejected_at,
            } => self.reject_after_sale(no, reason, rejected_at)?,
            OrderCommand::ShipReturn {
                no,
                express_company,
                tracking_no,
                shipped_at,
            } => {
                let Some(event) = self.ship_return(no, express_company, tracking_no, shipped_at)?
                else {
                    return Ok(());
                };
                event
            }
            OrderCommand::ReceiveReturn {
                order_id,
                no,
                received_at,
            } => {
                let key = order_id.simple().to_string();
                for event in self.receive_return(&key, no, received_at)? {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
            OrderCommand::SettleRefund {
                refund_no,
                amount_cents,
                transaction_id,
                outcome,
            } => {
                let transaction_id = transaction_id.as_deref();
                for event in
                    self.settle_refund(&refund_no, amount_cents, transaction_id, outcome)?
                {
                    sink.write(event, self).await;
                }
                return Ok(());
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: OrderEvent) {
        let status = event.status_after(self.status);
        match event {
            OrderEvent::OrderPlaced {
                user_id,
                lines,
                total_cents,
                address,
                remark,
                placed_at,
                expires_at,
                limits_counted,
            } => {
                *self = Self {
                    user_id,
                    lines,
                    total_cents,
                    address,
                    remark,
                    placed_at: Some(placed_at),
                    expires_at: Some(expires_at),
                    limits_counted,
                    ..Self::default()
                };
            }
            OrderEvent::OrderPaid {
                payment_id,
                paid_at,
                ..
            } => {
                self.paid_at = Some(paid_at);
                self.payment_id = Some(payment_id);
            }
            OrderEvent::OrderCancelled {
                reason,
                cancelled_at,
            } => {
                self.cancel_reason = Some(reason);
                self.cancelled_at = Some(cancelled_at);
            }
            OrderEvent::PaymentReceived {
                payment_id,
                amount_cents,
                paid_at,
            } => self.refunds_due.push(RefundDue {
                payment_id,
                amount_cents,
                paid_at,
                reason: None,
            }),
            OrderEvent::RefundRequired {
                payment_id, reason, ..
            } => {
                if let Some(due) = self
                    .refunds_due
                    .iter_mut()
                    .find(|due| due.payment_id == payment_id)
                {
                    due.reason = Some(reason);
                }
            }
            OrderEvent::OrderShipped {
                carrier,
                tracking_no,
                shipped_at,
                express_company,
                logistics_type,
            } => {
                self.shipment = Some(Shipment {
                    carrier,
                    tracking_no,
                    shipped_at,
                    express_company,
                    logistics_type,
                    corrected_at: None,
                });
            }
            OrderEvent::ShipmentCorrected {
                carrier,
                tracking_no,
                express_company,
                logistics_type,
                corrected_at,
            } => {
                if let Some(shipment) = &mut self.shipment {
                    shipment.carrier = carrier;
                    shipment.tracking_no = tracking_no;
                    shipment.express_company = express_company;
                    shipment.logistics_type = logistics_type;
                    shipment.corrected_at = Some(corrected_at);
                }
            }
            OrderEvent::OrderCompleted { completed_at } => {
                self.completed_at = Some(completed_at);
            }
            refund @ (OrderEvent::RefundRequested { .. }
            | OrderEvent::RefundSucceeded { .. }
            | OrderEvent::RefundFailed { .. }
            | OrderEvent::RefundAbnormal { .. }) => self.apply_refund(refund),
            after_sale @ (OrderEvent::AfterSaleRequested { .. }
            | OrderEvent::AfterSaleApproved { .. }
            | OrderEvent::AfterSaleRejected { .. }
            | OrderEvent::ReturnShipped { .. }
            | OrderEvent::ReturnReceived { .. }) => self.apply_after_sale(after_sale),
        }
        self.status = status;
    }
}
