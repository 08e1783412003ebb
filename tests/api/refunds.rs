//! Refunds through WeChat Pay: an operator asks, WeChat Pay answers (by its refund call
//! and by a refund notice), and every race is decided once by the Order aggregate; the
//! units of an order refunded before it shipped come back to stock exactly once.

use std::time::Duration;

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::audit::assert_log_verifies;
use crate::support::wechat_pay::refusal;
use crate::support::{
    FakeWeChatPay, NoticeOptions, RefundAnswer, TestApp, dev_mode_settings, eventually,
    fresh_database, start,
};

const SHOPPER: &str = "00000000-0000-0000-0000-00000000abcd";
const REASON: &str = "out of stock after all";

/// An app paying and refunding through the fake WeChat Pay.
async fn app_with(fake: &FakeWeChatPay) -> TestApp {
    let (pool, _) = fresh_database().await;
    start(
        pool,
        AppSettings {
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await
}

/// An order of `quantity` × `product`, paid by a WeChat Pay notice: its id and the
/// notice's options (the payment's transaction id and amount).
async fn paid_order(
    app: &TestApp,
    fake: &FakeWeChatPay,
    product: Uuid,
    quantity: i64,
) -> (Uuid, NoticeOptions) {
    let (id, total) = placed(app, product, quantity).await;
    let payment = NoticeOptions::paying(total);
    let (status, answer) = fake.send_notice(&app.address, id, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (id, payment)
}

async fn placed(app: &TestApp, product: Uuid, quantity: i64) -> (Uuid, i64) {
    let (status, body) = app
        .user(SHOPPER)
        .place_order(&[(product, quantity)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    (id, body["data"]["total_cents"].as_i64().expect("total"))
}

async fn refund(app: &TestApp, id: Uuid) -> (StatusCode, Value) {
    let answer = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/refund"),
            &json!({"reason": REASON}),
        )
        .await;
    (answer.status, answer.body)
}

async fn order_view(app: &TestApp, id: Uuid) -> Value {
    app.user(SHOPPER)
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .body["data"]
        .clone()
}

fn refund_no(view: &Value, i: usize) -> String {
    view["refunds"][i]["refund_no"]
        .as_str()
        .expect("a refund number")
        .to_owned()
}

async fn refund_notices(app: &TestApp) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT outcome, reason FROM payment_notices WHERE kind = 'refund' ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("notices")
}

#[tokio::test]
async fn an_operator_refunds_a_paid_order_and_its_units_come_back_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_250, 10).await;
    let (id, payment) = paid_order(&app, &fake, product, 2).await;
    assert_eq!(app.stock(product).await.on_hand(), 8);

    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "refunding");
    let view = &body["data"];
    assert_eq!(view["refunds"][0]["status"], "requested");
    assert_eq!(view["refunds"][0]["kind"], "order");
    assert_eq!(view["refunds"][0]["reason"], REASON);
    assert_eq!(view["refunds"][0]["amount_cents"], 2_500);
    let number = refund_no(view, 0);

    // One signed refund request, for the payment, the whole amount, and the refund
    // notice URL beside the payment notice URL.
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0]["transaction_id"],
        payment.transaction_id.as_str()
    );
    assert_eq!(requests[0]["out_refund_no"], number.as_str());
    assert_eq!(requests[0]["amount"]["refund"], 2_500);
    assert_eq!(requests[0]["amount"]["total"], 2_500);
    assert_eq!(requests[0]["reason"], REASON);
    assert_eq!(
        requests[0]["notify_url"],
        "https://shop.example.com/api/v1/payments/wechat/refund-notify"
    );

    // WeChat Pay's notice, twice: refunded once, the units back once.
    let refunded = NoticeOptions::paying(2_500);
    let refunded = NoticeOptions {
        transaction_id: payment.transaction_id.clone(),
        ..refunded
    };
    for _ in 0..2 {
        let (status, answer) = fake
            .send_refund_notice(&app.address, id, &number, "SUCCESS", &refunded)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["code"], "SUCCESS");
    }
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "refunded", "{view}");
    assert_eq!(view["refunds"][0]["status"], "succeeded");
    assert!(view["refunded_at"].is_string(), "{view}");
    assert_eq!(app.stock(product).await.on_hand(), 10);
    assert_eq!(app.count_events("StockReturned").await, 1);
    assert_eq!(app.count_events("RefundSucceeded").await, 1);
    let outcomes: Vec<String> = refund_notices(&app)
        .await
        .into_iter()
        .map(|n| n.0)
        .collect();
    assert_eq!(outcomes, ["accepted", "duplicate"]);
    let catalog = app.anon().get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(catalog.body["data"]["available"], 10, "{}", catalog.body);
    assert_log_verifies(&app).await;

    // Nothing left to give back.
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("nothing to refund")
    );
}

