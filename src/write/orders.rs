//! Order use cases: place, cancel, pay, ship, confirm receipt. Each writes the order's
//! events and the stock moves they cause in one transaction.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aggregates::FieldError;
use aggregates::order::{
    Address, CancelReason, NewOrder, Order, OrderCommand, OrderEvent, OrderLine,
};
use aggregates::product::Product;
use aggregates::stock::{Stock, StockCommand, StockError, StockEvent};
use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

use super::attempt::{Attempts, append_for, decide};
use super::shoppers::{follow_up, opening};
use super::stream_slots::SlotGuard;
use super::{Shortage, WriteError, WriteModel, Written};
use crate::event_store::{
    AppendError, EventMetadata, EventStore, FeedPosition, StreamAppend, StreamId,
};

/// A shopper's new order, as requested: products and quantities.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub user_id: String,
    pub lines: Vec<(Uuid, i64)>,
    pub address: Address,
    pub remark: String,
}

/// Who asks for a change to an order: its owner may touch only their own orders.
#[derive(Debug, Clone, Copy)]
pub enum OrderActor<'a> {
    Owner(&'a str),
    /// Operators and ordo's own workers (payment notices, timeouts).
    Operator,
}

impl OrderActor<'_> {
    fn may_touch(&self, order: &Order) -> bool {
        match self {
            Self::Owner(user_id) => order.user_id == *user_id,
            Self::Operator => true,
        }
    }
}

/// The time a command happens at, to the microsecond: what PostgreSQL stores, so that
/// events and read models show the same instant.
pub(super) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}

/// What one stock decided within a unit of work.
struct StockDecision {
    state: Stock,
    /// The stream's sequence the decision was taken on.
    sequence: i64,
    events: Vec<StockEvent>,
}

/// The appends for these stocks' decisions (none for a stock that decided nothing).
fn stock_appends(
    stocks: &[SlotGuard<Stock>],
    decided: &[StockDecision],
) -> Result<Vec<StreamAppend>, WriteError> {
    let mut appends = Vec::new();
    for (slot, decision) in stocks.iter().zip(decided) {
        appends.extend(append_for::<Stock>(
            slot.aggregate_id(),
            decision.sequence,
            &decision.events,
        )?);
    }
    Ok(appends)
}

/// Records the stocks' new states once their events are appended.
async fn store_stocks(
    store: &EventStore,
    stocks: &mut [SlotGuard<Stock>],
    decided: Vec<StockDecision>,
) {
    for (slot, decision) in stocks.iter_mut().zip(decided) {
        let sequence = decision.sequence + i64::try_from(decision.events.len()).unwrap_or_default();
        slot.store(store, decision.state, sequence).await;
    }
}

/// Forgets the cached state of the stocks another writer moved.
fn invalidate_moved(stocks: &mut [SlotGuard<Stock>], moved: &[StreamId]) {
    for slot in stocks {
        slot.invalidate_if_moved(moved);
    }
}

/// The stock move the order's new events call for on every line: a payment taken sells
/// the reservation, a cancellation releases it, a refund before shipping returns the
/// units; a payment the order could not take (recorded for refund) moves no stock.
#[derive(Debug, Clone, Copy)]
enum StockMove {
    Release,
    Sell,
    Return,
}

impl StockMove {
    /// The move for `events`, which made `order` what it is.
    fn of(events: &[OrderEvent], order: &Order) -> Option<Self> {
        events.iter().find_map(|event| match event {
            OrderEvent::OrderCancelled { .. } => Some(Self::Release),
            OrderEvent::OrderPaid { .. } => Some(Self::Sell),
            event if order.returns_stock(event) => Some(Self::Return),
            _ => None,
        })
    }

    /// The command for the line of `order` on the stock `product_id`: its quantity.
    fn command(self, order_id: Uuid, order: &Order, product_id: &str) -> StockCommand {
        let quantity = order
            .lines
            .iter()
            .find(|line| line.product_id.to_string() == product_id)
            .map_or(0, |line| line.quantity);
        match self {
            Self::Release => StockCommand::ReleaseStock { order_id, quantity },
            Self::Sell => StockCommand::SellStock { order_id, quantity },
            Self::Return => StockCommand::ReturnStock { order_id, quantity },
        }
    }
}

