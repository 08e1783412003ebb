//! Batches per product for hot products: single-line orders for one product join its
//! queue; one drainer per product takes everything queued, decides the orders one after
//! another on the cached stock, and appends all accepted ones as one append — one
//! decision pass and one stock write for many orders instead of a lock hand-over and a
//! commit each. While a batch commits the next one gathers, so batches grow with the
//! load. (The event store's group commit then lets batches of different products, and
//! multi-line orders, share transactions.)
//!
//! The drainer is a task of its own: it carries other clients' orders, so it must finish
//! even when the client whose request started it hangs up. It takes the product's and
//! stock's slots per batch, so cancellations and restocks of the product get their turn.
//!
//! Each order comes with its shopper's slot, taken and loaded in the request's own task
//! (loads run in parallel there, not one after another in the batch), and handed back
//! with the answer. A limit refusal resting on a cached shopper state that may be stale
//! goes back to the request, which reloads its shopper and queues the order once more:
//! the drainer reads nothing for shoppers.

use std::sync::Arc;
use std::time::Instant;

use aggregates::order::{NewOrder, Order, OrderCommand, OrderEvent};
use aggregates::product::Product;
use aggregates::shopper::Shopper;
use aggregates::stock::{Stock, StockCommand, StockError, StockEvent};
use cqrs_es::Aggregate;
use tokio::sync::oneshot;
use uuid::Uuid;

mod queue;

pub(in crate::write) use queue::Queues;
use queue::{BatchKey, Decided, Outcome, Pending};

use super::placing::{capture, sellable};
use crate::event_store::{
    AppendError, EventData, EventMetadata, FeedPosition, StreamAppend, StreamId,
};
use crate::write::attempt::{Attempts, decide};
use crate::write::shoppers::{Refusal, ShopperDecision, opening};
use crate::write::stream_slots::SlotGuard;
use crate::write::{Shortage, WriteError, WriteModel, Written};

impl WriteModel {
    /// Places a validated single-line order through its SKU's batch (`named_sku`: whether
    /// the line named its SKU).
    pub(super) async fn place_single_line(
        self: &Arc<Self>,
        order: NewOrder,
        named_sku: bool,
        metadata: &EventMetadata,
    ) -> Outcome {
        // The global lock order: the shopper before the product and stock the batch takes.
        let asked_at = Instant::now();
        let mut shopper = self.shoppers.lock(&order.user_id).await;
        shopper.current(&self.store).await?;
        let mut reloaded = false;
        loop {
            let (decided, returned) = self
                .through_batch(order.clone(), named_sku, metadata, shopper, asked_at)
                .await?;
            shopper = returned;
            match decided {
                Decided::Final(outcome) => return outcome,
                Decided::StaleRefusal(_) if !reloaded => {
                    shopper.reload(&self.store).await?;
                    reloaded = true;
                }
                Decided::StaleRefusal(refusal) => return Err(refusal),
            }
        }
    }