#[tokio::test]
async fn a_refund_notice_before_the_refund_call_answers_settles_it_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, payment) = paid_order(&app, &fake, product, 1).await;
    // WeChat Pay answers SUCCESS, but only after its notice has come and been recorded.
    fake.answer_refunds_with(
        RefundAnswer {
            status: "SUCCESS",
            delay: Duration::from_secs(2),
        },
        1,
    )
    .await;
    let asked = tokio::spawn({
        let admin = app.admin();
        async move {
            admin
                .post(
                    &format!("/api/v1/admin/orders/{id}/refund"),
                    &json!({"reason": REASON}),
                )
                .await
                .status
        }
    });
    let number = crate::support::eventually("the refund is requested", || async {
        let order = order_view(&app, id).await;
        order["refunds"][0]["refund_no"].as_str().map(str::to_owned)
    })
    .await;
    let notice = NoticeOptions {
        transaction_id: payment.transaction_id.clone(),
        ..NoticeOptions::paying(1_000)
    };
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, &number, "SUCCESS", &notice)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(asked.await.expect("joined"), StatusCode::ACCEPTED);

    assert_eq!(app.count_events("RefundSucceeded").await, 1);
    assert_eq!(app.count_events("StockReturned").await, 1);
    assert_eq!(app.stock(product).await.on_hand(), 5);
    assert_eq!(order_view(&app, id).await["status"], "refunded");
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_refund_asked_on_two_servers_at_once_is_requested_and_sent_once() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let settings = || AppSettings {
        wechat_pay: Some(fake.config()),
        ..AppSettings::default()
    };
    let first = start(pool.clone(), settings()).await;
    let second = start(pool, settings()).await;
    let product = first.admin().create_product("Tea", 1_000, 5).await;
    let (id, _) = paid_order(&first, &fake, product, 1).await;
    // Each server's cache holds the order as paid.
    assert_eq!(order_view(&second, id).await["status"], "paid");

    let (a, b) = tokio::join!(refund(&first, id), refund(&second, id));
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::ACCEPTED, StatusCode::CONFLICT],
        "{} / {}",
        a.1,
        b.1
    );
    assert_eq!(first.count_events("RefundRequested").await, 1);
    assert_eq!(fake.refund_requests().await.len(), 1);
    // And asked again on the same server: still one.
    let (status, body) = refund(&first, id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("in progress")
    );
    assert_eq!(fake.refund_requests().await.len(), 1);
}