impl WriteModel {
    /// Places an order: the order and a reservation on every line's stock, all or nothing.
    /// Single-line orders (the flash-sale case) are committed in batches per product.
    pub async fn place_order(
        self: &Arc<Self>,
        request: PlaceOrder,
        metadata: &EventMetadata,
    ) -> Result<Written<(Uuid, Order)>, WriteError> {
        // Refuse malformed orders before taking any lock or reading anything.
        let placed_at = now();
        let unpriced = NewOrder {
            user_id: request.user_id.clone(),
            lines: request
                .lines
                .iter()
                .map(|&(product_id, quantity)| OrderLine {
                    product_id,
                    name: String::new(),
                    unit_price_cents: 0,
                    quantity,
                    image: None,
                })
                .collect(),
            address: request.address.clone(),
            remark: request.remark.clone(),
            placed_at,
            expires_at: placed_at + self.settings.payment_timeout,
        };
        decide(
            &Order::default(),
            OrderCommand::PlaceOrder(unpriced.clone()),
        )
        .await?;
        if unpriced.lines.len() == 1 {
            return self.place_single_line(unpriced, metadata).await;
        }

        // The global lock order: the shopper, every product, then every stock.
        let asked_at = Instant::now();
        let mut shopper = self.shoppers.lock(&request.user_id).await;
        // Read now, before the products and stocks are held: a read between deciding the
        // stocks and appending would widen the window another process can move them in.
        shopper.current(&self.store).await?;
        let ids: Vec<String> = {
            let mut ids: Vec<Uuid> = request.lines.iter().map(|(id, _)| *id).collect();
            ids.sort_unstable();
            ids.iter().map(Uuid::to_string).collect()
        };
        let mut products = Vec::with_capacity(ids.len());
        for id in &ids {
            products.push(self.products.lock(id).await);
        }
        let mut stocks = Vec::with_capacity(ids.len());
        for id in &ids {
            stocks.push(self.stocks.lock(id).await);
        }

        let order_id = Uuid::now_v7();
        let (priced, limits) = self.price_lines(unpriced, &ids, &mut products).await?;
        let (order, order_events) =
            decide(&Order::default(), OrderCommand::PlaceOrder(priced)).await?;
        let reserve = |stock: &SlotGuard<Stock>| {
            let quantity = order
                .lines
                .iter()
                .find(|line| line.product_id.to_string() == stock.aggregate_id())
                .map_or(0, |line| line.quantity);
            StockCommand::ReserveStock { order_id, quantity }
        };

        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        loop {
            let mut appends = vec![StreamAppend::for_aggregate::<Order>(
                order_id.to_string(),
                0,
                &order_events,
            )?];
            // The stocks first: a sold-out line refuses without asking the shopper,
            // whose refusals may cost a read.
            let decided = self.decide_stocks(&mut stocks, &reserve, &order).await?;
            let opening = opening(
                order_id,
                &order,
                |product_id| limits.get(&product_id).copied().flatten(),
                self.settings.max_unpaid_orders,
            );
            let purchase = self.decide_opening(&mut shopper, opening, asked_at).await?;
            appends.extend(purchase.append(&shopper)?);
            appends.extend(stock_appends(&stocks, &decided)?);
            match self.store.append(&appends, metadata).await {
                Ok(appended) => {
                    purchase.store(&self.store, &mut shopper).await;
                    store_stocks(&self.store, &mut stocks, decided).await;
                    return Ok(Written {
                        value: (order_id, order),
                        position: appended.last,
                    });
                }
                Err(AppendError::Conflict { streams }) => {
                    shopper.invalidate_if_moved(&streams);
                    invalidate_moved(&mut stocks, &streams);
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }

    /// Fills in each line's name and unit price from the catalog, refusing unknown
    /// and off-sale products by line; with each product's purchase limit.
    async fn price_lines(
        &self,
        mut order: NewOrder,
        ids: &[String],
        products: &mut [SlotGuard<Product>],
    ) -> Result<(NewOrder, BTreeMap<Uuid, Option<i64>>), WriteError> {
        let mut catalog = BTreeMap::new();
        for (id, slot) in ids.iter().zip(products.iter_mut()) {
            let product = &slot
                .fresh(&self.store, self.settings.cache_fresh_for)
                .await?
                .loaded
                .aggregate;
            catalog.insert(id.clone(), product.clone());
        }
        let mut errors = Vec::new();
        for (i, line) in order.lines.iter_mut().enumerate() {
            match catalog.get(&line.product_id.to_string()) {
                Some(product) if product.created && product.on_sale => {
                    capture(line, product);
                }
                Some(product) if product.created => errors.push(FieldError::new(
                    format!("lines[{i}].product_id"),
                    format!("{} is not on sale", product.name),
                )),
                _ => errors.push(FieldError::new(
                    format!("lines[{i}].product_id"),
                    "no such product",
                )),
            }
        }
        if errors.is_empty() {
            let limits = order
                .lines
                .iter()
                .map(|line| {
                    let product = catalog.get(&line.product_id.to_string());
                    (line.product_id, product.and_then(|p| p.limit_per_user))
                })
                .collect();
            Ok((order, limits))
        } else {
            Err(WriteError::Invalid(errors))
        }
    }

    /// Every stock's decision on `command`.
    /// Shortages are collected over all lines; a shortage seen on a cached state older
    /// than `cache_fresh_for` is checked against the database before it is believed.
    async fn decide_stocks(
        &self,
        stocks: &mut [SlotGuard<Stock>],
        command: &impl Fn(&SlotGuard<Stock>) -> StockCommand,
        order: &Order,
    ) -> Result<Vec<StockDecision>, WriteError> {
        let mut decided = Vec::with_capacity(stocks.len());
        let mut shortages = Vec::new();
        for slot in stocks.iter_mut() {
            let mut rechecked = false;
            let stock_command = command(slot);
            loop {
                let cached = slot.current(&self.store).await?;
                let (sequence, is_fresh) = (
                    cached.loaded.sequence,
                    cached.confirmed_at.elapsed() <= self.settings.cache_fresh_for,
                );
                match decide(&cached.loaded.aggregate, stock_command.clone()).await {
                    Ok((state, events)) => {
                        decided.push(StockDecision {
                            state,
                            sequence,
                            events,
                        });
                        break;
                    }
                    Err(StockError::InsufficientStock { .. }) if !is_fresh && !rechecked => {
                        slot.reload(&self.store).await?;
                        rechecked = true;
                    }
                    Err(StockError::InsufficientStock {
                        requested,
                        available,
                    }) => {
                        let line = order
                            .lines
                            .iter()
                            .find(|line| line.product_id.to_string() == slot.aggregate_id());
                        shortages.push(Shortage {
                            product_id: line.map(|l| l.product_id).unwrap_or_default(),
                            name: line.map(|l| l.name.clone()).unwrap_or_default(),
                            requested,
                            available,
                        });
                        break;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        if shortages.is_empty() {
            Ok(decided)
        } else {
            Err(WriteError::InsufficientStock(shortages))
        }
    }

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

    /// Hands a paid order to a carrier.
    pub async fn ship_order(
        &self,
        order_id: Uuid,
        carrier: String,
        tracking_no: String,
        metadata: &EventMetadata,
    ) -> Result<Written<Order>, WriteError> {
        let command = OrderCommand::ShipOrder {
            carrier,
            tracking_no,
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
                let mut ids: Vec<String> = order
                    .lines
                    .iter()
                    .map(|line| line.product_id.to_string())
                    .collect();
                ids.sort_unstable();
                for id in &ids {
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

/// What a line keeps of its product as it is when the order is placed: its name, unit
/// price and cover image.
pub(super) fn capture(line: &mut OrderLine, product: &Product) {
    line.name.clone_from(&product.name);
    line.unit_price_cents = product.price_cents;
    line.image = product.cover().map(str::to_owned);
}
