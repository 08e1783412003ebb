//! Refunds settle on WeChat Pay's word only: `ABNORMAL` keeps the order refunding and
//! flagged for an operator until WeChat Pay's final word, an answer without WeChat Pay's
//! signature is no answer (the follow-up asks again), and a notice about another payment
//! settles nothing.

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;
use wiremock::ResponseTemplate;

use sqlx::postgres::PgConnectOptions;

use crate::support::browser::Browser;
use crate::support::{FakeWeChatPay, NoticeOptions, TestApp, fresh_database, start};

const SHOPPER: &str = "00000000-0000-0000-0000-00000000beef";

/// An app paying through the fake, a product of 10, and an order of 2 paid by a notice:
/// the app, the product, the order and the payment's notice options.
async fn paid(fake: &FakeWeChatPay) -> (TestApp, Uuid, Uuid, NoticeOptions) {
    let (app, _, product, id, payment) = paid_on_database(fake).await;
    (app, product, id, payment)
}

/// [`paid`], with the database's options for the CLI.
async fn paid_on_database(
    fake: &FakeWeChatPay,
) -> (TestApp, PgConnectOptions, Uuid, Uuid, NoticeOptions) {
    let (pool, options) = fresh_database().await;
    let app = start(
        pool,
        AppSettings {
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await;
    let product = app.admin().create_product("Tea", 1_250, 10).await;
    let (status, body) = app
        .user(SHOPPER)
        .place_order(&[(product, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id: Uuid = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");
    let payment = NoticeOptions::paying(2_500);
    let (status, answer) = fake.send_notice(&app.address, id, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (app, options, product, id, payment)
}

/// An operator refunds the order: the order as the answer shows it.
async fn refund(app: &TestApp, id: Uuid) -> Value {
    let answer = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/refund"),
            &json!({"reason": "the shopper changed their mind"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    answer.body["data"].clone()
}

async fn order_view(app: &TestApp, id: Uuid) -> Value {
    app.user(SHOPPER)
        .get(&format!("/api/v1/orders/{id}"))
        .await
        .body["data"]
        .clone()
}

/// The ids of the orders the operators' refunds-due list shows.
async fn refunds_due(app: &TestApp) -> Vec<Value> {
    let (status, body) = app
        .admin()
        .get("/api/v1/admin/refunds-due")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    body["data"]["list"].as_array().expect("list").clone()
}

#[tokio::test]
async fn abnormal_keeps_the_order_refunding_and_flagged_then_success_refunds_it_once() {
    let fake = FakeWeChatPay::start().await;
    let (app, product, id, payment) = paid(&fake).await;
    let view = refund(&app, id).await;
    let number = view["refunds"][0]["refund_no"]
        .as_str()
        .expect("number")
        .to_owned();
    let notice = NoticeOptions {
        transaction_id: payment.transaction_id.clone(),
        ..NoticeOptions::paying(2_500)
    };

    for _ in 0..2 {
        let (status, answer) = fake
            .send_refund_notice(&app.address, id, &number, "ABNORMAL", &notice)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "refunding", "{view}");
    assert_eq!(view["refunds"][0]["status"], "requested");
    assert_eq!(
        view["refunds"][0]["abnormal"],
        "WeChat Pay: refund ABNORMAL"
    );
    assert_eq!(app.count_events("RefundAbnormal").await, 1, "flagged once");
    assert_eq!(app.stock(product).await.on_hand(), 8, "nothing back yet");
    let due = refunds_due(&app).await;
    assert_eq!(due.len(), 1, "{due:?}");
    assert_eq!(due[0]["id"], id.to_string());
    assert_eq!(
        due[0]["refunds"][0]["abnormal"],
        "WeChat Pay: refund ABNORMAL"
    );

    // WeChat Pay's final word, by notice and again by the follow-up's query.
    for _ in 0..2 {
        let (status, answer) = fake
            .send_refund_notice(&app.address, id, &number, "SUCCESS", &notice)
            .await;
        assert_eq!(status, StatusCode::OK, "{answer}");
    }
    let view = order_view(&app, id).await;
    assert_eq!(view["status"], "refunded", "{view}");
    assert_eq!(view["refunds"][0]["status"], "succeeded");
    assert!(view["refunds"][0].get("abnormal").is_none(), "{view}");
    assert_eq!(app.count_events("RefundSucceeded").await, 1);
    assert_eq!(app.count_events("StockReturned").await, 1);
    assert_eq!(app.count_events("PurchaseReturned").await, 1);
    assert_eq!(app.stock(product).await.on_hand(), 10);
    assert!(refunds_due(&app).await.is_empty());
    crate::support::audit::assert_log_verifies(&app).await;
}

#[tokio::test]
async fn an_unsigned_refusal_leaves_the_refund_requested_and_the_follow_up_asks_again() {
    let fake = FakeWeChatPay::start().await;
    let (app, product, id, payment) = paid(&fake).await;
    // A proxy's or a firewall's 403, dressed as WeChat Pay's refusal but not signed.
    fake.answer_refunds_with(
        ResponseTemplate::new(403)
            .set_body_json(json!({"code": "NOT_ENOUGH", "message": "基本账户余额不足"})),
        1,
    )
    .await;

    let view = refund(&app, id).await;
    assert_eq!(view["status"], "refunding", "{view}");
    assert_eq!(view["refunds"][0]["status"], "requested", "{view}");
    assert_eq!(app.count_events("RefundFailed").await, 0);

    // WeChat Pay (its signed 404 says it never got it) is asked again: sent again.
    app.refund_follow_up()
        .round()
        .await
        .expect("a follow-up round");
    let requests = fake.refund_requests().await;
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0]["out_refund_no"], requests[1]["out_refund_no"]);
    let notice = NoticeOptions {
        transaction_id: payment.transaction_id,
        ..NoticeOptions::paying(2_500)
    };
    let number = requests[0]["out_refund_no"].as_str().expect("number");
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, number, "SUCCESS", &notice)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(order_view(&app, id).await["status"], "refunded");
    assert_eq!(app.stock(product).await.on_hand(), 10);
}

#[tokio::test]
async fn a_refund_notice_naming_another_transaction_is_refused_and_settles_nothing() {
    let fake = FakeWeChatPay::start().await;
    let (app, product, id, _) = paid(&fake).await;
    let view = refund(&app, id).await;
    let number = view["refunds"][0]["refund_no"].as_str().expect("number");
    let other = NoticeOptions {
        transaction_id: "4200000000000000000000000099".to_owned(),
        ..NoticeOptions::paying(2_500)
    };

    let (status, answer) = fake
        .send_refund_notice(&app.address, id, number, "SUCCESS", &other)
        .await;

    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    assert!(
        answer["message"].as_str().is_some_and(
            |m| m.contains("transaction_id") && m.contains("4200000000000000000000000099")
        ),
        "{answer}"
    );
    assert_eq!(order_view(&app, id).await["status"], "refunding");
    assert_eq!(app.count_events("RefundSucceeded").await, 0);
    assert_eq!(app.count_events("StockReturned").await, 0);
    assert_eq!(app.stock(product).await.on_hand(), 8);
}

#[tokio::test]
async fn the_consoles_payments_page_flags_an_abnormal_refund() {
    let fake = FakeWeChatPay::start().await;
    let (app, options, _, id, payment) = paid_on_database(&fake).await;
    let view = refund(&app, id).await;
    let number = view["refunds"][0]["refund_no"].as_str().expect("number");
    let notice = NoticeOptions {
        transaction_id: payment.transaction_id,
        ..NoticeOptions::paying(2_500)
    };
    let (status, answer) = fake
        .send_refund_notice(&app.address, id, number, "ABNORMAL", &notice)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let listen = app.address.trim_start_matches("http://");
    let output = TestApp::cli(
        &options,
        &["console-url", "--listen", listen, "--sub", "alice"],
    );
    assert!(output.status.success(), "{output:?}");
    let url = String::from_utf8(output.stdout).expect("utf-8");

    let browser = Browser::start(1280, 900).await;
    browser.open(url.trim()).await;
    browser.text_of("[data-testid=projections]").await;
    browser
        .open(&format!("{}/console/#/payments", app.address))
        .await;

    let flagged = browser.text_of("[data-testid=refund-abnormal]").await;
    assert!(flagged.contains(number), "{flagged}");
    assert!(flagged.contains("WeChat Pay: refund ABNORMAL"), "{flagged}");
}