#[tokio::test]
async fn a_refused_refund_puts_the_order_back_with_wechat_pays_reason() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, _) = paid_order(&app, &fake, product, 1).await;
    fake.answer_refunds_with(refusal(403, "NOT_ENOUGH", "基本账户余额不足"), 1)
        .await;

    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{body}");
    assert_eq!(body["code"], 50200);
    assert!(
        body["message"]
            .as_str()
            .expect("message")
            .contains("NOT_ENOUGH"),
        "{body}"
    );
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "paid", "{view}");
    assert_eq!(view["refunds"][0]["status"], "failed");
    assert!(
        view["refunds"][0]["failure"]
            .as_str()
            .expect("failure")
            .contains("NOT_ENOUGH")
    );
    assert_eq!(app.stock(product).await.on_hand(), 4);

    // Asked again once the balance is there: a new refund number.
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_ne!(refund_no(&body["data"], 1), refund_no(&body["data"], 0));
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_shipped_order_is_refunded_without_its_units_coming_back() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, payment) = paid_order(&app, &fake, product, 2).await;
    let shipped = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/ship"),
            &json!({"express_company": "SF", "tracking_no": "SF100"}),
        )
        .await;
    assert_eq!(shipped.status, StatusCode::OK, "{}", shipped.body);
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let notice = NoticeOptions {
        transaction_id: payment.transaction_id,
        ..NoticeOptions::paying(2_000)
    };
    let number = refund_no(&body["data"], 0);
    fake.send_refund_notice(&app.address, id, &number, "SUCCESS", &notice)
        .await;
    assert_eq!(order_view(&app, id).await["status"], "refunded");
    assert_eq!(app.stock(product).await.on_hand(), 3);
    assert_eq!(app.count_events("StockReturned").await, 0);
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_payment_after_cancel_is_paid_back_through_the_same_flow() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, total) = placed(&app, product, 1).await;
    let cancelled = app.user(SHOPPER).cancel_order(id).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let late = NoticeOptions::paying(total);
    fake.send_notice(&app.address, id, &late).await;
    // The notice's answer waits for the read models only so long (a loaded machine).
    let reason = eventually("the payment owed back shows", || async {
        let reason = order_view(&app, id).await["refunds_due"][0]["reason"].clone();
        (!reason.is_null()).then_some(reason)
    })
    .await;
    assert_eq!(reason, "paid_after_cancel");

    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    assert_eq!(body["data"]["refunds"][0]["kind"], "extra_payment");
    let requests = fake.refund_requests().await;
    assert_eq!(requests[0]["transaction_id"], late.transaction_id.as_str());

    let number = refund_no(&body["data"], 0);
    let (status, _) = fake
        .send_refund_notice(&app.address, id, &number, "SUCCESS", &late)
        .await;
    assert_eq!(status, StatusCode::OK);
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "cancelled");
    assert_eq!(view["refunds"][0]["status"], "succeeded");
    assert_eq!(app.stock(product).await.on_hand(), 5);
    assert_eq!(app.count_events("StockReturned").await, 0);
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn refund_notices_not_matching_a_refund_are_refused_and_recorded() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, payment) = paid_order(&app, &fake, product, 1).await;
    let (_, body) = refund(&app, id).await;
    let number = refund_no(&body["data"], 0);
    let right = NoticeOptions {
        transaction_id: payment.transaction_id,
        ..NoticeOptions::paying(1_000)
    };

    let forged = NoticeOptions {
        wrong_signer: true,
        ..right.clone()
    };
    let (status, _) = fake
        .send_refund_notice(&app.address, id, &number, "SUCCESS", &forged)
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, &format!("{number}9"), "SUCCESS", &right)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{answer}");
    let more = NoticeOptions {
        amount_cents: 999_999,
        ..right.clone()
    };
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, &number, "SUCCESS", &more)
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert_eq!(order_view(&app, id).await["status"], "refunding");
    let reasons: Vec<String> = refund_notices(&app)
        .await
        .into_iter()
        .filter_map(|(outcome, reason)| (outcome == "refused").then_some(reason?))
        .collect();
    assert_eq!(
        reasons.len(),
        2,
        "{reasons:?}: the forged one is not stored"
    );
    assert!(reasons[0].contains("no refund"), "{reasons:?}");
    assert!(reasons[1].contains("mismatch"), "{reasons:?}");

    // WeChat Pay gives up on the refund: recorded, the order back to paid.
    let (status, _) = fake
        .send_refund_notice(&app.address, id, &number, "CLOSED", &right)
        .await;
    assert_eq!(status, StatusCode::OK);
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "paid");
    assert_eq!(view["refunds"][0]["failure"], "WeChat Pay: refund CLOSED");
}

