//! An order's later steps (cancel, pay, ship, confirm receipt, refunds) and the stock
//! move each causes on its lines, written with the order's events in one transaction.

use aggregates::order::{
    CancelReason, Order, OrderCommand, OrderEvent, RefundLine, ShipmentDetails,
};
use aggregates::stock::{StockCommand, StockError};
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::stock_decisions::{invalidate_moved, stock_appends, store_stocks};
use super::{OrderActor, now};
use crate::event_store::{AppendError, EventMetadata, FeedPosition, StreamAppend};
use crate::write::attempt::{Attempts, append_for, decide};
use crate::write::shoppers::follow_up;
use crate::write::stream_slots::SlotGuard;
use crate::write::{WriteError, WriteModel, Written};

/// The stock move the order's new events call for: a payment taken sells every line's
/// reservation, a cancellation releases it, a refund before shipping returns the units it
/// covers, and so does a return received; a payment the order could not take (recorded for refund) moves no stock.
#[derive(Debug, Clone)]
enum StockMove {
    Release,
    Sell,
    Return(Vec<RefundLine>),
}

impl StockMove {
    /// The move for `events`, which made `order` what it is.
    fn of(events: &[OrderEvent], order: &Order) -> Option<Self> {
        events.iter().find_map(|event| match event {
            OrderEvent::OrderCancelled { .. } => Some(Self::Release),
            OrderEvent::OrderPaid { .. } => Some(Self::Sell),
            // Returned goods received: their units, once (the after-sale moved on).
            OrderEvent::ReturnReceived { lines, .. } => Some(Self::Return(lines.clone())),
            event => {
                let units = order.restocked_by(event);
                (!units.is_empty()).then_some(Self::Return(units))
            }
        })
    }

    /// The SKUs whose stock moves, sorted (the lock order).
    fn skus(&self, order: &Order) -> Vec<String> {
        let mut ids: Vec<String> = match self {
            Self::Release | Self::Sell => order
                .lines
                .iter()
                .map(|line| line.sku_id.to_string())
                .collect(),
            Self::Return(units) => units.iter().map(|unit| unit.sku_id.to_string()).collect(),
        };
        ids.sort_unstable();
        ids.dedup();
        ids
    }

    /// The command for `order` on the stock of `sku_id`: its line's quantity, or the
    /// units returned.
    fn command(&self, order_id: Uuid, order: &Order, sku_id: &str) -> StockCommand {
        let line_quantity = || {
            order
                .lines
                .iter()
                .find(|line| line.sku_id.to_string() == sku_id)
                .map_or(0, |line| line.quantity)
        };
        match self {
            Self::Release => StockCommand::ReleaseStock {
                order_id,
                quantity: line_quantity(),
            },
            Self::Sell => StockCommand::SellStock {
                order_id,
                quantity: line_quantity(),
            },
            Self::Return(units) => StockCommand::ReturnStock {
                order_id,
                quantity: units
                    .iter()
                    .filter(|unit| unit.sku_id.to_string() == sku_id)
                    .map(|unit| unit.quantity)
                    .sum(),
            },
        }
    }
}

impl WriteModel {
    /// Cancels an order awaiting payment and releases its stock.
    pub async fn cancel_order(
        &self,
        order_id: Uuid,
        actor: OrderActor<'_>,
        reason: CancelReason,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::CancelOrder {
            reason,
            cancelled_at: now(),
        };
        self.transition_order(order_id, actor, command, metadata)
            .await
    }

    /// Records a confirmed payment: the order is paid and its reservations sold, or, if it
    /// can no longer take the payment, the payment is recorded with a refund required.
    pub async fn pay_order(
        &self,
        order_id: Uuid,
        payment_id: String,
        amount_cents: i64,
        paid_at: DateTime<Utc>,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::PayOrder {
            payment_id,
            amount_cents,
            // Whatever precision the payment provider used: as stored, to the microsecond.
            paid_at: paid_at.trunc_subsecs(6),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }

    /// Hands a paid order to a carrier, or corrects a shipped order's shipment (once).
    pub async fn ship_order(
        &self,
        order_id: Uuid,
        details: ShipmentDetails,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ShipOrder {
            details,
            shipped_at: now(),
        };
        self.transition_order(order_id, OrderActor::Operator, command, metadata)
            .await
    }

    /// The shopper confirms a shipped order arrived: it is completed.
    pub async fn confirm_receipt(
        &self,
        order_id: Uuid,
        actor: OrderActor<'_>,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ConfirmReceipt {
            completed_at: now(),
        };
        self.transition_order(order_id, actor, command, metadata)
            .await
    }

    /// Applies `command` to the order and the stock moves it causes on its lines.
    pub async fn transition_order(
        &self,
        order_id: Uuid,
        actor: OrderActor<'_>,
        command: OrderCommand,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let key = order_id.to_string();
        let mut order_slot = self.orders.lock(&key).await;
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        let mut reread_for_stock = false;
        loop {
            let current = &order_slot.current(&self.store).await?.loaded;
            if current.aggregate.status.is_none() || !actor.may_touch(&current.aggregate) {
                return Err(WriteError::OrderNotFound);
            }
            let sequence = current.sequence;
            let (order, order_events) = decide(&current.aggregate, command.clone()).await?;
            if order_events.is_empty() {
                // Nothing to write (a repeated payment notice): the order as it is.
                return Ok(Written {
                    value: order,
                    position: FeedPosition::START,
                });
            }
            let mut appends: Vec<StreamAppend> =
                append_for::<Order>(&key, sequence, &order_events)?
                    .into_iter()
                    .collect();

            // The global lock order: the order, its shopper, then its stocks.
            let mut shopper = None;
            let mut purchase = None;
            if let Some(command) = follow_up(order_id, &order, &order_events) {
                let mut slot = self.shoppers.lock(&order.user_id).await;
                let decision = self.decide_follow_up(&mut slot, command).await?;
                appends.extend(decision.append(&slot)?);
                purchase = Some(decision);
                shopper = Some(slot);
            }
            let mut stocks = Vec::new();
            let mut decided = Vec::new();
            if let Some(stock_move) = StockMove::of(&order_events, &order) {
                for id in &stock_move.skus(&order) {
                    stocks.push(self.stocks.lock(id).await);
                }
                decided = match self
                    .decide_stocks(
                        &mut stocks,
                        &|slot| stock_move.command(order_id, &order, slot.aggregate_id()),
                        &order,
                    )
                    .await
                {
                    Ok(decided) => decided,
                    // The cached stock does not hold this order's units: another server
                    // placed the order after our cache was read, or moved it on after we
                    // read it. Decide again on fresh state.
                    Err(WriteError::Stock(StockError::BeyondReserved { .. }))
                        if !reread_for_stock =>
                    {
                        reread_for_stock = true;
                        order_slot.invalidate();
                        stocks.iter_mut().for_each(SlotGuard::invalidate);
                        continue;
                    }
                    Err(err) => return Err(err),
                };
                appends.extend(stock_appends(&stocks, &decided)?);
            }
            match self.store.append(&appends, metadata).await {
                Ok(appended) => {
                    if let (Some(slot), Some(decision)) = (shopper.as_mut(), purchase) {
                        decision.store(&self.store, slot).await;
                    }
                    store_stocks(&self.store, &mut stocks, decided).await;
                    return Ok(Written {
                        value: order,
                        position: appended.last,
                    });
                }
                Err(AppendError::Conflict { streams }) => {
                    order_slot.invalidate();
                    if let Some(slot) = shopper.as_mut() {
                        slot.invalidate_if_moved(&streams);
                    }
                    invalidate_moved(&mut stocks, &streams);
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}
