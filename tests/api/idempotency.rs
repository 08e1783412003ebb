//! `Idempotency-Key` on `POST /orders`: retries get the first answer, nothing twice.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use uuid::Uuid;

use crate::support::{TestApp, address};

async fn order_with_key(app: &TestApp, user: &str, key: &str, body: &Value) -> (StatusCode, Value) {
    let answer = app.user(user).post_keyed("/api/v1/orders", key, body).await;
    // Answers are compared whole: two bodies that are not JSON must not pass as equal.
    assert!(!answer.body.is_null(), "a JSON answer: {answer:?}");
    answer.into_parts()
}

fn body(product: Uuid, quantity: i64) -> Value {
    json!({"lines": [{"product_id": product, "quantity": quantity}], "address": address()})
}

#[tokio::test]
async fn a_retried_order_with_the_same_key_is_placed_once() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;

    let (first_status, first) = order_with_key(&app, "u1", "key-1", &body(tea, 2)).await;
    let (again_status, again) = order_with_key(&app, "u1", "key-1", &body(tea, 2)).await;

    assert_eq!(
        (first_status, again_status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(again, first, "the first answer, again");
    assert_eq!(app.count_events("OrderPlaced").await, 1);
    assert_eq!(app.stock(tea).await.available(), 8);
    // Another user's same key is their own.
    let (status, other) = order_with_key(&app, "u2", "key-1", &body(tea, 2)).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_ne!(other["data"]["id"], first["data"]["id"]);
}

#[tokio::test]
async fn the_same_key_with_another_body_is_refused() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    order_with_key(&app, "u1", "key-2", &body(tea, 1)).await;

    let (status, answer) = order_with_key(&app, "u1", "key-2", &body(tea, 3)).await;

    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert_eq!(answer["data"]["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.count_events("OrderPlaced").await, 1);
}

#[tokio::test]
async fn concurrent_retries_with_one_key_place_one_order() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 100).await;

    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (shopper, body) = (app.user("u1"), body(tea, 1));
        tasks.push(tokio::spawn(async move {
            shopper
                .post_keyed("/api/v1/orders", "double-tap", &body)
                .await
                .into_parts()
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let (status, answer) = task.await.expect("task");
        match status {
            StatusCode::CREATED => ids.push(answer["data"]["id"].clone()),
            StatusCode::CONFLICT => assert_eq!(answer["code"], 40903, "{answer}"),
            other => panic!("{other}: {answer}"),
        }
    }

    ids.dedup();
    assert_eq!(ids.len(), 1, "every answer names the same order");
    assert_eq!(app.count_events("OrderPlaced").await, 1);
}

#[tokio::test]
async fn a_claim_left_by_a_stopped_server_finds_the_order_it_wrote() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    // A server wrote the order, then stopped before storing the answer: its claim is stale.
    let (status, first) = order_with_key(&app, "u1", "key-3", &body(tea, 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    sqlx::query(
        "UPDATE idempotency_keys SET status = NULL, answer = NULL,
                updated_at = now() - interval '5 minutes'",
    )
    .execute(&app.pool)
    .await
    .expect("make the claim stale");

    let (status, again) = order_with_key(&app, "u1", "key-3", &body(tea, 1)).await;

    assert_eq!(status, StatusCode::CREATED, "{again}");
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    assert_eq!(app.count_events("OrderPlaced").await, 1);
}

#[tokio::test]
async fn a_key_claimed_anew_after_its_window_does_not_find_its_earlier_use() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let (status, old) = order_with_key(&app, "u1", "key-4", &body(tea, 1)).await;
    assert_eq!(status, StatusCode::CREATED);
    // Days later the key is claimed again (the old claim long purged), and that server
    // stops before writing anything: the claim is stale, the old order carries the key.
    sqlx::query(
        "UPDATE idempotency_keys SET status = NULL, answer = NULL, created_at = now(),
                updated_at = now() - interval '5 minutes'",
    )
    .execute(&app.pool)
    .await
    .expect("a new, stale claim");

    let (status, new) = order_with_key(&app, "u1", "key-4", &body(tea, 1)).await;

    assert_eq!(status, StatusCode::CREATED, "{new}");
    assert_ne!(
        new["data"]["id"], old["data"]["id"],
        "a new order, not the old one"
    );
    assert_eq!(app.count_events("OrderPlaced").await, 2);
}

#[tokio::test]
async fn a_retried_cancel_answers_the_same_and_releases_once() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let (_, placed) = app.user("u1").place_order(&[(tea, 3)]).await.into_parts();
    let id = placed["data"]["id"].as_str().expect("id").to_owned();
    let shopper = app.user("u1");
    let cancel = || {
        shopper
            .request(Method::POST, &format!("/api/v1/orders/{id}/cancel"))
            .header("Idempotency-Key", "cancel-1")
            .send()
    };

    let first = cancel().await.expect("cancel");
    assert_eq!(first.status(), StatusCode::OK);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let first: Value = first.json().await.expect("json");
    let again = cancel().await.expect("retry");
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "not a 409: the first answer again"
    );
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.expect("json");

    assert_eq!(again, first);
    assert_eq!(app.count_events("OrderCancelled").await, 1);
    assert_eq!(app.count_events("StockReleased").await, 1);
    assert_eq!(app.stock(tea).await.available(), 10);
}

