//! The shopper's side of an order: purchase limits and the open-order cap, decided by
//! the Shopper aggregate and appended with the order and its stock moves, so two
//! requests (in one process or two) can never both pass a limit only one fits in.

use std::time::Instant;

use aggregates::order::{Order, OrderEvent, RefundKind};
use aggregates::shopper::{PurchaseLine, Shopper, ShopperCommand, ShopperError};
use uuid::Uuid;

use super::attempt::append_for;
use super::stream_slots::{DecidedInPlace, SlotGuard};
use super::{WriteError, WriteModel};
use crate::event_store::{EventStore, StreamAppend};

/// What the shopper decided within a unit of work, decided in place on its slot's state
/// (which stays ahead of the stream until [`ShopperDecision::store`]).
pub(super) struct ShopperDecision(DecidedInPlace<aggregates::shopper::ShopperEvent>);

impl ShopperDecision {
    /// The append for the decision (none when it changed nothing).
    pub(super) fn append(
        &self,
        slot: &SlotGuard<Shopper>,
    ) -> Result<Option<StreamAppend>, WriteError> {
        append_for::<Shopper>(slot.aggregate_id(), self.0.sequence, &self.0.events)
    }

    /// Records that the shopper's events were appended.
    pub(super) async fn store(self, store: &EventStore, slot: &mut SlotGuard<Shopper>) {
        let added = i64::try_from(self.0.events.len()).unwrap_or_default();
        slot.appended(store, self.0.sequence + added).await;
    }
}

/// A shopper's refusal, and whether it rests on a cached state confirmed before the
/// order was asked for: another process may have released units or paid an order since,
/// so the database is asked before such a refusal is believed. (Refusals are rare, an
/// acceptance is checked by the append; a shopper is never refused on stale state.)
pub(super) struct Refusal {
    pub error: WriteError,
    pub stale: bool,
}

/// The command opening `order` as `order_id` for its shopper, each line limited by
/// `limit_of` its product.
pub(super) fn opening(
    order_id: Uuid,
    order: &Order,
    limit_of: impl Fn(Uuid) -> Option<i64>,
    max_unpaid_orders: u32,
) -> ShopperCommand {
    ShopperCommand::OpenPurchase {
        order_id,
        lines: per_product(order)
            .into_iter()
            .map(|(product_id, quantity)| PurchaseLine {
                product_id,
                quantity,
                limit_per_user: limit_of(product_id),
            })
            .collect(),
        max_unpaid_orders,
    }
}

/// The order's units per product (two SKUs of one product are one product to its
/// limit), in the order the products first appear.
fn per_product(order: &Order) -> Vec<(Uuid, i64)> {
    let mut units: Vec<(Uuid, i64)> = Vec::new();
    for line in &order.lines {
        match units.iter_mut().find(|(id, _)| *id == line.product_id) {
            Some((_, quantity)) => *quantity += line.quantity,
            None => units.push((line.product_id, line.quantity)),
        }
    }
    units
}

impl WriteModel {
    /// The shopper's decision on `command`, on its cached state; a refusal is stale
    /// unless that state was confirmed since `asked_at`.
    pub(super) async fn decide_shopper(
        &self,
        slot: &mut SlotGuard<Shopper>,
        command: ShopperCommand,
        asked_at: Instant,
    ) -> Result<Result<ShopperDecision, Refusal>, WriteError> {
        let (confirmed_at, decided) = slot.decide_in_place(&self.store, command).await?;
        Ok(decided.map(ShopperDecision).map_err(|refusal| Refusal {
            error: refusal.into(),
            stale: confirmed_at < asked_at,
        }))
    }

    /// The shopper's decision on opening an order asked for at `asked_at`; a stale
    /// refusal is checked against the database before it is believed.
    pub(super) async fn decide_opening(
        &self,
        slot: &mut SlotGuard<Shopper>,
        command: ShopperCommand,
        asked_at: Instant,
    ) -> Result<ShopperDecision, WriteError> {
        match self.decide_shopper(slot, command.clone(), asked_at).await? {
            Ok(decision) => Ok(decision),
            Err(Refusal { stale: true, .. }) => {
                slot.reload(&self.store).await?;
                self.decide_shopper(slot, command, asked_at)
                    .await?
                    .map_err(|refusal| refusal.error)
            }
            Err(refusal) => Err(refusal.error),
        }
    }

    /// The shopper's decision on what an order's payment or cancellation means for it:
    /// a payment frees an unpaid slot, a cancellation gives the units back too. When
    /// the cached state does not hold the order unpaid, the database is asked before
    /// believing it (another process may have placed the order): "nothing to do" is
    /// the one decision no append would check.
    pub(super) async fn decide_follow_up(
        &self,
        slot: &mut SlotGuard<Shopper>,
        command: ShopperCommand,
    ) -> Result<ShopperDecision, WriteError> {
        let mut reloaded = false;
        loop {
            let (_, decided) = slot.decide_in_place(&self.store, command.clone()).await?;
            let decided = decided?;
            if decided.events.is_empty() && !reloaded {
                slot.reload(&self.store).await?;
                reloaded = true;
                continue;
            }
            return Ok(ShopperDecision(decided));
        }
    }
}

/// The shopper command the order's new events (which made it `order`) call for, if any.
pub(super) fn follow_up(
    order_id: Uuid,
    order: &Order,
    events: &[OrderEvent],
) -> Option<ShopperCommand> {
    events.iter().find_map(|event| match event {
        OrderEvent::OrderPaid { .. } => Some(ShopperCommand::PayPurchase { order_id }),
        OrderEvent::OrderCancelled { .. } => Some(ShopperCommand::ReleasePurchase { order_id }),
        // The units a refund gave the money back for no longer count. Only what the
        // limits counted goes back to them: an order placed before limits existed would
        // lower what other orders hold (a way past the limit).
        OrderEvent::RefundSucceeded {
            refund_no,
            kind: RefundKind::Order | RefundKind::Partial,
            ..
        } if order.limits_counted => {
            let refund = order.refund(refund_no)?;
            let lines: Vec<(Uuid, i64)> = refund
                .lines
                .iter()
                .filter_map(|unit| {
                    let line = order.lines.iter().find(|line| line.sku_id == unit.sku_id)?;
                    Some((line.product_id, unit.quantity))
                })
                .collect();
            (!lines.is_empty()).then_some(ShopperCommand::ReturnPurchase { order_id, lines })
        }
        _ => None,
    })
}

impl From<ShopperError> for WriteError {
    fn from(err: ShopperError) -> Self {
        match err {
            ShopperError::LimitExceeded(breaches) => Self::LimitExceeded(breaches),
            ShopperError::TooManyUnpaid { max } => Self::TooManyUnpaid { max },
        }
    }
}
