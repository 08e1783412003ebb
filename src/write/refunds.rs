//! Refund use cases: an operator asks for one, the payment provider's answer settles it.
//! Both go through the Order aggregate, so a refund is asked once and settled once
//! however many servers, notices and answers race; settling an order's refund before it
//! shipped returns its units to stock in the same append.

use aggregates::order::{Order, OrderCommand, RefundOutcome, RefundScope};
use uuid::Uuid;

use super::orders::{OrderActor, now};
use super::{WriteError, WriteModel, Written};
use crate::event_store::EventMetadata;

impl WriteModel {
    /// Asks for the refunds `scope` names: every refund the order holds (the rest of its
    /// payment, and the payments it could not take), or part of its payment. The refunds
    /// in the answer's `refunds` with status `requested` are to be sent to the payment
    /// provider.
    pub async fn request_refund(
        &self,
        order_id: Uuid,
        scope: RefundScope,
        reason: String,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::RequestRefund {
            order_id,
            scope,
            reason,
            requested_at: now(),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }

    /// Records the payment provider's answer on refund `refund_no` of `amount_cents`
    /// (of the payment `transaction_id`, when the answer names it). An answer on a refund
    /// already settled changes nothing (`position` is the start).
    pub async fn settle_refund(
        &self,
        order_id: Uuid,
        refund_no: String,
        amount_cents: i64,
        transaction_id: Option<String>,
        outcome: RefundOutcome,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::SettleRefund {
            refund_no,
            amount_cents,
            transaction_id,
            outcome,
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }
}
