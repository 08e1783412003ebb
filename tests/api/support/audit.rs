//! The audit log's test helpers: some history to audit (orders placed, cancelled and
//! paid under request ids, a long stock stream), seals, and tampering behind ordo's
//! back, which the verification must catch.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;
use uuid::Uuid;

use super::{Client, TestApp, address};

/// What `GET /admin/audit/verify` reports (its `data`), once it answered 200.
pub async fn verify_report(app: &TestApp) -> Value {
    let (status, report) = app
        .admin()
        .get("/api/v1/admin/audit/verify")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{report}");
    report["data"].clone()
}

/// Asserts that the whole log verifies; a failure shows the feed and the projections'
/// checkpoints and parked events too (a read model that differs is then explained).
pub async fn assert_log_verifies(app: &TestApp) {
    let report = verify_report(app).await;
    if report["ok"] != true {
        panic!(
            "the log does not verify: {report}\n{}",
            feed_dump(&app.pool).await
        );
    }
}

/// The feed in order, the checkpoints and the parked events, as text.
async fn feed_dump(pool: &PgPool) -> String {
    let rows = |sql: &'static str| async move {
        sqlx::query_scalar::<_, String>(sql)
            .fetch_all(pool)
            .await
            .unwrap_or_else(|err| vec![format!("({err})")])
            .join("\n")
    };
    format!(
        "feed:\n{}\ncheckpoints:\n{}\nparked:\n{}",
        rows("SELECT concat_ws(' ', transaction_id, global_position, aggregate_type, aggregate_id, sequence, event_type, recorded_at) FROM events ORDER BY transaction_id, global_position").await,
        rows("SELECT to_jsonb(c)::text FROM projection_checkpoints c ORDER BY 1").await,
        rows("SELECT to_jsonb(p)::text FROM projection_parked_events p ORDER BY 1").await,
    )
}

/// Places an order of `quantity` × `product` as `shopper`, under `request_id` (what
/// the history shows): the order.
pub async fn place(shopper: &Client, product: Uuid, quantity: i64, request_id: &str) -> Value {
    let response = shopper
        .request(Method::POST, "/api/v1/orders")
        .header("x-request-id", request_id)
        .json(
            &json!({"lines": [{"product_id": product, "quantity": quantity}],
                      "address": address()}),
        )
        .send()
        .await
        .expect("place");
    assert_eq!(response.status(), StatusCode::CREATED);
    response.json::<Value>().await.expect("json")["data"].clone()
}

/// Cancels `order` as `shopper`, under `request_id`: the order.
pub async fn cancel(shopper: &Client, order: &str, request_id: &str) -> Value {
    let response = shopper
        .request(Method::POST, &format!("/api/v1/orders/{order}/cancel"))
        .header("x-request-id", request_id)
        .send()
        .await
        .expect("cancel");
    assert_eq!(response.status(), StatusCode::OK);
    response.json::<Value>().await.expect("json")["data"].clone()
}

/// Seals the log now (as the app's sealer does every 10 s); the seal.
pub async fn seal(app: &TestApp) -> ordo::audit::sealer::Seal {
    ordo::audit::sealer::seal(&app.pool)
        .await
        .expect("seal")
        .expect("a seal")
}

/// Edits the reservation at `position` from 2 units to 1 behind ordo's back: what the
/// hash chain must catch.
pub async fn halve_a_reservation(pool: &PgPool, position: i64) {
    tamper(
        pool,
        &format!(
            "UPDATE events SET payload = replace(payload::text, '\"quantity\":2', '\"quantity\":1')::json
              WHERE global_position = {position}"
        ),
    )
    .await;
}

/// Runs `sql` as the superuser with triggers off: what an attacker with database access
/// could do behind the append-only trigger.
pub async fn tamper(pool: &PgPool, sql: &str) {
    let mut tx = pool.begin().await.expect("begin");
    sqlx::query("SET LOCAL session_replication_role = replica")
        .execute(&mut *tx)
        .await
        .expect("triggers off");
    sqlx::query(sql).execute(&mut *tx).await.expect("tamper");
    tx.commit().await.expect("commit");
}

/// The position of the `nth` (from 0) event of `event_type`.
pub async fn position_of(pool: &PgPool, event_type: &str, nth: i64) -> i64 {
    sqlx::query_scalar(
        "SELECT global_position FROM events WHERE event_type = $1
          ORDER BY global_position OFFSET $2 LIMIT 1",
    )
    .bind(event_type)
    .bind(nth)
    .fetch_one(pool)
    .await
    .expect("position")
}

/// Some history: orders placed, cancelled, paid, stock restocked.
pub async fn workload(app: &TestApp) -> Vec<Uuid> {
    let tea = app.admin().create_product("Tea", 500, 50).await;
    let cake = app.admin().create_product("Cake", 900, 50).await;
    for n in 0..6 {
        let shopper = app.user(&format!("u{n}"));
        let order = place(
            &shopper,
            if n % 2 == 0 { tea } else { cake },
            2,
            &format!("w{n}"),
        )
        .await;
        let id: Uuid = order["id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("id");
        match n % 3 {
            0 => {
                cancel(&shopper, &id.to_string(), &format!("c{n}")).await;
            }
            1 => {
                app.pay(id, order["total_cents"].as_i64().expect("total"))
                    .await
            }
            _ => {}
        }
    }
    app.admin()
        .post(
            &format!("/api/v1/admin/products/{tea}/stock"),
            &json!({"quantity": 5, "reason": "delivery"}),
        )
        .await;
    vec![tea, cake]
}

/// 1,100 restocks of one product, appended in one go: more than one import batch.
pub async fn many_events(app: &TestApp) -> Uuid {
    let product = app.admin().create_product("Bulk", 100, 1).await;
    let events = (0..1_100)
        .map(|n| ordo::event_store::EventData {
            event_type: "StockAdded".into(),
            event_version: "1".into(),
            payload: serde_json::json!({"StockAdded": {"quantity": 1, "reason": format!("lot {n}")}}),
            metadata: None,
        })
        .collect();
    app.events
        .append(
            &[ordo::event_store::StreamAppend {
                stream: ordo::event_store::StreamId::new("Stock", product.to_string()),
                expected_sequence: 1,
                events,
            }],
            &ordo::event_store::EventMetadata::default(),
        )
        .await
        .expect("append");
    product
}

/// Streamed verifications that ended with `outcome`, as `/metrics` counts them (one
/// count for the whole test process).
pub async fn streamed_verifications(app: &TestApp, outcome: &str) -> u64 {
    app.metrics()
        .await
        .lines()
        .filter(|line| {
            line.starts_with("audit_verifications_total{")
                && line.contains("answer=\"stream\"")
                && line.contains(&format!("outcome=\"{outcome}\""))
        })
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}
