use chrono::{DateTime, TimeZone, Utc};
use cqrs_es::test::TestFramework;
use uuid::Uuid;

use super::*;
use crate::FieldError;

mod abnormal_refunds;
mod after_sales;
mod partial_refunds;
mod placing;
mod refunds;
mod shipping;

type OrderTest = TestFramework<Order>;

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 24, 12, minute, 0)
        .single()
        .expect("valid time")
}

fn line(n: u128, unit_price_cents: i64, quantity: i64) -> OrderLine {
    OrderLine {
        product_id: Uuid::from_u128(n),
        sku_id: Uuid::from_u128(n),
        name: format!("product {n}"),
        spec: Default::default(),
        unit_price_cents,
        quantity,
        image: None,
    }
}

fn address() -> Address {
    Address {
        name: "Li Lei".into(),
        phone: "13800000000".into(),
        province: "Zhejiang".into(),
        city: "Hangzhou".into(),
        district: "Xihu".into(),
        detail: "1 Lake Road".into(),
    }
}

fn new_order(lines: Vec<OrderLine>) -> NewOrder {
    NewOrder {
        user_id: "user-1".into(),
        lines,
        address: address(),
        remark: String::new(),
        placed_at: at(0),
        expires_at: at(15),
    }
}

fn placed() -> OrderEvent {
    OrderEvent::OrderPlaced {
        user_id: "user-1".into(),
        lines: vec![line(1, 250, 2), line(2, 1_000, 1)],
        total_cents: 1_500,
        address: address(),
        remark: String::new(),
        placed_at: at(0),
        expires_at: at(15),
        limits_counted: true,
    }
}

fn paid() -> OrderEvent {
    OrderEvent::OrderPaid {
        payment_id: "wx-1".into(),
        amount_cents: 1_500,
        paid_at: at(5),
    }
}

fn shipped() -> OrderEvent {
    OrderEvent::OrderShipped {
        carrier: "SF".into(),
        tracking_no: "SF1".into(),
        shipped_at: at(30),
        express_company: Some("SF".into()),
        logistics_type: LogisticsType::Express,
    }
}

/// An express shipment by `express_company` with `tracking_no`.
fn by_express(express_company: &str, tracking_no: &str) -> ShipmentDetails {
    ShipmentDetails {
        carrier: express_company.into(),
        tracking_no: tracking_no.into(),
        express_company: Some(express_company.into()),
        logistics_type: LogisticsType::Express,
    }
}

fn pay() -> OrderCommand {
    OrderCommand::PayOrder {
        payment_id: "wx-1".into(),
        amount_cents: 1_500,
        paid_at: at(5),
    }
}

fn cancel() -> OrderCommand {
    OrderCommand::CancelOrder {
        reason: CancelReason::ByUser,
        cancelled_at: at(6),
    }
}

fn ship() -> OrderCommand {
    OrderCommand::ShipOrder {
        details: by_express("SF", "SF1"),
        shipped_at: at(30),
    }
}

fn confirm() -> OrderCommand {
    OrderCommand::ConfirmReceipt {
        completed_at: at(50),
    }
}

#[test]
fn an_order_awaiting_payment_can_be_paid_the_exact_total() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(pay())
        .then_expect_events(vec![paid()]);
}

#[test]
fn a_payment_of_another_amount_is_refused() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::PayOrder {
            payment_id: "wx-1".into(),
            amount_cents: 1_499,
            paid_at: at(5),
        })
        .then_expect_error(OrderError::AmountMismatch {
            expected: 1_500,
            paid: 1_499,
        });
}

#[test]
fn an_order_awaiting_payment_can_be_cancelled_with_its_reason() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::CancelOrder {
            reason: CancelReason::PaymentTimeout,
            cancelled_at: at(15),
        })
        .then_expect_events(vec![OrderEvent::OrderCancelled {
            reason: CancelReason::PaymentTimeout,
            cancelled_at: at(15),
        }]);
}

#[test]
fn a_paid_order_cannot_be_cancelled() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(cancel())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::Paid,
            action: "cancel",
        });
}

