//! The shopper's reads: the catalog and their own orders, from the read models.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::support::spawn_app;

#[tokio::test]
async fn the_catalog_lists_filters_and_pages_products_with_their_stock() {
    let app = spawn_app().await;
    let admin = app.admin();
    for (name, category, stock) in [
        ("Green tea", "tea", 5),
        ("Black tea", "tea", 0),
        ("Cup", "ware", 2),
    ] {
        let (status, _) = admin
            .post(
                "/api/v1/admin/products",
                &json!({"name": name, "description": "fine", "category": category,
                        "price_cents": 990, "initial_stock": stock}),
            )
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED);
    }
    // Filters and pages are what this checks: the catalog caught up first (a creation
    // answers without waiting for a read side already seen behind, as on a loaded machine).
    crate::support::settle(&app.pool).await;

    let (status, body) = app
        .anon()
        .get("/api/v1/products?category=tea")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let names: Vec<&str> = body["data"]["list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(names, ["Black tea", "Green tea"]);
    assert_eq!(body["data"]["list"][1]["available"], 5);

    let (_, body) = app
        .anon()
        .get("/api/v1/products?keyword=CUP")
        .await
        .into_parts();
    assert_eq!(body["data"]["pagination"]["total"], 1);
    let (_, body) = app
        .anon()
        .get("/api/v1/products?keyword=%25")
        .await
        .into_parts();
    assert_eq!(
        body["data"]["pagination"]["total"], 0,
        "% is matched literally"
    );

    let (_, body) = app
        .anon()
        .get("/api/v1/products?page=2&size=2")
        .await
        .into_parts();
    assert_eq!(
        body["data"]["pagination"],
        json!({"total": 3, "page": 2, "size": 2, "total_pages": 2})
    );
    assert_eq!(body["data"]["list"].as_array().map(Vec::len), Some(1));

    let (status, body) = app
        .anon()
        .get("/api/v1/products?size=101")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["data"]["errors"][0]["field"], "size");
}

