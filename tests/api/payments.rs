//! WeChat Pay: prepay with signed requests, notices verified and decrypted, idempotent,
//! refunds required for payments an order cannot take, dev mode's simulator.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use crate::support::wechat_pay::refusal;
use crate::support::{
    Client, FakeWeChatPay, NoticeOptions, TestApp, dev_mode_settings, fresh_database, start,
};

/// An app paying through the fake WeChat Pay.
async fn app_with(fake: &FakeWeChatPay) -> TestApp {
    crate::support::paying::app_paying_through(fake).await
}

/// Places an order of 2 × the product for the shopper: its id and total.
async fn order(shopper: &Client, product: Uuid) -> (Uuid, i64) {
    crate::support::paying::place(shopper, product, 2).await
}

async fn order_view(shopper: &Client, id: Uuid) -> Value {
    shopper.get(&format!("/api/v1/orders/{id}")).await.body["data"].clone()
}

async fn pay(shopper: &Client, id: Uuid) -> (StatusCode, Value) {
    shopper
        .post(&format!("/api/v1/orders/{id}/pay"), &json!({}))
        .await
        .into_parts()
}

async fn notices(app: &TestApp) -> Vec<(String, Option<String>)> {
    sqlx::query_as("SELECT outcome, reason FROM payment_notices ORDER BY id")
        .fetch_all(&app.pool)
        .await
        .expect("notices")
}

#[tokio::test]
async fn paying_signs_a_prepay_and_answers_the_request_payment_parameters() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = order(&mei, tea).await;

    let (status, answer) = pay(&mei, id).await;

    assert_eq!(status, StatusCode::OK, "{answer}");
    let params = &answer["data"];
    assert_eq!(
        params["package"],
        "prepay_id=wx201410272009395522657a690389285100"
    );
    assert_eq!(params["signType"], "RSA");
    let merchant = FakeWeChatPay::merchant_public_key();
    let signed = format!(
        "{}\n{}\n{}\n{}\n",
        crate::support::wechat_pay::APP_ID,
        params["timeStamp"].as_str().expect("timeStamp"),
        params["nonceStr"].as_str().expect("nonceStr"),
        params["package"].as_str().expect("package"),
    );
    assert!(
        merchant.verifies(
            signed.as_bytes(),
            params["paySign"].as_str().expect("paySign")
        ),
        "paySign is the merchant's signature"
    );

    // What WeChat Pay received: the order, signed by the merchant.
    let requests = fake.server.received_requests().await.expect("recorded");
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    let body: Value = serde_json::from_slice(&request.body).expect("json body");
    assert_eq!(body["out_trade_no"], id.simple().to_string());
    assert_eq!(body["amount"]["total"], total);
    assert_eq!(body["payer"]["openid"], "dev:mei");
    assert_eq!(body["mchid"], crate::support::wechat_pay::MCH_ID);
    let authorization = request.headers["authorization"].to_str().expect("header");
    let field = |name: &str| {
        authorization
            .split(&format!("{name}=\""))
            .nth(1)
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_owned()
    };
    assert!(authorization.starts_with("WECHATPAY2-SHA256-RSA2048 "));
    let message = format!(
        "POST\n/v3/pay/transactions/jsapi\n{}\n{}\n{}\n",
        field("timestamp"),
        field("nonce_str"),
        String::from_utf8_lossy(&request.body)
    );
    assert!(merchant.verifies(message.as_bytes(), &field("signature")));
    assert_eq!(field("serial_no"), "MERCHANT_SERIAL_1");
}

#[tokio::test]
async fn only_the_owner_pays_and_only_while_awaiting_payment() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = order(&mei, tea).await;

    let (status, _) = pay(&app.shopper("lei").await, id).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    mei.cancel_order(id).await;
    let (status, answer) = pay(&mei, id).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
    assert_eq!(answer["code"], 40902);
    assert!(
        fake.server
            .received_requests()
            .await
            .expect("recorded")
            .is_empty()
    );
}

