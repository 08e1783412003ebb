use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::skus::{Spec, SpecValues};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProductEvent {
    /// A new product, on sale from the start.
    ProductCreated {
        name: String,
        description: String,
        category: String,
        price_cents: i64,
        /// Most units one shopper may hold; absent: no limit (and in events written
        /// before limits existed).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_per_user: Option<i64>,
    },
    /// The product's fields after a change (all of them, so readers need no history).
    ProductUpdated {
        name: String,
        description: String,
        category: String,
        price_cents: i64,
        on_sale: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit_per_user: Option<i64>,
    },
    /// An image was added; `images` is the whole list after it (first = cover), so
    /// readers need no history.
    ProductImageAdded { key: String, images: Vec<String> },
    /// An image was removed; `images` is the whole list after it.
    ProductImageRemoved { key: String, images: Vec<String> },
    /// A SKU of a product with specs, on sale from the start (its stock arrives on its own
    /// Stock stream). `specs` is the product's specs after it (a SKU may bring a new
    /// value), so readers need no history.
    SkuAdded {
        sku_id: Uuid,
        spec: SpecValues,
        price_cents: i64,
        #[serde(default, skip_serializing_if = "String::is_empty")]
        code: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<String>,
        specs: Vec<Spec>,
    },
    /// A SKU's fields after a change (all of them).
    SkuChanged {
        sku_id: Uuid,
        price_cents: i64,
        on_sale: bool,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        image: Option<String>,
    },
}

/// The stored name of each event type (`event_type` in the log): spelled once, here.
impl ProductEvent {
    pub const PRODUCT_CREATED: &'static str = "ProductCreated";
    pub const PRODUCT_UPDATED: &'static str = "ProductUpdated";
    pub const PRODUCT_IMAGE_ADDED: &'static str = "ProductImageAdded";
    pub const PRODUCT_IMAGE_REMOVED: &'static str = "ProductImageRemoved";
    pub const SKU_ADDED: &'static str = "SkuAdded";
    pub const SKU_CHANGED: &'static str = "SkuChanged";
}

impl DomainEvent for ProductEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ProductCreated { .. } => Self::PRODUCT_CREATED,
            Self::ProductUpdated { .. } => Self::PRODUCT_UPDATED,
            Self::ProductImageAdded { .. } => Self::PRODUCT_IMAGE_ADDED,
            Self::ProductImageRemoved { .. } => Self::PRODUCT_IMAGE_REMOVED,
            Self::SkuAdded { .. } => Self::SKU_ADDED,
            Self::SkuChanged { .. } => Self::SKU_CHANGED,
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
