//! Nothing in the log can stop the read side: text PostgreSQL cannot hold is projected
//! escaped and read back as it was, an event a read model refuses is parked (listed,
//! counted, retried after a fix), a projection whose policy is to stop shows it and
//! resumes when retried, and transient database failures never mark a projection failed.

use ordo::event_store::{EventData, EventMetadata, StreamAppend, StreamId};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{
    TestApp, address, eventually, fresh_database, settle, spawn_app, spawn_app_on,
};

/// Appends one event to a new stream, as an older ordo (or another writer) could have.
async fn append_raw(
    app: &TestApp,
    aggregate_type: &str,
    id: Uuid,
    event_type: &str,
    payload: Value,
) {
    app.events
        .append(
            &[StreamAppend {
                stream: StreamId::new(aggregate_type, id.to_string()),
                expected_sequence: 0,
                events: vec![EventData {
                    event_type: event_type.into(),
                    event_version: "1".into(),
                    payload,
                    metadata: None,
                }],
            }],
            &EventMetadata::default(),
        )
        .await
        .expect("append");
}

/// Each projection's status, by name.
async fn projections(app: &TestApp) -> Value {
    let (status, body) = app
        .admin()
        .get("/api/v1/admin/projections")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut by_name = serde_json::Map::new();
    for projection in body["data"].as_array().expect("list") {
        by_name.insert(
            projection["name"].as_str().expect("name").to_owned(),
            projection.clone(),
        );
    }
    Value::Object(by_name)
}