    /// Queues the order for its SKU's batch and waits for the batch's decision.
    async fn through_batch(
        self: &Arc<Self>,
        order: NewOrder,
        named_sku: bool,
        metadata: &EventMetadata,
        shopper: SlotGuard<Shopper>,
        asked_at: Instant,
    ) -> Result<(Decided, SlotGuard<Shopper>), WriteError> {
        let line = &order.lines[0];
        let key = BatchKey {
            product_id: line.product_id,
            sku_id: named_sku.then_some(line.sku_id),
        };
        let (respond, answer) = oneshot::channel();
        let pending = Pending {
            order,
            metadata: metadata.clone(),
            shopper,
            asked_at,
            respond,
        };
        if self.queues.push(key, pending) {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.drain(key).await });
        }
        answer.await.map_err(|_| {
            WriteError::Unavailable("the order's batch ended without an answer".to_owned())
        })
    }

    /// Commits the SKU's queued orders, batch after batch, until none is left.
    async fn drain(&self, key: BatchKey) {
        let product_key = key.product_id.to_string();
        loop {
            // The queue first: a drainer with nothing left ends without taking (and so
            // creating) the product's and stock's slots, which would outlive the last
            // answer for as long as it takes to read the product.
            let batch = self.queues.take_or_finish(key);
            if batch.is_empty() {
                return;
            }
            // The global lock order: product, then stock.
            let mut product = self.products.lock(&product_key).await;
            let sku_id = match key.sku_id {
                Some(sku_id) => sku_id,
                // A product of several SKUs is refused each order by `sellable` before
                // its stock is asked; the product's id then stands in.
                None => self
                    .only_sku(&mut product, key.product_id)
                    .await
                    .unwrap_or(key.product_id),
            };
            let mut stock = self.stocks.lock(&sku_id.to_string()).await;
            self.commit_batch(&mut product, &mut stock, key, batch)
                .await;
        }
    }

    /// The only SKU of the product, if it has one and can be read.
    async fn only_sku(&self, slot: &mut SlotGuard<Product>, product_id: Uuid) -> Option<Uuid> {
        let fresh = slot.fresh(&self.store, self.settings.cache_fresh_for).await;
        fresh.ok()?.loaded.aggregate.only_sku(product_id)
    }

    async fn commit_batch(
        &self,
        product: &mut SlotGuard<Product>,
        stock: &mut SlotGuard<Stock>,
        key: BatchKey,
        mut batch: Vec<Pending>,
    ) {
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        let size = batch.len();
        let every = |outcome: &dyn Fn() -> WriteError| {
            (0..size)
                .map(|_| Decided::Final(Err(outcome())))
                .collect::<Vec<_>>()
        };
        let decided = loop {
            match self.try_batch(product, stock, key, &mut batch).await {
                Err(BatchError::Conflict(moved)) => {
                    stock.invalidate();
                    for pending in &mut batch {
                        pending.shopper.invalidate_if_moved(&moved);
                    }
                    if attempts.retry_after_conflict().await.is_err() {
                        break every(&|| WriteError::Busy);
                    }
                }
                Err(BatchError::Failed(message)) => {
                    break every(&|| WriteError::Unavailable(message.clone()));
                }
                Ok(decided) => break decided,
            }
        };
        for (pending, decided) in batch.into_iter().zip(decided) {
            // A client that hung up no longer listens; its order stands all the same.
            let _ = pending.respond.send((decided, pending.shopper));
        }
    }

    /// Decides every order of the batch in turn and appends the accepted ones together.
    async fn try_batch(
        &self,
        product_slot: &mut SlotGuard<Product>,
        stock_slot: &mut SlotGuard<Stock>,
        key: BatchKey,
        batch: &mut [Pending],
    ) -> Result<Vec<Decided>, BatchError> {
        let fresh_for = self.settings.cache_fresh_for;
        let product = product_slot
            .fresh(&self.store, fresh_for)
            .await
            .map_err(BatchError::failed)?
            .loaded
            .aggregate
            .clone();
        // Refusals rest on this state, so it is at most `fresh_for` old.
        let cached = &stock_slot
            .fresh(&self.store, fresh_for)
            .await
            .map_err(BatchError::failed)?
            .loaded;
        let (mut stock, base_sequence) = (cached.aggregate, cached.sequence);
        let stock_id = stock_slot.aggregate_id().to_owned();

        let mut decided = Vec::with_capacity(batch.len());
        let mut purchases = Vec::with_capacity(batch.len());
        let mut appends = Vec::new();
        let mut stock_events = Vec::new();
        for pending in batch.iter_mut() {
            let accepted = match self.decide_one(pending, key, &product, &stock).await {
                Err(refusal) => {
                    decided.push(refusal);
                    purchases.push(None);
                    continue;
                }
                Ok(accepted) => accepted,
            };
            stock = accepted.stock;
            let mut order_append = StreamAppend::for_aggregate::<Order>(
                accepted.order_id.to_string(),
                0,
                &[accepted.placed],
            )
            .map_err(BatchError::failed)?;
            with_metadata(&mut order_append.events, &pending.metadata);
            appends.push(order_append);
            if let Some(mut shopper_append) = accepted
                .purchase
                .append(&pending.shopper)
                .map_err(BatchError::failed)?
            {
                with_metadata(&mut shopper_append.events, &pending.metadata);
                appends.push(shopper_append);
            }
            let mut events =
                StreamAppend::for_aggregate::<Stock>(stock_id.clone(), 0, &[accepted.reserved])
                    .map_err(BatchError::failed)?
                    .events;
            with_metadata(&mut events, &pending.metadata);
            stock_events.extend(events);
            decided.push(Decided::Final(Ok(Written {
                value: (accepted.order_id, accepted.order),
                position: FeedPosition::default(),
            })));
            purchases.push(Some(accepted.purchase));
        }
        // Every accepted order reserved stock, so no stock events means nothing to write.
        if stock_events.is_empty() {
            return Ok(decided);
        }
        let added = i64::try_from(stock_events.len()).unwrap_or_default();
        appends.push(StreamAppend {
            stream: StreamId::new(Stock::TYPE, stock_id),
            expected_sequence: base_sequence,
            events: stock_events,
        });
        let position = match self.store.append(&appends, &EventMetadata::default()).await {
            Ok(appended) => appended.last,
            Err(AppendError::Conflict { streams }) => return Err(BatchError::Conflict(streams)),
            Err(err) => return Err(BatchError::failed(err)),
        };
        stock_slot
            .store(&self.store, stock, base_sequence + added)
            .await;
        for (pending, purchase) in batch.iter_mut().zip(purchases) {
            if let Some(purchase) = purchase {
                purchase.store(&self.store, &mut pending.shopper).await;
            }
        }
        for outcome in &mut decided {
            if let Decided::Final(Ok(written)) = outcome {
                written.position = position;
            }
        }
        Ok(decided)
    }

    /// One order of the batch, decided on the product, the stock as the orders before it
    /// in the batch left it, and its shopper; or why not.
    async fn decide_one(
        &self,
        pending: &mut Pending,
        key: BatchKey,
        product: &Product,
        stock: &Stock,
    ) -> Result<Accepted, Decided> {
        let refused = |err: WriteError| Decided::Final(Err(err));
        let priced = priced(&pending.order, key, product).map_err(refused)?;
        let (order, mut placed) = decide(&Order::default(), OrderCommand::PlaceOrder(priced))
            .await
            .map_err(|err| refused(err.into()))?;
        let order_id = Uuid::now_v7();
        // The stock first: a sold-out product refuses without asking the shopper, whose
        // refusals may cost a read (see `Decided::StaleRefusal`).
        let line = &order.lines[0];
        let reserve = StockCommand::ReserveStock {
            order_id,
            quantity: line.quantity,
        };
        let (stock, mut reserved) = match decide(stock, reserve).await {
            Ok(decided) => decided,
            Err(StockError::InsufficientStock {
                requested,
                available,
            }) => {
                return Err(refused(WriteError::InsufficientStock(vec![Shortage::of(
                    line, requested, available,
                )])));
            }
            Err(other) => return Err(refused(other.into())),
        };
        let opening = opening(
            order_id,
            &order,
            |_| product.limit_per_user,
            self.settings.max_unpaid_orders,
        );
        let purchase = match self
            .decide_shopper(&mut pending.shopper, opening, pending.asked_at)
            .await
        {
            Err(err) => return Err(refused(err)),
            Ok(Err(Refusal { error, stale: true })) => {
                return Err(Decided::StaleRefusal(error));
            }
            Ok(Err(Refusal { error, .. })) => return Err(refused(error)),
            Ok(Ok(purchase)) => purchase,
        };
        Ok(Accepted {
            order_id,
            placed: placed.remove(0),
            reserved: reserved.remove(0),
            order,
            purchase,
            stock,
        })
    }
}

/// An order the batch accepted, with what it writes.
struct Accepted {
    order_id: Uuid,
    order: Order,
    placed: OrderEvent,
    purchase: ShopperDecision,
    reserved: StockEvent,
    /// The stock after the reservation.
    stock: Stock,
}

enum BatchError {
    /// Another writer moved these streams.
    Conflict(Vec<StreamId>),
    Failed(String),
}

impl BatchError {
    fn failed(err: impl std::fmt::Display) -> Self {
        Self::Failed(err.to_string())
    }
}

/// The order's line named and priced from the catalog, or why it cannot be.
fn priced(order: &NewOrder, key: BatchKey, product: &Product) -> Result<NewOrder, WriteError> {
    let mut order = order.clone();
    let line = &mut order.lines[0];
    let (product, sku) = sellable(0, key.sku_id.is_some(), line, Some(product))
        .map_err(|error| WriteError::Invalid(vec![error]))?;
    capture(line, product, &sku);
    Ok(order)
}

fn with_metadata(events: &mut [EventData], metadata: &EventMetadata) {
    for event in events {
        event.metadata = Some(metadata.clone());
    }
}
