//! After payment: operators ship, shoppers confirm receipt.

use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{Client, TestApp, spawn_app};

async fn paid_order(app: &TestApp, user: &str) -> Uuid {
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (_, body) = app.user(user).place_order(&[(tea, 2)]).await.into_parts();
    let id = body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("order id");
    app.pay(id, 1_000).await;
    id
}

/// Ships `order` as `caller` would (an operator, or someone who may not).
async fn ship(caller: &Client, order: Uuid, body: &Value) -> (StatusCode, Value) {
    caller
        .post(&format!("/api/v1/admin/orders/{order}/ship"), body)
        .await
        .into_parts()
}

#[tokio::test]
async fn a_paid_order_is_shipped_then_received() {
    let app = spawn_app().await;
    let order = paid_order(&app, "u1").await;

    let (status, shipped) = ship(
        &app.admin(),
        order,
        &json!({"carrier": "SF Express", "express_company": "SF", "tracking_no": "SF123"}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{shipped}");
    assert_eq!(shipped["data"]["status"], "shipped");
    assert_eq!(shipped["data"]["carrier"], "SF Express");
    assert_eq!(shipped["data"]["tracking_no"], "SF123");

    // The shopper sees it shipped, then confirms receipt.
    let shopper = app.user("u1");
    let seen = shopper.get(&format!("/api/v1/orders/{order}")).await.body;
    assert_eq!(seen["data"]["status"], "shipped");
    assert_eq!(seen["data"]["tracking_no"], "SF123");
    assert!(seen["data"]["shipped_at"].is_string());

    let (status, done) = shopper
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["data"]["status"], "completed");
    assert!(done["data"]["completed_at"].is_string());
    assert_eq!(app.count_events("OrderCompleted").await, 1);

    // Once completed, neither can happen again.
    let (status, again) = shopper
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{again}");
    assert_eq!(again["code"], 40902);
}

#[tokio::test]
async fn shipping_is_for_operators_and_paid_orders_only() {
    let app = spawn_app().await;
    let order = paid_order(&app, "u1").await;
    let body = json!({"express_company": "SF", "tracking_no": "1"});

    let (status, refused) = ship(&app.user("u1"), order, &body).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{refused}");

    let (status, invalid) = ship(
        &app.admin(),
        order,
        &json!({"carrier": " ", "tracking_no": "1"}),
    )
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{invalid}");
    assert_eq!(invalid["data"]["errors"][0]["field"], "carrier");

    let (status, missing) = ship(&app.admin(), order, &json!({"carrier": "SF"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{missing}");
    assert!(
        missing["message"]
            .as_str()
            .unwrap_or("")
            .contains("tracking_no")
    );

    let (status, unknown) = ship(&app.admin(), Uuid::now_v7(), &body).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");

    // An unpaid order cannot be shipped, nor received before it ships.
    let tea = app.admin().create_product("Green tea", 300, 5).await;
    let (_, placed) = app.user("u2").place_order(&[(tea, 1)]).await.into_parts();
    let unpaid: Uuid = placed["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    let (status, early) = ship(&app.admin(), unpaid, &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{early}");
    assert_eq!(early["code"], 40902);
    let (status, early) = app
        .user("u1")
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{early}");
    assert_eq!(app.count_events("OrderShipped").await, 0);
}

#[tokio::test]
async fn another_users_order_cannot_be_received() {
    let app = spawn_app().await;
    let order = paid_order(&app, "owner").await;
    ship(
        &app.admin(),
        order,
        &json!({"express_company": "SF", "tracking_no": "1"}),
    )
    .await;

    let (status, body) = app
        .user("stranger")
        .post(
            &format!("/api/v1/orders/{order}/confirm-receipt"),
            &json!({}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(app.count_events("OrderCompleted").await, 0);
}
