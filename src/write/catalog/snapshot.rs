//! A product as the operators' answers show it right after a write: its fields, every
//! SKU with its stock, and the totals.

use aggregates::product::{Product, Spec, SpecValues};
use aggregates::stock::Stock;
use serde::Serialize;
use uuid::Uuid;

use crate::write::{WriteError, WriteModel};

/// A product and its stock as they are right after a write.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProductSnapshot {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    /// The lowest price of its SKUs on sale (the price of a product without specs).
    pub price_cents: i64,
    pub price_max_cents: i64,
    /// Summed over its SKUs.
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
    pub on_sale: bool,
    pub limit_per_user: Option<i64>,
    /// Media keys, cover first.
    pub images: Vec<String>,
    pub specs: Vec<Spec>,
    pub skus: Vec<SkuSnapshot>,
}

/// One SKU and its stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SkuSnapshot {
    pub id: Uuid,
    pub spec: SpecValues,
    pub price_cents: i64,
    pub on_sale: bool,
    /// Media key of its picture.
    pub image: Option<String>,
    pub code: String,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

impl ProductSnapshot {
    /// `product` (`id`) with the stock of each of its SKUs, in the order of its SKUs.
    pub(super) fn of(id: Uuid, product: &Product, stocks: &[Stock]) -> Self {
        let skus: Vec<SkuSnapshot> = product
            .skus(id)
            .into_iter()
            .zip(stocks)
            .map(|(sku, stock)| SkuSnapshot {
                id: sku.id,
                spec: sku.spec,
                price_cents: sku.price_cents,
                on_sale: sku.on_sale,
                image: sku.image,
                code: sku.code,
                on_hand: stock.on_hand(),
                reserved: stock.reserved(),
                available: stock.available(),
            })
            .collect();
        let on_sale_prices = skus.iter().filter(|s| s.on_sale).map(|s| s.price_cents);
        let price_max_cents = on_sale_prices
            .max()
            .or_else(|| skus.iter().map(|s| s.price_cents).max())
            .unwrap_or(product.price_cents);
        Self {
            id,
            name: product.name.clone(),
            description: product.description.clone(),
            category: product.category.clone(),
            price_cents: product.price_cents,
            price_max_cents,
            on_hand: skus.iter().map(|s| s.on_hand).sum(),
            reserved: skus.iter().map(|s| s.reserved).sum(),
            available: skus.iter().map(|s| s.available).sum(),
            on_sale: product.on_sale,
            limit_per_user: product.limit_per_user,
            images: product.images.clone(),
            specs: product.specs.clone(),
            skus,
        }
    }
}

impl WriteModel {
    /// The snapshot of `product` (`id`), reading each SKU's stock. The caller holds the
    /// product's slot and no stock's: the stocks are taken here in the global lock order.
    pub(super) async fn snapshot(
        &self,
        id: Uuid,
        product: &Product,
    ) -> Result<ProductSnapshot, WriteError> {
        let skus = product.skus(id);
        let mut keys: Vec<String> = skus.iter().map(|s| s.id.to_string()).collect();
        keys.sort_unstable();
        let mut by_key = std::collections::HashMap::with_capacity(keys.len());
        for key in keys {
            let mut slot = self.stocks.lock(&key).await;
            let stock = slot.current(&self.store).await?.loaded.aggregate;
            by_key.insert(key, stock);
        }
        let stocks: Vec<Stock> = skus
            .iter()
            .map(|s| by_key.get(&s.id.to_string()).copied().unwrap_or_default())
            .collect();
        Ok(ProductSnapshot::of(id, product, &stocks))
    }
}
