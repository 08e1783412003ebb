//! A product's variants: its specs (named dimensions, each with its values: size S/M/L)
//! and its SKUs (one per combination offered, each with its own price, on-sale flag,
//! image and merchant code; its stock is the Stock stream of the SKU's id).
//!
//! A product without specs sells exactly one SKU, whose id is the product's id and whose
//! price and on-sale flag are the product's: every product and stock stream written
//! before variants existed is such a product, as written.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::FieldError;
use crate::text::TextRule;

/// Most specs (dimensions) one product has: size, colour, and one more.
pub const MAX_SPECS: usize = 3;
/// Most values one spec lists.
pub const MAX_SPEC_VALUES: usize = 50;
/// Most SKUs one product sells: a picker a shopper can still read.
pub const MAX_SKUS: usize = 200;
/// A spec's name or value: one short line, required (`颜色`, `红`).
pub const SPEC_TEXT: TextRule = TextRule::single_line(30).required();
/// The merchant's own code of a SKU (for the warehouse): one line, may be empty.
pub const SKU_CODE: TextRule = TextRule::single_line(64);

/// One dimension a product varies in, with the values it may take, in display order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Spec {
    pub name: String,
    pub values: Vec<String>,
}

/// A SKU's combination: a value for each of the product's specs, by spec name.
pub type SpecValues = BTreeMap<String, String>;

/// One SKU of a product with variants.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sku {
    pub id: Uuid,
    pub spec: SpecValues,
    pub price_cents: i64,
    pub on_sale: bool,
    /// Media key of the picture shown when it is picked.
    #[serde(default)]
    pub image: Option<String>,
    #[serde(default)]
    pub code: String,
}

/// A SKU to add (at creation or later). Its id is chosen by the caller (a new UUID).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewSku {
    pub id: Uuid,
    pub spec: SpecValues,
    pub price_cents: i64,
    pub code: String,
    pub image: Option<String>,
}

/// Changes to one SKU; `None` keeps the current value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkuChanges {
    pub price_cents: Option<i64>,
    pub on_sale: Option<bool>,
    /// `Some(None)` removes the picture.
    pub image: Option<Option<String>>,
}

/// Every problem of a product's specs, named as the API names them.
pub(super) fn check_specs(specs: &[Spec], errors: &mut Vec<FieldError>) {
    if specs.is_empty() || specs.len() > MAX_SPECS {
        errors.push(FieldError::new(
            "specs",
            format!("must name 1 to {MAX_SPECS} specs when the product has SKUs"),
        ));
    }
    let mut names = BTreeSet::new();
    for (i, spec) in specs.iter().enumerate() {
        SPEC_TEXT.check_into(&format!("specs[{i}].name"), &spec.name, errors);
        if !names.insert(spec.name.as_str()) {
            errors.push(FieldError::new(
                format!("specs[{i}].name"),
                "appears in more than one spec",
            ));
        }
        if spec.values.is_empty() || spec.values.len() > MAX_SPEC_VALUES {
            errors.push(FieldError::new(
                format!("specs[{i}].values"),
                format!("must list 1 to {MAX_SPEC_VALUES} values"),
            ));
        }
        let mut values = BTreeSet::new();
        for (j, value) in spec.values.iter().enumerate() {
            SPEC_TEXT.check_into(&format!("specs[{i}].values[{j}]"), value, errors);
            if !values.insert(value.as_str()) {
                errors.push(FieldError::new(
                    format!("specs[{i}].values[{j}]"),
                    "appears more than once",
                ));
            }
        }
    }
}

/// Every problem of one SKU (`field` is how the API names it: `skus[2]`, or `sku` for
/// one added later) against the product's `specs` and the SKUs it has already.
pub(super) fn check_sku(
    field: &str,
    sku: &NewSku,
    specs: &[Spec],
    existing: &[Sku],
    errors: &mut Vec<FieldError>,
) {
    let spec_field = format!("{field}.spec");
    let names_match =
        sku.spec.len() == specs.len() && specs.iter().all(|spec| sku.spec.contains_key(&spec.name));
    if !names_match {
        let names: Vec<&str> = specs.iter().map(|s| s.name.as_str()).collect();
        errors.push(FieldError::new(
            spec_field.clone(),
            format!("must give one value for each spec: {}", names.join(", ")),
        ));
    }
    for (name, value) in &sku.spec {
        SPEC_TEXT.check_into(&format!("{spec_field}.{name}"), value, errors);
    }
    if let Some(same) = existing.iter().find(|s| s.spec == sku.spec) {
        errors.push(FieldError::new(
            spec_field,
            format!("is already the combination of SKU {}", same.id),
        ));
    }
    if existing.iter().any(|s| s.id == sku.id) {
        errors.push(FieldError::new(format!("{field}.id"), "is taken"));
    }
    check_price(&format!("{field}.price_cents"), sku.price_cents, errors);
    SKU_CODE.check_into(&format!("{field}.code"), &sku.code, errors);
}

pub(super) fn check_price(field: &str, price_cents: i64, errors: &mut Vec<FieldError>) {
    if price_cents < 0 {
        errors.push(FieldError::new(field, "must be ≥ 0"));
    }
}

/// `specs` with every value `spec` names that they do not list yet added at the end of
/// its spec (a SKU added later may bring a new size).
pub(super) fn specs_with(specs: &[Spec], spec: &SpecValues) -> Vec<Spec> {
    specs
        .iter()
        .map(|s| {
            let mut s = s.clone();
            if let Some(value) = spec.get(&s.name)
                && !s.values.contains(value)
            {
                s.values.push(value.clone());
            }
            s
        })
        .collect()
}

/// The values of a spec grown past its limit by SKUs added later.
pub(super) fn check_spec_growth(specs: &[Spec], errors: &mut Vec<FieldError>) {
    if specs.iter().any(|s| s.values.len() > MAX_SPEC_VALUES) {
        errors.push(FieldError::new(
            "spec",
            format!("a spec lists at most {MAX_SPEC_VALUES} values"),
        ));
    }
}