#[test]
fn a_cancelled_order_cannot_be_cancelled_again() {
    let cancelled = OrderEvent::OrderCancelled {
        reason: CancelReason::ByUser,
        cancelled_at: at(6),
    };
    OrderTest::with(())
        .given(vec![placed(), cancelled])
        .when(cancel())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::Cancelled,
            action: "cancel",
        });
}

fn late_payment(reason: RefundReason, payment_id: &str) -> Vec<OrderEvent> {
    vec![
        OrderEvent::PaymentReceived {
            payment_id: payment_id.into(),
            amount_cents: 1_500,
            paid_at: at(5),
        },
        OrderEvent::RefundRequired {
            payment_id: payment_id.into(),
            amount_cents: 1_500,
            reason,
        },
    ]
}

#[test]
fn a_payment_for_a_cancelled_order_is_recorded_and_owed_back() {
    let cancelled = OrderEvent::OrderCancelled {
        reason: CancelReason::PaymentTimeout,
        cancelled_at: at(15),
    };
    OrderTest::with(())
        .given(vec![placed(), cancelled.clone()])
        .when(pay())
        .then_expect_events(late_payment(RefundReason::PaidAfterCancel, "wx-1"));
    // The same notice again changes nothing.
    let mut history = vec![placed(), cancelled];
    history.extend(late_payment(RefundReason::PaidAfterCancel, "wx-1"));
    OrderTest::with(())
        .given(history)
        .when(pay())
        .then_expect_events(vec![]);
}

#[test]
fn a_repeated_payment_changes_nothing_and_a_second_one_is_owed_back() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(pay())
        .then_expect_events(vec![]);
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(OrderCommand::PayOrder {
            payment_id: "wx-2".into(),
            amount_cents: 1_500,
            paid_at: at(5),
        })
        .then_expect_events(late_payment(RefundReason::PaidTwice, "wx-2"));
}

#[test]
fn the_payment_timeout_never_cancels_early() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::CancelOrder {
            reason: CancelReason::PaymentTimeout,
            cancelled_at: at(14),
        })
        .then_expect_error(OrderError::NotExpired { expires_at: at(15) });
    OrderTest::with(())
        .given(vec![placed()])
        .when(OrderCommand::CancelOrder {
            reason: CancelReason::PaymentTimeout,
            cancelled_at: at(15),
        })
        .then_expect_events(vec![OrderEvent::OrderCancelled {
            reason: CancelReason::PaymentTimeout,
            cancelled_at: at(15),
        }]);
}

#[test]
fn a_paid_order_ships_and_a_shipped_one_completes() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(ship())
        .then_expect_events(vec![shipped()]);
    OrderTest::with(())
        .given(vec![placed(), paid(), shipped()])
        .when(confirm())
        .then_expect_events(vec![OrderEvent::OrderCompleted {
            completed_at: at(50),
        }]);
}

#[test]
fn an_unpaid_order_cannot_ship_and_an_unshipped_one_cannot_complete() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(ship())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::AwaitingPayment,
            action: "ship",
        });
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(confirm())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::Paid,
            action: "confirm receipt of",
        });
}

#[test]
fn nothing_can_happen_to_an_order_that_was_never_placed() {
    for command in [pay(), cancel(), ship(), confirm()] {
        OrderTest::with(())
            .given_no_previous_events()
            .when(command)
            .then_expect_error(OrderError::NotFound);
    }
}

#[test]
fn a_shipment_needs_a_carrier_and_a_tracking_number() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(OrderCommand::ShipOrder {
            details: ShipmentDetails {
                carrier: " ".into(),
                ..by_express("SF", &"x".repeat(65))
            },
            shipped_at: at(30),
        })
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new("carrier", "must not be empty"),
            FieldError::new("tracking_no", "must be at most 64 characters"),
        ]));
}

#[test]
fn a_carrier_or_tracking_number_with_a_control_character_is_refused() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(OrderCommand::ShipOrder {
            details: ShipmentDetails {
                carrier: "SF\u{0}".into(),
                ..by_express("SF", "SF123\n456")
            },
            shipped_at: at(30),
        })
        .then_expect_error(OrderError::Invalid(vec![
            FieldError::new(
                "carrier",
                "must not contain control characters (U+0000 at character 3)",
            ),
            FieldError::new(
                "tracking_no",
                "must not contain line breaks or tabs (U+000A at character 6)",
            ),
        ]));
}
