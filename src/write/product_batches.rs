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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aggregates::FieldError;
use aggregates::order::{NewOrder, Order, OrderCommand};
use aggregates::product::Product;
use aggregates::stock::{Stock, StockCommand, StockError};
use cqrs_es::Aggregate;
use tokio::sync::oneshot;
use uuid::Uuid;

use super::attempt::{Attempts, decide};
use super::stream_slots::SlotGuard;
use super::{Shortage, WriteError, WriteModel, Written};
use crate::event_store::{
    AppendError, EventData, EventMetadata, FeedPosition, StreamAppend, StreamId,
};

type Outcome = Result<Written<(Uuid, Order)>, WriteError>;

/// Orders committed together at most: bounds one INSERT and one batch's latency.
const MAX_BATCH: usize = 256;

/// A single-line order waiting for its product's next batch.
pub(super) struct Pending {
    /// Validated, not yet priced.
    order: NewOrder,
    metadata: EventMetadata,
    respond: oneshot::Sender<Outcome>,
}

/// The orders waiting, by product; a product has an entry while its drainer runs.
#[derive(Default)]
pub(super) struct Queues(Mutex<HashMap<Uuid, Vec<Pending>>>);

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queues")
    }
}

impl Queues {
    /// Queues an order; true when no drainer runs for the product and the caller must
    /// start one.
    fn push(&self, product: Uuid, pending: Pending) -> bool {
        let mut queues = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let start_drainer = !queues.contains_key(&product);
        queues.entry(product).or_default().push(pending);
        start_drainer
    }

    /// Everything queued for the product. When nothing is, the drainer ends: under the
    /// same lock, so an order queued right after starts a new one.
    fn take_or_finish(&self, product: Uuid) -> Vec<Pending> {
        let mut queues = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match queues.get_mut(&product) {
            Some(pending) if pending.len() > MAX_BATCH => pending.drain(..MAX_BATCH).collect(),
            Some(pending) if !pending.is_empty() => std::mem::take(pending),
            _ => {
                queues.remove(&product);
                Vec::new()
            }
        }
    }
}

