//! The read side: the projector never skips or repeats an event, and a client reads its
//! own writes.

use std::sync::Arc;

use ordo::event_store::{EventData, EventMetadata, StreamAppend, StreamId, append_in};
use projections::rebuild::rebuild;
use projections::{Projector, Step};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::{TestApp, spawn_app};

/// The whole `order_views` table, in a stable order.
async fn order_views(pool: &PgPool) -> Vec<Value> {
    sqlx::query_scalar("SELECT to_jsonb(v) FROM order_views v ORDER BY order_id")
        .fetch_all(pool)
        .await
        .expect("read order_views")
}

/// The order views as a blue/green rebuild from position zero makes them.
async fn rebuilt_order_views(pool: &PgPool) -> Vec<Value> {
    let projector = Projector::new(pool.clone(), projections::all());
    rebuild(&projector, "orders", |_| {})
        .await
        .expect("rebuild");
    order_views(pool).await
}

/// Catches up, waiting (bounded) for events still above the shared server's horizon.
async fn catch_up_fully(projector: &Projector) {
    let orders = projector.projection("orders").expect("orders").clone();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut idle_rounds = 0;
    while idle_rounds < 5 && std::time::Instant::now() < deadline {
        match projector.step(orders.as_ref()).await.expect("step") {
            Step::Applied(_) => idle_rounds = 0,
            _ => {
                idle_rounds += 1;
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
            }
        }
    }
}

async fn place(app: &TestApp, user: &str, product: uuid::Uuid, quantity: i64) -> String {
    let (status, body) = app
        .user(user)
        .place_order(&[(product, quantity)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["data"]["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn a_placed_order_can_be_read_back_at_once() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 700, 1_000).await;

    let mut tasks = Vec::new();
    for buyer in 0..40 {
        let buyer = app.user(&format!("b{buyer}"));
        tasks.push(tokio::spawn(async move {
            let placed: Value = buyer
                .post(
                    "/api/v1/orders",
                    &json!({"lines": [{"product_id": tea, "quantity": 1}],
                            "address": crate::support::address()}),
                )
                .await
                .body;
            let id = placed["data"]["id"].as_str().expect("id").to_owned();
            let read = buyer.get(&format!("/api/v1/orders/{id}")).await;
            (placed, read.status, read.body)
        }));
    }

    for task in tasks {
        let (placed, status, read) = task.await.expect("buyer");
        assert_eq!(status, StatusCode::OK, "{read}");
        assert_eq!(
            read["data"], placed["data"],
            "the read shows exactly the write"
        );
    }
}

#[tokio::test]
async fn another_users_order_cannot_be_read() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 700, 10).await;
    let id = place(&app, "owner", tea, 1).await;

    let response = app
        .user("stranger")
        .request(Method::GET, &format!("/api/v1/orders/{id}"))
        .send()
        .await
        .expect("get");

    assert_eq!(response.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_read_model_after_restarts_equals_a_fresh_rebuild() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 700, 100).await;
    for i in 0..12 {
        let id = place(&app, &format!("u{}", i % 3), tea, 1 + i % 2).await;
        if i % 3 == 0 {
            let (status, _) = app
                .user(&format!("u{}", i % 3))
                .cancel_order(id)
                .await
                .into_parts();
            assert_eq!(status, StatusCode::OK);
        }
        if i % 4 == 1 {
            // Kill the running projector between batches and start a new one, as a crash would.
            let (stop, stopped) = tokio::sync::watch::channel(false);
            let projector = Arc::new(Projector::new(app.pool.clone(), projections::all()));
            let running = tokio::spawn(projector.run(stopped));
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            running.abort();
            drop(stop);
        }
    }
    catch_up_fully(&app.state.projector).await;
    let live = order_views(&app.pool).await;

    let rebuilt = rebuilt_order_views(&app.pool).await;

    assert_eq!(live.len(), 12);
    assert_eq!(live, rebuilt);
    let cancelled = live
        .iter()
        .filter(|row| row["status"] == "cancelled")
        .count();
    assert_eq!(cancelled, 4);
}

#[tokio::test]
async fn an_order_committed_late_is_not_skipped() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 700, 10).await;
    let projector = Projector::new(app.pool.clone(), projections::all());
    catch_up_fully(&projector).await;

    // A takes a position and stays open; B's order commits after it.
    let late_order = json!({"OrderPlaced": {
        "user_id": "late", "lines": [{"product_id": tea, "name": "Tea", "unit_price_cents": 700, "quantity": 1}],
        "total_cents": 700, "address": crate::support::address(), "remark": "",
        "placed_at": "2026-11-24T12:00:00Z", "expires_at": "2026-11-24T12:15:00Z"}});
    let mut late = app.pool.begin().await.expect("begin");
    let late_id = uuid::Uuid::new_v4();
    append_in(
        &mut late,
        &[StreamAppend {
            stream: StreamId::new("Order", late_id.to_string()),
            expected_sequence: 0,
            events: vec![EventData {
                event_type: "OrderPlaced".into(),
                event_version: "1".into(),
                payload: late_order,
                metadata: None,
            }],
        }],
        &EventMetadata::default(),
    )
    .await
    .expect("append A");
    let early_id = place(&app, "early", tea, 1).await;
    let orders = projector.projection("orders").expect("orders").clone();
    projector
        .step(orders.as_ref())
        .await
        .expect("step while A is open");
    let while_open = order_views(&app.pool).await;
    assert!(
        while_open.iter().all(|row| row["order_id"] != early_id),
        "B must wait for A"
    );

    late.commit().await.expect("commit A");
    catch_up_fully(&projector).await;

    let ids: Vec<String> = order_views(&app.pool)
        .await
        .iter()
        .map(|row| row["order_id"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(ids.contains(&late_id.to_string()), "A is applied");
    assert!(ids.contains(&early_id), "B is applied");
}

#[tokio::test]
async fn read_models_move_past_events_they_do_not_read_without_fetching_them() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 100, 10).await;
    // A login writes only a User stream: no read model reads it, yet each one's
    // checkpoint must pass it, or a read-your-writes wait on it would never end.
    app.shopper("only-a-user").await;
    let last: (i64, i64) = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("last event");
    let kind: String =
        sqlx::query_scalar("SELECT aggregate_type FROM events WHERE global_position = $1")
            .bind(last.1)
            .fetch_one(&app.pool)
            .await
            .expect("its type");
    assert_eq!(kind, "User");
    let position = ordo::event_store::FeedPosition {
        transaction_id: last.0,
        global_position: last.1,
    };
    for projection in ["orders", "catalog", "daily_sales"] {
        assert!(
            app.state
                .projector
                .wait_for(projection, position, std::time::Duration::from_secs(20))
                .await,
            "{projection} never passed the User event"
        );
    }
    // And they still apply what they read, after it.
    let (status, _) = app
        .user("only-a-user")
        .place_order(&[(tea, 2)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED);
    let (_, product) = app
        .anon()
        .get(&format!("/api/v1/products/{tea}"))
        .await
        .into_parts();
    assert_eq!(product["data"]["available"], 8);
}