#[tokio::test]
async fn an_operator_retrying_a_product_creation_creates_one_product() {
    let app = crate::support::spawn_app().await;
    let body = json!({"name": "Tea", "price_cents": 500, "initial_stock": 5});
    let admin = app.admin();
    let create = || async {
        admin
            .post_keyed("/api/v1/admin/products", "new-tea", &body)
            .await
            .into_parts()
    };

    let (first_status, first) = create().await;
    let (again_status, again) = create().await;

    assert_eq!(
        (first_status, again_status),
        (StatusCode::CREATED, StatusCode::CREATED)
    );
    assert_eq!(again["data"]["id"], first["data"]["id"]);
    assert_eq!(app.count_events("ProductCreated").await, 1);
}

#[tokio::test]
async fn a_key_reused_on_another_endpoint_is_refused() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let (status, _) = order_with_key(&app, "u1", "shared", &body(tea, 1)).await;
    assert_eq!(status, StatusCode::CREATED);

    let shopper = app.user("u1");
    let response = shopper
        .send_raw(
            shopper
                .request(Method::PUT, "/api/v1/me")
                .header("Idempotency-Key", "shared")
                .json(&json!({"nickname": "Mei"})),
        )
        .await;
    // PUTs are idempotent by nature: the key is not checked there.
    assert_ne!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);

    let (_, placed) = shopper.place_order(&[(tea, 1)]).await.into_parts();
    let id = placed["data"]["id"].as_str().expect("id").to_owned();
    let response = shopper
        .send_raw(
            shopper
                .request(Method::POST, &format!("/api/v1/orders/{id}/cancel"))
                .header("Idempotency-Key", "shared"),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let answer: Value = response.json().await.expect("json");
    assert_eq!(answer["data"]["errors"][0]["field"], "Idempotency-Key");
    assert_eq!(app.count_events("OrderCancelled").await, 0);
}

#[tokio::test]
async fn a_restock_left_unanswered_by_a_stopped_server_is_not_applied_twice() {
    let app = crate::support::spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    let admin = app.admin();
    let restock = || async {
        admin
            .post_keyed(
                &format!("/api/v1/admin/products/{tea}/stock"),
                "restock-1",
                &json!({"quantity": 5, "reason": "delivery"}),
            )
            .await
            .into_parts()
    };
    let (status, first) = restock().await;
    assert_eq!(status, StatusCode::OK, "{first}");
    sqlx::query(
        "UPDATE idempotency_keys SET status = NULL, answer = NULL,
                updated_at = now() - interval '5 minutes'",
    )
    .execute(&app.pool)
    .await
    .expect("make the claim stale");

    let (status, again) = restock().await;

    assert_eq!(status, StatusCode::OK, "{again}");
    assert_eq!(again["data"]["available"], 15);
    assert_eq!(app.stock(tea).await.available(), 15, "restocked once");
}

