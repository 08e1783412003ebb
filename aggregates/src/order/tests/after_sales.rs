//! After-sales: asked by the shopper on units not refunded yet, decided once by the
//! merchant, a return's units back on receipt with its refund, money never promised twice.

use super::refunds::{ORDER, refund_no, request, state_after};
use super::*;

fn units(n: u128, quantity: i64) -> RefundLine {
    RefundLine {
        sku_id: Uuid::from_u128(n),
        quantity,
    }
}

fn ask(kind: AfterSaleKind, lines: Vec<RefundLine>, minute: u32) -> OrderCommand {
    OrderCommand::RequestAfterSale {
        kind,
        lines,
        reason: "the lid is cracked".into(),
        requested_at: at(minute),
        return_window: chrono::Duration::minutes(20),
    }
}

fn asked(no: u32, kind: AfterSaleKind, lines: Vec<RefundLine>, minute: u32) -> OrderEvent {
    OrderEvent::AfterSaleRequested {
        no,
        kind,
        lines,
        reason: "the lid is cracked".into(),
        requested_at: at(minute),
    }
}

fn approve(no: u32, refund_cents: Option<i64>) -> OrderCommand {
    OrderCommand::ApproveAfterSale {
        order_id: ORDER,
        no,
        refund_cents,
        approved_at: at(50),
    }
}

fn approved(no: u32, cents: i64, refund: Option<usize>) -> OrderEvent {
    OrderEvent::AfterSaleApproved {
        no,
        refund_cents: cents,
        refund_no: refund.map(refund_no),
        approved_at: at(50),
    }
}

fn refund_requested(
    n: usize,
    no: u32,
    lines: Vec<RefundLine>,
    cents: i64,
    at_minute: u32,
) -> OrderEvent {
    OrderEvent::RefundRequested {
        refund_no: refund_no(n),
        payment_id: "wx-1".into(),
        amount_cents: cents,
        kind: RefundKind::Partial,
        reason: format!("after-sale {no}: the lid is cracked"),
        requested_at: at(at_minute),
        lines: Some(lines),
        payment_cents: 1_500,
    }
}

fn decide(history: Vec<OrderEvent>, command: OrderCommand) -> Result<Vec<OrderEvent>, OrderError> {
    OrderTest::with(())
        .given(history)
        .when(command)
        .inspect_result()
}

#[test]
fn a_refund_only_approved_is_refunded_at_once_and_decided_once() {
    let history = vec![placed(), paid()];
    OrderTest::with(())
        .given(history.clone())
        .when(ask(AfterSaleKind::RefundOnly, vec![units(1, 1)], 20))
        .then_expect_events(vec![asked(
            1,
            AfterSaleKind::RefundOnly,
            vec![units(1, 1)],
            20,
        )]);
    let history = [
        history,
        vec![asked(1, AfterSaleKind::RefundOnly, vec![units(1, 1)], 20)],
    ]
    .concat();
    OrderTest::with(())
        .given(history.clone())
        .when(approve(1, None))
        .then_expect_events(vec![
            approved(1, 250, Some(1)),
            refund_requested(1, 1, vec![units(1, 1)], 250, 50),
        ]);
    let decided = [
        history,
        vec![
            approved(1, 250, Some(1)),
            refund_requested(1, 1, vec![units(1, 1)], 250, 50),
        ],
    ]
    .concat();
    assert_eq!(
        state_after(decided.clone()).after_sales[0].status(Some(RefundStatus::Requested)),
        "refunding"
    );
    // The second operator's approval, decided on the same stream, finds it approved.
    assert_eq!(
        decide(decided, approve(1, None)),
        Err(OrderError::AfterSaleDecided {
            no: 1,
            stage: AfterSaleStage::Approved
        })
    );
}

