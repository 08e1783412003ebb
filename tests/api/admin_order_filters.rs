//! An operator's list of one shopper's orders filters by every status an order can
//! have, the refund statuses included: `refunding` is what still waits for WeChat Pay.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::wechat_pay::dev_mode_settings;
use crate::support::{Client, TestApp, address, eventually, spawn_app_with};

/// Places an order as `shopper` and pays it through dev mode's simulated notice: its id.
async fn paid_order(shopper: &Client, product: &Value) -> String {
    let body = json!({"lines": [{"product_id": product, "quantity": 1}], "address": address()});
    let (status, placed) = shopper.post("/api/v1/orders", &body).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{placed}");
    let id = placed["data"]["id"].as_str().expect("id").to_owned();
    let simulate = format!("/api/v1/dev/orders/{id}/simulate-payment");
    let (status, paid) = shopper.post(&simulate, &json!({})).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{paid}");
    id
}

/// The ids the operator's list shows for `user` in `status`.
async fn listed(app: &TestApp, user: &str, status: &str) -> Vec<String> {
    let answer = app
        .admin()
        .get(&format!(
            "/api/v1/admin/orders?user_id={user}&status={status}"
        ))
        .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    answer.body["data"]["list"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|order| order["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn an_operator_lists_a_shoppers_refunding_and_refunded_orders_apart() {
    let app = spawn_app_with(dev_mode_settings()).await;
    let mei = app.shopper("mei").await;
    let user = mei.id();
    let tea = json!(app.admin().create_product("Tea", 500, 10).await);
    let (kept, waiting, refunded) = (
        paid_order(&mei, &tea).await,
        paid_order(&mei, &tea).await,
        paid_order(&mei, &tea).await,
    );
    for id in [&waiting, &refunded] {
        let answer = app
            .admin()
            .post(
                &format!("/api/v1/admin/orders/{id}/refund"),
                &json!({"reason": "out of stock after all"}),
            )
            .await;
        assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.body);
    }
    let simulate = format!("/api/v1/dev/orders/{refunded}/simulate-refund");
    let (status, answer) = mei.post(&simulate, &json!({})).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{answer}");

    eventually("the refund lists", || async {
        let lists = (
            listed(&app, user, "refunding").await,
            listed(&app, user, "refunded").await,
            listed(&app, user, "paid").await,
        );
        (lists
            == (
                vec![waiting.clone()],
                vec![refunded.clone()],
                vec![kept.clone()],
            ))
            .then_some(())
    })
    .await;
    assert_eq!(
        listed(&app, user, "").await.len(),
        3,
        "no status: every order"
    );
    let unknown = app
        .admin()
        .get(&format!("/api/v1/admin/orders?user_id={user}&status=lost"))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST, "{}", unknown.body);
    assert!(
        unknown.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("refunding") && m.contains("refunded")),
        "{}",
        unknown.body
    );
}
