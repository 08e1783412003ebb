//! After-sales use cases: the shopper asks and ships a return back, the merchant
//! approves, rejects and receives. Each is a command on the Order aggregate through
//! `transition_order`, so a receipt's units go back to stock in the same append, and two
//! operators deciding at once are decided once.

use aggregates::order::{AfterSaleKind, Order, OrderCommand, RefundLine};
use uuid::Uuid;

use super::orders::{OrderActor, now};
use super::{WriteError, WriteModel, Written};
use crate::event_store::EventMetadata;

impl WriteModel {
    /// The owner asks for an after-sale of `lines` of their order.
    pub async fn request_after_sale(
        &self,
        order_id: Uuid,
        owner: &str,
        kind: AfterSaleKind,
        lines: Vec<RefundLine>,
        reason: String,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::RequestAfterSale {
            kind,
            lines,
            reason,
            requested_at: now(),
            return_window: chrono::Duration::from_std(self.settings.return_window)
                .unwrap_or(chrono::Duration::MAX),
        };
        self.transition_order(order_id, OrderActor::Owner(owner), command, metadata)
            .await
    }

    /// The merchant approves after-sale `no` for `refund_cents` (its lines' value when
    /// absent); a refund-only's refund is requested with it, to be sent.
    pub async fn approve_after_sale(
        &self,
        order_id: Uuid,
        no: u32,
        refund_cents: Option<i64>,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ApproveAfterSale {
            order_id,
            no,
            refund_cents,
            approved_at: now(),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }

    pub async fn reject_after_sale(
        &self,
        order_id: Uuid,
        no: u32,
        reason: String,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::RejectAfterSale {
            no,
            reason,
            rejected_at: now(),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }

    /// The owner's return shipment of after-sale `no`.
    pub async fn ship_return(
        &self,
        order_id: Uuid,
        owner: &str,
        no: u32,
        express_company: String,
        tracking_no: String,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ShipReturn {
            no,
            express_company,
            tracking_no,
            shipped_at: now(),
        };
        self.transition_order(order_id, OrderActor::Owner(owner), command, metadata)
            .await
    }

    /// The merchant received after-sale `no`'s goods: units back to stock, its refund
    /// requested, to be sent.
    pub async fn receive_return(
        &self,
        order_id: Uuid,
        no: u32,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ReceiveReturn {
            order_id,
            no,
            received_at: now(),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }
}
