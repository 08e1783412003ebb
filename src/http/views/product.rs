//! A product as the API shows it to operators.

use aggregates::product::{Spec, SpecValues};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::media::MediaUrls;
use crate::write::{ProductSnapshot, SkuSnapshot};

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    /// The lowest price of its SKUs on sale; a product without specs: its price.
    pub price_cents: i64,
    /// The highest price of its SKUs on sale.
    pub price_max_cents: i64,
    /// Summed over its SKUs.
    pub available: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled, across its SKUs; null:
    /// no limit.
    pub limit_per_user: Option<i64>,
    /// Image URLs, the cover first.
    pub images: Vec<String>,
    /// Its dimensions and their values; empty for a product without specs.
    #[schema(value_type = Vec<SpecSchema>)]
    pub specs: Vec<Spec>,
    /// Every SKU; a product without specs has one, whose id is the product's.
    pub skus: Vec<SkuView>,
}

/// A spec: a dimension the product varies in, with its values in display order.
#[derive(Debug, ToSchema)]
#[schema(as = Spec)]
#[allow(dead_code)] // The document's shape of `aggregates::product::Spec`.
pub struct SpecSchema {
    name: String,
    values: Vec<String>,
}

/// One SKU with its stock, as operators see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SkuView {
    pub id: Uuid,
    /// A value for each spec, by spec name (`{"size": "M"}`); empty for a product
    /// without specs.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub spec: SpecValues,
    pub price_cents: i64,
    pub available: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub on_sale: bool,
    /// URL of its picture.
    pub image: Option<String>,
    /// The merchant's own code.
    pub code: String,
}

impl SkuView {
    fn new(sku: SkuSnapshot, urls: &MediaUrls) -> Self {
        Self {
            image: sku.image.as_deref().map(|key| urls.url(key)),
            id: sku.id,
            spec: sku.spec,
            price_cents: sku.price_cents,
            available: sku.available,
            on_hand: sku.on_hand,
            reserved: sku.reserved,
            on_sale: sku.on_sale,
            code: sku.code,
        }
    }
}

impl ProductView {
    pub fn new(p: ProductSnapshot, urls: &MediaUrls) -> Self {
        Self {
            images: urls.urls(&p.images),
            skus: p.skus.into_iter().map(|s| SkuView::new(s, urls)).collect(),
            id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            price_cents: p.price_cents,
            price_max_cents: p.price_max_cents,
            available: p.available,
            on_hand: p.on_hand,
            reserved: p.reserved,
            on_sale: p.on_sale,
            limit_per_user: p.limit_per_user,
            specs: p.specs,
        }
    }
}
