//! A refund the provider reports stuck (`ABNORMAL`) is not a refusal: the order stays
//! `refunding`, the refund in progress and flagged once, and the provider's later word
//! settles it.

use super::refunds::{failure, refund_no, requested, settle, state_after, succeeded, success};
use super::*;

fn abnormal() -> RefundOutcome {
    RefundOutcome::Abnormal {
        reason: "WeChat Pay: refund ABNORMAL".into(),
        reported_at: at(44),
    }
}

fn flagged(kind: RefundKind) -> OrderEvent {
    OrderEvent::RefundAbnormal {
        refund_no: refund_no(1),
        kind,
        reason: "WeChat Pay: refund ABNORMAL".into(),
        reported_at: at(44),
    }
}

fn refunding() -> Vec<OrderEvent> {
    vec![placed(), paid(), requested(1, RefundKind::Order, "wx-1")]
}

#[test]
fn an_abnormal_refund_keeps_the_order_refunding_flagged_and_in_progress() {
    OrderTest::with(())
        .given(refunding())
        .when(settle(1, abnormal()))
        .then_expect_events(vec![flagged(RefundKind::Order)]);
    let order = state_after([refunding(), vec![flagged(RefundKind::Order)]].concat());
    assert_eq!(order.status, Some(OrderStatus::Refunding));
    let refund = &order.refunds[0];
    assert_eq!(refund.status, RefundStatus::Requested);
    assert_eq!(
        refund.abnormal.as_deref(),
        Some("WeChat Pay: refund ABNORMAL")
    );
    assert_eq!(order.refunds_in_progress().count(), 1, "still followed up");
}

#[test]
fn an_abnormal_refund_is_flagged_once() {
    OrderTest::with(())
        .given([refunding(), vec![flagged(RefundKind::Order)]].concat())
        .when(settle(1, abnormal()))
        .then_expect_events(vec![]);
}

#[test]
fn success_after_abnormal_refunds_the_order_once_and_clears_the_flag() {
    let history = [refunding(), vec![flagged(RefundKind::Order)]].concat();
    OrderTest::with(())
        .given(history.clone())
        .when(settle(1, success()))
        .then_expect_events(vec![succeeded(1, RefundKind::Order)]);
    let refunded = state_after([history.clone(), vec![succeeded(1, RefundKind::Order)]].concat());
    assert_eq!(refunded.status, Some(OrderStatus::Refunded));
    assert_eq!(refunded.refunds[0].abnormal, None);
    assert_eq!(
        refunded
            .restocked_by(&succeeded(1, RefundKind::Order))
            .len(),
        2,
        "both lines"
    );
    // Once: the notice and the follow-up both reporting it change nothing more.
    OrderTest::with(())
        .given([history, vec![succeeded(1, RefundKind::Order)]].concat())
        .when(settle(1, success()))
        .then_expect_events(vec![]);
}

#[test]
fn a_refund_closed_after_abnormal_fails_and_puts_the_order_back() {
    let order = state_after(
        [
            refunding(),
            vec![flagged(RefundKind::Order)],
            vec![OrderEvent::RefundFailed {
                refund_no: refund_no(1),
                kind: RefundKind::Order,
                reason: "WeChat Pay: refund CLOSED".into(),
                failed_at: at(45),
                back_to: Some(OrderStatus::Paid),
            }],
        ]
        .concat(),
    );
    assert_eq!(order.status, Some(OrderStatus::Paid));
    assert_eq!(order.refunds[0].abnormal, None);
    OrderTest::with(())
        .given([refunding(), vec![flagged(RefundKind::Order)]].concat())
        .when(settle(1, failure()))
        .then_expect_events(vec![OrderEvent::RefundFailed {
            refund_no: refund_no(1),
            kind: RefundKind::Order,
            reason: "NOT_ENOUGH: the merchant's balance is short".into(),
            failed_at: at(45),
            back_to: Some(OrderStatus::Paid),
        }]);
}
