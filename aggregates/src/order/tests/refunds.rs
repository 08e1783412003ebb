//! Refunds: asked once, settled once, and the order's status moving with its own payment.

use super::*;

pub(super) const ORDER: Uuid = Uuid::from_u128(0xabc);

pub(super) fn refund_no(n: usize) -> String {
    format!("{}R{n}", ORDER.simple())
}

pub(super) fn request() -> OrderCommand {
    OrderCommand::RequestRefund {
        order_id: ORDER,
        scope: RefundScope::Whole,
        reason: "out of stock after all".into(),
        requested_at: at(40),
    }
}

pub(super) fn requested(n: usize, kind: RefundKind, payment_id: &str) -> OrderEvent {
    OrderEvent::RefundRequested {
        refund_no: refund_no(n),
        payment_id: payment_id.into(),
        amount_cents: 1_500,
        kind,
        reason: "out of stock after all".into(),
        requested_at: at(40),
        // The test order's every unit, for its own payment.
        lines: Some(match kind {
            RefundKind::Order => vec![
                RefundLine {
                    sku_id: Uuid::from_u128(1),
                    quantity: 2,
                },
                RefundLine {
                    sku_id: Uuid::from_u128(2),
                    quantity: 1,
                },
            ],
            RefundKind::ExtraPayment | RefundKind::Partial => Vec::new(),
        }),
        payment_cents: 1_500,
    }
}

pub(super) fn settle(n: usize, outcome: RefundOutcome) -> OrderCommand {
    OrderCommand::SettleRefund {
        refund_no: refund_no(n),
        amount_cents: 1_500,
        transaction_id: None,
        outcome,
    }
}

pub(super) fn success() -> RefundOutcome {
    RefundOutcome::Succeeded {
        provider_refund_id: "50300".into(),
        refunded_at: at(45),
    }
}

pub(super) fn failure() -> RefundOutcome {
    RefundOutcome::Failed {
        reason: "NOT_ENOUGH: the merchant's balance is short".into(),
        failed_at: at(45),
    }
}

pub(super) fn succeeded(n: usize, kind: RefundKind) -> OrderEvent {
    OrderEvent::RefundSucceeded {
        refund_no: refund_no(n),
        kind,
        amount_cents: 1_500,
        provider_refund_id: "50300".into(),
        refunded_at: at(45),
    }
}

pub(super) fn state_after(events: Vec<OrderEvent>) -> Order {
    let mut order = Order::default();
    for event in events {
        cqrs_es::Aggregate::apply(&mut order, event);
    }
    order
}

#[test]
fn a_paid_or_shipped_order_is_refunded_through_refunding() {
    for history in [vec![placed(), paid()], vec![placed(), paid(), shipped()]] {
        OrderTest::with(())
            .given(history)
            .when(request())
            .then_expect_events(vec![requested(1, RefundKind::Order, "wx-1")]);
    }
    let refunding = state_after(vec![
        placed(),
        paid(),
        requested(1, RefundKind::Order, "wx-1"),
    ]);
    assert_eq!(refunding.status, Some(OrderStatus::Refunding));
    let refunded = state_after(vec![
        placed(),
        paid(),
        requested(1, RefundKind::Order, "wx-1"),
        succeeded(1, RefundKind::Order),
    ]);
    assert_eq!(refunded.status, Some(OrderStatus::Refunded));
    assert_eq!(refunded.refunded_at, Some(at(45)));
    assert_eq!(refunded.refunds[0].status, RefundStatus::Succeeded);
}

#[test]
fn a_refund_asked_twice_is_refused_while_the_first_is_in_progress() {
    OrderTest::with(())
        .given(vec![
            placed(),
            paid(),
            requested(1, RefundKind::Order, "wx-1"),
        ])
        .when(request())
        .then_expect_error(OrderError::RefundInProgress);
}

#[test]
fn a_refund_is_settled_once_whatever_comes_after() {
    let history = vec![
        placed(),
        paid(),
        requested(1, RefundKind::Order, "wx-1"),
        succeeded(1, RefundKind::Order),
    ];
    // A duplicate notice, or the refund call answering after the notice.
    OrderTest::with(())
        .given(history.clone())
        .when(settle(1, success()))
        .then_expect_events(vec![]);
    OrderTest::with(())
        .given(history)
        .when(settle(1, failure()))
        .then_expect_events(vec![]);
}

#[test]
fn a_refused_refund_puts_the_order_back_and_may_be_asked_again() {
    let failed = OrderEvent::RefundFailed {
        refund_no: refund_no(1),
        kind: RefundKind::Order,
        reason: "NOT_ENOUGH: the merchant's balance is short".into(),
        failed_at: at(45),
        back_to: Some(OrderStatus::Shipped),
    };
    OrderTest::with(())
        .given(vec![
            placed(),
            paid(),
            shipped(),
            requested(1, RefundKind::Order, "wx-1"),
        ])
        .when(settle(1, failure()))
        .then_expect_events(vec![failed.clone()]);
    let history = vec![
        placed(),
        paid(),
        shipped(),
        requested(1, RefundKind::Order, "wx-1"),
        failed,
    ];
    let order = state_after(history.clone());
    assert_eq!(order.status, Some(OrderStatus::Shipped));
    assert_eq!(
        order.refunds[0].failure.as_deref(),
        Some("NOT_ENOUGH: the merchant's balance is short")
    );
    OrderTest::with(())
        .given(history)
        .when(request())
        .then_expect_events(vec![requested(2, RefundKind::Order, "wx-1")]);
}