#[tokio::test]
async fn wechat_pay_failures_are_a_502_naming_them() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = order(&mei, tea).await;

    fake.answer_prepay_with(refusal(400, "PARAM_ERROR", "openid mismatch"))
        .await;
    let (status, answer) = pay(&mei, id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert_eq!(answer["code"], 50200);
    assert!(
        answer["message"]
            .as_str()
            .unwrap_or("")
            .contains("PARAM_ERROR")
    );

    // An answer not signed by WeChat Pay is not trusted.
    fake.answer_prepay_with(
        ResponseTemplate::new(200).set_body_json(json!({"prepay_id": "forged"})),
    )
    .await;
    let (status, answer) = pay(&mei, id).await;
    assert_eq!(status, StatusCode::BAD_GATEWAY, "{answer}");
    assert!(answer["message"].as_str().unwrap_or("").contains("signed"));
}

#[tokio::test]
async fn a_notice_pays_the_order_once_and_sells_its_stock() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = order(&mei, tea).await;
    let notice = NoticeOptions::paying(total);

    let (status, answer) = fake.send_notice(&app.address, id, &notice).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["code"], "SUCCESS");
    let paid = order_view(&mei, id).await;
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["payment_id"], notice.transaction_id.as_str());
    let stock = app.stock(tea).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (3, 0, 3)
    );
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");

    // WeChat Pay sends it again (it does, until it hears success): nothing changes.
    let (status, answer) = fake.send_notice(&app.address, id, &notice).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["code"], "SUCCESS");
    let after: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(after, events, "no new event");
    assert_eq!(app.count_events("OrderPaid").await, 1);
    assert_eq!(app.count_events("StockSold").await, 1);
    let outcomes: Vec<String> = notices(&app).await.into_iter().map(|n| n.0).collect();
    assert_eq!(outcomes, ["accepted", "duplicate"]);
}

#[tokio::test]
async fn forged_tampered_stale_and_mismatched_notices_are_refused_and_the_vouched_for_recorded() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (id, total) = order(&mei, tea).await;
    let right = NoticeOptions::paying(total);
    let cases = [
        (
            "wrong signature",
            id,
            NoticeOptions {
                wrong_signer: true,
                ..right.clone()
            },
            401,
        ),
        (
            "wrong APIv3 key",
            id,
            NoticeOptions {
                wrong_api_key: true,
                ..right.clone()
            },
            400,
        ),
        (
            "tampered",
            id,
            NoticeOptions {
                tampered: true,
                ..right.clone()
            },
            400,
        ),
        (
            "stale",
            id,
            NoticeOptions {
                sent_at: chrono::Utc::now() - chrono::Duration::minutes(10),
                ..right.clone()
            },
            401,
        ),
        ("wrong amount", id, NoticeOptions::paying(total - 1), 400),
        ("unknown order", Uuid::now_v7(), right.clone(), 404),
    ];

    for (case, order_id, options, expected) in &cases {
        let (status, answer) = fake.send_notice(&app.address, *order_id, options).await;
        assert_eq!(status.as_u16(), *expected, "{case}: {answer}");
        assert_eq!(answer["code"], "FAIL", "{case}");
    }

    assert_eq!(order_view(&mei, id).await["status"], "awaiting_payment");
    assert_eq!(app.count_events("OrderPaid").await, 0);
    assert_eq!(
        app.stock(tea).await.reserved(),
        2,
        "still reserved, not sold"
    );
    // Those WeChat Pay's key vouches for are recorded; the forged and the stale are
    // only counted.
    let recorded = notices(&app).await;
    assert_eq!(recorded.len(), cases.len() - 2);
    assert!(recorded.iter().all(|(outcome, _)| outcome == "refused"));
    let metrics = app.metrics().await;
    for reason in ["bad_signature", "stale"] {
        // The recorder is the process's, shared with the other tests: at least ours.
        assert!(unverified(&metrics, reason) >= 1, "{reason} counted");
    }
    let reasons: Vec<String> = recorded.into_iter().filter_map(|n| n.1).collect();
    for expected in ["undecryptable", "mismatch", "unknown order"] {
        assert!(
            reasons.iter().any(|reason| reason.contains(expected)),
            "{expected} in {reasons:?}"
        );
    }
    // The right notice still works afterwards.
    let (status, _) = fake.send_notice(&app.address, id, &right).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(order_view(&mei, id).await["status"], "paid");
}