#[tokio::test]
async fn a_product_is_found_by_id_and_an_unknown_one_is_not() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 3).await;

    let (status, body) = app
        .anon()
        .get(&format!("/api/v1/products/{tea}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["data"]["name"], "Tea");
    assert_eq!(body["data"]["available"], 3);

    let (status, _) = app
        .anon()
        .get(&format!("/api/v1/products/{}", uuid::Uuid::new_v4()))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .anon()
        .get("/api/v1/products/not-a-uuid")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn my_orders_are_listed_newest_first_filtered_by_status_and_only_mine() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let (_, body) = app.user("me").place_order(&[(tea, 1)]).await.into_parts();
        ids.push(body["data"]["id"].as_str().expect("id").to_owned());
    }
    app.user("someone-else").place_order(&[(tea, 1)]).await;
    let me = app.user("me");
    let (status, _) = me.cancel_order(&ids[0]).await.into_parts();
    assert_eq!(status, StatusCode::OK);
    let get = |path: String| {
        let request = me.request(Method::GET, &path);
        async move {
            let response = request.send().await.expect("get");
            (
                response.status(),
                response.json::<serde_json::Value>().await.expect("json"),
            )
        }
    };

    let (status, body) = get("/api/v1/orders".into()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let listed: Vec<&str> = body["data"]["list"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|o| o["id"].as_str())
        .collect();
    assert_eq!(
        listed,
        [ids[2].as_str(), ids[1].as_str(), ids[0].as_str()],
        "newest first, mine only"
    );

    let (_, body) = get("/api/v1/orders?status=cancelled".into()).await;
    assert_eq!(body["data"]["pagination"]["total"], 1);
    assert_eq!(body["data"]["list"][0]["cancel_reason"], "by_user");
    let (_, body) = get("/api/v1/orders?status=awaiting_payment&size=1&page=2".into()).await;
    assert_eq!(
        body["data"]["pagination"],
        json!({"total": 2, "page": 2, "size": 1, "total_pages": 2})
    );
    assert_eq!(body["data"]["list"][0]["id"], ids[1]);

    let (status, body) = get("/api/v1/orders?status=lost".into()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["data"]["errors"][0]["field"], "status");
}

#[tokio::test]
async fn operators_see_each_projections_status_and_can_start_a_rebuild() {
    let app = spawn_app().await;
    app.admin().create_product("Tea", 500, 3).await;
    let admin = app.admin();
    let get_status = || {
        let request = admin.request(Method::GET, "/api/v1/admin/projections");
        async move {
            request
                .send()
                .await
                .expect("get")
                .json::<serde_json::Value>()
                .await
                .expect("json")
        }
    };

    let body = get_status().await;
    let names: Vec<&str> = body["data"]
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "after_sales",
            "catalog",
            "daily_sales",
            "orders",
            "payments",
            "shipping_uploads",
            "subscribe_messages"
        ]
    );
    assert_eq!(body["data"][0]["state"], "running");
    // The subscriber that calls WeChat shows its calls and is never rebuilt.
    assert_eq!(body["data"][5]["replayable"], false, "{body}");
    assert_eq!(body["data"][5]["backlog"]["failed"], 0, "{body}");
    let (status, refused) = admin
        .post(
            "/api/v1/admin/projections/shipping_uploads/rebuild",
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CONFLICT, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .is_some_and(|m| m.contains("calls WeChat")),
        "{refused}"
    );

    let (status, body) = admin
        .post("/api/v1/admin/projections/catalog/rebuild", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    let mut version = 1;
    for _ in 0..100 {
        version = get_status().await["data"][1]["version"]
            .as_i64()
            .unwrap_or(0);
        if version == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    assert_eq!(version, 2, "the rebuilt catalog was swapped in");
    let (status, _) = app.anon().get("/api/v1/products").await.into_parts();
    assert_eq!(status, StatusCode::OK);

    let (status, _) = admin
        .post("/api/v1/admin/projections/nothing/rebuild", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = app
        .user("u")
        .post("/api/v1/admin/projections/catalog/rebuild", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_order_list_totals_follow_every_status_change_and_match_a_rebuild() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 100).await;
    let mut orders = Vec::new();
    let counted = app.user("counted");
    // Two cancelled first: a shopper holds at most five unpaid orders.
    for n in 0..6 {
        let (status, body) = counted.place_order(&[(tea, 1)]).await.into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
        let order = body["data"]["id"].as_str().expect("id").to_owned();
        if n < 2 {
            let (status, _) = counted.cancel_order(&order).await.into_parts();
            assert_eq!(status, StatusCode::OK);
        }
        orders.push(order);
    }
    for order in &orders[2..5] {
        app.pay(order.parse().expect("uuid"), 100).await;
    }
    crate::support::settle(&app.pool).await;

    let total = |query: &'static str| {
        let counted = &counted;
        async move {
            let (status, body) = counted
                .get(&format!("/api/v1/orders{query}"))
                .await
                .into_parts();
            assert_eq!(status, StatusCode::OK, "{body}");
            body["data"]["pagination"]["total"].as_i64().expect("total")
        }
    };
    assert_eq!(total("").await, 6);
    assert_eq!(total("?status=cancelled").await, 2);
    assert_eq!(total("?status=paid").await, 3);
    assert_eq!(total("?status=awaiting_payment").await, 1);
    assert_eq!(total("?status=shipped").await, 0);
    let (_, body) = counted
        .get("/api/v1/orders?size=4&page=2")
        .await
        .into_parts();
    assert_eq!(
        body["data"]["pagination"],
        json!({"total": 6, "page": 2, "size": 4, "total_pages": 2})
    );
    assert_eq!(body["data"]["list"].as_array().map(Vec::len), Some(2));

    // The counts a rebuild makes (folding each order's statuses) are the live ones.
    let counts = || async {
        sqlx::query_as::<_, (String, String, i64)>(
            "SELECT user_id, status, orders FROM order_counts ORDER BY user_id, status",
        )
        .fetch_all(&app.pool)
        .await
        .expect("counts")
    };
    let live = counts().await;
    assert_eq!(
        live,
        [
            ("counted".to_owned(), "awaiting_payment".to_owned(), 1),
            ("counted".to_owned(), "cancelled".to_owned(), 2),
            ("counted".to_owned(), "paid".to_owned(), 3),
        ]
    );
    projections::rebuild::rebuild(&app.state.projector, "orders", |_| {})
        .await
        .expect("rebuild");
    assert_eq!(counts().await, live);
}
