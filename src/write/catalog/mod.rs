//! Catalog use cases: creating and changing products, their SKUs and images
//! (`products`), restocking and writing off (`stock`), and the product as an answer shows
//! it (`snapshot`).

mod snapshot;
mod stock;

use aggregates::FieldError;
use aggregates::product::{
    NewProduct, NewSku, Product, ProductChanges, ProductCommand, SkuChanges,
};
use aggregates::stock::{self as stock_rules, Stock, StockCommand};
use uuid::Uuid;

pub use snapshot::{ProductSnapshot, SkuSnapshot};
pub use stock::StockAdjustment;

use super::attempt::{Attempts, append_for, decide};
use super::{WriteError, WriteModel, Written};
use crate::event_store::{AppendError, EventMetadata, FeedPosition, StreamAppend};

impl WriteModel {
    /// Creates a product and its stock in one transaction: `initial_stock[i]` units of
    /// its SKU `i` (one entry for a product without specs, its own stock).
    pub async fn create_product(
        &self,
        new: NewProduct,
        initial_stock: &[i64],
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let errors: Vec<FieldError> = initial_stock
            .iter()
            .enumerate()
            .filter(|(_, n)| !(0..=stock_rules::MAX_ADJUSTMENT).contains(*n))
            .map(|(i, _)| {
                let field = if new.skus.is_empty() {
                    "initial_stock".to_owned()
                } else {
                    format!("skus[{i}].initial_stock")
                };
                FieldError::new(
                    field,
                    format!("must be 0 to {}", stock_rules::MAX_ADJUSTMENT),
                )
            })
            .collect();
        if !errors.is_empty() {
            return Err(WriteError::Invalid(errors));
        }
        let id = Uuid::now_v7();
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let (product, product_events) =
            decide(&Product::default(), ProductCommand::CreateProduct(new)).await?;
        let mut appends: Vec<StreamAppend> = append_for::<Product>(&key, 0, &product_events)?
            .into_iter()
            .collect();
        let mut stocks = Vec::new();
        for (sku, &units) in product.skus(id).iter().zip(initial_stock) {
            let (stock, events) = if units > 0 {
                decide(
                    &Stock::default(),
                    StockCommand::AddStock {
                        quantity: units,
                        reason: "initial stock".to_owned(),
                    },
                )
                .await?
            } else {
                (Stock::default(), Vec::new())
            };
            appends.extend(append_for::<Stock>(&sku.id.to_string(), 0, &events)?);
            stocks.push((sku.id.to_string(), stock, events.len()));
        }
        // A fresh id cannot collide; a conflict here would be a bug, not contention.
        let appended = self.store.append(&appends, metadata).await?;
        let sequence = i64::try_from(product_events.len()).unwrap_or_default();
        product_slot
            .store(&self.store, product.clone(), sequence)
            .await;
        stocks.sort_by(|a, b| a.0.cmp(&b.0));
        let mut states = Vec::with_capacity(stocks.len());
        for (key, stock, added) in stocks {
            let mut slot = self.stocks.lock(&key).await;
            let sequence = i64::try_from(added).unwrap_or_default();
            slot.store(&self.store, stock, sequence).await;
            states.push((key, stock));
        }
        let in_sku_order: Vec<Stock> = product
            .skus(id)
            .iter()
            .map(|sku| {
                let key = sku.id.to_string();
                states
                    .iter()
                    .find(|(k, _)| *k == key)
                    .map_or_else(Stock::default, |(_, stock)| *stock)
            })
            .collect();
        Ok(Written {
            value: ProductSnapshot::of(id, &product, &in_sku_order),
            position: appended.last,
        })
    }

    /// The product and its stock as they are now; `None` if it was never created.
    pub async fn product(&self, id: Uuid) -> Result<Option<ProductSnapshot>, WriteError> {
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let product = product_slot
            .current(&self.store)
            .await?
            .loaded
            .aggregate
            .clone();
        if !product.created {
            return Ok(None);
        }
        self.snapshot(id, &product).await.map(Some)
    }

