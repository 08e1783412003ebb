//! Every event ever written still loads: each event type has an explicit version
//! (`event_version`, written beside the payload), and an event stored in an older version
//! is brought up to today's shape by upcasters before anything reads it — the write
//! side's loads (postgres-es, through [`upcasters`]), the projections and the audit
//! (through [`upcast`]).
//!
//! Changing an event's shape: give the event type a new `event_version` in its
//! `DomainEvent` impl, add an [`Upcast`] from the old version to [`UPCASTS`] (in version
//! order), and add the new version's JSON to the golden corpus under `tests/golden/`
//! (keeping the old one). The corpus test loads and projects every entry, so a change
//! that would break old logs fails CI.

use cqrs_es::persist::{EventUpcaster, SerializedEvent};
use serde_json::Value;

/// Turns one version of one event type into the next.
#[derive(Debug, Clone, Copy)]
pub struct Upcast {
    pub event_type: &'static str,
    pub from_version: &'static str,
    pub to_version: &'static str,
    /// The payload as it was (the externally tagged enum: `{"EventType": {...}}`) to the
    /// payload as the next version writes it.
    pub change: fn(Value) -> Value,
}

/// Every upcast ordo knows, oldest first, so that chains apply in order (1→2, then 2→3).
pub const UPCASTS: &[Upcast] = &[
    Upcast {
        event_type: "OrderPlaced",
        from_version: "1",
        to_version: "2",
        change: order_placed_v2,
    },
    Upcast {
        event_type: "OrderShipped",
        from_version: "1",
        to_version: "2",
        change: order_shipped_v2,
    },
    Upcast {
        event_type: "OrderPlaced",
        from_version: "2",
        to_version: "3",
        change: order_placed_v3,
    },
    Upcast {
        event_type: "RefundRequested",
        from_version: "1",
        to_version: "2",
        change: refund_requested_v2,
    },
];

/// `RefundRequested` 1 → 2: version 1 refunded whole payments, so what the payment took
/// is the refund's amount; it named no lines (an order refund covered every line).
fn refund_requested_v2(mut payload: Value) -> Value {
    if let Some(fields) = payload
        .get_mut("RefundRequested")
        .and_then(Value::as_object_mut)
        && let Some(amount) = fields.get("amount_cents").cloned()
    {
        fields.entry("payment_cents").or_insert(amount);
    }
    payload
}

/// `OrderPlaced` 1 → 2: version 1 was written before purchase limits counted orders, so
/// the shopper's limits never counted it (`limits_counted: false`), and its refund must
/// not lower what they count.
fn order_placed_v2(mut payload: Value) -> Value {
    if let Some(fields) = payload
        .get_mut("OrderPlaced")
        .and_then(Value::as_object_mut)
    {
        fields.insert("limits_counted".into(), Value::Bool(false));
    }
    payload
}

/// `OrderPlaced` 2 → 3: version 2 was written before products had SKUs: each line's
/// SKU is its product's one SKU, whose id is the product's.
fn order_placed_v3(mut payload: Value) -> Value {
    let lines = payload
        .get_mut("OrderPlaced")
        .and_then(|fields| fields.get_mut("lines"))
        .and_then(Value::as_array_mut);
    for line in lines.into_iter().flatten() {
        if let Some(line) = line.as_object_mut()
            && let Some(product_id) = line.get("product_id").cloned()
        {
            line.entry("sku_id").or_insert(product_id);
        }
    }
    payload
}

/// `OrderShipped` 1 → 2: version 1 was written before shipments named WeChat's delivery
/// id and the logistics type: none, by express (the only way ordo shipped then).
fn order_shipped_v2(mut payload: Value) -> Value {
    if let Some(fields) = payload
        .get_mut("OrderShipped")
        .and_then(Value::as_object_mut)
    {
        fields.insert("express_company".into(), Value::Null);
        fields.insert("logistics_type".into(), Value::String("express".into()));
    }
    payload
}

impl EventUpcaster for Upcast {
    fn can_upcast(&self, event_type: &str, event_version: &str) -> bool {
        event_type == self.event_type && event_version == self.from_version
    }

    fn upcast(&self, mut event: SerializedEvent) -> SerializedEvent {
        event.payload = (self.change)(event.payload);
        event.event_version = self.to_version.to_owned();
        event
    }
}

/// The upcasters for postgres-es's event store (it takes them by value per store).
pub fn upcasters() -> Vec<Box<dyn EventUpcaster>> {
    UPCASTS
        .iter()
        .map(|upcast| Box::new(*upcast) as Box<dyn EventUpcaster>)
        .collect()
}

/// `payload`, stored as `event_version` of `event_type`, in today's shape.
pub fn upcast(event_type: &str, event_version: &str, payload: Value) -> Value {
    upcast_with(UPCASTS, event_type, event_version, payload)
}

/// The stored JSON text `payload` of an `event_version` `event_type` event as today's `E`.
pub fn decode<E: serde::de::DeserializeOwned>(
    event_type: &str,
    event_version: &str,
    payload: &str,
) -> Result<E, serde_json::Error> {
    if !needs_upcast(event_type, event_version) {
        return serde_json::from_str(payload);
    }
    let stored: Value = serde_json::from_str(payload)?;
    serde_json::from_value(upcast(event_type, event_version, stored))
}