#[tokio::test]
async fn a_busy_answer_is_not_replayed_and_the_retry_places_the_order() {
    let first = crate::support::spawn_app().await;
    // The second instance gives up at the first conflict, so a stale cache answers busy.
    let second = crate::support::start(
        first.pool.clone(),
        ordo::state::AppSettings {
            dev_mode: true,
            write: ordo::write::WriteSettings {
                max_attempts: 1,
                ..ordo::write::WriteSettings::default()
            },
            ..ordo::state::AppSettings::default()
        },
    )
    .await;
    let tea = first.admin().create_product("Tea", 500, 10).await;
    let cup = first.admin().create_product("Cup", 300, 10).await;
    let (status, _) = second
        .user("warm-up")
        .place_order(&[(tea, 1), (cup, 1)])
        .await
        .into_parts();
    assert_eq!(status, StatusCode::CREATED);
    let (status, _) = first
        .user("other")
        .place_order(&[(tea, 1)])
        .await
        .into_parts();
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the second instance's cache is stale now"
    );
    let body = json!({"lines": [{"product_id": tea, "quantity": 1},
                                {"product_id": cup, "quantity": 1}],
                      "address": address()});

    let (status, busy) = order_with_key(&second, "mei", "k-busy", &body).await;
    assert_eq!(status, StatusCode::CONFLICT, "{busy}");
    assert_eq!(busy["code"], 40903);
    let (status, placed) = order_with_key(&second, "mei", "k-busy", &body).await;

    assert_eq!(status, StatusCode::CREATED, "the retry ran anew: {placed}");
    let (status, again) = order_with_key(&second, "mei", "k-busy", &body).await;
    assert_eq!(status, StatusCode::CREATED);
    assert_eq!(
        again["data"]["id"], placed["data"]["id"],
        "now it is replayed"
    );
    let orders: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM events
          WHERE event_type = 'OrderPlaced' AND payload->'OrderPlaced'->>'user_id' = 'mei'",
    )
    .fetch_one(&first.pool)
    .await
    .expect("count");
    assert_eq!(orders, 1);
}

#[tokio::test]
async fn login_and_refresh_answers_are_never_stored() {
    let app = crate::support::spawn_app().await;
    let someone = app.user("someone");
    let post = |path: &'static str, body: Value| {
        let someone = someone.clone();
        async move { someone.post_keyed(path, "k-auth", &body).await.into_parts() }
    };

    let (status, login) = post("/api/v1/auth/wechat-login", json!({"code": "dev:mei"})).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    let refresh_token = login["data"]["refresh_token"].as_str().expect("refresh");
    let (status, refreshed) = post(
        "/api/v1/auth/refresh",
        json!({"refresh_token": refresh_token}),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");

    let stored: i64 = sqlx::query_scalar("SELECT count(*) FROM idempotency_keys")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(stored, 0, "no tokens at rest");
    // Logging in again with the same key is a new login, not a replay of the tokens.
    let (status, again) = post("/api/v1/auth/wechat-login", json!({"code": "dev:mei"})).await;
    assert_eq!(status, StatusCode::OK);
    assert_ne!(again["data"]["access_token"], login["data"]["access_token"]);
}

#[tokio::test]
async fn an_order_that_outlives_its_deadline_after_committing_is_answered_to_the_retry() {
    let app = crate::support::spawn_app_with(ordo::state::AppSettings {
        dev_mode: true,
        request_timeout: Some(std::time::Duration::from_millis(300)),
        ..ordo::state::AppSettings::default()
    })
    .await;
    // Created through the write model: over HTTP, a busy machine could take the
    // product's own request past the 300 ms deadline.
    let tea = app
        .state
        .write
        .create_product(
            aggregates::product::NewProduct {
                name: "Tea".into(),
                description: String::new(),
                category: String::new(),
                price_cents: 500,
                limit_per_user: None,
                specs: Vec::new(),
                skus: Vec::new(),
            },
            &[10],
            &Default::default(),
        )
        .await
        .expect("create the product")
        .value
        .id;
    // Locking the checkpoints table keeps the read models behind: a placed order then
    // waits (2 s) to read its own write, long past the 300 ms deadline. (Caught up first:
    // a read side already seen behind is not waited for.) A table lock, not a row lock:
    // it takes no transaction id.
    crate::support::settle(&app.pool).await;
    crate::support::eventually("the server sees its read side caught up", || async {
        (!app.state.horizon.report().stale("orders")).then_some(())
    })
    .await;
    let mut hold = app.pool.begin().await.expect("begin");
    sqlx::query("LOCK TABLE projection_checkpoints IN EXCLUSIVE MODE")
        .execute(&mut *hold)
        .await
        .expect("hold the projections");
    let body = json!({"lines": [{"product_id": tea, "quantity": 1}], "address": address()});

    let (status, first) = order_with_key(&app, "mei", "k-slow", &body).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{first}");
    // The retry waits while the first run is still going, then gets its order.
    let placed = crate::support::eventually("the first run's answer", || async {
        let (status, answer) = order_with_key(&app, "mei", "k-slow", &body).await;
        match status {
            StatusCode::CONFLICT if answer["code"] == 40903 => None,
            other => Some((other, answer)),
        }
    })
    .await;
    hold.rollback().await.expect("release");

    assert_eq!(placed.0, StatusCode::CREATED, "{}", placed.1);
    assert_eq!(
        app.count_events("OrderPlaced").await,
        1,
        "nothing written twice"
    );
    assert_eq!(app.stock(tea).await.reserved(), 1);
}