#[tokio::test]
async fn an_unanswered_refund_is_followed_up_and_sent_again() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, payment) = paid_order(&app, &fake, product, 1).await;
    fake.answer_refunds_with(ResponseTemplate::new(500), 1)
        .await;
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["refunds"][0]["status"], "requested");

    // WeChat Pay never got it (its query answers RESOURCE_NOT_EXISTS): sent again, with
    // the same number.
    let follow_up = app.refund_follow_up();
    follow_up.round().await.expect("a follow-up round");
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["out_refund_no"], requests[1]["out_refund_no"]);

    let notice = NoticeOptions {
        transaction_id: payment.transaction_id,
        ..NoticeOptions::paying(1_000)
    };
    let number = refund_no(&body["data"], 0);
    fake.send_refund_notice(&app.address, id, &number, "SUCCESS", &notice)
        .await;
    assert_eq!(order_view(&app, id).await["status"], "refunded");
    // Nothing left to follow up.
    crate::support::settle(&app.pool).await;
    assert_eq!(follow_up.round().await.expect("a round"), 0);
    assert_eq!(fake.refund_requests().await.len(), 2);
}

/// The follow-up does not depend on the order views: with the read side held back (an
/// appending transaction that never ends), a refund asked for meanwhile is still found
/// (in the events) and sent again.
#[tokio::test]
async fn a_refund_asked_for_while_the_order_views_lag_is_still_followed_up() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, _) = paid_order(&app, &fake, product, 1).await;
    crate::support::settle(&app.pool).await;
    let name = app.pool.connect_options().get_database().map(str::to_owned);
    let url = crate::support::database_url(&name.expect("a database name"));
    let mut appender = crate::support::held::held_append(&url).await;

    fake.answer_refunds_with(ResponseTemplate::new(500), 1)
        .await;
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let pending: bool =
        sqlx::query_scalar("SELECT refund_pending FROM order_views WHERE order_id = $1")
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("the order's view");
    assert!(!pending, "the views really lag");

    let follow_up = app.refund_follow_up();
    follow_up.round().await.expect("a follow-up round");
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 2, "sent again while the views lag");
    assert_eq!(requests[0]["out_refund_no"], requests[1]["out_refund_no"]);
    sqlx::query("ROLLBACK")
        .execute(&mut appender)
        .await
        .expect("end it");
}

#[tokio::test]
async fn dev_mode_refunds_end_to_end_and_the_history_says_who_and_why() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, _) = placed(&app, product, 2).await;
    let shopper = app.user(SHOPPER);
    let paid = shopper
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment"),
            &json!({}),
        )
        .await;
    assert_eq!(paid.status, StatusCode::OK, "{}", paid.body);
    let none = shopper
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-refund"),
            &json!({}),
        )
        .await;
    assert_eq!(none.status, StatusCode::CONFLICT, "{}", none.body);

    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let simulated = shopper
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-refund"),
            &json!({}),
        )
        .await;
    assert_eq!(simulated.status, StatusCode::OK, "{}", simulated.body);
    assert_eq!(simulated.body["data"]["notices"][0]["notify_status"], 200);
    assert_eq!(simulated.body["data"]["order"]["status"], "refunded");
    assert_eq!(app.stock(product).await.on_hand(), 5);

    let history = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}/history"))
        .await;
    let requested = history.body["data"]
        .as_array()
        .expect("history")
        .iter()
        .find(|entry| entry["type"] == "RefundRequested")
        .cloned()
        .expect("the refund in the history");
    assert_eq!(requested["payload"]["RefundRequested"]["reason"], REASON);
    assert_eq!(requested["actor"]["role"], "admin", "{requested}");
    let types: Vec<&str> = history.body["data"]
        .as_array()
        .expect("history")
        .iter()
        .filter_map(|entry| entry["type"].as_str())
        .collect();
    assert!(
        types.contains(&"RefundSucceeded") && types.contains(&"StockReturned"),
        "{types:?}"
    );
}

