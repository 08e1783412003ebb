//! Catalog use cases: creating and changing products and their images, restocking and
//! writing off.

use aggregates::FieldError;
use aggregates::product::{NewProduct, Product, ProductChanges, ProductCommand};
use aggregates::stock::{self, Stock, StockCommand};
use serde::Serialize;
use uuid::Uuid;

use super::attempt::{Attempts, append_for, decide};
use super::stream_slots::SlotGuard;
use super::{WriteError, WriteModel, Written};
use crate::event_store::{AppendError, EventMetadata, FeedPosition, StreamAppend};

/// A product and its stock as they are right after a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSnapshot {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub on_sale: bool,
    pub limit_per_user: Option<i64>,
    /// Media keys, cover first.
    pub images: Vec<String>,
}

impl ProductSnapshot {
    fn of(id: Uuid, product: &Product, stock: &Stock) -> Self {
        Self {
            id,
            name: product.name.clone(),
            description: product.description.clone(),
            category: product.category.clone(),
            price_cents: product.price_cents,
            on_hand: stock.on_hand(),
            reserved: stock.reserved(),
            available: stock.available(),
            on_sale: product.on_sale,
            limit_per_user: product.limit_per_user,
            images: product.images.clone(),
        }
    }
}

/// A restock (`quantity` > 0) or a write-off (`quantity` < 0).
#[derive(Debug, Clone)]
pub struct StockAdjustment {
    pub quantity: i64,
    pub reason: String,
}

impl WriteModel {
    /// Creates a product and its stock (with `initial_stock` units) in one transaction.
    pub async fn create_product(
        &self,
        new: NewProduct,
        initial_stock: i64,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        if !(0..=stock::MAX_ADJUSTMENT).contains(&initial_stock) {
            return Err(WriteError::Invalid(vec![FieldError::new(
                "initial_stock",
                format!("must be 0 to {}", stock::MAX_ADJUSTMENT),
            )]));
        }
        let id = Uuid::now_v7();
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let mut stock_slot = self.stocks.lock(&key).await;
        let (product, product_events) =
            decide(&Product::default(), ProductCommand::CreateProduct(new)).await?;
        let (stock, stock_events) = if initial_stock > 0 {
            decide(
                &Stock::default(),
                StockCommand::AddStock {
                    quantity: initial_stock,
                    reason: "initial stock".to_owned(),
                },
            )
            .await?
        } else {
            (Stock::default(), Vec::new())
        };
        let appends: Vec<StreamAppend> = [
            append_for::<Product>(&key, 0, &product_events)?,
            append_for::<Stock>(&key, 0, &stock_events)?,
        ]
        .into_iter()
        .flatten()
        .collect();
        // A fresh id cannot collide; a conflict here would be a bug, not contention.
        let appended = self.store.append(&appends, metadata).await?;
        let stock_sequence = i64::try_from(stock_events.len()).unwrap_or_default();
        product_slot.store(&self.store, product.clone(), 1).await;
        stock_slot.store(&self.store, stock, stock_sequence).await;
        Ok(Written {
            value: ProductSnapshot::of(id, &product, &stock),
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
        let mut stock_slot = self.stocks.lock(&key).await;
        let stock = &stock_slot.current(&self.store).await?.loaded.aggregate;
        Ok(Some(ProductSnapshot::of(id, &product, stock)))
    }

    /// Changes a product's fields.
    pub async fn update_product(
        &self,
        id: Uuid,
        changes: ProductChanges,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        self.product_command(id, ProductCommand::UpdateProduct(changes), metadata)
            .await
    }

    /// Adds a stored image (by media key) to a product's images.
    pub async fn add_product_image(
        &self,
        id: Uuid,
        key: String,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        self.product_command(id, ProductCommand::AddImage { key }, metadata)
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
        self.product_command(id, ProductCommand::RemoveImage { key }, metadata)
            .await
    }

    /// One command on a product, retried on conflicts. A command that changes nothing
    /// writes nothing and is at the feed's start (no read model has to catch up).
    async fn product_command(
        &self,
        id: Uuid,
        command: ProductCommand,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let mut stock_slot = self.stocks.lock(&key).await;
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
                let stock = &stock_slot.current(&self.store).await?.loaded.aggregate;
                return Ok(Written {
                    value: ProductSnapshot::of(id, &product, stock),
                    position: FeedPosition::START,
                });
            }
            let appends: Vec<_> = append_for::<Product>(&key, sequence, &events)?
                .into_iter()
                .collect();
            match self.store.append(&appends, metadata).await {
                Ok(appended) => {
                    let next = sequence + i64::try_from(events.len()).unwrap_or_default();
                    product_slot.store(&self.store, product.clone(), next).await;
                    let stock = &stock_slot.current(&self.store).await?.loaded.aggregate;
                    return Ok(Written {
                        value: ProductSnapshot::of(id, &product, stock),
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

    /// Restocks or writes off; a write-off never goes below what is reserved.
    pub async fn adjust_stock(
        &self,
        id: Uuid,
        adjustment: StockAdjustment,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let command = match adjustment.quantity {
            0 => {
                let mut errors = vec![FieldError::new(
                    "quantity",
                    "must not be 0: positive restocks, negative writes off",
                )];
                // Every field at once: the reason by the rule the stock itself applies.
                stock::REASON.check_into("reason", &adjustment.reason, &mut errors);
                return Err(WriteError::Invalid(errors));
            }
            n if n > 0 => StockCommand::AddStock {
                quantity: n,
                reason: adjustment.reason,
            },
            n => StockCommand::WriteOffStock {
                quantity: n.checked_neg().unwrap_or(i64::MAX),
                reason: adjustment.reason,
            },
        };
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let mut stock_slot = self.stocks.lock(&key).await;
        let product = product_slot
            .current(&self.store)
            .await?
            .loaded
            .aggregate
            .clone();
        if !product.created {
            return Err(WriteError::ProductNotFound);
        }
        let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
        loop {
            match self
                .try_stock_command(&mut stock_slot, command.clone(), metadata)
                .await
            {
                Ok((stock, position)) => {
                    return Ok(Written {
                        value: ProductSnapshot::of(id, &product, &stock),
                        position,
                    });
                }
                Err(WriteError::Append(AppendError::Conflict { .. })) => {
                    stock_slot.invalidate();
                    attempts.retry_after_conflict().await?;
                }
                Err(err) => return Err(err),
            }
        }
    }

    async fn try_stock_command(
        &self,
        slot: &mut SlotGuard<Stock>,
        command: StockCommand,
        metadata: &EventMetadata,
    ) -> Result<(Stock, crate::event_store::FeedPosition), WriteError> {
        let current = &slot.current(&self.store).await?.loaded;
        let sequence = current.sequence;
        let (stock, events) = decide(&current.aggregate, command).await?;
        let appends: Vec<_> = append_for::<Stock>(slot.aggregate_id(), sequence, &events)?
            .into_iter()
            .collect();
        let appended = self.store.append(&appends, metadata).await?;
        slot.store(
            &self.store,
            stock,
            sequence + i64::try_from(events.len()).unwrap_or_default(),
        )
        .await;
        Ok((stock, appended.last))
    }
}
