//! Placing and cancelling orders: no overselling under concurrency, all-or-nothing
//! multi-product orders, stock released exactly once.

use aggregates::order::OrderCommand;
use chrono::Utc;
use ordo::write::OrderActor;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, address, spawn_app, spawn_app_on};

/// 200 buyers at once, 1 unit each, spread round-robin over `apps`.
async fn two_hundred_buyers(apps: &[&TestApp], product: Uuid) -> (usize, usize) {
    let mut tasks = Vec::new();
    for buyer in 0..200 {
        let app = apps[buyer % apps.len()];
        let buyer = app.user(&format!("buyer-{buyer}"));
        tasks.push(tokio::spawn(async move {
            buyer
                .post(
                    "/api/v1/orders",
                    &json!({"lines": [{"product_id": product, "quantity": 1}],
                            "address": crate::support::address()}),
                )
                .await
                .into_parts()
        }));
    }
    let (mut placed, mut refused) = (0, 0);
    for task in tasks {
        let (status, body) = task.await.expect("buyer");
        match status {
            StatusCode::CREATED => placed += 1,
            StatusCode::CONFLICT => {
                assert_eq!(body["code"], 40901, "{body}");
                assert_eq!(
                    body["data"]["shortages"][0]["product_id"],
                    product.to_string()
                );
                refused += 1;
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    (placed, refused)
}

#[tokio::test]
async fn two_hundred_concurrent_buyers_of_fifty_units_get_exactly_fifty_orders() {
    let app = spawn_app().await;
    let product = app.admin().create_product("Flash tea", 990, 50).await;

    let (placed, refused) = two_hundred_buyers(&[&app], product).await;

    assert_eq!((placed, refused), (50, 150));
    let stock = app.stock(product).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (50, 50, 0)
    );
    assert_eq!(app.count_events("StockReserved").await, 50);
    assert_eq!(app.count_events("OrderPlaced").await, 50);
    // Orders committed together still record who placed each one, on both streams.
    let attributed: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events s
           JOIN events o ON o.aggregate_id = s.payload->'StockReserved'->>'order_id'
          WHERE s.event_type = 'StockReserved' AND o.event_type = 'OrderPlaced'
            AND s.metadata->>'actor_id' = o.payload->'OrderPlaced'->>'user_id'
            AND o.metadata->>'actor_id' = o.payload->'OrderPlaced'->>'user_id'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("attribution");
    assert_eq!(attributed, 50);
}

#[tokio::test]
async fn two_app_instances_on_one_database_still_sell_exactly_fifty() {
    let first = spawn_app().await;
    let second = spawn_app_on(first.pool.clone()).await;
    let product = first.admin().create_product("Flash tea", 990, 50).await;
    // The second instance has seen the product before the sale starts, so its cache
    // is stale once the first instance sells: only the event store keeps them honest.
    let (status, _) = second
        .user("warm-up")
        .place_order(&[(product, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED);

    let (placed, refused) = two_hundred_buyers(&[&first, &second], product).await;

    assert_eq!((placed, refused), (49, 151));
    let stock = first.stock(product).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (50, 50, 0)
    );
    assert_eq!(first.count_events("StockReserved").await, 50);
}

#[tokio::test]
async fn an_order_whose_second_product_is_short_writes_nothing() {
    let app = spawn_app().await;
    let plenty = app.admin().create_product("Plenty", 100, 10).await;
    let short = app.admin().create_product("Short", 200, 1).await;

    let (status, body) = app
        .user("u1")
        .place_order(&[(plenty, 2), (short, 3)])
        .await
        .into_parts();

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], 40901);
    assert_eq!(
        body["data"]["shortages"],
        json!([{"product_id": short, "sku_id": short, "name": "Short", "spec": {},
                 "requested": 3, "available": 1}])
    );
    assert_eq!(
        app.stock(plenty).await.available(),
        10,
        "the first product's stock is as it was"
    );
    assert_eq!(app.stock(short).await.available(), 1);
    assert_eq!(app.count_events("OrderPlaced").await, 0);
    assert_eq!(app.count_events("StockReserved").await, 0);
}

#[tokio::test]
async fn a_placed_order_shows_its_lines_prices_and_total() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 1_250, 10).await;
    let cup = app.admin().create_product("Cup", 300, 10).await;

    let (status, body) = app
        .user("u1")
        .place_order(&[(tea, 2), (cup, 1)])
        .await
        .into_parts();

    assert_eq!(status, StatusCode::CREATED, "{body}");
    let order = &body["data"];
    assert_eq!(order["status"], "awaiting_payment");
    assert_eq!(order["total_cents"], 2 * 1_250 + 300);
    assert_eq!(
        order["lines"][0],
        json!({"product_id": tea, "sku_id": tea, "name": "Tea", "spec": {},
               "unit_price_cents": 1_250, "quantity": 2, "image": null})
    );
    assert_eq!(order["address"], address());
    assert!(order["expires_at"].as_str() > order["created_at"].as_str());
    assert_eq!(app.stock(tea).await.available(), 8);
    assert_eq!(app.stock(cup).await.available(), 9);
}

