//! A shopper's whole journey through the API, as the mini program drives it.

use reqwest::StatusCode;
use serde_json::json;

use crate::support::{address, spawn_app};

#[tokio::test]
async fn a_shopper_logs_in_orders_retries_looks_cancels_and_the_stock_comes_back() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Oolong", 4_800, 5).await;
    let visitor = app.anon();

    // Log in.
    let mei = app.shopper("mei").await;
    let profile = mei.get("/api/v1/me").await;
    assert_eq!(profile.body["data"]["id"].as_str(), mei.user_id.as_deref());

    // Browse.
    let products = visitor.get("/api/v1/products?keyword=oolong").await;
    assert_eq!(products.body["data"]["list"][0]["available"], 5);

    // Order, and retry the same request (a flaky network): one order.
    let order = json!({"lines": [{"product_id": tea, "quantity": 2}], "address": address(),
                       "remark": "gift"});
    let first = mei.post_keyed("/api/v1/orders", "journey-1", &order).await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.body);
    let retried = mei.post_keyed("/api/v1/orders", "journey-1", &order).await;
    assert_eq!(retried.body, first.body);
    assert_eq!(retried.headers["idempotent-replayed"], "true");
    let id = first.body["data"]["id"].as_str().expect("id").to_owned();

    // Look at it, and at my list.
    let order = mei.get(&format!("/api/v1/orders/{id}")).await;
    assert_eq!(order.body["data"]["remark"], "gift");
    assert_eq!(order.body["data"]["total_cents"], 9_600);
    let mine = mei.get("/api/v1/orders?status=awaiting_payment").await;
    assert_eq!(mine.body["data"]["pagination"]["total"], 1);
    let product = visitor.get(&format!("/api/v1/products/{tea}")).await;
    assert_eq!(product.body["data"]["available"], 3);

    // Change my mind.
    let cancelled = mei.cancel_order(&id).await;
    assert_eq!(cancelled.status, StatusCode::OK, "{}", cancelled.body);
    let product = visitor.get(&format!("/api/v1/products/{tea}")).await;
    assert_eq!(product.body["data"]["available"], 5, "the stock came back");
    let mine = mei.get("/api/v1/orders?status=cancelled").await;
    assert_eq!(mine.body["data"]["list"][0]["id"], id);

    // An operator sees the order's history; the shopper may not.
    let history = format!("/api/v1/admin/orders/{id}/history");
    assert_eq!(app.admin().get(&history).await.status, StatusCode::OK);
    assert_eq!(mei.get(&history).await.status, StatusCode::FORBIDDEN);
    assert_eq!(visitor.get(&history).await.status, StatusCode::UNAUTHORIZED);
}