impl WriteModel {
    /// Places a validated single-line order through its product's batch.
    pub(super) async fn place_single_line(
        self: &Arc<Self>,
        order: NewOrder,
        metadata: &EventMetadata,
    ) -> Outcome {
        let product_id = order.lines[0].product_id;
        let (respond, answer) = oneshot::channel();
        let pending = Pending {
            order,
            metadata: metadata.clone(),
            respond,
        };
        if self.queues.push(product_id, pending) {
            let this = Arc::clone(self);
            tokio::spawn(async move { this.drain(product_id).await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(WriteError::Unavailable(
                "the order's batch ended without an answer".to_owned(),
            ))
        })
    }

    /// Commits the product's queued orders, batch after batch, until none is left.
    async fn drain(&self, product_id: Uuid) {
        let key = product_id.to_string();
        loop {
            // The global lock order: product, then stock.
            let mut product = self.products.lock(&key).await;
            let mut stock = self.stocks.lock(&key).await;
            let batch = self.queues.take_or_finish(product_id);
            if batch.is_empty() {
                return;
            }
            self.commit_batch(&mut product, &mut stock, batch).await;
        }
    }

    async fn commit_batch(
        &self,
        product: &mut SlotGuard<Product>,
        stock: &mut SlotGuard<Stock>,
        batch: Vec<Pending>,
    ) {
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        let outcomes = loop {
            match self.try_batch(product, stock, &batch).await {
                Err(BatchError::Conflict) => {
                    stock.invalidate();
                    if attempts.retry_after_conflict().await.is_err() {
                        break batch.iter().map(|_| Err(WriteError::Busy)).collect();
                    }
                }
                Err(BatchError::Failed(message)) => {
                    break batch
                        .iter()
                        .map(|_| Err(WriteError::Unavailable(message.clone())))
                        .collect();
                }
                Ok(outcomes) => break outcomes,
            }
        };
        for (pending, outcome) in batch.into_iter().zip(outcomes) {
            // A client that hung up no longer listens; its order stands all the same.
            let _ = pending.respond.send(outcome);
        }
    }

    /// Decides every order of the batch in turn and appends the accepted ones together.
    async fn try_batch(
        &self,
        product_slot: &mut SlotGuard<Product>,
        stock_slot: &mut SlotGuard<Stock>,
        batch: &[Pending],
    ) -> Result<Vec<Outcome>, BatchError> {
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
        let (mut state, base_sequence) = (cached.aggregate, cached.sequence);
        let stock_id = stock_slot.aggregate_id().to_owned();

        let mut decided: Vec<Result<(Uuid, Order), WriteError>> = Vec::with_capacity(batch.len());
        let mut appends = Vec::new();
        let mut stock_events = Vec::new();
        for pending in batch {
            let outcome = match priced(&pending.order, &product) {
                Err(err) => Err(err),
                Ok(order) => match decide(&Order::default(), OrderCommand::PlaceOrder(order)).await
                {
                    Err(err) => Err(err.into()),
                    Ok((order, order_events)) => {
                        let order_id = Uuid::now_v7();
                        let reserve = StockCommand::ReserveStock {
                            order_id,
                            quantity: order.lines[0].quantity,
                        };
                        match decide(&state, reserve).await {
                            Ok((next, events)) => {
                                state = next;
                                let mut append = StreamAppend::for_aggregate::<Order>(
                                    order_id.to_string(),
                                    0,
                                    &order_events,
                                )
                                .map_err(BatchError::failed)?;
                                with_metadata(&mut append.events, &pending.metadata);
                                appends.push(append);
                                let mut events = StreamAppend::for_aggregate::<Stock>(
                                    stock_id.clone(),
                                    0,
                                    &events,
                                )
                                .map_err(BatchError::failed)?
                                .events;
                                with_metadata(&mut events, &pending.metadata);
                                stock_events.extend(events);
                                Ok((order_id, order))
                            }
                            Err(StockError::InsufficientStock {
                                requested,
                                available,
                            }) => Err(WriteError::InsufficientStock(vec![Shortage {
                                product_id: order.lines[0].product_id,
                                name: order.lines[0].name.clone(),
                                requested,
                                available,
                            }])),
                            Err(other) => Err(other.into()),
                        }
                    }
                },
            };
            decided.push(outcome);
        }
        // Every accepted order reserved stock, so no stock events means nothing to write.
        let position = if stock_events.is_empty() {
            FeedPosition::default()
        } else {
            let added = i64::try_from(stock_events.len()).unwrap_or_default();
            appends.push(StreamAppend {
                stream: StreamId::new(Stock::TYPE, stock_id),
                expected_sequence: base_sequence,
                events: stock_events,
            });
            match self.store.append(&appends, &EventMetadata::default()).await {
                Ok(appended) => {
                    stock_slot
                        .store(&self.store, state, base_sequence + added)
                        .await;
                    appended.last
                }
                Err(AppendError::Conflict { .. }) => return Err(BatchError::Conflict),
                Err(err) => return Err(BatchError::failed(err)),
            }
        };
        Ok(decided
            .into_iter()
            .map(|outcome| outcome.map(|value| Written { value, position }))
            .collect())
    }
}

enum BatchError {
    Conflict,
    Failed(String),
}

impl BatchError {
    fn failed(err: impl std::fmt::Display) -> Self {
        Self::Failed(err.to_string())
    }
}

/// The order's line named and priced from the catalog, or why it cannot be.
fn priced(order: &NewOrder, product: &Product) -> Result<NewOrder, WriteError> {
    let field = "lines[0].product_id";
    if !product.created {
        return Err(WriteError::Invalid(vec![FieldError::new(
            field,
            "no such product",
        )]));
    }
    if !product.on_sale {
        return Err(WriteError::Invalid(vec![FieldError::new(
            field,
            format!("{} is not on sale", product.name),
        )]));
    }
    let mut order = order.clone();
    order.lines[0].name.clone_from(&product.name);
    order.lines[0].unit_price_cents = product.price_cents;
    Ok(order)
}

fn with_metadata(events: &mut [EventData], metadata: &EventMetadata) {
    for event in events {
        event.metadata = Some(metadata.clone());
    }
}
