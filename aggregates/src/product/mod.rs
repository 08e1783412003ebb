//! Product: an item of the catalog — what it is called, what it costs, whether it sells.

mod commands;
mod decide;
mod errors;
mod events;
mod skus;
#[cfg(test)]
mod tests;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::text::TextRule;
pub use commands::{NewProduct, ProductChanges, ProductCommand};
pub use errors::ProductError;
pub use events::ProductEvent;
pub use skus::{
    MAX_SKUS, MAX_SPEC_VALUES, MAX_SPECS, NewSku, SKU_CODE, SPEC_TEXT, Sku, SkuChanges, Spec,
    SpecValues,
};
use uuid::Uuid;

/// Longest product name, in characters.
pub const MAX_NAME_CHARS: usize = 100;
/// Longest description, in characters.
pub const MAX_DESCRIPTION_CHARS: usize = 2000;
/// Longest category, in characters.
pub const MAX_CATEGORY_CHARS: usize = 50;

/// Most images one product shows: a mini program's gallery, not an album.
pub const MAX_IMAGES: usize = 9;
/// Longest media key (the server makes them: a content hash and an extension).
pub const MAX_IMAGE_KEY_CHARS: usize = 100;
/// A media key: one short line, required.
pub const IMAGE_KEY: TextRule = TextRule::single_line(MAX_IMAGE_KEY_CHARS).required();

/// A product's name: one line, required.
pub const NAME: TextRule = TextRule::single_line(MAX_NAME_CHARS).required();
/// A description is prose: it may span lines, and may be empty.
pub const DESCRIPTION: TextRule = TextRule::multi_line(MAX_DESCRIPTION_CHARS);
/// A category is a label shoppers filter by: one line, may be empty.
pub const CATEGORY: TextRule = TextRule::single_line(MAX_CATEGORY_CHARS);

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Product {
    pub created: bool,
    pub name: String,
    pub description: String,
    pub category: String,
    /// A product without specs: its price. With specs: its SKUs' lowest price.
    pub price_cents: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled, across its SKUs; `None`:
    /// no limit.
    #[serde(default)]
    pub limit_per_user: Option<i64>,
    /// Media keys of its images, cover first.
    #[serde(default)]
    pub images: Vec<String>,
    /// Empty: the product is its one SKU.
    #[serde(default)]
    pub specs: Vec<Spec>,
    /// The SKUs of a product with specs, in the order they were added.
    #[serde(default)]
    pub skus: Vec<Sku>,
}

impl Aggregate for Product {
    const TYPE: &'static str = "Product";
    type Command = ProductCommand;
    type Event = ProductEvent;
    type Error = ProductError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ProductCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ProductError> {
        if !self.created && !matches!(command, ProductCommand::CreateProduct(_)) {
            return Err(ProductError::NotFound);
        }
        let events = match command {
            ProductCommand::CreateProduct(new) => self.create(new)?,
            ProductCommand::UpdateProduct(changes) => vec![self.update(changes)?],
            ProductCommand::AddImage { key } => {
                let mut errors = Vec::new();
                IMAGE_KEY.check_into("key", &key, &mut errors);
                if !errors.is_empty() {
                    return Err(ProductError::Invalid(errors));
                }
                if self.images.contains(&key) {
                    return Ok(());
                }
                if self.images.len() >= MAX_IMAGES {
                    return Err(ProductError::TooManyImages { max: MAX_IMAGES });
                }
                let mut images = self.images.clone();
                images.push(key.clone());
                vec![ProductEvent::ProductImageAdded { key, images }]
            }
            ProductCommand::RemoveImage { key } => {
                if !self.images.contains(&key) {
                    return Err(ProductError::ImageNotFound);
                }
                let images = self.images.iter().filter(|k| **k != key).cloned().collect();
                vec![ProductEvent::ProductImageRemoved { key, images }]
            }
            ProductCommand::AddSku(sku) => vec![self.add_sku(sku)?],
            ProductCommand::ChangeSku {
                product_id,
                sku_id,
                changes,
            } => self.change_sku(product_id, sku_id, changes)?,
        };
        for event in events {
            sink.write(event, self).await;
        }
        Ok(())
    }

