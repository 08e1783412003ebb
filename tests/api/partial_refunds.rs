//! Partial refunds by an operator: some units or some money of an order's payment, each
//! its own WeChat Pay refund (`out_refund_no`), the order's status unchanged, the units
//! of a refund before shipping back to stock once, and never more refunded than was paid
//! — however many operators ask at once, on however many servers.

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::audit::assert_log_verifies;
use crate::support::{FakeWeChatPay, NoticeOptions, TestApp, fresh_database, start};

const SHOPPER: &str = "00000000-0000-0000-0000-00000000beef";
const REASON: &str = "one cup arrived broken";

async fn app_with(fake: &FakeWeChatPay) -> TestApp {
    let (pool, _) = fresh_database().await;
    start(pool, settings(fake)).await
}

fn settings(fake: &FakeWeChatPay) -> AppSettings {
    AppSettings {
        wechat_pay: Some(fake.config()),
        ..AppSettings::default()
    }
}

/// An order of `lines`, paid by a WeChat Pay notice: its id and the payment's
/// transaction id.
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

async fn refund(app: &TestApp, id: Uuid, body: Value) -> (StatusCode, Value) {
    let mut body = body;
    body["reason"] = json!(REASON);
    app.admin()
        .post(&format!("/api/v1/admin/orders/{id}/refund"), &body)
        .await
        .into_parts()
}