#[tokio::test]
async fn cancelling_releases_the_stock_exactly_once() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (_, body) = app.user("u1").place_order(&[(tea, 3)]).await.into_parts();
    let order_id = body["data"]["id"].as_str().expect("order id").to_owned();
    let shopper = app.user("u1");

    let (status, body) = shopper.cancel_order(&order_id).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["status"], "cancelled");
    assert_eq!(body["data"]["cancel_reason"], "by_user");
    assert_eq!(app.stock(tea).await.available(), 5);

    let (status, body) = shopper.cancel_order(&order_id).await.into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["code"], 40902);
    assert_eq!(
        app.stock(tea).await.available(),
        5,
        "nothing released twice"
    );
    assert_eq!(app.count_events("StockReleased").await, 1);
}

#[tokio::test]
async fn a_paid_order_cannot_be_cancelled() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (_, body) = app.user("u1").place_order(&[(tea, 2)]).await.into_parts();
    let order_id: Uuid = body["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    app.state
        .write
        .transition_order(
            order_id,
            OrderActor::Operator,
            OrderCommand::PayOrder {
                payment_id: "wx-1".into(),
                amount_cents: 1_000,
                paid_at: Utc::now(),
            },
            &Default::default(),
        )
        .await
        .expect("pay");

    let (status, body) = app.user("u1").cancel_order(order_id).await.into_parts();

    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_eq!(body["message"], "cannot cancel an order that is paid");
    let stock = app.stock(tea).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (3, 0, 3),
        "sold, not released"
    );
}

#[tokio::test]
async fn another_users_order_is_not_found() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (_, body) = app
        .user("owner")
        .place_order(&[(tea, 1)])
        .await
        .into_parts();
    let order_id = body["data"]["id"].as_str().expect("id").to_owned();

    let (status, body) = app
        .user("stranger")
        .cancel_order(order_id)
        .await
        .into_parts();

    assert_eq!(status, StatusCode::NOT_FOUND, "{body}");
    assert_eq!(app.stock(tea).await.available(), 4);
}

#[tokio::test]
async fn placing_an_order_without_a_token_is_rejected() {
    let app = spawn_app().await;

    let (status, body) = app
        .anon()
        .post("/api/v1/orders", &json!({}))
        .await
        .into_parts();

    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["code"], 40100);
}

