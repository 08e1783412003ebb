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

/// Today in Beijing, the day WeChat Pay's bills (and the reconciliations) are cut by.
pub fn beijing_today() -> chrono::NaiveDate {
    ordo::beijing::today()
}

/// An order of one Oolong (¥48.00) by `shopper`, paid (through the write model) and
/// shipped by `express_company` with `tracking_no`: its id.
pub async fn paid_and_shipped(
    app: &TestApp,
    shopper: &Client,
    express_company: &str,
    tracking_no: &str,
) -> Uuid {
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (id, total) = place(shopper, tea, 1).await;
    app.pay(id, total).await;
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/orders/{id}/ship"),
            &json!({"express_company": express_company, "tracking_no": tracking_no}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    id
}
