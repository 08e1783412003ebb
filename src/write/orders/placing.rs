//! Placing an order: the order, the shopper's purchase and a reservation on every line's
//! stock, all or nothing.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use aggregates::FieldError;
use aggregates::order::{NewOrder, Order, OrderCommand, OrderLine};
use aggregates::product::{Product, Sku, SpecValues};
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

/// A shopper's new order, as requested: SKUs and quantities.
#[derive(Debug, Clone)]
pub struct PlaceOrder {
    pub user_id: String,
    pub lines: Vec<LineRequest>,
    pub address: Address,
    pub remark: String,
}

/// One line as the shopper asks for it.
#[derive(Debug, Clone, Copy)]
pub struct LineRequest {
    pub product_id: Uuid,
    /// `None`: the product's only SKU (refused for a product with several).
    pub sku_id: Option<Uuid>,
    pub quantity: i64,
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
                .map(|line| OrderLine {
                    product_id: line.product_id,
                    // Until the catalog says which SKU a line without one means, the
                    // product's id stands in (a product without specs is that SKU).
                    sku_id: line.sku_id.unwrap_or(line.product_id),
                    name: String::new(),
                    spec: SpecValues::new(),
                    unit_price_cents: 0,
                    quantity: line.quantity,
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
        if let [line] = request.lines.as_slice() {
            return self
                .place_single_line(unpriced, line.sku_id.is_some(), metadata)
                .await;
        }

        // The global lock order: the shopper, every product, then every stock.
        let asked_at = Instant::now();
        let mut shopper = self.shoppers.lock(&request.user_id).await;
        // Read now, before the products and stocks are held: a read between deciding the
        // stocks and appending would widen the window another process can move them in.
        shopper.current(&self.store).await?;
        let product_ids: Vec<String> = {
            let mut ids: Vec<Uuid> = request.lines.iter().map(|l| l.product_id).collect();
            ids.sort_unstable();
            ids.dedup();
            ids.iter().map(Uuid::to_string).collect()
        };
        let mut products = Vec::with_capacity(product_ids.len());
        for id in &product_ids {
            products.push(self.products.lock(id).await);
        }
        let named: Vec<bool> = request.lines.iter().map(|l| l.sku_id.is_some()).collect();
        let (priced, limits) = self
            .price_lines(unpriced, &named, &product_ids, &mut products)
            .await?;
        // Decided before any stock is locked: two lines may name one SKU only now that
        // each is resolved (one by its id, one by leaving it out), and that SKU's slot
        // must not be locked twice.
        let (order, order_events) =
            decide(&Order::default(), OrderCommand::PlaceOrder(priced)).await?;
        let mut stocks = Vec::with_capacity(order.lines.len());
        let mut sku_ids: Vec<String> = order.lines.iter().map(|l| l.sku_id.to_string()).collect();
        sku_ids.sort_unstable();
        sku_ids.dedup();
        for id in &sku_ids {
            stocks.push(self.stocks.lock(id).await);
        }

        let order_id = Uuid::now_v7();
        let reserve = |stock: &SlotGuard<Stock>| {
            let quantity = order
                .lines
                .iter()
                .find(|line| line.sku_id.to_string() == stock.aggregate_id())
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

    /// Fills in each line's SKU, name, unit price, spec and picture from the catalog,
    /// refusing unknown and off-sale products and SKUs by line; with each product's
    /// purchase limit. `named[i]`: whether line `i` named its SKU.
    async fn price_lines(
        &self,
        mut order: NewOrder,
        named: &[bool],
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
            let product = catalog.get(&line.product_id.to_string());
            match sellable(i, named[i], line, product) {
                Ok((product, sku)) => capture(line, product, &sku),
                Err(error) => errors.push(error),
            }
        }
        if !errors.is_empty() {
            return Err(WriteError::Invalid(errors));
        }
        let limits = order
            .lines
            .iter()
            .map(|line| {
                let product = catalog.get(&line.product_id.to_string());
                (line.product_id, product.and_then(|p| p.limit_per_user))
            })
            .collect();
        Ok((order, limits))
    }
}

/// What a line keeps of its SKU as it is when the order is placed: the product's name,
/// the SKU's price, values and picture (or else the product's cover).
pub(super) fn capture(line: &mut OrderLine, product: &Product, sku: &Sku) {
    line.sku_id = sku.id;
    line.name.clone_from(&product.name);
    line.spec.clone_from(&sku.spec);
    line.unit_price_cents = sku.price_cents;
    line.image = sku
        .image
        .clone()
        .or_else(|| product.cover().map(str::to_owned));
}

/// The product and SKU line `index` names, if they can be sold: known and on sale, and
/// the SKU named unless the product has only one (`named`: whether the line named it).
pub(super) fn sellable<'p>(
    index: usize,
    named: bool,
    line: &OrderLine,
    product: Option<&'p Product>,
) -> Result<(&'p Product, Sku), FieldError> {
    let product_field = format!("lines[{index}].product_id");
    let sku_field = format!("lines[{index}].sku_id");
    let product = match product {
        Some(product) if product.created => product,
        _ => return Err(FieldError::new(product_field, "no such product")),
    };
    if !product.on_sale {
        return Err(FieldError::new(
            product_field,
            format!("{} is not on sale", product.name),
        ));
    }
    let sku_id = if named {
        line.sku_id
    } else {
        product.only_sku(line.product_id).ok_or_else(|| {
            FieldError::new(
                sku_field.clone(),
                format!(
                    "required: {} comes in {} SKUs",
                    product.name,
                    product.skus.len()
                ),
            )
        })?
    };
    let sku = product.sku(line.product_id, sku_id).ok_or_else(|| {
        FieldError::new(
            sku_field.clone(),
            format!("{} has no such SKU", product.name),
        )
    })?;
    if !sku.on_sale {
        return Err(FieldError::new(
            sku_field,
            format!("{} {} is not on sale", product.name, spec_label(&sku.spec)),
        ));
    }
    Ok((product, sku))
}

/// A SKU's values as a shopper reads them: `M, red`.
pub fn spec_label(spec: &SpecValues) -> String {
    spec.values().cloned().collect::<Vec<_>>().join(", ")
}
