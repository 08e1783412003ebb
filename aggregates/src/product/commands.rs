use serde::{Deserialize, Serialize};

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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewProduct {
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    /// Most units one shopper may hold in orders not cancelled; `None`: no limit.
    pub limit_per_user: Option<i64>,
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
