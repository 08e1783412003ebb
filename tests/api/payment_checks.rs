//! Asking WeChat Pay rather than waiting for its notice: the shopper's confirmation
//! (`payment-status`), the sweep for late notices, and the check before an expiry, which
//! closes an unpaid payment at WeChat Pay before cancelling and keeps the order reserved
//! while WeChat Pay cannot be asked — all against a fake WeChat Pay over HTTP.

use std::time::Duration;

use ordo::payments::PaymentCheckSettings;
use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::{
    Client, FakeWeChatPay, NoticeOptions, TestApp, dev_mode_settings, eventually, fresh_database,
    start,
};

/// An app paying through `fake`, whose unpaid orders expire after `timeout`.
pub(crate) async fn app_with(
    fake: &FakeWeChatPay,
    timeout: Duration,
    checks: PaymentCheckSettings,
) -> TestApp {
    let (pool, _) = fresh_database().await;
    let mut settings = AppSettings {
        dev_login: true,
        wechat_pay: Some(fake.config()),
        payment_checks: checks,
        ..AppSettings::default()
    };
    settings.write.payment_timeout = timeout;
    start(pool, settings).await
}

/// Checks that never run by themselves within a test (late after an hour).
pub(crate) fn only_when_asked() -> PaymentCheckSettings {
    PaymentCheckSettings {
        late_after: Duration::from_secs(3600),
        ..PaymentCheckSettings::default()
    }
}

/// An order of 2 × `product` by `shopper`, its payment opened at WeChat Pay: its id and
/// total.
pub(crate) async fn opened_order(shopper: &Client, product: Uuid) -> (Uuid, i64) {
    let (id, total) = crate::support::paying::place(shopper, product, 2).await;
    let (status, body) = shopper
        .post(&format!("/api/v1/orders/{id}/pay"), &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    (id, total)
}

pub(crate) async fn order_view(shopper: &Client, id: Uuid) -> Value {
    shopper.get(&format!("/api/v1/orders/{id}")).await.body["data"].clone()
}

async fn confirm(shopper: &Client, id: Uuid) -> (StatusCode, Value) {
    shopper
        .post(&format!("/api/v1/orders/{id}/payment-status"), &json!({}))
        .await
        .into_parts()
}

/// The order's events, by type, in order.
pub(crate) async fn event_types(app: &TestApp, id: Uuid) -> Vec<String> {
    sqlx::query_scalar(
        "SELECT event_type FROM events WHERE aggregate_type = 'Order' AND aggregate_id = $1
          ORDER BY sequence",
    )
    .bind(id.to_string())
    .fetch_all(&app.pool)
    .await
    .expect("events")
}

/// How ordo learned of the payments it recorded, in order.
pub(crate) async fn learned_by(app: &TestApp) -> Vec<(String, String)> {
    sqlx::query_as("SELECT outcome, learned_by FROM payment_notices ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("notices")
}

#[tokio::test]
async fn a_lost_notice_is_confirmed_by_the_shopper_and_a_late_notice_then_changes_nothing() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(900), only_when_asked()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;

    // Not paid yet: the order as it is. Then paid, its notice lost.
    let paid = NoticeOptions::paying(total);
    fake.answer_payment_query_once(id, "NOTPAY", &paid).await;
    fake.answer_payment_query(id, "SUCCESS", &paid).await;
    let (status, body) = confirm(&mei, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "awaiting_payment");

    let (status, body) = confirm(&mei, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "paid", "{body}");
    assert_eq!(app.stock(tea).await.on_hand(), 3, "the two units are sold");
    assert!(fake.payment_queries().await >= 1);

    // Asking again, and the notice arriving at last, write nothing more.
    let (status, body) = confirm(&mei, id).await;
    assert_eq!(
        (status, &body["data"]["status"]),
        (StatusCode::OK, &json!("paid"))
    );
    let (status, _) = fake.send_notice(&app.address, id, &paid).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        event_types(&app, id).await,
        ["OrderPlaced", "OrderPaid"],
        "one payment, whoever told ordo of it"
    );
    assert_eq!(
        learned_by(&app).await,
        [
            ("accepted".to_owned(), "confirmation".to_owned()),
            ("duplicate".to_owned(), "notice".to_owned()),
        ]
    );
    crate::support::audit::assert_log_verifies(&app).await;
}

#[tokio::test]
async fn only_the_owner_may_ask_and_an_unopened_payment_is_not_asked_about() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(900), only_when_asked()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = opened_order(&mei, tea).await;

    let stranger = app.shopper("lei").await;
    let (status, body) = confirm(&stranger, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");

    // An order never sent to WeChat Pay: nothing to ask.
    let (status, body) = mei
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": tea, "quantity": 1}],
                    "address": crate::support::address()}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let unopened = body["data"]["id"].as_str().expect("id").to_owned();
    let (status, body) = mei
        .post(
            &format!("/api/v1/orders/{unopened}/payment-status"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "awaiting_payment");
    assert_eq!(fake.payment_queries().await, 0);
}

