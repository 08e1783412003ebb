//! A product as the API shows it to operators.

use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::media::MediaUrls;
use crate::write::ProductSnapshot;

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub available: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled; null: no limit.
    pub limit_per_user: Option<i64>,
    /// Image URLs, the cover first.
    pub images: Vec<String>,
}

impl ProductView {
    pub fn new(p: ProductSnapshot, urls: &MediaUrls) -> Self {
        Self {
            images: urls.urls(&p.images),
            id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            price_cents: p.price_cents,
            available: p.available,
            on_hand: p.on_hand,
            reserved: p.reserved,
            on_sale: p.on_sale,
            limit_per_user: p.limit_per_user,
        }
    }
}
