//! The daily reconciliation with WeChat Pay's bill: a day with a matched payment, a lost
//! notice, a refund, an amount that differs and a payment the bill lacks is reported with
//! exactly those differences; the lost payment is recorded through the payment path, once,
//! however often the day is run; a bill that does not check out records nothing.

use chrono::Utc;
use ordo::state::AppSettings;
use ordo::wechat_pay::{BillLine, BillRefund, write_bill};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::paying::{app_paying_through, place};
use crate::support::wechat_pay::{APP_ID, MCH_ID};
use crate::support::{
    Client, FakeWeChatPay, NoticeOptions, TestApp, eventually, fresh_database, start,
};

use crate::support::beijing_today as today;

/// An order paid through WeChat Pay's notice: its id and the payment's transaction id.
async fn paid(
    app: &TestApp,
    fake: &FakeWeChatPay,
    shopper: &Client,
    product: Uuid,
) -> (Uuid, String) {
    let (id, total) = place(shopper, product, 1).await;
    let payment = NoticeOptions::paying(total);
    let (status, answer) = fake.send_notice(&app.address, id, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    (id, payment.transaction_id)
}

fn bill_line(order: Uuid, transaction: &str, cents: i64) -> BillLine {
    BillLine {
        line: 0,
        traded_at: Utc::now()
            .with_timezone(&ordo::beijing::BEIJING)
            .format("%Y-%m-%d %H:%M:%S")
            .to_string(),
        transaction_id: transaction.to_owned(),
        out_trade_no: order.simple().to_string(),
        trade_state: "SUCCESS".to_owned(),
        amount_cents: cents,
        refund: None,
    }
}

/// Asks for today to be reconciled and waits for its report.
async fn reconcile(app: &TestApp) -> Value {
    let admin = app.admin();
    let (status, body) = admin
        .post("/api/v1/admin/reconciliations", &json!({"date": today()}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    assert_eq!(body["data"]["state"], "queued");
    eventually("the reconciliation runs", || async {
        let (status, body) = admin
            .get(&format!("/api/v1/admin/reconciliations?date={}", today()))
            .await
            .into_parts();
        (status == StatusCode::OK && body["data"]["state"] != "queued")
            .then_some(body["data"].clone())
    })
    .await
}

async fn order_status(shopper: &Client, id: Uuid) -> Value {
    shopper.get(&format!("/api/v1/orders/{id}")).await.body["data"]["status"].clone()
}

#[tokio::test]
async fn a_day_is_reported_with_exactly_its_differences_and_a_rerun_changes_nothing() {
    let fake = FakeWeChatPay::start().await;
    let app = app_paying_through(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 50).await;
    let (matched, matched_tx) = paid(&app, &fake, &mei, tea).await;
    let (lost, lost_total) = place(&mei, tea, 1).await;
    let (mismatched, mismatched_tx) = paid(&app, &fake, &mei, tea).await;
    let (unbilled, _) = paid(&app, &fake, &mei, tea).await;
    let (refunded, refunded_tx) = paid(&app, &fake, &mei, tea).await;
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{refunded}/refund"),
            &json!({"reason": "damaged"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let refund_no = body["data"]["refunds"][0]["refund_no"]
        .as_str()
        .expect("a refund number")
        .to_owned();
    let mut refund_line = bill_line(refunded, &refunded_tx, 4_800);
    refund_line.trade_state = "REFUND".to_owned();
    refund_line.refund = Some(BillRefund {
        refund_id: "503000000000000001".to_owned(),
        out_refund_no: refund_no,
        refund_cents: 4_800,
        status: "SUCCESS".to_owned(),
    });
    let lost_tx = format!("4200{:024}", 7);
    let bill = write_bill(
        &[
            bill_line(matched, &matched_tx, 4_800),
            bill_line(lost, &lost_tx, lost_total),
            bill_line(mismatched, &mismatched_tx, 4_700),
            bill_line(refunded, &refunded_tx, 4_800),
            refund_line,
        ],
        APP_ID,
        MCH_ID,
    );
    fake.serve_bill(&bill, None).await;
    crate::support::settle(&app.pool).await;

    let report = reconcile(&app).await;

    assert_eq!(report["state"], "differences", "{report}");
    let differences: Vec<(String, String)> = report["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .map(|d| {
            (
                d["kind"].as_str().unwrap_or_default().to_owned(),
                d["order_id"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        differences,
        [
            ("missing_in_ordo".to_owned(), lost.to_string()),
            ("amount_mismatch".to_owned(), mismatched.to_string()),
            ("missing_at_wechat".to_owned(), unbilled.to_string()),
        ],
        "{report}"
    );
    assert_eq!(
        report["matched"], 3,
        "the payment, the refunded payment, the refund"
    );
    assert_eq!(report["wechat"]["payments"], 4);
    assert_eq!(report["wechat"]["refunds"], 1);
    assert_eq!(
        report["ordo"]["payments"], 4,
        "before the lost one was recorded"
    );
    // The lost payment is recorded through the payment path, and flagged (the order's
    // view follows the log a moment later).
    let status = eventually("the order view shows the payment", || async {
        let status = order_status(&mei, lost).await;
        (status == "paid").then_some(status)
    })
    .await;
    assert_eq!(status, "paid");
    assert!(
        report["differences"][0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("recorded now")),
        "{report}"
    );

    // Again: the same differences, nothing written.
    crate::support::settle(&app.pool).await;
    let events = app.count_events("OrderPaid").await;
    let again = reconcile(&app).await;
    assert_eq!(app.count_events("OrderPaid").await, events);
    let kinds: Vec<&str> = again["differences"]
        .as_array()
        .expect("differences")
        .iter()
        .filter_map(|d| d["kind"].as_str())
        .collect();
    assert_eq!(kinds.len(), 3, "{again}");
    assert!(kinds.contains(&"missing_in_ordo"), "{again}");
    assert_eq!(again["runs"], 2);
    crate::support::audit::assert_log_verifies(&app).await;
}

#[tokio::test]
async fn a_bill_that_does_not_check_out_records_nothing() {
    let fake = FakeWeChatPay::start().await;
    let app = app_paying_through(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (lost, total) = place(&mei, tea, 1).await;
    let bill = write_bill(
        &[bill_line(lost, "4200000000000000000000000009", total)],
        APP_ID,
        MCH_ID,
    );

    fake.serve_bill(&bill, Some("da39a3ee5e6b4b0d3255bfef95601890afd80709"))
        .await;
    let report = reconcile(&app).await;
    assert_eq!(report["state"], "failed", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("SHA-1")),
        "{report}"
    );
    assert_eq!(order_status(&mei, lost).await, "awaiting_payment");

    let malformed = bill.replace("`JSAPI,", "`JSAPI,`extra,");
    fake.serve_bill(&malformed, None).await;
    let report = reconcile(&app).await;
    assert_eq!(report["state"], "failed", "{report}");
    assert!(
        report["error"]
            .as_str()
            .is_some_and(|e| e.contains("line 2")),
        "{report}"
    );
    assert_eq!(order_status(&mei, lost).await, "awaiting_payment");
}

#[tokio::test]
async fn only_days_within_wechat_pays_three_months_are_reconciled() {
    let fake = FakeWeChatPay::start().await;
    let app = app_paying_through(&fake).await;
    let admin = app.admin();
    for date in [
        today() + chrono::Duration::days(1),
        today() - chrono::Duration::days(120),
    ] {
        let (status, body) = admin
            .post("/api/v1/admin/reconciliations", &json!({"date": date}))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CONFLICT, "{body}");
    }
    let (status, body) = admin
        .get("/api/v1/admin/reconciliations?date=2026-01-01")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    let (status, body) = admin
        .get("/api/v1/admin/reconciliations?date=yesterday")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[tokio::test]
async fn ordo_reconcile_asks_the_running_server_and_prints_the_report() {
    let fake = FakeWeChatPay::start().await;
    let (pool, options) = fresh_database().await;
    let app = start(
        pool,
        AppSettings {
            dev_login: true,
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let (order, transaction) = paid(&app, &fake, &mei, tea).await;
    fake.serve_bill(
        &write_bill(&[bill_line(order, &transaction, 4_800)], APP_ID, MCH_ID),
        None,
    )
    .await;
    crate::support::settle(&app.pool).await;

    let date = today().to_string();
    let output = tokio::task::spawn_blocking(move || {
        TestApp::cli(&options, &["reconcile", "--date", &date])
    })
    .await
    .expect("the command ran");

    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{printed}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(printed.contains(": matched"), "{printed}");
    assert!(
        printed.contains("WeChat Pay 1 payments 4800 fen"),
        "{printed}"
    );
    assert!(printed.contains("1 matched"), "{printed}");
}

#[tokio::test]
async fn a_notice_a_confirmation_and_the_reconciliation_racing_for_one_payment_record_it_once() {
    let fake = FakeWeChatPay::start().await;
    let app = app_paying_through(&fake).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    for _ in 0..3 {
        let (id, total) = place(&mei, tea, 1).await;
        let (status, body) = mei
            .post(&format!("/api/v1/orders/{id}/pay"), &json!({}))
            .await
            .into_parts();
        assert_eq!(status, StatusCode::OK, "{body}");
        let payment = NoticeOptions::paying(total);
        fake.answer_payment_query(id, "SUCCESS", &payment).await;
        fake.serve_bill(
            &write_bill(
                &[bill_line(id, &payment.transaction_id, total)],
                APP_ID,
                MCH_ID,
            ),
            None,
        )
        .await;

        let admin = app.admin();
        let ((notified, _), (confirmed, _), (queued, _)) = tokio::join!(
            fake.send_notice(&app.address, id, &payment),
            async {
                mei.post(&format!("/api/v1/orders/{id}/payment-status"), &json!({}))
                    .await
                    .into_parts()
            },
            async {
                admin
                    .post("/api/v1/admin/reconciliations", &json!({"date": today()}))
                    .await
                    .into_parts()
            },
        );
        assert_eq!(
            (notified, confirmed, queued),
            (StatusCode::OK, StatusCode::OK, StatusCode::ACCEPTED)
        );
        eventually("the reconciliation runs", || async {
            let (_, body) = admin
                .get(&format!("/api/v1/admin/reconciliations?date={}", today()))
                .await
                .into_parts();
            (body["data"]["state"] != "queued").then_some(())
        })
        .await;

        let paid: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'OrderPaid'",
        )
        .bind(id.to_string())
        .fetch_one(&app.pool)
        .await
        .expect("count");
        let owed: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM events WHERE aggregate_id = $1 AND event_type = 'PaymentReceived'",
        )
        .bind(id.to_string())
        .fetch_one(&app.pool)
        .await
        .expect("count");
        assert_eq!((paid, owed), (1, 0), "one payment, recorded once");
        assert_eq!(order_status(&mei, id).await, "paid");
    }
    crate::support::audit::assert_log_verifies(&app).await;
}
