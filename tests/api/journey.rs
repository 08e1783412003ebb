//! A shopper's whole journey through the API, as the mini program drives it.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::support::{address, spawn_app};

#[tokio::test]
async fn a_shopper_logs_in_orders_retries_looks_cancels_and_the_stock_comes_back() {
    let app = spawn_app().await;
    let tea = app.create_product("Oolong", 4_800, 5).await;
    let http = &app.client;
    let url = |path: &str| format!("{}{path}", app.address);

    // Log in.
    let login: Value = http
        .post(url("/api/v1/auth/wechat-login"))
        .json(&json!({"code": "dev:mei"}))
        .send()
        .await
        .expect("login")
        .json()
        .await
        .expect("json");
    let token = login["data"]["access_token"]
        .as_str()
        .expect("token")
        .to_owned();

    // Browse.
    let products: Value = http
        .get(url("/api/v1/products?keyword=oolong"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(products["data"]["list"][0]["available"], 5);

    // Order, and retry the same request (a flaky network): one order.
    let place = || {
        http.post(url("/api/v1/orders"))
            .bearer_auth(&token)
            .header("Idempotency-Key", "journey-1")
            .json(&json!({"lines": [{"product_id": tea, "quantity": 2}], "address": address(), "remark": "gift"}))
            .send()
    };
    let first = place().await.expect("place");
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.expect("json");
    let retried: Value = place().await.expect("retry").json().await.expect("json");
    assert_eq!(retried, first);
    let id = first["data"]["id"].as_str().expect("id").to_owned();

    // Look at it, and at my list.
    let order: Value = http
        .get(url(&format!("/api/v1/orders/{id}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(order["data"]["remark"], "gift");
    assert_eq!(order["data"]["total_cents"], 9_600);
    let mine: Value = http
        .get(url("/api/v1/orders?status=awaiting_payment"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(mine["data"]["pagination"]["total"], 1);
    let products: Value = http
        .get(url(&format!("/api/v1/products/{tea}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(products["data"]["available"], 3);

    // Change my mind.
    let cancelled = http
        .post(url(&format!("/api/v1/orders/{id}/cancel")))
        .bearer_auth(&token)
        .send()
        .await
        .expect("cancel");
    assert_eq!(cancelled.status(), StatusCode::OK);
    let product: Value = http
        .get(url(&format!("/api/v1/products/{tea}")))
        .send()
        .await
        .expect("get")
        .json()
        .await
        .expect("json");
    assert_eq!(product["data"]["available"], 5, "the stock came back");
    let mine: Value = http
        .get(url("/api/v1/orders?status=cancelled"))
        .bearer_auth(&token)
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(mine["data"]["list"][0]["id"], id);
}