#[tokio::test]
async fn an_answer_wechat_pay_did_not_sign_freshly_is_not_believed() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(900), only_when_asked()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    fake.answer_payment_query_signed_at(
        id,
        &NoticeOptions::paying(total),
        chrono::Utc::now() - chrono::Duration::minutes(10),
    )
    .await;

    let (status, body) = confirm(&mei, id).await;

    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("5 minutes")),
        "{body}"
    );
    assert_eq!(order_view(&mei, id).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn a_late_notice_is_found_by_the_sweep() {
    let fake = FakeWeChatPay::start().await;
    let checks = PaymentCheckSettings {
        late_after: Duration::from_secs(1),
        ..PaymentCheckSettings::default()
    };
    let app = app_with(&fake, Duration::from_secs(900), checks).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    fake.answer_payment_query(id, "SUCCESS", &NoticeOptions::paying(total))
        .await;

    eventually("the sweep finds the payment", || async {
        (order_view(&mei, id).await["status"] == "paid").then_some(())
    })
    .await;
    assert_eq!(
        learned_by(&app).await,
        [("accepted".to_owned(), "late_notice".to_owned())]
    );
}

#[tokio::test]
async fn an_order_paid_without_a_notice_at_its_expiry_is_paid_not_cancelled() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(2), only_when_asked()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    fake.answer_payment_query(id, "SUCCESS", &NoticeOptions::paying(total))
        .await;

    eventually("the expiry check finds the payment", || async {
        (order_view(&mei, id).await["status"] == "paid").then_some(())
    })
    .await;
    assert_eq!(event_types(&app, id).await, ["OrderPlaced", "OrderPaid"]);
    assert_eq!(app.stock(tea).await.on_hand(), 3, "the stock stays sold");
    assert!(fake.closed_payments().await.is_empty());
    assert_eq!(
        learned_by(&app).await,
        [("accepted".to_owned(), "expiry".to_owned())]
    );
}

#[tokio::test]
async fn an_unpaid_order_at_its_expiry_is_closed_at_wechat_pay_then_cancelled() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake, Duration::from_secs(2), only_when_asked()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = opened_order(&mei, tea).await;
    fake.answer_payment_query(id, "NOTPAY", &NoticeOptions::paying(total))
        .await;

    eventually("the order is cancelled", || async {
        (order_view(&mei, id).await["status"] == "cancelled").then_some(())
    })
    .await;
    assert_eq!(fake.closed_payments().await, [id.simple().to_string()]);
    assert_eq!(
        app.stock(tea).await.available(),
        5,
        "the reservation is released"
    );
    assert_eq!(
        order_view(&mei, id).await["cancel_reason"],
        "payment_timeout"
    );
}

#[tokio::test]
async fn while_wechat_pay_cannot_be_asked_an_expired_order_stays_reserved_until_the_bound() {
    let fake = FakeWeChatPay::start().await;
    let checks = PaymentCheckSettings {
        expiry_bound: Duration::from_secs(4),
        ..only_when_asked()
    };
    let app = app_with(&fake, Duration::from_secs(1), checks).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = opened_order(&mei, tea).await;
    fake.answer_payment_checks_with(ResponseTemplate::new(503))
        .await;

    // Well past its expiry, inside the bound: still reserved.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(order_view(&mei, id).await["status"], "awaiting_payment");
    assert_eq!(app.stock(tea).await.available(), 3);

    // Past the bound: cancelled without WeChat Pay's word.
    eventually("the order is cancelled past the bound", || async {
        (order_view(&mei, id).await["status"] == "cancelled").then_some(())
    })
    .await;
    assert_eq!(app.stock(tea).await.available(), 5);
}

#[tokio::test]
async fn in_dev_mode_a_payment_whose_notice_is_lost_is_confirmed_from_the_simulated_wechat_pay() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = opened_order(&mei, tea).await;

    let (status, body) = mei
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment?notify=false"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["notify_status"], Value::Null, "no notice sent");
    assert_eq!(body["data"]["order"]["status"], "awaiting_payment");

    let (status, body) = confirm(&mei, id).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "paid", "{body}");
    assert_eq!(
        learned_by(&app).await,
        [("accepted".to_owned(), "confirmation".to_owned())]
    );
}

#[tokio::test]
async fn in_dev_mode_an_expired_order_is_closed_at_the_simulated_wechat_pay_and_cannot_be_paid() {
    let (pool, _) = fresh_database().await;
    let mut settings = dev_mode_settings();
    settings.write.payment_timeout = Duration::from_secs(1);
    let app = start(pool, settings).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = opened_order(&mei, tea).await;

    eventually("the order is cancelled", || async {
        (order_view(&mei, id).await["status"] == "cancelled").then_some(())
    })
    .await;
    let (status, body) = mei
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("closed")),
        "{body}"
    );
    assert_eq!(app.stock(tea).await.available(), 5);
}