    /// Changes a product's fields.
    pub async fn update_product(
        &self,
        id: Uuid,
        changes: ProductChanges,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        self.product_command(id, ProductCommand::UpdateProduct(changes), metadata, None)
            .await
    }

    /// Adds a SKU to a product with specs, with `initial_stock` units, in one
    /// transaction.
    pub async fn add_sku(
        &self,
        id: Uuid,
        sku: NewSku,
        initial_stock: i64,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        if !(0..=stock_rules::MAX_ADJUSTMENT).contains(&initial_stock) {
            return Err(WriteError::Invalid(vec![FieldError::new(
                "initial_stock",
                format!("must be 0 to {}", stock_rules::MAX_ADJUSTMENT),
            )]));
        }
        // The new SKU's stock stream starts with its initial stock, in the same append.
        let stock_events = if initial_stock > 0 {
            let add = StockCommand::AddStock {
                quantity: initial_stock,
                reason: "initial stock".to_owned(),
            };
            decide(&Stock::default(), add).await?.1
        } else {
            Vec::new()
        };
        let stock = append_for::<Stock>(&sku.id.to_string(), 0, &stock_events)?;
        self.product_command(id, ProductCommand::AddSku(sku), metadata, stock)
            .await
    }

    /// Changes one SKU's price, on-sale flag or picture.
    pub async fn change_sku(
        &self,
        id: Uuid,
        sku_id: Uuid,
        changes: SkuChanges,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let command = ProductCommand::ChangeSku {
            product_id: id,
            sku_id,
            changes,
        };
        self.product_command(id, command, metadata, None).await
    }

    /// Adds a stored image (by media key) to a product's images.
    pub async fn add_product_image(
        &self,
        id: Uuid,
        key: String,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        self.product_command(id, ProductCommand::AddImage { key }, metadata, None)
            .await
    }

    /// Removes one of a product's images. The stored bytes stay: orders placed while it
    /// was the cover still show it.
    pub async fn remove_product_image(
        &self,
        id: Uuid,
        key: String,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        self.product_command(id, ProductCommand::RemoveImage { key }, metadata, None)
            .await
    }

    /// One command on a product, retried on conflicts, its events appended with `also`
    /// (a new SKU's initial stock). A command that changes nothing writes nothing and is
    /// at the feed's start (no read model has to catch up).
    async fn product_command(
        &self,
        id: Uuid,
        command: ProductCommand,
        metadata: &EventMetadata,
        also: Option<StreamAppend>,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        // A refusal, or a command that changes nothing, writes nothing for the event store
        // to check the cache against: another process may have changed the product (an
        // image re-added here after it removed it). Such an answer is given only on the
        // stream as it is now.
        let mut confirmed = false;
        loop {
            let current = &product_slot.current(&self.store).await?.loaded;
            let decided = decide(&current.aggregate, command.clone()).await;
            let sequence = current.sequence;
            let unwritten = decided
                .as_ref()
                .map_or(true, |(_, events)| events.is_empty());
            if unwritten && !confirmed {
                product_slot.reload(&self.store).await?;
                confirmed = true;
                continue;
            }
            let (product, events) = decided?;
            if events.is_empty() {
                return Ok(Written {
                    value: self.snapshot(id, &product).await?,
                    position: FeedPosition::START,
                });
            }
            let appends: Vec<_> = append_for::<Product>(&key, sequence, &events)?
                .into_iter()
                .chain(also.clone())
                .collect();
            match self.store.append(&appends, metadata).await {
                Ok(appended) => {
                    let next = sequence + i64::try_from(events.len()).unwrap_or_default();
                    product_slot.store(&self.store, product.clone(), next).await;
                    return Ok(Written {
                        value: self.snapshot(id, &product).await?,
                        position: appended.last,
                    });
                }
                Err(AppendError::Conflict { .. }) => {
                    product_slot.invalidate();
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err.into()),
            }
        }
    }
}
