//! Restocks and write-offs, per SKU.

use aggregates::FieldError;
use aggregates::stock::{self, Stock, StockCommand};
use uuid::Uuid;

use super::ProductSnapshot;
use crate::event_store::{AppendError, EventMetadata, FeedPosition};
use crate::write::attempt::{Attempts, append_for, decide};
use crate::write::stream_slots::SlotGuard;
use crate::write::{WriteError, WriteModel, Written};

/// A restock (`quantity` > 0) or a write-off (`quantity` < 0).
#[derive(Debug, Clone)]
pub struct StockAdjustment {
    pub quantity: i64,
    pub reason: String,
}

impl StockAdjustment {
    fn command(self) -> Result<StockCommand, WriteError> {
        match self.quantity {
            0 => {
                let mut errors = vec![FieldError::new(
                    "quantity",
                    "must not be 0: positive restocks, negative writes off",
                )];
                // Every field at once: the reason by the rule the stock itself applies.
                stock::REASON.check_into("reason", &self.reason, &mut errors);
                Err(WriteError::Invalid(errors))
            }
            n if n > 0 => Ok(StockCommand::AddStock {
                quantity: n,
                reason: self.reason,
            }),
            n => Ok(StockCommand::WriteOffStock {
                quantity: n.checked_neg().unwrap_or(i64::MAX),
                reason: self.reason,
            }),
        }
    }
}

impl WriteModel {
    /// Restocks or writes off one SKU of a product (`sku_id` = `id` for a product
    /// without specs); a write-off never goes below what is reserved.
    pub async fn adjust_stock(
        &self,
        id: Uuid,
        sku_id: Uuid,
        adjustment: StockAdjustment,
        metadata: &EventMetadata,
    ) -> Result<Written<ProductSnapshot>, WriteError> {
        let command = adjustment.command()?;
        let key = id.to_string();
        let mut product_slot = self.products.lock(&key).await;
        let product = product_slot
            .current(&self.store)
            .await?
            .loaded
            .aggregate
            .clone();
        if !product.created {
            return Err(WriteError::ProductNotFound);
        }
        if product.sku(id, sku_id).is_none() {
            return Err(WriteError::SkuNotFound);
        }
        let position = {
            let mut stock_slot = self.stocks.lock(&sku_id.to_string()).await;
            let mut attempts = Attempts::new(self.settings.max_attempts, &self.stats);
            loop {
                match self
                    .try_stock_command(&mut stock_slot, command.clone(), metadata)
                    .await
                {
                    Ok(position) => break position,
                    Err(WriteError::Append(AppendError::Conflict { .. })) => {
                        stock_slot.invalidate();
                        attempts.retry_after_conflict().await?;
                    }
                    Err(err) => return Err(err),
                }
            }
        };
        // The SKU's stock is let go first: the snapshot takes every stock in order.
        Ok(Written {
            value: self.snapshot(id, &product).await?,
            position,
        })
    }

    async fn try_stock_command(
        &self,
        slot: &mut SlotGuard<Stock>,
        command: StockCommand,
        metadata: &EventMetadata,
    ) -> Result<FeedPosition, WriteError> {
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
        Ok(appended.last)
    }
}