/// WeChat Pay's notice that refund `refund_no` of `cents` succeeded (sent twice: the
/// second changes nothing).
async fn refund_succeeds(
    app: &TestApp,
    fake: &FakeWeChatPay,
    id: Uuid,
    refund_no: &str,
    transaction_id: &str,
    cents: i64,
) {
    let notice = NoticeOptions {
        transaction_id: transaction_id.to_owned(),
        ..NoticeOptions::paying(cents)
    };
    for _ in 0..2 {
        let (status, answer) = fake
            .send_refund_notice(&app.address, id, refund_no, "SUCCESS", &notice)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
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

#[tokio::test]
async fn a_line_refunded_before_shipping_comes_back_once_and_the_whole_refund_takes_the_rest() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let tea = app.admin().create_product("Tea", 3_000, 10).await;
    let (id, transaction) = paid_order(&app, &fake, &[(cups, 3), (tea, 1)]).await;

    // One cup of three, for what it was paid.
    let (status, body) = refund(
        &app,
        id,
        json!({"lines": [{"sku_id": cups, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let view = &body["data"];
    assert_eq!(
        view["status"], "paid",
        "a partial refund leaves the order: {view}"
    );
    assert_eq!(view["refunds"][0]["kind"], "partial");
    assert_eq!(view["refunds"][0]["amount_cents"], 1_200);
    assert_eq!(view["refunds"][0]["payment_cents"], 6_600);
    assert_eq!(
        view["refunds"][0]["lines"],
        json!([{"sku_id": cups, "quantity": 1}])
    );
    let first = refund_no(view, 0);
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0]["out_refund_no"], first.as_str());
    assert_eq!(requests[0]["amount"]["refund"], 1_200);
    assert_eq!(
        requests[0]["amount"]["total"], 6_600,
        "WeChat Pay checks the total against the payment"
    );

    refund_succeeds(&app, &fake, id, &first, &transaction, 1_200).await;
    assert_eq!(
        app.stock(cups).await.on_hand(),
        8,
        "one cup of the three sold comes back"
    );
    assert_eq!(app.stock(tea).await.on_hand(), 9);
    assert_eq!(app.count_events("StockReturned").await, 1);
    assert_eq!(order_view(&app, id).await["status"], "paid");

    // More than is left of the payment, more cups than are left, or a refund of more
    // than those cups were paid: refused, naming why.
    let (status, body) = refund(&app, id, json!({"refund_cents": 5_401})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert!(
        body["message"]
            .as_str()
            .unwrap_or_default()
            .contains("5400 left"),
        "{body}"
    );
    let (status, body) = refund(
        &app,
        id,
        json!({"lines": [{"sku_id": cups, "quantity": 3}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[0].quantity",
        "{body}"
    );
    let (status, body) = refund(
        &app,
        id,
        json!({"lines": [{"sku_id": cups, "quantity": 1}], "refund_cents": 1_201}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "refund_cents", "{body}");
    let (status, body) = refund(
        &app,
        id,
        json!({"lines": [{"sku_id": Uuid::now_v7(), "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(
        body["data"]["errors"][0]["field"], "lines[0].sku_id",
        "{body}"
    );
    assert_eq!(
        app.count_events("RefundRequested").await,
        1,
        "nothing written"
    );

    // The whole refund gives back the rest: 5,400, and the units not refunded yet.
    let (status, body) = refund(&app, id, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "refunding");
    assert_eq!(body["data"]["refunds"][1]["kind"], "order");
    assert_eq!(body["data"]["refunds"][1]["amount_cents"], 5_400);
    let second = refund_no(&body["data"], 1);
    assert_ne!(second, first, "each refund its own number");
    refund_succeeds(&app, &fake, id, &second, &transaction, 5_400).await;
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "refunded", "{view}");
    assert_eq!(app.stock(cups).await.on_hand(), 10, "each cup back once");
    assert_eq!(app.stock(tea).await.on_hand(), 10);
    assert_eq!(app.count_events("StockReturned").await, 3);
    crate::support::settle(&app.pool).await;
    let sales: (i64, i64) = sqlx::query_as("SELECT revenue_cents, refunded_cents FROM daily_sales")
        .fetch_one(&app.pool)
        .await
        .expect("today's sales");
    assert_eq!(sales, (6_600, 6_600), "daily sales net both refunds");
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_shipped_orders_partial_refund_gives_money_back_and_no_units() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let cups = app.admin().create_product("Cup", 1_200, 10).await;
    let (id, transaction) = paid_order(&app, &fake, &[(cups, 2)]).await;
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/ship"),
            &json!({"carrier": "SF Express", "express_company": "SF", "tracking_no": "SF1"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");

    // A price adjustment: money only.
    let (status, body) = refund(&app, id, json!({"refund_cents": 300})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["status"], "shipped");
    assert_eq!(body["data"]["refunds"][0]["lines"], json!([]));
    refund_succeeds(
        &app,
        &fake,
        id,
        &refund_no(&body["data"], 0),
        &transaction,
        300,
    )
    .await;
    // A cup, after shipping: its money, and it stays out of stock until it is returned.
    let (status, body) = refund(
        &app,
        id,
        json!({"lines": [{"sku_id": cups, "quantity": 1}]}),
    )
    .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    refund_succeeds(
        &app,
        &fake,
        id,
        &refund_no(&body["data"], 1),
        &transaction,
        1_200,
    )
    .await;

    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "shipped", "{view}");
    assert_eq!(view["refunds"][1]["status"], "succeeded", "{view}");
    assert_eq!(app.stock(cups).await.on_hand(), 8);
    assert_eq!(app.count_events("StockReturned").await, 0);
    assert_log_verifies(&app).await;
}

#[tokio::test]
async fn partial_refunds_racing_on_two_servers_never_add_up_to_more_than_was_paid() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let first = start(pool.clone(), settings(&fake)).await;
    let second = start(pool, settings(&fake)).await;
    let tea = first.admin().create_product("Tea", 1_000, 10).await;
    let (id, _) = paid_order(&first, &fake, &[(tea, 1)]).await;
    // Both servers' caches hold the order as paid.
    assert_eq!(order_view(&second, id).await["status"], "paid");

    // Eight operators ask for 300 at once, four on each server: 1,000 takes three.
    let asks = (0..8).map(|n| {
        let app = if n % 2 == 0 { &first } else { &second };
        refund(app, id, json!({"refund_cents": 300}))
    });
    let answers = futures::future::join_all(asks).await;
    let accepted = answers
        .iter()
        .filter(|(status, _)| *status == StatusCode::ACCEPTED)
        .count();
    for (status, body) in &answers {
        assert!(
            *status == StatusCode::ACCEPTED || *status == StatusCode::CONFLICT,
            "{status}: {body}"
        );
    }
    assert_eq!(accepted, 3, "{answers:?}");

    let requested: Vec<(String, i64)> = sqlx::query_as(
        "SELECT payload -> 'RefundRequested' ->> 'refund_no',
                (payload -> 'RefundRequested' ->> 'amount_cents')::bigint
           FROM events WHERE event_type = 'RefundRequested' ORDER BY sequence",
    )
    .fetch_all(&first.pool)
    .await
    .expect("the refunds");
    assert_eq!(requested.len(), 3);
    assert_eq!(requested.iter().map(|r| r.1).sum::<i64>(), 900);
    let mut numbers: Vec<&str> = requested.iter().map(|r| r.0.as_str()).collect();
    numbers.dedup();
    assert_eq!(numbers.len(), 3, "three refund numbers");
    // What WeChat Pay was asked: the same three (a refund resent keeps its number).
    let mut sent: Vec<String> = fake
        .refund_requests()
        .await
        .iter()
        .filter_map(|r| r["out_refund_no"].as_str().map(str::to_owned))
        .collect();
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 3);
    // The last 100 is still there to refund, and no more.
    let (status, body) = refund(&first, id, json!({"refund_cents": 101})).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, body) = refund(&second, id, json!({"refund_cents": 100})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(
        body["data"]["status"], "refunding",
        "the last of the money: {body}"
    );
    assert_log_verifies(&first).await;
}