/// Sends the refund notice of every refund of `id` in progress, `times` times.
async fn notify_refunds(app: &TestApp, fake: &FakeWeChatPay, id: Uuid, status: &str, times: usize) {
    let view = order_view(app, id).await;
    for refund in view["refunds"].as_array().expect("refunds") {
        if refund["status"] != "requested" {
            continue;
        }
        let notice = NoticeOptions {
            transaction_id: refund["payment_id"].as_str().expect("payment").to_owned(),
            ..NoticeOptions::paying(refund["amount_cents"].as_i64().expect("amount"))
        };
        let number = refund["refund_no"].as_str().expect("number");
        for _ in 0..times {
            let (answer, body) = fake
                .send_refund_notice(&app.address, id, number, status, &notice)
                .await;
            assert_eq!(answer, StatusCode::OK, "{body}");
        }
    }
}

#[tokio::test]
async fn after_any_mix_of_pays_cancels_refunds_and_duplicate_notices_stock_and_the_log_reconcile() {
    let fake = FakeWeChatPay::start().await;
    let app = &app_with(&fake).await;
    let initial = 100;
    let product = app.admin().create_product("Tea", 1_000, initial).await;
    let (mut sold, mut returned) = (0, 0);
    for scenario in 0..8 {
        let quantity = 1 + scenario % 3;
        let (id, total) = placed(app, product, quantity).await;
        let payment = NoticeOptions::paying(total);
        let pay = || fake.send_notice(&app.address, id, &payment);
        let cancel = || async move {
            let answer = app.user(SHOPPER).cancel_order(id).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        };
        match scenario {
            // Paid, refunded, the notice twice.
            0 => {
                pay().await;
                refund(app, id).await;
                notify_refunds(app, &fake, id, "SUCCESS", 2).await;
                (sold, returned) = (sold + quantity, returned + quantity);
            }
            // Shipped, then refunded: sold for good.
            1 => {
                pay().await;
                app.admin()
                    .post(
                        &format!("/api/v1/admin/orders/{id}/ship"),
                        &json!({"express_company": "SF", "tracking_no": "SF1"}),
                    )
                    .await;
                refund(app, id).await;
                notify_refunds(app, &fake, id, "SUCCESS", 1).await;
                sold += quantity;
            }
            // Cancelled.
            2 => {
                cancel().await;
            }
            // Cancelled, paid late (twice the same notice), the payment refunded.
            3 => {
                cancel().await;
                pay().await;
                pay().await;
                refund(app, id).await;
                notify_refunds(app, &fake, id, "SUCCESS", 2).await;
            }
            // Paid twice by two payments: both refunded at once.
            4 => {
                pay().await;
                fake.send_notice(&app.address, id, &NoticeOptions::paying(total))
                    .await;
                let (status, body) = refund(app, id).await;
                assert_eq!(body["data"]["refunds"].as_array().map(Vec::len), Some(2));
                assert_eq!(status, StatusCode::ACCEPTED);
                notify_refunds(app, &fake, id, "SUCCESS", 2).await;
                (sold, returned) = (sold + quantity, returned + quantity);
            }
            // Refused by WeChat Pay: stays paid.
            5 => {
                pay().await;
                fake.answer_refunds_with(refusal(403, "NOT_ENOUGH", "余额不足"), 1)
                    .await;
                refund(app, id).await;
                sold += quantity;
            }
            // Stuck, then given up by WeChat Pay, asked again, refunded.
            6 => {
                pay().await;
                refund(app, id).await;
                notify_refunds(app, &fake, id, "ABNORMAL", 2).await;
                notify_refunds(app, &fake, id, "CLOSED", 1).await;
                refund(app, id).await;
                notify_refunds(app, &fake, id, "SUCCESS", 1).await;
                (sold, returned) = (sold + quantity, returned + quantity);
            }
            // Paid, kept.
            _ => {
                pay().await;
                pay().await;
                sold += quantity;
            }
        }
    }
    let stock = app.stock(product).await;
    assert_eq!(stock.on_hand(), initial - sold + returned);
    assert_eq!(stock.reserved(), 0);
    let returned_units: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum((payload -> 'StockReturned' ->> 'quantity')::bigint), 0)::bigint
           FROM events WHERE event_type = 'StockReturned'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("returned units");
    assert_eq!(returned_units, returned);
    crate::support::settle(&app.pool).await;
    let catalog = app.anon().get(&format!("/api/v1/products/{product}")).await;
    assert_eq!(catalog.body["data"]["available"], initial - sold + returned);
    assert_log_verifies(app).await;
}

