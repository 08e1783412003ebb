//! After-sales end to end: a refund-only of one line refunded on approval with its units
//! back once (never shipped); a return after shipping refunded on receipt with its units
//! back once; two operators approving at once approve once; what shoppers and merchants
//! see at each step, and the log verifying after it all.

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::audit::assert_log_verifies;
use crate::support::{FakeWeChatPay, NoticeOptions, TestApp, fresh_database, start};

const SHOPPER: &str = "00000000-0000-0000-0000-0000000a5a1e";

fn settings(fake: &FakeWeChatPay) -> AppSettings {
    AppSettings {
        wechat_pay: Some(fake.config()),
        ..AppSettings::default()
    }
}

async fn app_with(fake: &FakeWeChatPay) -> TestApp {
    let (pool, _) = fresh_database().await;
    start(pool, settings(fake)).await
}

async fn paid_order(app: &TestApp, fake: &FakeWeChatPay, lines: &[(Uuid, i64)]) -> (Uuid, String) {
    let (status, body) = app.user(SHOPPER).place_order(lines).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id: Uuid = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let payment = NoticeOptions::paying(body["data"]["total_cents"].as_i64().expect("total"));
    let (status, answer) = fake.send_notice(&app.address, id, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (id, payment.transaction_id)
}

async fn ask(app: &TestApp, order: Uuid, body: Value) -> (StatusCode, Value) {
    app.user(SHOPPER)
        .post(&format!("/api/v1/orders/{order}/after-sales"), &body)
        .await
        .into_parts()
}

async fn admin_post(app: &TestApp, path: &str, body: Value) -> (StatusCode, Value) {
    app.admin().post(path, &body).await.into_parts()
}

async fn refund_succeeds(
    app: &TestApp,
    fake: &FakeWeChatPay,
    order: Uuid,
    refund_no: &str,
    transaction: &str,
    cents: i64,
) {
    let notice = NoticeOptions {
        transaction_id: transaction.to_owned(),
        ..NoticeOptions::paying(cents)
    };
    let (status, answer) = fake
        .send_refund_notice(&app.address, order, refund_no, "SUCCESS", &notice)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

async fn after_sales_of(app: &TestApp, order: Uuid) -> Value {
    let (status, body) = app
        .user(SHOPPER)
        .get(&format!("/api/v1/orders/{order}/after-sales"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"].clone()
}

#[tokio::test]
async fn a_refund_only_of_one_line_is_refunded_on_approval_and_its_units_come_back_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let tea = app.admin().create_product("Tea", 3_000, 10).await;
    let (order, transaction) = paid_order(&app, &fake, &[(cups, 2), (tea, 1)]).await;

    // A return before shipping is not a thing; more cups than ordered neither.
    let (status, body) = ask(&app, order, json!({"kind": "return_refund", "lines": [{"sku_id": cups, "quantity": 1}], "reason": "too many"})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = ask(&app, order, json!({"kind": "refund_only", "lines": [{"sku_id": cups, "quantity": 3}], "reason": "too many"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[0].quantity",
        "{body}"
    );
    let (status, body) = ask(
        &app,
        order,
        json!({"kind": "exchange", "lines": [], "reason": "x"}),
    )
    .await;
    assert!(status.is_client_error(), "{status}: {body}");

    let (status, body) = ask(&app, order, json!({"kind": "refund_only", "lines": [{"sku_id": cups, "quantity": 1}], "reason": "one cup arrived broken"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let sale = body["data"].clone();
    assert_eq!(sale["status"], "requested");
    assert_eq!(sale["kind"], "refund_only");
    let id = sale["id"].as_str().expect("id").to_owned();
    assert_eq!(id, format!("{}A1", order.simple()));

    // Someone else's order, or an unknown after-sale: not found.
    let (status, _) = app
        .user("00000000-0000-0000-0000-00000000f00d")
        .get(&format!("/api/v1/orders/{order}/after-sales"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_post(
        &app,
        &format!("/api/v1/admin/after-sales/{}A9/approve", order.simple()),
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin_post(
        &app,
        "/api/v1/admin/after-sales/not-an-id/approve",
        json!({}),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // The queue shows it waiting; more than the cup was paid is refused.
    let (status, queue) = app
        .admin()
        .get("/api/v1/admin/after-sales?status=requested")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{queue}");
    assert_eq!(queue["data"]["list"][0]["id"], id.as_str());
    assert_eq!(queue["data"]["counts"]["requested"], 1);
    let approve = format!("/api/v1/admin/after-sales/{id}/approve");
    let (status, body) = admin_post(&app, &approve, json!({"refund_cents": 1_201})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");

    let (status, body) = admin_post(&app, &approve, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "refunding");
    assert_eq!(body["data"]["refund_cents"], 1_200);
    let refund_no = body["data"]["refund_no"]
        .as_str()
        .expect("its refund")
        .to_owned();
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["out_refund_no"], refund_no.as_str());
    assert_eq!(requests[0]["amount"]["refund"], 1_200);
    assert_eq!(requests[0]["amount"]["total"], 5_400);

    for _ in 0..2 {
        refund_succeeds(&app, &fake, order, &refund_no, &transaction, 1_200).await;
    }
    crate::support::settle(&app.pool).await;
    let sales = after_sales_of(&app, order).await;
    assert_eq!(sales[0]["status"], "refunded", "{sales}");
    assert_eq!(
        app.stock(cups).await.on_hand(),
        9,
        "one cup of the two sold back, once"
    );
    assert_eq!(app.stock(tea).await.on_hand(), 9);
    let view = app
        .user(SHOPPER)
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .body;
    assert_eq!(
        view["data"]["status"], "paid",
        "the rest is still to ship: {view}"
    );
    // Decided once.
    let (status, body) = admin_post(&app, &approve, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_return_after_shipping_puts_its_units_back_on_receipt_then_refunds_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let (order, transaction) = paid_order(&app, &fake, &[(cups, 3)]).await;
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{order}/ship"),
            &json!({"carrier": "SF Express", "express_company": "SF", "tracking_no": "SF1"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(app.stock(cups).await.on_hand(), 7);

    let (status, body) = ask(&app, order, json!({"kind": "return_refund", "lines": [{"sku_id": cups, "quantity": 2}], "reason": "wrong colour"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"].as_str().expect("id").to_owned();
    // No goods, no receipt; the shipment comes after approval.
    let ship_back = format!("/api/v1/after-sales/{id}/return-shipment");
    let (status, body) = app
        .user(SHOPPER)
        .post(
            &ship_back,
            &json!({"express_company": "ZTO", "tracking_no": "ZT1"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    // Approved for less than the two cups (a restocking fee): the goods are awaited.
    let (status, body) = admin_post(
        &app,
        &format!("/api/v1/admin/after-sales/{id}/approve"),
        json!({"refund_cents": 2_000}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "awaiting_return");
    assert!(
        fake.refund_requests().await.is_empty(),
        "no money before the goods"
    );
    // That money is held for the return: a direct refund cannot take it.
    let (status, body) = admin_post(
        &app,
        &format!("/api/v1/admin/orders/{order}/refund"),
        json!({"reason": "goodwill", "refund_cents": 1_700}),
    )
    .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");

    let (status, body) = app
        .user(SHOPPER)
        .post(
            &ship_back,
            &json!({"express_company": "ZTO", "tracking_no": "ZT1"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "return_shipped");
    assert_eq!(body["data"]["return_shipment"]["tracking_no"], "ZT1");
    // Only its shopper enters it.
    let (status, _) = app
        .user("00000000-0000-0000-0000-00000000f00d")
        .post(
            &ship_back,
            &json!({"express_company": "ZTO", "tracking_no": "ZT2"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);

    let receive = format!("/api/v1/admin/after-sales/{id}/receive");
    let (status, body) = admin_post(&app, &receive, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "refunding");
    assert_eq!(
        app.stock(cups).await.on_hand(),
        9,
        "the two cups back on receipt"
    );
    let (status, body) = admin_post(&app, &receive, json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT, "received once: {body}");
    let refund_no = after_sales_of(&app, order).await[0]["refund_no"]
        .as_str()
        .expect("refund")
        .to_owned();
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["amount"]["refund"], 2_000);

    refund_succeeds(&app, &fake, order, &refund_no, &transaction, 2_000).await;
    crate::support::settle(&app.pool).await;
    assert_eq!(after_sales_of(&app, order).await[0]["status"], "refunded");
    assert_eq!(
        app.stock(cups).await.on_hand(),
        9,
        "the refund after shipping adds none"
    );
    assert_eq!(app.count_events("StockReturned").await, 1);
    let history = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{order}/history"))
        .await
        .body;
    let types: Vec<&str> = history["data"]
        .as_array()
        .map(|events| events.iter().filter_map(|e| e["type"].as_str()).collect())
        .unwrap_or_default();
    for step in [
        "AfterSaleRequested",
        "AfterSaleApproved",
        "ReturnShipped",
        "ReturnReceived",
        "RefundRequested",
        "RefundSucceeded",
    ] {
        assert!(types.contains(&step), "{step} in {history}");
    }
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn two_operators_approving_one_request_at_once_on_two_servers_approve_it_once() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), settings(&fake)).await;
    let second = start(pool, settings(&fake)).await;
    let cups = first.admin().create_product("Cup", 1_200, 10).await;
    let (order, _) = paid_order(&first, &fake, &[(cups, 2)]).await;
    let (status, body) = ask(&first, order, json!({"kind": "refund_only", "lines": [{"sku_id": cups, "quantity": 2}], "reason": "never arrived"})).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let approve = format!(
        "/api/v1/admin/after-sales/{}/approve",
        body["data"]["id"].as_str().expect("id")
    );

    let (a, b) = tokio::join!(
        admin_post(&first, &approve, json!({"refund_cents": 2_400})),
        admin_post(&second, &approve, json!({"refund_cents": 1_000}))
    );
    let mut statuses = [a.0, b.0];
    statuses.sort();
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::CONFLICT],
        "{} / {}",
        a.1,
        b.1
    );
    assert_eq!(first.count_events("AfterSaleApproved").await, 1);
    assert_eq!(first.count_events("RefundRequested").await, 1);
    let refunded: Vec<i64> = fake
        .refund_requests()
        .await
        .iter()
        .filter_map(|r| r["amount"]["refund"].as_i64())
        .collect();
    assert_eq!(refunded.len(), 1, "one refund sent: {refunded:?}");
    assert_log_verifies(&first).await;
}

#[tokio::test]
async fn a_rejected_request_says_why_and_its_units_may_be_asked_for_again() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let (order, _) = paid_order(&app, &fake, &[(cups, 1)]).await;
    let body = json!({"kind": "refund_only", "lines": [{"sku_id": cups, "quantity": 1}], "reason": "changed my mind"});
    let (_, asked) = ask(&app, order, body.clone()).await;
    let id = asked["data"]["id"].as_str().expect("id").to_owned();
    let (status, answer) = ask(&app, order, body.clone()).await;
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "the cup is asked for already: {answer}"
    );
    let reject = format!("/api/v1/admin/after-sales/{id}/reject");
    let (status, answer) = admin_post(&app, &reject, json!({"reason": ""})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    let (status, answer) = admin_post(
        &app,
        &reject,
        json!({"reason": "shipped already, ask for a return"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["data"]["status"], "rejected");
    assert_eq!(
        answer["data"]["reject_reason"],
        "shipped already, ask for a return"
    );
    let (status, answer) = ask(&app, order, body).await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    assert_eq!(answer["data"]["id"], format!("{}A2", order.simple()));
    let (_, queue) = app
        .admin()
        .get("/api/v1/admin/after-sales?size=1")
        .await
        .into_parts();
    assert_eq!(
        queue["data"]["list"][0]["id"],
        format!("{}A2", order.simple())
    );
    let next = queue["data"]["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, page) = app
        .admin()
        .get(&format!("/api/v1/admin/after-sales?size=1&cursor={next}"))
        .await
        .into_parts();
    assert_eq!(page["data"]["list"][0]["id"], id.as_str());
    assert_eq!(page["data"]["next_cursor"], Value::Null);
    let (status, _) = app
        .admin()
        .get("/api/v1/admin/after-sales?status=lost")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
