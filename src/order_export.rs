//! The merchant's orders as CSV rows, for the warehouse and for finance: one row per
//! order line, UTF-8 (a byte-order mark first, so spreadsheet programs read Chinese
//! text), times in Beijing time, amounts in yuan, typed text never a formula.

use aggregates::order::OrderLine;
use chrono::{DateTime, Utc};
use projections::orders::shop::ShopOrderRow;

use crate::beijing::BEIJING;

/// The byte-order mark spreadsheet programs take as "this file is UTF-8".
pub const BOM: &str = "\u{feff}";

pub const HEADER: [&str; 24] = [
    "order_id",
    "created_at",
    "status",
    "user_id",
    "receiver",
    "phone",
    "province",
    "city",
    "district",
    "address",
    "remark",
    "product_id",
    "product",
    "sku_id",
    "spec",
    "quantity",
    "unit_price_yuan",
    "line_total_yuan",
    "order_total_yuan",
    "paid_at",
    "payment_id",
    "carrier",
    "tracking_no",
    "shipped_at",
];

/// The CSV rows of one order: one per line.
pub fn rows_of(row: &ShopOrderRow) -> String {
    let order = &row.order;
    let address = &order.address.0;
    let mut out = String::new();
    for line in &order.lines.0 {
        let fields: [String; 24] = [
            order.order_id.to_string(),
            beijing(Some(order.created_at)),
            order.status.clone(),
            text(&row.user_id),
            text(&address.name),
            text(&address.phone),
            text(&address.province),
            text(&address.city),
            text(&address.district),
            text(&address.detail),
            text(&order.remark),
            line.product_id.to_string(),
            text(&line.name),
            line.sku_id.to_string(),
            text(&spec(line)),
            line.quantity.to_string(),
            yuan(line.unit_price_cents),
            yuan(line.unit_price_cents.saturating_mul(line.quantity)),
            yuan(order.total_cents),
            beijing(order.paid_at),
            order.payment_id.clone().unwrap_or_default(),
            text(order.carrier.as_deref().unwrap_or_default()),
            text(order.tracking_no.as_deref().unwrap_or_default()),
            beijing(order.shipped_at),
        ];
        let quoted: Vec<String> = fields.iter().map(|field| quote(field)).collect();
        out.push_str(&quoted.join(","));
        out.push_str("\r\n");
    }
    out
}

/// A line's values as a person reads them: `size: M; colour: red`.
fn spec(line: &OrderLine) -> String {
    line.spec
        .iter()
        .map(|(name, value)| format!("{name}: {value}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Text a person typed (names, addresses, remarks), made safe to open in a spreadsheet:
/// one that would start a formula (`=`, `+`, `-`, `@`, or a tab or return before one)
/// is kept as text with a leading apostrophe, as OWASP advises against CSV injection.
fn text(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{value}"),
        _ => value.to_owned(),
    }
}

/// A field as RFC 4180 writes it: quoted when it holds a comma, a quote or a line break.
fn quote(field: &str) -> String {
    if field.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", field.replace('"', "\"\""))
    } else {
        field.to_owned()
    }
}

/// Cents as yuan with two decimals (`4800` → `48.00`).
fn yuan(cents: i64) -> String {
    let sign = if cents < 0 { "-" } else { "" };
    let cents = cents.unsigned_abs();
    format!("{sign}{}.{:02}", cents / 100, cents % 100)
}

/// An instant in Beijing time, as a spreadsheet reads it (`2026-12-07 09:30:00`).
fn beijing(at: Option<DateTime<Utc>>) -> String {
    at.map(|at| {
        at.with_timezone(&BEIJING)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string()
    })
    .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_only_when_they_must_be() {
        assert_eq!(quote("Li Lei"), "Li Lei");
        assert_eq!(quote("1, Lake Road"), "\"1, Lake Road\"");
        assert_eq!(quote("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
    }

    #[test]
    fn typed_text_never_starts_a_formula() {
        assert_eq!(
            text("=HYPERLINK(\"http://x\")"),
            "'=HYPERLINK(\"http://x\")"
        );
        assert_eq!(text("@SUM(A1)"), "'@SUM(A1)");
        assert_eq!(text("韩梅梅"), "韩梅梅");
    }

    #[test]
    fn cents_read_as_yuan() {
        assert_eq!(yuan(4_800), "48.00");
        assert_eq!(yuan(5), "0.05");
        assert_eq!(yuan(-150), "-1.50");
    }
}