#[tokio::test]
async fn hostile_reasons_and_ids_are_refused_naming_the_problem_and_write_nothing() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, _) = paid_order(&app, &fake, product, 1).await;
    let long = "退".repeat(10_000);
    for reason in ["", "nul\u{0}byte", "bell\u{7}", "two\nlines", long.as_str()] {
        let answer = app
            .admin()
            .post(
                &format!("/api/v1/admin/orders/{id}/refund"),
                &json!({"reason": reason}),
            )
            .await;
        assert_eq!(
            answer.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{}",
            answer.body
        );
        assert_eq!(answer.body["data"]["errors"][0]["field"], "reason");
    }
    let answer = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{}/refund", Uuid::new_v4()),
            &json!({"reason": REASON}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
    assert_eq!(app.count_events("RefundRequested").await, 0);
    assert!(fake.refund_requests().await.is_empty());
    // An emoji is one character of a reason like any other.
    let answer = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/refund"),
            &json!({"reason": "破损 📦 退款"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    assert_eq!(answer.body["data"]["refunds"][0]["reason"], "破损 📦 退款");
}

#[tokio::test]
async fn without_wechat_pay_a_refund_is_refused_before_anything_is_written() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, AppSettings::default()).await;
    let product = app.admin().create_product("Tea", 1_000, 5).await;
    let (id, total) = placed(&app, product, 1).await;
    app.pay(id, total).await;
    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(app.count_events("RefundRequested").await, 0);
    crate::support::settle(&app.pool).await;
    assert_eq!(order_view(&app, id).await["status"], "paid");
}

#[tokio::test]
async fn a_refund_before_shipping_gives_each_sku_its_own_units_back() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "T-shirt", "specs": [{"name": "size", "values": ["S", "M"]}],
                    "skus": [{"spec": {"size": "S"}, "price_cents": 5_900, "initial_stock": 10},
                             {"spec": {"size": "M"}, "price_cents": 6_900, "initial_stock": 10}]}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id_of = |v: &Value| -> Uuid { v.as_str().expect("id").parse().expect("uuid") };
    let (shirt, small, medium) = (
        id_of(&body["data"]["id"]),
        id_of(&body["data"]["skus"][0]["id"]),
        id_of(&body["data"]["skus"][1]["id"]),
    );
    let (status, placed) = app
        .user(SHOPPER)
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": shirt, "sku_id": small, "quantity": 1},
                              {"product_id": shirt, "sku_id": medium, "quantity": 3}],
                    "address": crate::support::address()}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = id_of(&placed["data"]["id"]);
    let payment = NoticeOptions::paying(5_900 + 3 * 6_900);
    let (status, answer) = fake.send_notice(&app.address, id, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        (
            app.stock(small).await.on_hand(),
            app.stock(medium).await.on_hand()
        ),
        (9, 7)
    );

    let (status, body) = refund(&app, id).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let refunded = NoticeOptions {
        transaction_id: payment.transaction_id.clone(),
        ..NoticeOptions::paying(5_900 + 3 * 6_900)
    };
    let number = refund_no(&body["data"], 0);
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, &number, "SUCCESS", &refunded)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(order_view(&app, id).await["status"], "refunded");
    assert_eq!(
        (
            app.stock(small).await.on_hand(),
            app.stock(medium).await.on_hand()
        ),
        (10, 10)
    );
    assert_eq!(app.count_events("StockReturned").await, 2);
    assert_log_verifies(&app).await;
}
