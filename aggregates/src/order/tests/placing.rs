//! Placing an order: what a new order must hold, each refusal naming its field.

use super::*;

#[test]
fn placing_an_order_totals_its_lines() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(vec![
            line(1, 250, 2),
            line(2, 1_000, 1),
        ])))
        .then_expect_events(vec![placed()]);
}

#[test]
fn placing_the_same_order_twice_is_refused() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::PlaceOrder(new_order(vec![line(1, 250, 2)])))
        .then_expect_error(OrderError::AlreadyPlaced);
}

#[test]
fn an_order_needs_one_to_fifty_lines() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(vec![])))
        .then_expect_error(OrderError::Invalid(vec![FieldError::new(
            "lines",
            "must hold 1 to 50 lines",
        )]));
    let lines = (0..51).map(|n| line(n, 1, 1)).collect();
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(lines)))
        .then_expect_error(OrderError::Invalid(vec![FieldError::new(
            "lines",
            "must hold 1 to 50 lines",
        )]));
}

#[test]
fn quantities_outside_one_to_999_are_named_by_line() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(vec![
            line(1, 1, 0),
            line(2, 1, 5),
            line(3, 1, 1_000),
        ])))
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new("lines[0].quantity", "must be between 1 and 999"),
            FieldError::new("lines[2].quantity", "must be between 1 and 999"),
        ]));
}

#[test]
fn a_sku_may_appear_in_one_line_only() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(vec![
            line(1, 1, 1),
            line(1, 1, 2),
        ])))
        .then_expect_error(OrderError::Invalid(vec![FieldError::new(
            "lines[1].sku_id",
            "appears in more than one line",
        )]));
}

#[test]
fn two_skus_of_one_product_are_two_lines() {
    let small = line(1, 5_900, 1);
    let large = OrderLine {
        sku_id: Uuid::from_u128(2),
        spec: [("size".to_owned(), "L".to_owned())].into(),
        unit_price_cents: 6_900,
        ..small.clone()
    };
    let placed = new_order(vec![small.clone(), large.clone()]);
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(placed))
        .then_expect_events(vec![OrderEvent::OrderPlaced {
            user_id: "user-1".into(),
            lines: vec![small, large],
            total_cents: 12_800,
            address: address(),
            remark: String::new(),
            placed_at: at(0),
            expires_at: at(15),
            limits_counted: true,
        }]);
}

#[test]
fn a_total_that_does_not_fit_is_refused() {
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(new_order(vec![line(
            1,
            i64::MAX / 2,
            3,
        )])))
        .then_expect_error(OrderError::Invalid(vec![FieldError::new(
            "lines",
            "the total is too large",
        )]));
}

#[test]
fn every_missing_address_field_is_named() {
    let mut order = new_order(vec![line(1, 1, 1)]);
    order.address.phone = " ".into();
    order.address.detail = String::new();
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(order))
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new("address.phone", "must not be empty"),
            FieldError::new("address.detail", "must not be empty"),
        ]));
}

/// Where a text field of a new order is.
type TextOf = fn(&mut NewOrder) -> &mut String;

#[test]
fn a_control_character_in_any_address_field_or_the_remark_is_named() {
    let fields: [(&str, TextOf); 7] = [
        ("address.name", |o| &mut o.address.name),
        ("address.phone", |o| &mut o.address.phone),
        ("address.province", |o| &mut o.address.province),
        ("address.city", |o| &mut o.address.city),
        ("address.district", |o| &mut o.address.district),
        ("address.detail", |o| &mut o.address.detail),
        ("remark", |o| &mut o.remark),
    ];
    for (field, text) in fields {
        for (bad, code) in [('\u{0}', "0000"), ('\u{1B}', "001B"), ('\u{85}', "0085")] {
            let mut order = new_order(vec![line(1, 1, 1)]);
            *text(&mut order) = format!("hi{bad}there");
            OrderTest::with(())
                .given_no_previous_events()
                .when(OrderCommand::PlaceOrder(order))
                .then_expect_error(OrderError::Invalid(vec![FieldError::new(
                    field,
                    format!("must not contain control characters (U+{code} at character 3)"),
                )]));
        }
    }
}

#[test]
fn an_address_is_one_line_but_a_remark_may_span_several() {
    let mut order = new_order(vec![line(1, 1, 1)]);
    order.address.detail = "1 Lake Road\nFloor 2".into();
    order.remark = "leave it at the door\r\nthanks 🙏\tbye".into();
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(order))
        .then_expect_error(OrderError::Invalid(vec![FieldError::new(
            "address.detail",
            "must not contain line breaks or tabs (U+000A at character 12)",
        )]));
}

#[test]
fn a_remark_with_line_breaks_and_emoji_is_kept_as_typed() {
    let remark = "leave it at the door\r\nthanks 🙏\tbye";
    let mut order = new_order(vec![line(1, 250, 2), line(2, 1_000, 1)]);
    order.remark = remark.into();
    let mut expected = placed();
    if let OrderEvent::OrderPlaced { remark: kept, .. } = &mut expected {
        *kept = remark.into();
    }
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(order))
        .then_expect_events(vec![expected]);
}

#[test]
fn a_remark_too_long_and_a_nul_elsewhere_are_reported_together() {
    let mut order = new_order(vec![line(1, 1, 1)]);
    order.remark = "x".repeat(10_000);
    order.address.city = "\u{0}".into();
    OrderTest::with(())
        .given_no_previous_events()
        .when(OrderCommand::PlaceOrder(order))
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new(
                "address.city",
                "must not contain control characters (U+0000 at character 1)",
            ),
            FieldError::new("remark", "must be at most 200 characters"),
        ]));
}