/// `payment_notices_unverified_total{reason}` in a /metrics text.
fn unverified(metrics: &str, reason: &str) -> u64 {
    let series = format!("payment_notices_unverified_total{{reason=\"{reason}\"}} ");
    metrics
        .lines()
        .find_map(|line| line.strip_prefix(&series))
        .map_or(0, |value| value.trim().parse().expect("a count"))
}

#[tokio::test]
async fn a_thousand_forged_notices_add_no_rows_and_quote_no_more_than_a_few_characters() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (id, total) = order(&mei, tea).await;
    let forged = NoticeOptions {
        wrong_signer: true,
        ..NoticeOptions::paying(total)
    };

    let counted_before = unverified(&app.metrics().await, "bad_signature");
    for _ in 0..1_000 {
        let (status, answer) = fake.send_notice(&app.address, id, &forged).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    }
    // An attacker-sized serial is quoted, not copied.
    let huge_serial = "S".repeat(10_000);
    let response = app
        .anon()
        .request(Method::POST, "/api/v1/payments/wechat/notify")
        .header(
            "wechatpay-timestamp",
            chrono::Utc::now().timestamp().to_string(),
        )
        .header("wechatpay-nonce", "n")
        .header("wechatpay-signature", "c2ln")
        .header("wechatpay-serial", &huge_serial)
        .body("{}")
        .send()
        .await
        .expect("notice");
    let status = response.status();
    let answer: Value = response.json().await.expect("json");

    assert_eq!(notices(&app).await.len(), 0, "no rows for forged notices");
    assert!(unverified(&app.metrics().await, "bad_signature") >= counted_before + 1_000);
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{answer}");
    assert!(
        answer["message"].as_str().expect("message").len() < 200,
        "{answer}"
    );
    assert_eq!(order_view(&mei, id).await["status"], "awaiting_payment");
}

#[tokio::test]
async fn a_payment_after_cancel_is_recorded_as_refund_required_and_sells_nothing() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, total) = order(&mei, tea).await;
    mei.cancel_order(id).await;

    let notice = NoticeOptions::paying(total);
    let (status, answer) = fake.send_notice(&app.address, id, &notice).await;
    assert_eq!(
        status,
        StatusCode::OK,
        "WeChat Pay must not resend: {answer}"
    );

    let view = order_view(&mei, id).await;
    assert_eq!(view["status"], "cancelled");
    assert_eq!(
        view["refunds_due"][0]["payment_id"],
        notice.transaction_id.as_str()
    );
    assert_eq!(view["refunds_due"][0]["amount_cents"], total);
    assert_eq!(view["refunds_due"][0]["reason"], "paid_after_cancel");
    assert_eq!(app.count_events("RefundRequired").await, 1);
    assert_eq!(app.count_events("StockSold").await, 0);
    let stock = app.stock(tea).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (5, 0, 5)
    );
    assert_eq!(notices(&app).await[0].0, "refund_required");

    // Operators find it.
    let (status, list) = app
        .admin()
        .get("/api/v1/admin/payments/notices?outcome=refund_required")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{list}");
    assert_eq!(list["data"]["list"][0]["order_id"], id.to_string());
    assert_eq!(
        list["data"]["list"][0]["transaction_id"],
        notice.transaction_id.as_str()
    );
}

#[tokio::test]
async fn dev_mode_pays_with_its_own_keys_and_a_signed_simulated_notice() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = order(&mei, tea).await;

    let (status, params) = pay(&mei, id).await;
    assert_eq!(status, StatusCode::OK, "{params}");
    let (status, simulated) = mei
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment"),
            &json!({}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::OK, "{simulated}");
    assert_eq!(simulated["data"]["notify_status"], 200);
    assert_eq!(simulated["data"]["order"]["status"], "paid");
    assert_eq!(order_view(&mei, id).await["status"], "paid");
    assert_eq!(app.stock(tea).await.on_hand(), 3);
    assert_eq!(notices(&app).await[0].0, "accepted");
}

#[tokio::test]
async fn simulated_payments_are_refused_outside_dev_mode() {
    let fake = FakeWeChatPay::start().await;
    let app = app_with(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (id, _) = order(&mei, tea).await;

    let (status, answer) = mei
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment"),
            &json!({}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::FORBIDDEN, "{answer}");
    assert_eq!(app.count_events("OrderPaid").await, 0);
}
