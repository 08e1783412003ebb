use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::skus::{NewSku, SkuChanges, Spec};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductCommand {
    CreateProduct(NewProduct),
    /// Change some fields; `None` keeps the current value.
    UpdateProduct(ProductChanges),
    /// Adds a stored image (by its media key) at the end of the product's images; adding
    /// one it already shows changes nothing.
    AddImage {
        key: String,
    },
    /// Removes one of the product's images.
    RemoveImage {
        key: String,
    },
    /// Adds a SKU to a product with specs; its stock is a Stock stream of its own.
    AddSku(NewSku),
    /// Changes one SKU's price, on-sale flag or picture. The one SKU of a product without
    /// specs (its id is `product_id`) is the product: its price and on-sale flag change.
    ChangeSku {
        product_id: Uuid,
        sku_id: Uuid,
        changes: SkuChanges,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    /// Most units one shopper may hold in orders not cancelled (across its SKUs);
    /// `None`: no limit.
    pub limit_per_user: Option<i64>,
    /// Empty for a product sold as one SKU (at `price_cents`); otherwise its dimensions,
    /// and `skus` the combinations offered (`price_cents` is then unused).
    pub specs: Vec<Spec>,
    pub skus: Vec<NewSku>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProductChanges {
    pub name: Option<String>,
    pub description: Option<String>,
    pub category: Option<String>,
    pub price_cents: Option<i64>,
    pub on_sale: Option<bool>,
    /// `Some(None)` removes the limit.
    pub limit_per_user: Option<Option<i64>>,
}
