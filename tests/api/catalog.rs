//! Catalog administration: products and stock through the admin API.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::spawn_app;

#[tokio::test]
async fn an_operator_creates_a_product_with_its_initial_stock() {
    let app = spawn_app().await;

    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "Oolong", "description": "250 g", "category": "tea",
                    "price_cents": 4_800, "initial_stock": 12}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::CREATED, "{body}");
    let product = &body["data"];
    assert_eq!(
        (
            &product["name"],
            &product["price_cents"],
            &product["available"],
            &product["on_sale"]
        ),
        (&json!("Oolong"), &json!(4_800), &json!(12), &json!(true))
    );
    assert_eq!(app.count_events("ProductCreated").await, 1);
    assert_eq!(app.count_events("StockAdded").await, 1);
}

#[tokio::test]
async fn a_shopper_may_not_use_the_admin_routes() {
    let app = spawn_app().await;

    let (status, body) = app
        .user("u1")
        .post(
            "/api/v1/admin/products",
            &json!({"name": "x", "price_cents": 1}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["code"], 40300);
}

#[tokio::test]
async fn invalid_product_fields_are_named() {
    let app = spawn_app().await;

    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "", "price_cents": -5, "initial_stock": -1}),
        )
        .await
        .into_parts();

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "initial_stock");
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/products",
            &json!({"name": "", "price_cents": -5}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    let fields: Vec<&str> = body["data"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "price_cents"]);
}

#[tokio::test]
async fn restock_and_write_off_keep_the_invariant() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let (status, _) = app.user("u1").place_order(&[(tea, 3)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED);
    let admin = app.admin();
    let stock_path = format!("/api/v1/admin/products/{tea}/stock");

    let (status, body) = admin
        .post(&stock_path, &json!({"quantity": 4, "reason": "delivery"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["data"]["on_hand"], &body["data"]["available"]),
        (&json!(9), &json!(6))
    );

    let (status, body) = admin
        .post(&stock_path, &json!({"quantity": -7, "reason": "damaged"}))
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a write-off into reserved units: {body}"
    );
    assert_eq!(body["code"], 40902);

    let (status, body) = admin
        .post(&stock_path, &json!({"quantity": -6, "reason": "damaged"}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let stock = app.stock(tea).await;
    assert_eq!(
        (stock.on_hand(), stock.reserved(), stock.available()),
        (3, 3, 0)
    );

    let (status, _) = admin
        .post(&stock_path, &json!({"quantity": 0}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = admin
        .post(
            &format!("/api/v1/admin/products/{}/stock", uuid::Uuid::new_v4()),
            &json!({"quantity": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = admin
        .post(
            "/api/v1/admin/products/not-a-uuid/stock",
            &json!({"quantity": 1}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn an_off_sale_product_cannot_be_ordered() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let response = app
        .admin()
        .request(Method::PUT, &format!("/api/v1/admin/products/{tea}"))
        .json(&json!({"on_sale": false}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status(), StatusCode::OK);

    let (status, body) = app.user("u1").place_order(&[(tea, 1)]).await.into_parts();

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["data"]["errors"][0]["field"], "lines[0].product_id");
    assert_eq!(body["data"]["errors"][0]["message"], "Tea is not on sale");
}

#[tokio::test]
async fn a_busy_stock_is_snapshotted_and_loads_the_same_as_a_full_replay() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 1).await;
    for _ in 0..250 {
        app.state
            .write
            .adjust_stock(
                tea,
                tea,
                ordo::write::StockAdjustment {
                    quantity: 2,
                    reason: "delivery".into(),
                },
                &Default::default(),
            )
            .await
            .expect("restock");
    }

    let snapshot: (i64, i64) = sqlx::query_as(
        "SELECT last_sequence, count(*) OVER () FROM snapshots WHERE aggregate_id = $1",
    )
    .bind(tea.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("snapshot");
    assert_eq!(
        snapshot,
        (200, 1),
        "one snapshot per stream, at the last multiple of 100"
    );

    let loaded = app
        .events
        .load::<aggregates::stock::Stock>(&tea.to_string())
        .await
        .expect("load");
    let replayed =
        cqrs_es::persist::PersistedEventStore::<_, aggregates::stock::Stock>::new_event_store(
            postgres_es::PostgresEventRepository::new(app.pool.clone()),
        );
    let replayed = cqrs_es::EventStore::load_aggregate(&replayed, &tea.to_string())
        .await
        .expect("replay");
    assert_eq!(loaded.sequence, 251);
    assert_eq!(loaded.aggregate, replayed.aggregate);
    assert_eq!(loaded.aggregate.on_hand(), 501);
}
