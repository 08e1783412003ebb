//! WeChat Pay's daily trade bill as ordo's client fetches it: asked for with a signed
//! request, downloaded gzip'd, its SHA-1 checked against the signed answer — from dev
//! mode's simulated WeChat Pay (made from its own payments and refunds) and from a fake
//! WeChat Pay that lies about the digest.

use ordo::wechat_pay::{PayError, parse_bill, write_bill};
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;
use wiremock::matchers::{method, path};
use wiremock::{Mock, ResponseTemplate};

use crate::support::{Client, FakeWeChatPay, dev_mode_settings, fresh_database, start};

use crate::support::beijing_today as today;

/// A paid order of `quantity` × `product` (paid at the simulated WeChat Pay): its id.
async fn paid_order(shopper: &Client, product: Uuid, quantity: i64) -> Uuid {
    let (id, _) = crate::support::paying::place(shopper, product, quantity).await;
    let (status, body) = shopper
        .post(&format!("/api/v1/orders/{id}/pay"), &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = shopper
        .post(
            &format!("/api/v1/dev/orders/{id}/simulate-payment"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["order"]["status"], "paid", "{body}");
    id
}

#[tokio::test]
async fn the_simulated_wechat_pay_serves_todays_bill_of_its_payments_and_refunds() {
    let (pool, _) = fresh_database().await;
    let app = start(pool, dev_mode_settings()).await;
    let mei = app.shopper("mei").await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let first = paid_order(&mei, tea, 1).await;
    let second = paid_order(&mei, tea, 2).await;
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{second}/refund"),
            &json!({"reason": "damaged in transit"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");

    let text = app
        .state
        .wechat_pay
        .trade_bill(today())
        .await
        .expect("the bill")
        .expect("a bill for today");
    let bill = parse_bill(&text).expect("a bill in WeChat Pay's format");

    let lines: Vec<(String, &str, i64, Option<i64>)> = bill
        .lines
        .iter()
        .map(|line| {
            (
                line.out_trade_no.clone(),
                line.trade_state.as_str(),
                line.amount_cents,
                line.refund.as_ref().map(|refund| refund.refund_cents),
            )
        })
        .collect();
    let (first, second) = (first.simple().to_string(), second.simple().to_string());
    assert_eq!(lines.len(), 3, "{lines:?}");
    assert!(
        lines.contains(&(first, "SUCCESS", 4_800, None)),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(second.clone(), "SUCCESS", 9_600, None)),
        "{lines:?}"
    );
    assert!(
        lines.contains(&(second, "REFUND", 9_600, Some(9_600))),
        "{lines:?}"
    );
    assert_eq!(
        (
            bill.summary.lines,
            bill.summary.payments_cents,
            bill.summary.refunds_cents
        ),
        (3, 14_400, 9_600)
    );

    // The log's side of the day, as the payments read model holds it.
    crate::support::settle(&app.pool).await;
    let ledger: Vec<(String, i64, String)> =
        sqlx::query_as("SELECT kind, amount_cents, state FROM payment_ledger ORDER BY at, kind")
            .fetch_all(&app.pool)
            .await
            .expect("the ledger");
    assert_eq!(
        ledger,
        [
            ("payment".to_owned(), 4_800, "taken".to_owned()),
            ("payment".to_owned(), 9_600, "taken".to_owned()),
            ("refund".to_owned(), 9_600, "requested".to_owned()),
        ]
    );

    // A day without a trade has no bill.
    let quiet = today() - chrono::Duration::days(30);
    assert_eq!(
        app.state.wechat_pay.trade_bill(quiet).await.expect("asked"),
        None
    );
}

#[tokio::test]
async fn a_bill_whose_digest_is_not_the_announced_one_is_refused() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let app = start(
        pool,
        ordo::state::AppSettings {
            wechat_pay: Some(fake.config()),
            ..ordo::state::AppSettings::default()
        },
    )
    .await;
    let bill = write_bill(&[], "wx", "1");
    let mut packed = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    std::io::Write::write_all(&mut packed, bill.as_bytes()).expect("pack");
    let packed = packed.finish().expect("packed");
    fake.answer_bill_with(
        "0000000000000000000000000000000000000000",
        &format!("{}/v3/billdownload/file?token=abc", fake.server.uri()),
    )
    .await;
    Mock::given(method("GET"))
        .and(path("/v3/billdownload/file"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(packed))
        .mount(&fake.server)
        .await;

    let refused = app.state.wechat_pay.trade_bill(today()).await;

    assert!(
        matches!(&refused, Err(PayError::BillDigest { expected, .. }) if expected.starts_with("0000")),
        "{refused:?}"
    );
}
