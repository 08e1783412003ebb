//! Memory that does not grow with what clients make up: ids that do not exist leave no
//! stream slot behind, and a client's request id is kept only when fit to store.

use ordo::rate_limit::RateLimits;
use ordo::state::AppSettings;
use reqwest::{Method, StatusCode};
use serde_json::json;
use tokio::task::JoinSet;
use uuid::Uuid;

use crate::support::{address, settle, spawn_app, spawn_app_with};

#[tokio::test]
async fn ten_thousand_requests_for_ids_that_do_not_exist_leave_no_stream_slot_behind() {
    let app = spawn_app_with(AppSettings {
        dev_mode: true,
        rate_limits: RateLimits {
            per_ip: None,
            per_user: None,
            login_per_ip: None,
        },
        ..AppSettings::default()
    })
    .await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    let (status, body) = app
        .user("shopper")
        .place_order(&[(tea, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let before = app.state.write.stream_slots();

    let (admin, shopper) = (app.admin(), app.user("shopper"));
    let mut requests = JoinSet::new();
    for worker in 0..32 {
        let (admin, shopper) = (admin.clone(), shopper.clone());
        requests.spawn(async move {
            for n in (worker..10_000).step_by(32) {
                let random = Uuid::new_v4();
                let (path, caller, body) = match n % 6 {
                    0 => (format!("/api/v1/orders/{random}/cancel"), &shopper, json!({})),
                    1 => (format!("/api/v1/orders/{random}/confirm-receipt"), &shopper, json!({})),
                    2 => (
                        "/api/v1/orders".to_owned(),
                        &shopper,
                        json!({"lines": [{"product_id": random, "quantity": 1}], "address": address()}),
                    ),
                    3 => (
                        format!("/api/v1/admin/products/{random}/stock"),
                        &admin,
                        json!({"quantity": 1, "reason": "found"}),
                    ),
                    4 => (
                        format!("/api/v1/admin/orders/{random}/ship"),
                        &admin,
                        json!({"express_company": "SF", "tracking_no": "1"}),
                    ),
                    _ => (format!("/api/v1/admin/products/{random}"), &admin, json!({"price_cents": 1})),
                };
                let (status, body) = if n % 6 == 5 {
                    caller.put(&path, &body).await
                } else {
                    caller.post(&path, &body).await
                }
                .into_parts();
                // An unknown product in an order is a field of the order that is wrong.
                let expected = if n % 6 == 2 {
                    StatusCode::UNPROCESSABLE_ENTITY
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(status, expected, "{path}: {body}");
            }
        });
    }
    while let Some(done) = requests.join_next().await {
        done.expect("a worker");
    }

    assert_eq!(app.state.write.stream_slots(), before);
}

#[tokio::test]
async fn a_request_id_too_long_or_unprintable_is_replaced_and_never_stored() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    let shopper = app.user("shopper");
    let place = |request_id: String| {
        let request = shopper
            .request(Method::POST, "/api/v1/orders")
            .header("x-request-id", request_id)
            .json(&json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()}));
        async move {
            let response = request.send().await.expect("request");
            assert_eq!(response.status(), StatusCode::CREATED);
            let answered = response.headers()["x-request-id"]
                .to_str()
                .expect("ascii")
                .to_owned();
            let body: serde_json::Value = response.json().await.expect("json");
            (
                answered,
                body["data"]["id"].as_str().expect("id").to_owned(),
            )
        }
    };
    let stored = |order: String| {
        let pool = app.pool.clone();
        async move {
            sqlx::query_scalar::<_, Option<String>>(
                "SELECT metadata ->> 'request_id' FROM events
                  WHERE aggregate_type = 'Order' AND aggregate_id = $1",
            )
            .bind(order)
            .fetch_one(&pool)
            .await
            .expect("the order's event")
        }
    };

    let long = "a".repeat(10_000);
    for unfit in [long.as_str(), "has space", &"b".repeat(129)] {
        let (answered, order) = place(unfit.to_owned()).await;
        assert_ne!(answered, unfit);
        assert!(answered.len() <= 128 && !answered.is_empty(), "{answered}");
        assert_eq!(stored(order).await.as_deref(), Some(answered.as_str()));
    }
    let fit = "c".repeat(128);
    let (answered, order) = place(fit.clone()).await;
    assert_eq!(answered, fit, "a fit id is kept");
    assert_eq!(stored(order).await, Some(fit));
    settle(&app.pool).await;
}