/// Whether a transaction of another connection holds `LOCK TABLE events`.
async fn events_locked(pool: &sqlx::PgPool) -> bool {
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_locks
                         WHERE relation = 'events'::regclass AND mode = 'ExclusiveLock'
                           AND database = (SELECT oid FROM pg_database
                                            WHERE datname = current_database())
                           AND granted)",
    )
    .fetch_one(pool)
    .await
    .expect("read pg_locks")
}

#[tokio::test]
async fn a_keyed_order_held_ninety_seconds_and_its_retries_place_one_order() {
    let app = crate::support::spawn_app_with(ordo::state::AppSettings {
        dev_mode: true,
        // Short against the 90 s hold, long enough that a loaded machine answers the
        // product's creation and each retry's lookup in time.
        request_timeout: Some(std::time::Duration::from_secs(3)),
        ..ordo::state::AppSettings::default()
    })
    .await;
    let tea = app.admin().create_product("Tea", 500, 10).await;
    // Another connection locks the events table for 90 s: the order's append waits
    // behind it, as behind any slow lock. Busy in `pg_sleep`, not idle, so that no idle
    // timeout cuts it short; an explicit lock takes no transaction id, so no other
    // test's feed is held back.
    let pool = app.pool.clone();
    let hold = tokio::spawn(async move {
        let mut tx = pool.begin().await.expect("begin");
        sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
            .execute(&mut *tx)
            .await
            .expect("lock the events");
        sqlx::query("SELECT pg_sleep(90)")
            .execute(&mut *tx)
            .await
            .expect("hold the lock");
        tx.commit().await.expect("release");
    });
    crate::support::eventually("the events table is locked", || async {
        events_locked(&app.pool).await.then_some(())
    })
    .await;
    let held_since = std::time::Instant::now();
    let body = body(tea, 1);

    let (status, first) = order_with_key(&app, "mei", "k-held", &body).await;
    assert_eq!(
        status,
        StatusCode::SERVICE_UNAVAILABLE,
        "past its deadline: {first}"
    );
    // Retries all along the hold, past the minute after which a claim without a heartbeat
    // used to be taken over: each finds the first run still going.
    let mut retries = 0;
    while held_since.elapsed() < std::time::Duration::from_secs(85) {
        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
        if !events_locked(&app.pool).await {
            break;
        }
        let (status, answer) = order_with_key(&app, "mei", "k-held", &body).await;
        assert_eq!(status, StatusCode::CONFLICT, "retry {retries}: {answer}");
        assert_eq!(answer["code"], 40903, "in progress: {answer}");
        retries += 1;
    }
    assert!(retries >= 7, "retried past the minute ({retries} retries)");
    hold.await.expect("the hold ends");
    // The first run now finishes its append; until it stores its answer a retry finds it
    // going (or, on a loaded machine, is itself past its deadline).
    let placed = crate::support::eventually("the first run's answer", || async {
        let (status, answer) = order_with_key(&app, "mei", "k-held", &body).await;
        match status {
            StatusCode::CONFLICT if answer["code"] == 40903 => None,
            StatusCode::SERVICE_UNAVAILABLE => None,
            other => Some((other, answer)),
        }
    })
    .await;

    assert_eq!(
        placed.0,
        StatusCode::CREATED,
        "the stored answer: {}",
        placed.1
    );
    assert_eq!(app.count_events("OrderPlaced").await, 1, "one order");
    assert_eq!(app.stock(tea).await.reserved(), 1, "reserved once");
    let (status, again) = order_with_key(&app, "mei", "k-held", &body).await;
    assert_eq!(
        (status, &again["data"]["id"]),
        (StatusCode::CREATED, &placed.1["data"]["id"])
    );
}