#[test]
fn payments_the_order_could_not_take_are_refunded_without_moving_it() {
    let cancelled = OrderEvent::OrderCancelled {
        reason: CancelReason::PaymentTimeout,
        cancelled_at: at(15),
    };
    let mut history = vec![placed(), cancelled];
    history.extend(late_payment(RefundReason::PaidAfterCancel, "wx-9"));
    OrderTest::with(())
        .given(history.clone())
        .when(request())
        .then_expect_events(vec![requested(1, RefundKind::ExtraPayment, "wx-9")]);
    history.push(requested(1, RefundKind::ExtraPayment, "wx-9"));
    assert_eq!(
        state_after(history.clone()).status,
        Some(OrderStatus::Cancelled)
    );
    // Being refunded: not asked again.
    OrderTest::with(())
        .given(history.clone())
        .when(request())
        .then_expect_error(OrderError::RefundInProgress);
    history.push(succeeded(1, RefundKind::ExtraPayment));
    OrderTest::with(())
        .given(history.clone())
        .when(request())
        .then_expect_error(OrderError::NothingToRefund {
            status: OrderStatus::Cancelled,
        });
    assert_eq!(state_after(history).status, Some(OrderStatus::Cancelled));
}

#[test]
fn a_paid_twice_order_refunds_both_payments_at_once() {
    let mut history = vec![placed(), paid()];
    history.extend(late_payment(RefundReason::PaidTwice, "wx-2"));
    OrderTest::with(())
        .given(history)
        .when(request())
        .then_expect_events(vec![
            requested(1, RefundKind::Order, "wx-1"),
            requested(2, RefundKind::ExtraPayment, "wx-2"),
        ]);
}

#[test]
fn an_order_without_money_to_give_back_is_not_refunded_and_a_completed_one_is() {
    OrderTest::with(())
        .given(vec![placed()])
        .when(request())
        .then_expect_error(OrderError::NothingToRefund {
            status: OrderStatus::AwaitingPayment,
        });
    OrderTest::with(())
        .given(vec![
            placed(),
            paid(),
            shipped(),
            OrderEvent::OrderCompleted {
                completed_at: at(50),
            },
        ])
        .when(request())
        // Received and confirmed, the goods may still come back (after-sales).
        .then_expect_events(vec![requested(1, RefundKind::Order, "wx-1")]);
    OrderTest::with(())
        .given_no_previous_events()
        .when(request())
        .then_expect_error(OrderError::NotFound);
}

#[test]
fn a_refund_needs_a_reason_on_one_line() {
    for reason in ["", "two\nlines", &"x".repeat(81)] {
        let result = OrderTest::with(())
            .given(vec![placed(), paid()])
            .when(OrderCommand::RequestRefund {
                order_id: ORDER,
                scope: RefundScope::Whole,
                reason: reason.into(),
                requested_at: at(40),
            })
            .inspect_result();
        assert!(
            matches!(result, Err(OrderError::Invalid(ref errors)) if errors[0].field == "reason"),
            "{reason:?}: {result:?}"
        );
    }
}

#[test]
fn an_answer_for_another_amount_or_an_unknown_refund_is_refused() {
    let history = vec![placed(), paid(), requested(1, RefundKind::Order, "wx-1")];
    OrderTest::with(())
        .given(history.clone())
        .when(OrderCommand::SettleRefund {
            refund_no: refund_no(1),
            amount_cents: 1,
            transaction_id: None,
            outcome: success(),
        })
        .then_expect_error(OrderError::AmountMismatch {
            expected: 1_500,
            paid: 1,
        });
    // A notice about another payment's money, even naming this refund's number.
    OrderTest::with(())
        .given(history.clone())
        .when(OrderCommand::SettleRefund {
            refund_no: refund_no(1),
            amount_cents: 1_500,
            transaction_id: Some("wx-2".into()),
            outcome: success(),
        })
        .then_expect_error(OrderError::TransactionMismatch {
            refund_no: refund_no(1),
            transaction_id: "wx-2".into(),
        });
    OrderTest::with(())
        .given(history)
        .when(settle(7, success()))
        .then_expect_error(OrderError::UnknownRefund(refund_no(7)));
}

#[test]
fn a_refunding_order_neither_ships_nor_takes_a_payment() {
    let history = vec![placed(), paid(), requested(1, RefundKind::Order, "wx-1")];
    OrderTest::with(())
        .given(history.clone())
        .when(ship())
        .then_expect_error(OrderError::InvalidTransition {
            status: OrderStatus::Refunding,
            action: "ship",
        });
    OrderTest::with(())
        .given(history)
        .when(OrderCommand::PayOrder {
            payment_id: "wx-2".into(),
            amount_cents: 1_500,
            paid_at: at(5),
        })
        .then_expect_events(late_payment(RefundReason::PaidTwice, "wx-2"));
}

#[test]
fn only_an_order_refunded_before_shipping_returns_its_units() {
    let unshipped = state_after(vec![
        placed(),
        paid(),
        requested(1, RefundKind::Order, "wx-1"),
    ]);
    assert_eq!(
        unshipped
            .restocked_by(&succeeded(1, RefundKind::Order))
            .len(),
        2,
        "both lines"
    );
    assert!(
        unshipped
            .restocked_by(&succeeded(1, RefundKind::ExtraPayment))
            .is_empty()
    );
    let shipped = state_after(vec![
        placed(),
        paid(),
        shipped(),
        requested(1, RefundKind::Order, "wx-1"),
    ]);
    assert!(
        shipped
            .restocked_by(&succeeded(1, RefundKind::Order))
            .is_empty()
    );
}