    fn apply(&mut self, event: ProductEvent) {
        match event {
            ProductEvent::ProductCreated {
                name,
                description,
                category,
                price_cents,
                limit_per_user,
            } => {
                *self = Self {
                    created: true,
                    name,
                    description,
                    category,
                    price_cents,
                    on_sale: true,
                    limit_per_user,
                    ..Self::default()
                };
            }
            ProductEvent::ProductUpdated {
                name,
                description,
                category,
                price_cents,
                on_sale,
                limit_per_user,
            } => {
                self.name = name;
                self.description = description;
                self.category = category;
                self.price_cents = price_cents;
                self.on_sale = on_sale;
                self.limit_per_user = limit_per_user;
            }
            ProductEvent::ProductImageAdded { images, .. }
            | ProductEvent::ProductImageRemoved { images, .. } => self.images = images,
            ProductEvent::SkuAdded {
                sku_id,
                spec,
                price_cents,
                code,
                image,
                specs,
            } => {
                self.specs = specs;
                self.skus.push(Sku {
                    id: sku_id,
                    spec,
                    price_cents,
                    on_sale: true,
                    image,
                    code,
                });
                self.price_cents = self.lowest_price();
            }
            ProductEvent::SkuChanged {
                sku_id,
                price_cents,
                on_sale,
                image,
            } => {
                if let Some(sku) = self.skus.iter_mut().find(|s| s.id == sku_id) {
                    sku.price_cents = price_cents;
                    sku.on_sale = on_sale;
                    sku.image = image;
                }
                self.price_cents = self.lowest_price();
            }
        }
    }
}

impl Product {
    /// The image shown first, if it has any.
    pub fn cover(&self) -> Option<&str> {
        self.images.first().map(String::as_str)
    }

    /// Whether it sells in variants (otherwise it is its one SKU).
    pub fn has_specs(&self) -> bool {
        !self.specs.is_empty()
    }

    /// Every SKU it sells; a product without specs is its one SKU, `product_id`.
    pub fn skus(&self, product_id: Uuid) -> Vec<Sku> {
        if self.has_specs() {
            self.skus.clone()
        } else {
            vec![self.itself(product_id)]
        }
    }

    /// The SKU `sku_id` of this product (`product_id`), if it has it. (Found without
    /// copying the others: an order's decision asks it for every line.)
    pub fn sku(&self, product_id: Uuid, sku_id: Uuid) -> Option<Sku> {
        if self.has_specs() {
            self.skus.iter().find(|s| s.id == sku_id).cloned()
        } else {
            (sku_id == product_id).then(|| self.itself(product_id))
        }
    }

    /// The SKU a line that names none means: the product's only one; `None` when it
    /// has several (the shopper must pick).
    pub fn only_sku(&self, product_id: Uuid) -> Option<Uuid> {
        if !self.has_specs() {
            return Some(product_id);
        }
        match self.skus.as_slice() {
            [only] => Some(only.id),
            _ => None,
        }
    }

    /// A product without specs as its one SKU.
    fn itself(&self, product_id: Uuid) -> Sku {
        Sku {
            id: product_id,
            spec: SpecValues::new(),
            price_cents: self.price_cents,
            on_sale: self.on_sale,
            image: None,
            code: String::new(),
        }
    }

    /// The lowest price among the SKUs on sale (among all of them when none is).
    fn lowest_price(&self) -> i64 {
        let on_sale = self
            .skus
            .iter()
            .filter(|s| s.on_sale)
            .map(|s| s.price_cents);
        on_sale
            .min()
            .or_else(|| self.skus.iter().map(|s| s.price_cents).min())
            .unwrap_or(self.price_cents)
    }
}