#[test]
fn a_return_is_asked_after_shipping_within_the_window_and_refunded_on_receipt() {
    assert_eq!(
        decide(
            vec![placed(), paid()],
            ask(AfterSaleKind::ReturnRefund, vec![units(2, 1)], 20)
        ),
        Err(OrderError::InvalidTransition {
            status: OrderStatus::Paid,
            action: "return goods of"
        })
    );
    // Shipped at minute 30, the window is 20 minutes.
    let shipped_order = vec![placed(), paid(), shipped()];
    assert!(matches!(
        decide(
            shipped_order.clone(),
            ask(AfterSaleKind::ReturnRefund, vec![units(2, 1)], 51)
        ),
        Err(OrderError::ReturnWindowClosed { .. })
    ));
    let history = [
        shipped_order,
        vec![asked(1, AfterSaleKind::ReturnRefund, vec![units(2, 1)], 45)],
    ]
    .concat();
    OrderTest::with(())
        .given(history.clone())
        .when(approve(1, Some(900)))
        .then_expect_events(vec![approved(1, 900, None)]);
    let history = [history, vec![approved(1, 900, None)]].concat();
    let ship_back = OrderCommand::ShipReturn {
        no: 1,
        express_company: "SF".into(),
        tracking_no: "SF900".into(),
        shipped_at: at(55),
    };
    let return_shipped = OrderEvent::ReturnShipped {
        no: 1,
        express_company: "SF".into(),
        tracking_no: "SF900".into(),
        shipped_at: at(55),
    };
    OrderTest::with(())
        .given(history.clone())
        .when(ship_back.clone())
        .then_expect_events(vec![return_shipped.clone()]);
    let history = [history, vec![return_shipped]].concat();
    OrderTest::with(())
        .given(history.clone())
        .when(ship_back)
        .then_expect_events(vec![]);
    let receive = OrderCommand::ReceiveReturn {
        order_id: ORDER,
        no: 1,
        received_at: at(58),
    };
    let received = vec![
        OrderEvent::ReturnReceived {
            no: 1,
            lines: vec![units(2, 1)],
            refund_no: Some(refund_no(1)),
            received_at: at(58),
        },
        refund_requested(1, 1, vec![units(2, 1)], 900, 58),
    ];
    OrderTest::with(())
        .given(history.clone())
        .when(receive.clone())
        .then_expect_events(received.clone());
    // Received once: the units go back with the first receipt only.
    assert_eq!(
        decide([history, received].concat(), receive),
        Err(OrderError::AfterSaleDecided {
            no: 1,
            stage: AfterSaleStage::Received
        })
    );
}

#[test]
fn units_asked_for_are_held_until_decided_and_an_amount_never_exceeds_what_they_were_paid() {
    let history = vec![
        placed(),
        paid(),
        asked(1, AfterSaleKind::RefundOnly, vec![units(1, 2)], 20),
    ];
    let refused = decide(
        history.clone(),
        ask(AfterSaleKind::RefundOnly, vec![units(1, 1)], 21),
    );
    assert!(
        matches!(&refused, Err(OrderError::Invalid(errors)) if errors[0].field == "lines[0].quantity"),
        "{refused:?}"
    );
    let refused = decide(history.clone(), approve(1, Some(501)));
    assert!(
        matches!(&refused, Err(OrderError::Invalid(errors)) if errors[0].field == "refund_cents"),
        "{refused:?}"
    );
    // Rejected, its units may be asked for again.
    let reject = OrderCommand::RejectAfterSale {
        no: 1,
        reason: "".into(),
        rejected_at: at(30),
    };
    assert!(matches!(
        decide(history.clone(), reject),
        Err(OrderError::Invalid(_))
    ));
    let rejected = OrderEvent::AfterSaleRejected {
        no: 1,
        reason: "the photo shows no crack".into(),
        rejected_at: at(30),
    };
    OrderTest::with(())
        .given([history, vec![rejected]].concat())
        .when(ask(AfterSaleKind::RefundOnly, vec![units(1, 2)], 31))
        .then_expect_events(vec![asked(
            2,
            AfterSaleKind::RefundOnly,
            vec![units(1, 2)],
            31,
        )]);
}

#[test]
fn money_approved_for_a_return_is_not_refunded_to_anyone_else() {
    let history = vec![
        placed(),
        paid(),
        shipped(),
        asked(1, AfterSaleKind::ReturnRefund, vec![units(2, 1)], 40),
        approved(1, 1_000, None),
    ];
    let after = state_after(history.clone());
    assert_eq!(after.refundable_cents(), 500);
    assert_eq!(
        decide(
            history.clone(),
            OrderCommand::RequestRefund {
                order_id: ORDER,
                scope: RefundScope::Part {
                    lines: vec![],
                    refund_cents: Some(501),
                },
                reason: "goodwill".into(),
                requested_at: at(50),
            }
        ),
        Err(OrderError::RefundExceedsPayment {
            asked: 501,
            left: 500
        })
    );
    assert_eq!(
        decide(history, request()),
        Err(OrderError::AfterSaleOpen { no: 1 }),
        "the whole refund waits for the open return"
    );
}

#[test]
fn after_sale_ids_name_their_order_and_number() {
    let id = after_sale_id(ORDER, 12);
    assert_eq!(parse_after_sale_id(&id), Some((ORDER, 12)));
    for bad in [
        "",
        "A1",
        &format!("{}A0", ORDER.simple()),
        &format!("{}A01", ORDER.simple()),
        &format!("{}", ORDER.simple()),
        "zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzA1",
    ] {
        assert_eq!(parse_after_sale_id(bad), None, "{bad}");
    }
}
