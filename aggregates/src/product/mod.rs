//! Product: an item of the catalog — what it is called, what it costs, whether it sells.

mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::text::TextRule;
pub use commands::{NewProduct, ProductChanges, ProductCommand};
pub use errors::ProductError;
pub use events::ProductEvent;

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
    pub price_cents: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled; `None`: no limit.
    #[serde(default)]
    pub limit_per_user: Option<i64>,
    /// Media keys of its images, cover first.
    #[serde(default)]
    pub images: Vec<String>,
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
        let event = match command {
            ProductCommand::CreateProduct(new) => {
                if self.created {
                    return Err(ProductError::AlreadyExists);
                }
                validate(
                    &new.name,
                    &new.description,
                    &new.category,
                    new.price_cents,
                    new.limit_per_user,
                )?;
                ProductEvent::ProductCreated {
                    name: new.name,
                    description: new.description,
                    category: new.category,
                    price_cents: new.price_cents,
                    limit_per_user: new.limit_per_user,
                }
            }
            ProductCommand::UpdateProduct(changes) => {
                if !self.created {
                    return Err(ProductError::NotFound);
                }
                let updated = ProductEvent::ProductUpdated {
                    name: changes.name.unwrap_or_else(|| self.name.clone()),
                    description: changes
                        .description
                        .unwrap_or_else(|| self.description.clone()),
                    category: changes.category.unwrap_or_else(|| self.category.clone()),
                    price_cents: changes.price_cents.unwrap_or(self.price_cents),
                    on_sale: changes.on_sale.unwrap_or(self.on_sale),
                    limit_per_user: changes.limit_per_user.unwrap_or(self.limit_per_user),
                };
                if let ProductEvent::ProductUpdated {
                    name,
                    description,
                    category,
                    price_cents,
                    limit_per_user,
                    ..
                } = &updated
                {
                    validate(name, description, category, *price_cents, *limit_per_user)?;
                }
                updated
            }
            ProductCommand::AddImage { key } => {
                if !self.created {
                    return Err(ProductError::NotFound);
                }
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
                ProductEvent::ProductImageAdded { key, images }
            }
            ProductCommand::RemoveImage { key } => {
                if !self.created {
                    return Err(ProductError::NotFound);
                }
                if !self.images.contains(&key) {
                    return Err(ProductError::ImageNotFound);
                }
                let images = self.images.iter().filter(|k| **k != key).cloned().collect();
                ProductEvent::ProductImageRemoved { key, images }
            }
        };
        sink.write(event, self).await;
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
                    images: Vec::new(),
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
        }
    }
}

impl Product {
    /// The image shown first, if it has any.
    pub fn cover(&self) -> Option<&str> {
        self.images.first().map(String::as_str)
    }
}

/// Every field problem at once, so a form can show them all.
fn validate(
    name: &str,
    description: &str,
    category: &str,
    price_cents: i64,
    limit_per_user: Option<i64>,
) -> Result<(), ProductError> {
    let mut errors = Vec::new();
    NAME.check_into("name", name, &mut errors);
    DESCRIPTION.check_into("description", description, &mut errors);
    CATEGORY.check_into("category", category, &mut errors);
    if price_cents < 0 {
        errors.push(FieldError::new("price_cents", "must be ≥ 0"));
    }
    if limit_per_user.is_some_and(|limit| limit < 1) {
        errors.push(FieldError::new(
            "limit_per_user",
            "must be ≥ 1, or null for no limit",
        ));
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ProductError::Invalid(errors))
    }
}