/// Whether an upcast applies to `event_version` of `event_type` (most events are in
/// today's version: they are read without going through a JSON tree first).
pub fn needs_upcast(event_type: &str, event_version: &str) -> bool {
    UPCASTS
        .iter()
        .any(|step| step.can_upcast(event_type, event_version))
}

fn upcast_with(upcasts: &[Upcast], event_type: &str, event_version: &str, payload: Value) -> Value {
    let mut version = event_version;
    let mut payload = payload;
    for step in upcasts {
        if step.can_upcast(event_type, version) {
            payload = (step.change)(payload);
            version = step.to_version;
        }
    }
    payload
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_order_shipped_in_version_1_went_by_express_with_no_delivery_id() {
        let v1 = json!({"OrderShipped": {"carrier": "SF", "tracking_no": "1"}});
        let today = upcast("OrderShipped", "1", v1);
        assert_eq!(today["OrderShipped"]["express_company"], Value::Null);
        assert_eq!(today["OrderShipped"]["logistics_type"], "express");
        assert_eq!(today["OrderShipped"]["carrier"], "SF");
    }

    #[test]
    fn an_order_placed_in_version_1_was_not_counted_by_the_limits() {
        let v1 = json!({"OrderPlaced": {"user_id": "u", "total_cents": 1}});
        let today = upcast("OrderPlaced", "1", v1);
        assert_eq!(today["OrderPlaced"]["limits_counted"], false);
        assert_eq!(today["OrderPlaced"]["total_cents"], 1);
        let v2 = json!({"OrderPlaced": {"limits_counted": true}});
        assert_eq!(upcast("OrderPlaced", "2", v2.clone()), v2);
    }

    #[test]
    fn a_line_placed_before_skus_names_its_product_as_its_sku() {
        let product = "0191e7a0-0000-7000-8000-000000000001";
        let v2 = json!({"OrderPlaced": {"lines": [{"product_id": product, "quantity": 2}]}});
        let today = upcast("OrderPlaced", "2", v2);
        assert_eq!(today["OrderPlaced"]["lines"][0]["sku_id"], product);
        assert_eq!(today["OrderPlaced"]["lines"][0]["quantity"], 2);
        let v1 = json!({"OrderPlaced": {"lines": [{"product_id": product}]}});
        let today = upcast("OrderPlaced", "1", v1);
        assert_eq!(today["OrderPlaced"]["lines"][0]["sku_id"], product);
        assert_eq!(today["OrderPlaced"]["limits_counted"], false);
    }

    #[test]
    fn a_refund_requested_in_version_1_refunded_its_whole_payment() {
        let v1 = json!({"RefundRequested": {"refund_no": "aR1", "amount_cents": 1_500}});
        let today = upcast("RefundRequested", "1", v1);
        assert_eq!(today["RefundRequested"]["payment_cents"], 1_500);
        assert_eq!(today["RefundRequested"]["lines"], Value::Null);
    }

    fn add_currency(mut payload: Value) -> Value {
        if let Some(fields) = payload.get_mut("PriceSet").and_then(Value::as_object_mut) {
            fields.insert("currency".into(), json!("CNY"));
        }
        payload
    }

    fn rename_amount(mut payload: Value) -> Value {
        if let Some(fields) = payload.get_mut("PriceSet").and_then(Value::as_object_mut)
            && let Some(amount) = fields.remove("amount")
        {
            fields.insert("amount_cents".into(), amount);
        }
        payload
    }

    const CHAIN: &[Upcast] = &[
        Upcast {
            event_type: "PriceSet",
            from_version: "1",
            to_version: "2",
            change: add_currency,
        },
        Upcast {
            event_type: "PriceSet",
            from_version: "2",
            to_version: "3",
            change: rename_amount,
        },
    ];

    #[test]
    fn an_old_event_goes_through_every_later_upcast_in_order() {
        let v1 = json!({"PriceSet": {"amount": 100}});
        let today = json!({"PriceSet": {"amount_cents": 100, "currency": "CNY"}});
        assert_eq!(upcast_with(CHAIN, "PriceSet", "1", v1), today);
        let v2 = json!({"PriceSet": {"amount": 100, "currency": "USD"}});
        assert_eq!(
            upcast_with(CHAIN, "PriceSet", "2", v2),
            json!({"PriceSet": {"amount_cents": 100, "currency": "USD"}})
        );
    }

    #[test]
    fn an_event_in_todays_version_or_of_another_type_is_left_alone() {
        let v3 = json!({"PriceSet": {"amount_cents": 1, "currency": "CNY"}});
        assert_eq!(upcast_with(CHAIN, "PriceSet", "3", v3.clone()), v3);
        let other = json!({"Other": {"amount": 1}});
        assert_eq!(upcast_with(CHAIN, "Other", "1", other.clone()), other);
    }

    #[test]
    fn the_postgres_es_upcaster_sets_the_new_version() {
        let event = SerializedEvent::new(
            "id".into(),
            1,
            "Product".into(),
            "PriceSet".into(),
            "1".into(),
            json!({"PriceSet": {"amount": 5}}),
            json!({}),
        );
        let upcasted = CHAIN[0].upcast(event);
        assert_eq!(upcasted.event_version, "2");
        assert_eq!(upcasted.payload["PriceSet"]["currency"], "CNY");
    }
}
