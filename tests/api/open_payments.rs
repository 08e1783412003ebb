//! A payment left open at WeChat Pay by a cancelled order (the shopper cancelled after
//! opening it): the late-notice sweep asks about it, closes it when unpaid, so nobody can
//! pay a cancelled order any more, and records a payment made meanwhile, owed back.

use std::time::Duration;

use ordo::payments::PaymentCheckSettings;
use reqwest::StatusCode;
use serde_json::json;

use crate::payment_checks::{app_with, event_types, learned_by, opened_order, order_view};
use crate::support::{FakeWeChatPay, NoticeOptions, eventually};

/// The sweep looks every 200 ms and asks again a second later.
fn sweeping() -> PaymentCheckSettings {
    PaymentCheckSettings {
        late_after: Duration::from_secs(1),
        ..PaymentCheckSettings::default()
    }
}

#[tokio::test]
async fn a_payment_left_open_by_a_shoppers_cancel_is_closed_at_wechat_pay_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(900), sweeping()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    fake.answer_payment_query(id, "NOTPAY", &NoticeOptions::paying(total))
        .await;

    let (status, body) = mei.cancel_order(id).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    eventually("the payment is closed at WeChat Pay", || async {
        (!fake.closed_payments().await.is_empty()).then_some(())
    })
    .await;
    // Closed and settled: later sweeps leave it alone.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    assert_eq!(fake.closed_payments().await, [id.simple().to_string()]);
    assert_eq!(order_view(&mei, id).await["status"], "cancelled");
    assert_eq!(
        event_types(&app, id).await,
        ["OrderPlaced", "OrderCancelled"]
    );
    assert!(learned_by(&app).await.is_empty(), "no payment to record");
}

#[tokio::test]
async fn a_payment_made_as_the_order_was_cancelled_is_recorded_and_owed_back() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(900), sweeping()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    // Paid from the payment sheet the shopper still had open, as they cancelled; its
    // notice lost. (Answered before the cancel: a sweep right after it must see it paid.)
    fake.answer_payment_query(id, "SUCCESS", &NoticeOptions::paying(total))
        .await;
    let (status, body) = mei.cancel_order(id).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");

    eventually("the sweep records the payment", || async {
        (!learned_by(&app).await.is_empty()).then_some(())
    })
    .await;
    assert_eq!(
        learned_by(&app).await,
        [("refund_required".to_owned(), "cancellation".to_owned())]
    );
    assert_eq!(
        event_types(&app, id).await,
        [
            "OrderPlaced",
            "OrderCancelled",
            "PaymentReceived",
            "RefundRequired"
        ]
    );
    assert!(
        fake.closed_payments().await.is_empty(),
        "a paid one is not closed"
    );
    assert_eq!(
        app.stock(tea).await.available(),
        5,
        "the units stay released"
    );
    crate::support::settle(&app.pool).await;
    let (status, due) = app
        .admin()
        .get("/api/v1/admin/refunds-due?size=10")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{due}");
    assert_eq!(due["data"]["list"][0]["id"], json!(id), "{due}");
}
