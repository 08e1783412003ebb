//! Partial refunds: units or money of the order's payment, never adding up to more than
//! was paid or ordered, the last of the money refunding the order.

use super::refunds::{ORDER, refund_no, request, settle, state_after, success};
use super::*;

/// The test order: 2 × product 1 at 2.50 and 1 × product 2 at 10.00, paid 15.00.
fn sku(n: u128) -> Uuid {
    Uuid::from_u128(n)
}

fn units(n: u128, quantity: i64) -> RefundLine {
    RefundLine {
        sku_id: sku(n),
        quantity,
    }
}

fn part(lines: Vec<RefundLine>, refund_cents: Option<i64>) -> OrderCommand {
    OrderCommand::RequestRefund {
        order_id: ORDER,
        scope: RefundScope::Part {
            lines,
            refund_cents,
        },
        reason: "one cup arrived broken".into(),
        requested_at: at(40),
    }
}

fn part_requested(n: usize, kind: RefundKind, lines: Vec<RefundLine>, cents: i64) -> OrderEvent {
    OrderEvent::RefundRequested {
        refund_no: refund_no(n),
        payment_id: "wx-1".into(),
        amount_cents: cents,
        kind,
        reason: "one cup arrived broken".into(),
        requested_at: at(40),
        lines: Some(lines),
        payment_cents: 1_500,
    }
}

fn part_succeeded(n: usize, kind: RefundKind, cents: i64) -> OrderEvent {
    OrderEvent::RefundSucceeded {
        refund_no: refund_no(n),
        kind,
        amount_cents: cents,
        provider_refund_id: format!("5030{n}"),
        refunded_at: at(45),
    }
}

fn invalid_fields(result: Result<Vec<OrderEvent>, OrderError>) -> Vec<String> {
    match result {
        Err(OrderError::Invalid(errors)) => errors.into_iter().map(|e| e.field).collect(),
        other => panic!("expected a refusal naming fields, got {other:?}"),
    }
}

fn decide(history: Vec<OrderEvent>, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    OrderTest::with(())
        .given(history)
        .when(command)
        .inspect_result()
}

#[test]
fn a_lines_units_are_refunded_at_what_they_were_paid_and_the_order_stays_paid() {
    OrderTest::with(())
        .given(vec![placed(), paid()])
        .when(part(vec![units(1, 1)], None))
        .then_expect_events(vec![part_requested(
            1,
            RefundKind::Partial,
            vec![units(1, 1)],
            250,
        )]);
    let after = state_after(vec![
        placed(),
        paid(),
        part_requested(1, RefundKind::Partial, vec![units(1, 1)], 250),
    ]);
    assert_eq!(after.status, Some(OrderStatus::Paid));
    assert_eq!(
        (after.refunded_cents(), after.refundable_cents()),
        (250, 1_250)
    );
    // A second one is numbered on, and may be money only (a price adjustment).
    OrderTest::with(())
        .given(vec![
            placed(),
            paid(),
            part_requested(1, RefundKind::Partial, vec![units(1, 1)], 250),
        ])
        .when(part(vec![], Some(100)))
        .then_expect_events(vec![part_requested(2, RefundKind::Partial, vec![], 100)]);
}

#[test]
fn refunds_never_add_up_to_more_than_was_paid_or_ordered() {
    let history = vec![
        placed(),
        paid(),
        part_requested(1, RefundKind::Partial, vec![units(2, 1)], 1_000),
    ];
    assert_eq!(
        decide(history.clone(), part(vec![], Some(501))),
        Err(OrderError::RefundExceedsPayment {
            asked: 501,
            left: 500
        })
    );
    assert_eq!(
        invalid_fields(decide(history.clone(), part(vec![units(2, 1)], None))),
        ["lines[0].quantity"],
        "product 2's one unit is refunded already"
    );
    assert_eq!(
        invalid_fields(decide(
            history.clone(),
            part(vec![units(1, 3), units(9, 1), units(1, 1)], None)
        )),
        ["lines[0].quantity", "lines[1].sku_id", "lines[2].sku_id"]
    );
    assert_eq!(
        invalid_fields(decide(history.clone(), part(vec![units(1, 1)], Some(251)))),
        ["refund_cents"],
        "more than the unit was paid"
    );
    assert_eq!(
        invalid_fields(decide(history.clone(), part(vec![], None))),
        ["lines"]
    );
    assert_eq!(
        invalid_fields(decide(history, part(vec![], Some(0)))),
        ["refund_cents"]
    );
}

#[test]
fn the_last_of_the_money_refunds_the_order_with_every_unit_left() {
    let history = vec![
        placed(),
        paid(),
        part_requested(1, RefundKind::Partial, vec![units(2, 1)], 1_000),
    ];
    OrderTest::with(())
        .given(history.clone())
        .when(part(vec![units(1, 2)], None))
        .then_expect_events(vec![part_requested(
            2,
            RefundKind::Order,
            vec![units(1, 2)],
            500,
        )]);
    // Asking for the whole refunds what is left, and only that.
    let whole = decide(history, request()).expect("the rest");
    assert!(
        matches!(&whole[..], [OrderEvent::RefundRequested { amount_cents: 500, kind: RefundKind::Order, lines: Some(lines), .. }]
            if lines == &vec![units(1, 2)]),
        "{whole:?}"
    );
}

