//! What the Product decides: each command's events, or every field it refuses.

use uuid::Uuid;

use super::skus::{self, MAX_SKUS, NewSku, Sku, SkuChanges};
use super::{
    CATEGORY, DESCRIPTION, NAME, NewProduct, Product, ProductChanges, ProductError, ProductEvent,
};
use crate::FieldError;

impl Product {
    pub(super) fn create(&self, new: NewProduct) -> Result<Vec<ProductEvent>, ProductError> {
        if self.created {
            return Err(ProductError::AlreadyExists);
        }
        let mut errors = validate(
            &new.name,
            &new.description,
            &new.category,
            new.price_cents,
            new.limit_per_user,
        );
        if new.specs.is_empty() && new.skus.is_empty() {
            return finish(errors).map(|()| vec![created(new, None)]);
        }
        skus::check_specs(&new.specs, &mut errors);
        if new.skus.is_empty() || new.skus.len() > MAX_SKUS {
            errors.push(FieldError::new(
                "skus",
                format!("must hold 1 to {MAX_SKUS} SKUs when the product has specs"),
            ));
        }
        // SKUs without specs have nothing to be checked against, and too many are not
        // each checked (every SKU is compared with those before it).
        if new.specs.is_empty() || new.skus.len() > MAX_SKUS {
            return Err(ProductError::Invalid(errors));
        }
        let mut added = Vec::new();
        for (i, sku) in new.skus.iter().enumerate() {
            skus::check_sku(&format!("skus[{i}]"), sku, &new.specs, &added, &mut errors);
            if let Some((name, value)) = sku.spec.iter().find(|(name, value)| {
                !new.specs
                    .iter()
                    .any(|s| s.name == **name && s.values.contains(value))
            }) {
                errors.push(FieldError::new(
                    format!("skus[{i}].spec.{name}"),
                    format!("{value} is not one of the values its spec lists"),
                ));
            }
            if sku.image.is_some() {
                errors.push(FieldError::new(
                    format!("skus[{i}].image"),
                    "a new product has no images yet: set the picture once they are uploaded",
                ));
            }
            added.push(sku_of(sku));
        }
        finish(errors)?;
        let lowest = new.skus.iter().map(|s| s.price_cents).min();
        let mut events = vec![created(new.clone(), lowest)];
        events.extend(new.skus.into_iter().map(|sku| ProductEvent::SkuAdded {
            sku_id: sku.id,
            spec: sku.spec,
            price_cents: sku.price_cents,
            code: sku.code,
            image: None,
            specs: new.specs.clone(),
        }));
        Ok(events)
    }

    pub(super) fn update(&self, changes: ProductChanges) -> Result<ProductEvent, ProductError> {
        let mut errors = Vec::new();
        if self.has_specs() && changes.price_cents.is_some() {
            errors.push(FieldError::new(
                "price_cents",
                "the product sells in SKUs: set each SKU's price",
            ));
        }
        let price_cents = changes.price_cents.unwrap_or(self.price_cents);
        let limit_per_user = changes.limit_per_user.unwrap_or(self.limit_per_user);
        let updated = ProductEvent::ProductUpdated {
            name: changes.name.unwrap_or_else(|| self.name.clone()),
            description: changes
                .description
                .unwrap_or_else(|| self.description.clone()),
            category: changes.category.unwrap_or_else(|| self.category.clone()),
            price_cents,
            on_sale: changes.on_sale.unwrap_or(self.on_sale),
            limit_per_user,
        };
        if let ProductEvent::ProductUpdated {
            name,
            description,
            category,
            ..
        } = &updated
        {
            errors.extend(validate(
                name,
                description,
                category,
                price_cents,
                limit_per_user,
            ));
        }
        finish(errors).map(|()| updated)
    }

