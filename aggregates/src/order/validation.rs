//! What makes a new order acceptable, checked field by field so that every problem is
//! reported at once, named as the API names it.

use std::collections::HashSet;

use super::{LogisticsType, NewOrder, OrderError, ShipmentDetails};
use crate::FieldError;
use crate::text::TextRule;

pub const MAX_LINES: usize = 50;
pub const MAX_QUANTITY: i64 = 999;
pub const MAX_REMARK_CHARS: usize = 200;
/// Longest address field, in characters.
const MAX_ADDRESS_FIELD_CHARS: usize = 200;

/// Every address field: one line, required.
pub const ADDRESS_FIELD: TextRule = TextRule::single_line(MAX_ADDRESS_FIELD_CHARS).required();
/// The shopper's note to the shop: prose, may be empty.
pub const REMARK: TextRule = TextRule::multi_line(MAX_REMARK_CHARS);

/// The order's total in cents, or every field that is wrong.
pub fn validate(order: &NewOrder) -> Result<i64, OrderError> {
    let mut errors = Vec::new();
    if order.lines.is_empty() || order.lines.len() > MAX_LINES {
        errors.push(FieldError::new(
            "lines",
            format!("must hold 1 to {MAX_LINES} lines"),
        ));
    }
    let mut seen = HashSet::new();
    let mut total: Option<i64> = Some(0);
    for (i, line) in order.lines.iter().enumerate() {
        if !(1..=MAX_QUANTITY).contains(&line.quantity) {
            errors.push(FieldError::new(
                format!("lines[{i}].quantity"),
                format!("must be between 1 and {MAX_QUANTITY}"),
            ));
        }
        if !seen.insert(line.sku_id) {
            errors.push(FieldError::new(
                format!("lines[{i}].sku_id"),
                "appears in more than one line",
            ));
        }
        total = total
            .and_then(|sum| sum.checked_add(line.unit_price_cents.checked_mul(line.quantity)?));
    }
    let address = &order.address;
    for (field, value) in [
        ("name", &address.name),
        ("phone", &address.phone),
        ("province", &address.province),
        ("city", &address.city),
        ("district", &address.district),
        ("detail", &address.detail),
    ] {
        ADDRESS_FIELD.check_into(&format!("address.{field}"), value, &mut errors);
    }
    REMARK.check_into("remark", &order.remark, &mut errors);
    match total {
        None => errors.push(FieldError::new("lines", "the total is too large")),
        Some(_) if !errors.is_empty() => {}
        Some(total) => return Ok(total),
    }
    Err(OrderError::Invalid(errors))
}

/// Longest carrier name or tracking number, in characters.
pub const MAX_SHIPMENT_FIELD_CHARS: usize = 64;

/// The carrier and the tracking number: one line each, required.
pub const SHIPMENT_FIELD: TextRule = TextRule::single_line(MAX_SHIPMENT_FIELD_CHARS).required();
/// A tracking number where the goods travel without one: may be empty.
pub const OPTIONAL_SHIPMENT_FIELD: TextRule = TextRule::single_line(MAX_SHIPMENT_FIELD_CHARS);

/// A shipment names its carrier (1 to 64 characters of one line); an express one its
/// tracking number and WeChat's delivery id too.
pub fn validate_shipment(details: &ShipmentDetails) -> Result<(), OrderError> {
    let mut errors = Vec::new();
    SHIPMENT_FIELD.check_into("carrier", &details.carrier, &mut errors);
    if details.logistics_type == LogisticsType::Express {
        SHIPMENT_FIELD.check_into("tracking_no", &details.tracking_no, &mut errors);
        SHIPMENT_FIELD.check_into(
            "express_company",
            details.express_company.as_deref().unwrap_or_default(),
            &mut errors,
        );
    } else {
        OPTIONAL_SHIPMENT_FIELD.check_into("tracking_no", &details.tracking_no, &mut errors);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(OrderError::Invalid(errors))
    }
}