#[test]
fn a_failed_partial_refund_frees_its_money_and_units_and_the_status_never_moves() {
    let history = vec![
        placed(),
        paid(),
        part_requested(1, RefundKind::Partial, vec![units(1, 2)], 500),
        OrderEvent::RefundFailed {
            refund_no: refund_no(1),
            kind: RefundKind::Partial,
            reason: "NOT_ENOUGH".into(),
            failed_at: at(45),
            back_to: None,
        },
    ];
    let after = state_after(history.clone());
    assert_eq!(after.status, Some(OrderStatus::Paid));
    assert_eq!(after.refundable_cents(), 1_500);
    OrderTest::with(())
        .given(history)
        .when(part(vec![units(1, 2)], None))
        .then_expect_events(vec![part_requested(
            2,
            RefundKind::Partial,
            vec![units(1, 2)],
            500,
        )]);
}

#[test]
fn wechat_pay_takes_fifty_refunds_of_a_payment() {
    let mut history = vec![placed(), paid()];
    for n in 1..=MAX_REFUNDS_PER_PAYMENT {
        history.push(part_requested(n, RefundKind::Partial, vec![], 1));
        history.push(OrderEvent::RefundFailed {
            refund_no: refund_no(n),
            kind: RefundKind::Partial,
            reason: "SYSTEM_ERROR".into(),
            failed_at: at(45),
            back_to: None,
        });
    }
    assert_eq!(
        decide(history.clone(), part(vec![], Some(1))),
        Err(OrderError::TooManyRefunds {
            max: MAX_REFUNDS_PER_PAYMENT
        })
    );
    // Nor a 51st number for the whole of what is left.
    assert_eq!(
        decide(history, request()),
        Err(OrderError::TooManyRefunds {
            max: MAX_REFUNDS_PER_PAYMENT
        })
    );
}

#[test]
fn units_and_money_an_open_after_sale_asks_for_are_left_to_it() {
    let asked = OrderEvent::AfterSaleRequested {
        no: 1,
        kind: AfterSaleKind::RefundOnly,
        lines: vec![units(1, 2)],
        reason: "both cracked".into(),
        requested_at: at(20),
    };
    let history = vec![placed(), paid(), asked];
    // Both cups are the request's: none is the operator's to refund by units.
    assert_eq!(
        invalid_fields(decide(history.clone(), part(vec![units(1, 1)], None))),
        ["lines[0].quantity"]
    );
    // Money of the rest is fine; the last of it would refund the order under the request.
    assert!(decide(history.clone(), part(vec![], Some(1_000))).is_ok());
    assert_eq!(
        decide(history, part(vec![], Some(1_500))),
        Err(OrderError::AfterSaleOpen { no: 1 })
    );
}

#[test]
fn units_go_back_to_stock_with_a_refund_that_succeeds_before_shipping_only() {
    let requested = part_requested(1, RefundKind::Partial, vec![units(1, 1)], 250);
    let before = state_after(vec![placed(), paid(), requested.clone()]);
    OrderTest::with(())
        .given(vec![placed(), paid(), requested.clone()])
        .when(settle_cents(1, 250))
        .then_expect_events(vec![part_succeeded(1, RefundKind::Partial, 250)]);
    assert_eq!(
        before.restocked_by(&part_succeeded(1, RefundKind::Partial, 250)),
        [units(1, 1)]
    );
    let shipped = state_after(vec![placed(), paid(), shipped(), requested]);
    assert!(
        shipped
            .restocked_by(&part_succeeded(1, RefundKind::Partial, 250))
            .is_empty(),
        "shipped units come back through a return, not with the money"
    );
}

#[test]
fn an_order_not_paid_or_being_refunded_is_not_refunded_in_part() {
    assert_eq!(
        decide(vec![placed()], part(vec![units(1, 1)], None)),
        Err(OrderError::InvalidTransition {
            status: OrderStatus::AwaitingPayment,
            action: "refund part of"
        })
    );
    let refunding = vec![
        placed(),
        paid(),
        super::refunds::requested(1, RefundKind::Order, "wx-1"),
    ];
    assert_eq!(
        decide(refunding, part(vec![units(1, 1)], None)),
        Err(OrderError::RefundInProgress)
    );
}

fn settle_cents(n: usize, cents: i64) -> OrderCommand {
    match settle(n, success()) {
        OrderCommand::SettleRefund {
            refund_no,
            transaction_id,
            outcome,
            ..
        } => OrderCommand::SettleRefund {
            refund_no,
            amount_cents: cents,
            transaction_id,
            outcome: match outcome {
                RefundOutcome::Succeeded { refunded_at, .. } => RefundOutcome::Succeeded {
                    provider_refund_id: format!("5030{n}"),
                    refunded_at,
                },
                other => other,
            },
        },
        other => other,
    }
}