    pub(super) fn add_sku(&self, sku: NewSku) -> Result<ProductEvent, ProductError> {
        let mut errors = Vec::new();
        if !self.has_specs() {
            errors.push(FieldError::new(
                "spec",
                "the product has no specs: it sells one SKU, itself",
            ));
            return Err(ProductError::Invalid(errors));
        }
        if self.skus.len() >= MAX_SKUS {
            errors.push(FieldError::new(
                "sku",
                format!("a product sells at most {MAX_SKUS} SKUs"),
            ));
        }
        skus::check_sku("sku", &sku, &self.specs, &self.skus, &mut errors);
        self.check_image("image", sku.image.as_ref(), &mut errors);
        let specs = skus::specs_with(&self.specs, &sku.spec);
        skus::check_spec_growth(&specs, &mut errors);
        finish(errors)?;
        Ok(ProductEvent::SkuAdded {
            sku_id: sku.id,
            spec: sku.spec,
            price_cents: sku.price_cents,
            code: sku.code,
            image: sku.image,
            specs,
        })
    }

    pub(super) fn change_sku(
        &self,
        product_id: Uuid,
        sku_id: Uuid,
        changes: SkuChanges,
    ) -> Result<Vec<ProductEvent>, ProductError> {
        let sku = self
            .sku(product_id, sku_id)
            .ok_or(ProductError::SkuNotFound)?;
        let mut errors = Vec::new();
        let price_cents = changes.price_cents.unwrap_or(sku.price_cents);
        skus::check_price("price_cents", price_cents, &mut errors);
        let setting_image = changes.image.is_some();
        let image = changes.image.unwrap_or_else(|| sku.image.clone());
        if !self.has_specs() && image.is_some() {
            errors.push(FieldError::new(
                "image",
                "a product without specs shows its own images",
            ));
        }
        // Only a picture being set must be one of the images: one removed since stays
        // the SKU's until it is changed.
        if setting_image {
            self.check_image("image", image.as_ref(), &mut errors);
        }
        finish(errors)?;
        let on_sale = changes.on_sale.unwrap_or(sku.on_sale);
        if (price_cents, on_sale, &image) == (sku.price_cents, sku.on_sale, &sku.image) {
            return Ok(Vec::new());
        }
        if !self.has_specs() {
            // The product is its SKU: the change is the product's.
            let changes = ProductChanges {
                price_cents: Some(price_cents),
                on_sale: Some(on_sale),
                ..ProductChanges::default()
            };
            return self.update(changes).map(|event| vec![event]);
        }
        Ok(vec![ProductEvent::SkuChanged {
            sku_id,
            price_cents,
            on_sale,
            image,
        }])
    }

    /// A SKU's picture is one of the product's images.
    fn check_image(&self, field: &str, image: Option<&String>, errors: &mut Vec<FieldError>) {
        if let Some(key) = image
            && !self.images.contains(key)
        {
            errors.push(FieldError::new(
                field,
                "must be one of the product's images",
            ));
        }
    }
}

fn created(new: NewProduct, lowest_sku_price: Option<i64>) -> ProductEvent {
    ProductEvent::ProductCreated {
        name: new.name,
        description: new.description,
        category: new.category,
        price_cents: lowest_sku_price.unwrap_or(new.price_cents),
        limit_per_user: new.limit_per_user,
    }
}

fn sku_of(new: &NewSku) -> Sku {
    Sku {
        id: new.id,
        spec: new.spec.clone(),
        price_cents: new.price_cents,
        on_sale: true,
        image: new.image.clone(),
        code: new.code.clone(),
    }
}

fn finish(errors: Vec<FieldError>) -> Result<(), ProductError> {
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ProductError::Invalid(errors))
    }
}

/// Every problem of the product's own fields, so a form can show them all.
fn validate(
    name: &str,
    description: &str,
    category: &str,
    price_cents: i64,
    limit_per_user: Option<i64>,
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    NAME.check_into("name", name, &mut errors);
    DESCRIPTION.check_into("description", description, &mut errors);
    CATEGORY.check_into("category", category, &mut errors);
    skus::check_price("price_cents", price_cents, &mut errors);
    if limit_per_user.is_some_and(|limit| limit < 1) {
        errors.push(FieldError::new(
            "limit_per_user",
            "must be ≥ 1, or null for no limit",
        ));
    }
    errors
}
