//! A refund gives back to a shopper's purchase limits only what they counted: refunding an
//! order placed before limits existed (an `OrderPlaced` of version 1, which no
//! `PurchaseOpened` counted) leaves the units other orders hold where they were.

use ordo::event_store::{EventData, EventMetadata, StreamAppend, StreamId};
use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use crate::support::{FakeWeChatPay, NoticeOptions, address, fresh_database, start};

const SHOPPER: &str = "00000000-0000-0000-0000-0000000c0de5";

#[tokio::test]
async fn refunding_an_order_the_limits_never_counted_does_not_free_units_held_by_others() {
    let fake = FakeWeChatPay::start().await;
    let (pool, _) = fresh_database().await;
    let app = start(
        pool,
        AppSettings {
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await;
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Flash tea", "price_cents": 100, "initial_stock": 100,
                    "limit_per_user": 2}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let product: Uuid = body["data"]["id"]
        .as_str()
        .expect("id")
        .parse()
        .expect("uuid");

    // An order of 2 as ordo wrote it before purchase limits existed: version 1, its
    // stock reserved, no PurchaseOpened.
    let old = Uuid::now_v7();
    let now = chrono::Utc::now();
    let event = |event_type: &str, version: &str, payload| EventData {
        event_type: event_type.into(),
        event_version: version.into(),
        payload,
        metadata: None,
    };
    app.events
        .append(
            &[
                StreamAppend {
                    stream: StreamId::new("Order", old.to_string()),
                    expected_sequence: 0,
                    events: vec![event(
                        "OrderPlaced",
                        "1",
                        json!({"OrderPlaced": {
                            "user_id": SHOPPER,
                            "lines": [{"product_id": product, "name": "Flash tea",
                                       "unit_price_cents": 100, "quantity": 2}],
                            "total_cents": 200, "address": address(), "remark": "",
                            "placed_at": now, "expires_at": now + chrono::Duration::hours(1)}}),
                    )],
                },
                StreamAppend {
                    stream: StreamId::new("Stock", product.to_string()),
                    expected_sequence: 1,
                    events: vec![event(
                        "StockReserved",
                        "1",
                        json!({"StockReserved": {"order_id": old, "quantity": 2}}),
                    )],
                },
            ],
            &EventMetadata::default(),
        )
        .await
        .expect("append the old order");
    let payment = NoticeOptions::paying(200);
    let (status, answer) = fake.send_notice(&app.address, old, &payment).await;
    assert_eq!(status, StatusCode::OK, "{answer}");

    // Today's order takes the shopper to the limit.
    let (status, body) = app
        .user(SHOPPER)
        .place_order(&[(product, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    // The old order refunded: its units back to stock, none to the limits.
    let answer = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{old}/refund"),
            &json!({"reason": "sold out after all"}),
        )
        .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    let number = answer.body["data"]["refunds"][0]["refund_no"]
        .as_str()
        .expect("number")
        .to_owned();
    let refunded = NoticeOptions {
        transaction_id: payment.transaction_id.clone(),
        ..NoticeOptions::paying(200)
    };
    let (status, answer) = fake
        .send_refund_notice(&app.address, old, &number, "SUCCESS", &refunded)
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(app.count_events("StockReturned").await, 1);
    assert_eq!(app.count_events("PurchaseReturned").await, 0);

    let (status, body) = app
        .user(SHOPPER)
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], 40904, "{body}");
    assert_eq!(body["data"]["limits"][0]["already"], 2, "{body}");
}