async fn place(app: &TestApp, user: &str, product: Uuid, remark: &str) -> String {
    let (status, body) = app
        .user(user)
        .post(
            "/api/v1/orders",
            &json!({"lines": [{"product_id": product, "quantity": 1}],
                    "address": address(), "remark": remark}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().expect("id").to_owned()
}

/// Whether the order views hold the order (`GET /orders/{id}` would answer from the
/// events when they do not, so it cannot tell).
async fn is_projected(app: &TestApp, order: &str) -> bool {
    let order = Uuid::parse_str(order).expect("order id");
    sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM order_views WHERE order_id = $1)")
        .bind(order)
        .fetch_one(&app.pool)
        .await
        .expect("order views")
}

#[tokio::test]
async fn text_with_nul_written_by_an_older_version_is_projected_and_read_back_exactly() {
    let app = spawn_app().await;
    let (order_id, product_id) = (Uuid::now_v7(), Uuid::now_v7());
    let now = chrono::Utc::now();
    append_raw(
        &app,
        "Product",
        product_id,
        "ProductCreated",
        json!({"ProductCreated": {"name": "Green\u{0}Tea", "description": "a\u{0}b\u{ffff}",
                                  "category": "tea", "price_cents": 100}}),
    )
    .await;
    let mut nul_address = address();
    nul_address["detail"] = json!("Room\u{0}1");
    append_raw(
        &app,
        "Order",
        order_id,
        "OrderPlaced",
        json!({"OrderPlaced": {
            "user_id": "nul-user",
            "lines": [{"product_id": product_id, "name": "Green\u{0}Tea",
                       "unit_price_cents": 100, "quantity": 1}],
            "total_cents": 100, "address": nul_address, "remark": "hi\u{0}there",
            "placed_at": now, "expires_at": now + chrono::Duration::minutes(15)}}),
    )
    .await;
    settle(&app.pool).await;

    let check = |body: &Value| {
        assert_eq!(body["remark"], "hi\u{0}there", "{body}");
        assert_eq!(body["address"]["detail"], "Room\u{0}1");
        assert_eq!(body["lines"][0]["name"], "Green\u{0}Tea");
    };
    let shopper = app.user("nul-user");
    let (status, body) = shopper
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    check(&body["data"]);
    let (status, body) = shopper.get("/api/v1/orders").await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    check(&body["data"]["list"][0]);
    let (status, body) = app
        .anon()
        .get(&format!("/api/v1/products/{product_id}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["name"], "Green\u{0}Tea");
    assert_eq!(body["data"]["description"], "a\u{0}b\u{ffff}");
    for (name, projection) in projections(&app).await.as_object().expect("map") {
        assert_eq!(projection["state"], "running", "{name}: {projection}");
        assert_eq!(projection["parked"], 0, "{name}: {projection}");
    }

    // A rebuild replays the same events and finishes; the order reads the same.
    projections::rebuild::rebuild(&app.state.projector, "orders", |_| {})
        .await
        .expect("rebuild");
    let (_, body) = shopper
        .get(&format!("/api/v1/orders/{order_id}"))
        .await
        .into_parts();
    check(&body["data"]);

    // Auditors see it too.
    let admin = app.admin();
    let (status, body) = admin
        .get(&format!("/api/v1/admin/orders/{order_id}/history"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"][0]["payload"]["OrderPlaced"]["remark"],
        "hi\u{0}there"
    );
    let as_of = (chrono::Utc::now() + chrono::Duration::seconds(1)).to_rfc3339();
    let (status, body) = admin
        .get(&format!(
            "/api/v1/admin/orders/{order_id}/state?as_of={}",
            urlencode(&as_of)
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
}

fn urlencode(text: &str) -> String {
    text.replace('+', "%2B").replace(':', "%3A")
}

#[tokio::test]
async fn an_event_a_read_model_refuses_is_parked_listed_counted_and_reapplied_after_the_fix() {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool.clone()).await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    // A read model's table refuses a value (as a schema mistake would).
    sqlx::query("ALTER TABLE order_views ADD CONSTRAINT no_poison CHECK (remark <> 'poison')")
        .execute(&pool)
        .await
        .expect("constraint");

    let poisoned = place(&app, "victim", tea, "poison").await;
    let (status, body) = app
        .user("victim")
        .cancel_order(&poisoned)
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "the write side takes it: {body}");
    let fine = place(&app, "bystander", tea, "").await;
    settle(&pool).await;

    // The projection went on past it; the poisoned order waits, parked with its cancel.
    assert!(is_projected(&app, &fine).await);
    assert!(!is_projected(&app, &poisoned).await);
    let orders = projections(&app).await["orders"].clone();
    assert_eq!(
        (orders["state"].as_str(), orders["parked"].as_i64()),
        (Some("running"), Some(2))
    );
    let admin = app.admin();
    let (status, body) = admin
        .get("/api/v1/admin/projections/orders/parked")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let parked = body["data"]["list"].as_array().expect("list").clone();
    assert_eq!(body["data"]["pagination"]["total"], 2);
    assert_eq!(parked[0]["event_type"], "OrderPlaced");
    assert_eq!(parked[0]["aggregate_id"], poisoned.as_str());
    assert!(
        parked[0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("no_poison"),
        "{body}"
    );
    assert_eq!(parked[1]["event_type"], "OrderCancelled");
    assert!(
        parked[1]["error"]
            .as_str()
            .unwrap_or("")
            .contains("waits for"),
        "{body}"
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("projection_parked_events{projection=\"orders\"} 2"),
        "{metrics}"
    );
    let output = TestApp::cli(&options, &["projections", "parked", "orders"]);
    let printed = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{printed}");
    assert!(
        printed.contains("OrderPlaced") && printed.contains("no_poison"),
        "{printed}"
    );

    // A rebuild meets the same refusal: it finishes, and what it parked replaces the old list.
    projections::rebuild::rebuild(&app.state.projector, "orders", |_| {})
        .await
        .expect("rebuild");
    let orders = projections(&app).await["orders"].clone();
    assert_eq!(orders["parked"], 2);
    assert_eq!(
        orders["version"], 2,
        "the rebuilt copy was swapped in: {orders}"
    );

    // The cause removed, a retry applies both, in order.
    sqlx::query("ALTER TABLE order_views DROP CONSTRAINT no_poison")
        .execute(&pool)
        .await
        .expect("drop constraint");
    let (status, body) = admin
        .post("/api/v1/admin/projections/orders/retry-parked", &json!({}))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"],
        json!({"applied": 2, "still_parked": 0, "resumed": false})
    );
    let (status, body) = app
        .user("victim")
        .get(&format!("/api/v1/orders/{poisoned}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (
            body["data"]["status"].as_str(),
            body["data"]["remark"].as_str()
        ),
        (Some("cancelled"), Some("poison"))
    );
    assert_eq!(projections(&app).await["orders"]["parked"], 0);
}

#[tokio::test]
async fn an_event_no_projection_can_read_is_parked_and_the_read_side_goes_on() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    append_raw(
        &app,
        "Order",
        Uuid::new_v4(),
        "OrderPlaced",
        json!({"OrderPlaced": {"garbage": true}}),
    )
    .await;
    let after = place(&app, "shopper", tea, "").await;
    settle(&app.pool).await;

    assert!(is_projected(&app, &after).await);
    let status = projections(&app).await;
    for name in ["orders", "daily_sales"] {
        assert_eq!(status[name]["state"], "running", "{status}");
        assert_eq!(status[name]["parked"], 1, "{status}");
    }
    assert_eq!(status["catalog"]["parked"], 0, "{status}");
    let (_, body) = app
        .admin()
        .get("/api/v1/admin/projections/daily_sales/parked")
        .await
        .into_parts();
    assert!(
        body["data"]["list"][0]["error"]
            .as_str()
            .unwrap_or("")
            .contains("cannot be read"),
        "{body}"
    );
}

#[tokio::test]
async fn a_projection_whose_policy_is_to_stop_shows_where_and_resumes_when_retried() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    settle(&app.pool).await;
    // Not the event's fault: the table lost a column (a botched migration).
    sqlx::query("ALTER TABLE daily_sales RENAME COLUMN revenue_cents TO revenue")
        .execute(&app.pool)
        .await
        .expect("rename");
    let order = place(&app, "shopper", tea, "").await;

    let stopped = eventually("daily_sales stops", || async {
        let status = projections(&app).await;
        (status["daily_sales"]["state"] == "failed").then_some(status)
    })
    .await;
    let error = stopped["daily_sales"]["error"]
        .as_str()
        .unwrap_or("")
        .to_owned();
    assert!(
        error.contains("event at position") && error.contains("revenue_cents"),
        "{error}"
    );
    assert_eq!(stopped["orders"]["state"], "running", "the others go on");
    assert!(is_projected(&app, &order).await);

    sqlx::query("ALTER TABLE daily_sales RENAME COLUMN revenue TO revenue_cents")
        .execute(&app.pool)
        .await
        .expect("rename back");
    let (status, body) = app
        .admin()
        .post(
            "/api/v1/admin/projections/daily_sales/retry-parked",
            &json!({}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["resumed"], true);
    settle(&app.pool).await;
    assert_eq!(projections(&app).await["daily_sales"]["state"], "running");
    let orders: i64 = sqlx::query_scalar("SELECT sum(orders)::bigint FROM daily_sales")
        .fetch_one(&app.pool)
        .await
        .expect("daily sales");
    assert_eq!(orders, 1);
}

#[tokio::test]
async fn a_cancelled_statement_does_not_fail_a_projection() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    settle(&app.pool).await;
    // Hold the order views so that the projector's next statement waits, then cancel it.
    let mut blocker = app.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE order_views IN ACCESS EXCLUSIVE MODE")
        .execute(&mut *blocker)
        .await
        .expect("lock");
    let placing = {
        let shopper = app.user("u");
        tokio::spawn(async move {
            shopper
                .post(
                    "/api/v1/orders",
                    &json!({"lines": [{"product_id": tea, "quantity": 1}],
                            "address": crate::support::address()}),
                )
                .await
                .body
        })
    };
    let pid: i32 = eventually("the projector waits on the lock", || async {
        sqlx::query_scalar(
            "SELECT pid FROM pg_stat_activity
              WHERE datname = current_database() AND wait_event_type = 'Lock'
                AND query LIKE '%order_views%'",
        )
        .fetch_optional(&app.pool)
        .await
        .expect("activity")
    })
    .await;
    let cancelled: bool = sqlx::query_scalar("SELECT pg_cancel_backend($1)")
        .bind(pid)
        .fetch_one(&app.pool)
        .await
        .expect("cancel");
    assert!(cancelled);
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(projections(&app).await["orders"]["state"], "running");
    blocker.rollback().await.expect("release");

    let placed = placing.await.expect("task");
    let order = placed["data"]["id"].as_str().expect("id").to_owned();
    eventually("the order is projected", || async {
        is_projected(&app, &order).await.then_some(())
    })
    .await;
    assert_eq!(projections(&app).await["orders"]["state"], "running");
}

#[tokio::test]
async fn a_postgresql_restart_does_not_fail_a_projection() {
    use ordo::embedded_postgres::{Durability, EmbeddedPostgres};
    let mut server = tokio::task::spawn_blocking(EmbeddedPostgres::start_throwaway)
        .await
        .expect("task")
        .expect("own PostgreSQL");
    let pool = ordo::database::connect(server.connect_options("postgres"), 4)
        .await
        .expect("pool");
    ordo::database::migrate(&pool).await.expect("migrate");
    let app = spawn_app_on(pool.clone()).await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    place(&app, "before", tea, "").await;

    let mut server = tokio::task::spawn_blocking(move || {
        server.stop().expect("stop PostgreSQL");
        server
    })
    .await
    .expect("task");
    // The projector meets the outage (each try fails) for a while.
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let _server = tokio::task::spawn_blocking(move || {
        server
            .start_again(Durability::Throwaway)
            .expect("start again");
        server
    })
    .await
    .expect("task");

    let order = eventually("an order is taken again", || async {
        let (status, body) = app
            .user("after")
            .place_order(&[(tea, 1)])
            .await
            .into_parts();
        (status == StatusCode::CREATED)
            .then(|| body["data"]["id"].as_str().unwrap_or("").to_owned())
    })
    .await;
    eventually("the order is projected", || async {
        is_projected(&app, &order).await.then_some(())
    })
    .await;
    let failed: i64 =
        sqlx::query_scalar("SELECT count(*) FROM projection_checkpoints WHERE state = 'failed'")
            .fetch_one(&pool)
            .await
            .expect("checkpoints");
    assert_eq!(failed, 0);
}
