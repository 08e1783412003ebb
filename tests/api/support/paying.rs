//! Shoppers paying through a fake WeChat Pay: an app set up for it, and orders placed.

use ordo::state::AppSettings;
use reqwest::StatusCode;
use serde_json::json;
use uuid::Uuid;

use super::{Client, FakeWeChatPay, TestApp, address, fresh_database, start};

/// An app paying through the fake WeChat Pay (not dev mode; dev logins allowed).
pub async fn app_paying_through(fake: &FakeWeChatPay) -> TestApp {
    let (pool, _) = fresh_database().await;
    start(
        pool,
        AppSettings {
            dev_login: true,
            wechat_pay: Some(fake.config()),
            ..AppSettings::default()
        },
    )
    .await
}

/// Places an order of `quantity` × `product` for the shopper: its id and total.
pub async fn place(shopper: &Client, product: Uuid, quantity: i64) -> (Uuid, i64) {
    let (status, body) = shopper
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": product, "quantity": quantity}],
                    "address": address()}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let id = body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    (id, body["data"]["total_cents"].as_i64().expect("total"))
}
