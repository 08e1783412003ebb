//! Placing an order: the order, the shopper's purchase and a reservation on every line's
//! stock, all or nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aggregates::FieldError;
use aggregates::order::{NewOrder, Order, OrderCommand, OrderLine};
use aggregates::product::Product;
use aggregates::stock::{Stock, StockCommand};
use uuid::Uuid;

use super::now;
use super::stock_decisions::{invalidate_moved, stock_appends, store_stocks};
use crate::event_store::{AppendError, EventMetadata, StreamAppend};
use crate::write::attempt::{Attempts, decide};
use crate::write::shoppers::opening;
use crate::write::stream_slots::SlotGuard;
use crate::write::{WriteError, WriteModel, Written};
use aggregates::order::Address;

/// A shopper's new order, as requested: products and quantities.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub user_id: String,
    pub lines: Vec<(Uuid, i64)>,
    pub address: Address,
    pub remark: String,
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
            match sellable(i, catalog.get(&line.product_id.to_string())) {
                Ok(product) => capture(line, product),
                Err(error) => errors.push(error),
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
}

/// What a line keeps of its product as it is when the order is placed: its name, unit
/// price and cover image.
pub(super) fn capture(line: &mut OrderLine, product: &Product) {
    line.name.clone_from(&product.name);
    line.unit_price_cents = product.price_cents;
    line.image = product.cover().map(str::to_owned);
}

/// The product line `index` names, if it can be sold: known and on sale.
pub(super) fn sellable(index: usize, product: Option<&Product>) -> Result<&Product, FieldError> {
    let field = format!("lines[{index}].product_id");
    match product {
        Some(product) if product.created && product.on_sale => Ok(product),
        Some(product) if product.created => Err(FieldError::new(
            field,
            format!("{} is not on sale", product.name),
        )),
        _ => Err(FieldError::new(field, "no such product")),
    }
}