#[tokio::test]
async fn invalid_orders_name_the_wrong_fields() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let shopper = app.user("u1");

    let cases = [
        (
            json!({"lines": [{"product_id": tea, "quantity": 0}], "address": address()}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"product_id": tea, "quantity": 1000}], "address": address()}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"product_id": tea, "quantity": -1}], "address": address()}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"product_id": tea, "quantity": "2"}], "address": address()}),
            422,
            "lines[0].quantity",
        ),
        (
            json!({"lines": [{"product_id": Uuid::new_v4(), "quantity": 1}], "address": address()}),
            422,
            "lines[0].product_id",
        ),
        (json!({"lines": [], "address": address()}), 422, "lines"),
        (
            json!({"lines": [{"product_id": tea, "quantity": 1}]}),
            422,
            "body",
        ),
    ];
    for (body, expected_status, field) in cases {
        let (status, answer) = shopper.post("/api/v1/orders", &body).await.into_parts();
        assert_eq!(status.as_u16(), expected_status, "{body} → {answer}");
        let fields: Vec<&str> = answer["data"]["errors"]
            .as_array()
            .map(|errors| errors.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default();
        assert!(
            fields.contains(&field)
                || answer["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("address")),
            "{body} → {answer}: expected field {field}"
        );
    }
    let lines: Vec<Value> = (0..100)
        .map(|_| json!({"product_id": Uuid::new_v4(), "quantity": 1}))
        .collect();
    let (status, answer) = shopper
        .post(
            "/api/v1/orders",
            &json!({"lines": lines, "address": address()}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["data"]["errors"][0]["field"], "lines");

    let malformed = shopper
        .request(Method::POST, "/api/v1/orders")
        .header("content-type", "application/json")
        .body("{\"lines\": [")
        .send()
        .await
        .expect("request");
    assert_eq!(malformed.status(), StatusCode::BAD_REQUEST);
    assert_eq!(app.count_events("OrderPlaced").await, 0);
    assert_eq!(app.stock(tea).await.available(), 5);
}

#[tokio::test]
async fn clients_that_hang_up_mid_order_leave_nothing_half_written() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 1_000).await;

    // One client after another, each giving up sooner than the last, so that some hang
    // up before, some during and some after their order is written.
    let mut completed = 0;
    for i in 0..40u64 {
        let answered = app
            .user(&format!("impatient-{i}"))
            .request(Method::POST, "/api/v1/orders")
            .timeout(std::time::Duration::from_micros(40_000 - i * 1_000))
            .json(&json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()}))
            .send()
            .await
            .is_ok();
        completed += usize::from(answered);
    }
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    // The server's cached stock must still be right for the next buyer.
    let (status, body) = app
        .user("patient")
        .place_order(&[(tea, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");

    let placed = app.count_events("OrderPlaced").await;
    assert!(
        placed > i64::try_from(completed).expect("small"),
        "every answered order (and the patient one) was written"
    );
    assert_eq!(
        app.count_events("StockReserved").await,
        placed,
        "every order has its reservation"
    );
    let stock = app.stock(tea).await;
    assert_eq!(stock.reserved(), placed, "and every reservation its order");
    assert_eq!(stock.available(), 1_000 - placed);
}

#[tokio::test]
async fn two_line_orders_on_two_app_instances_share_commits_and_never_oversell() {
    let first = spawn_app().await;
    let second = spawn_app_on(first.pool.clone()).await;
    let mut products = Vec::new();
    for name in ["Tea", "Cup", "Pot", "Tray"] {
        products.push(first.admin().create_product(name, 500, 40).await);
    }
    // Both instances have the products cached before the rush: only the event store
    // keeps them honest with each other.
    for app in [&first, &second] {
        let (status, body) = app
            .user("warm-up")
            .place_order(&[(products[0], 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }

    // 200 buyers, each of two neighbouring products: 100 units asked of each, 40 there.
    let mut tasks = Vec::new();
    for buyer in 0..200 {
        let app = if buyer % 2 == 0 { &first } else { &second };
        let buyer_client = app.user(&format!("buyer-{buyer}"));
        let lines = [products[buyer % 4], products[(buyer + 1) % 4]];
        tasks.push(tokio::spawn(async move {
            let answer = buyer_client
                .post(
                    "/api/v1/orders",
                    &json!({"lines": [{"product_id": lines[0], "quantity": 1},
                                      {"product_id": lines[1], "quantity": 1}],
                            "address": address()}),
                )
                .await;
            (lines, answer.status, answer.body)
        }));
    }
    let mut ordered = std::collections::HashMap::<Uuid, i64>::new();
    let mut placed = 0;
    for task in tasks {
        let (lines, status, body) = task.await.expect("buyer");
        match status {
            StatusCode::CREATED => {
                placed += 1;
                for product in lines {
                    *ordered.entry(product).or_default() += 1;
                }
            }
            // Sold out, or (two processes contending on a loaded machine) busy past the
            // retries: refused either way, nothing held.
            StatusCode::CONFLICT => {
                assert!(body["code"] == 40901 || body["code"] == 40903, "{body}")
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }

    *ordered.entry(products[0]).or_default() += 2; // the warm-up orders
    for product in &products {
        let stock = first.stock(*product).await;
        let sold_to_orders = ordered.get(product).copied().unwrap_or_default();
        assert_eq!(
            (stock.on_hand(), stock.reserved()),
            (40, sold_to_orders),
            "every accepted line holds exactly one reserved unit of {product}"
        );
        assert!(stock.reserved() <= 40, "oversold {product}: {stock:?}");
    }
    assert!(placed > 0);
    assert_eq!(first.count_events("OrderPlaced").await, placed + 2);
    assert_eq!(first.count_events("StockReserved").await, 2 * placed + 2);
    // Each order's events all landed in one transaction, and orders shared transactions.
    let split_orders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events o JOIN events s
             ON s.payload->'StockReserved'->>'order_id' = o.aggregate_id
          WHERE o.event_type = 'OrderPlaced' AND s.transaction_id <> o.transaction_id",
    )
    .fetch_one(&first.pool)
    .await
    .expect("split orders");
    assert_eq!(
        split_orders, 0,
        "an order and its reservations commit together"
    );
    let most_orders_in_one_commit: i64 = sqlx::query_scalar(
        "SELECT max(n) FROM (SELECT count(*) AS n FROM events
                              WHERE event_type = 'OrderPlaced' GROUP BY transaction_id) t",
    )
    .fetch_one(&first.pool)
    .await
    .expect("orders per commit");
    assert!(
        most_orders_in_one_commit > 1,
        "concurrent orders of different products were committed together"
    );
}
