//! Every audit reader survives any text in the log: an event holding U+0000 (which a
//! `json` payload can hold and PostgreSQL's `text` and `jsonb` cannot) is verified by
//! every pass, shown in histories and states as of an instant, exported, imported,
//! backed up and restored, exactly as it was written.

use ordo::event_store::{EventData, EventMetadata, StreamAppend, StreamId};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::support::backups::{backup_dir, path, run};
use crate::support::{TestApp, address, fresh_database, settle, spawn_app_on};

/// NUL, a backslash before NUL, and a backslash before the letters `u0000` (no NUL).
const REMARK: &str = "ring twice\u{0}then \\\u{0}wait \\u0000";
const LINE_NAME: &str = "Green\u{0}Tea";

/// A shop whose log holds an order placed with NUL in its remark, address and line (as an
/// older ordo could have written it), its stock reserved, and a product named with NUL.
async fn shop_with_nul() -> (TestApp, PgConnectOptions, Uuid, Uuid) {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let product = app.admin().create_product("Tea", 100, 10).await;
    let stock_sequence: i64 = sqlx::query_scalar(
        "SELECT max(sequence) FROM events WHERE aggregate_type = 'Stock' AND aggregate_id = $1",
    )
    .bind(product.to_string())
    .fetch_one(&app.pool)
    .await
    .expect("stock stream");
    let (order, named) = (Uuid::now_v7(), Uuid::now_v7());
    let now = chrono::Utc::now();
    let mut nul_address = address();
    nul_address["detail"] = json!("Room\u{0}1");
    let event = |event_type: &str, payload: Value| EventData {
        event_type: event_type.into(),
        event_version: "1".into(),
        payload,
        metadata: None,
    };
    app.events
        .append(
            &[
                StreamAppend {
                    stream: StreamId::new("Order", order.to_string()),
                    expected_sequence: 0,
                    events: vec![event(
                        "OrderPlaced",
                        json!({"OrderPlaced": {
                            "user_id": "nul-user",
                            "lines": [{"product_id": product, "name": LINE_NAME,
                                       "unit_price_cents": 100, "quantity": 1}],
                            "total_cents": 100, "address": nul_address, "remark": REMARK,
                            "placed_at": now,
                            "expires_at": now + chrono::Duration::hours(1)}}),
                    )],
                },
                StreamAppend {
                    stream: StreamId::new("Stock", product.to_string()),
                    expected_sequence: stock_sequence,
                    events: vec![event(
                        "StockReserved",
                        json!({"StockReserved": {"order_id": order, "quantity": 1}}),
                    )],
                },
                StreamAppend {
                    stream: StreamId::new("Product", named.to_string()),
                    expected_sequence: 0,
                    events: vec![event(
                        "ProductCreated",
                        json!({"ProductCreated": {"name": LINE_NAME, "description": "\u{0}",
                                                  "category": "tea", "price_cents": 100}}),
                    )],
                },
            ],
            &EventMetadata::default(),
        )
        .await
        .expect("append");
    settle(&app.pool).await;
    (app, options, order, product)
}

async fn text_of(app: &TestApp, path: &str) -> (StatusCode, String) {
    let response = app
        .admin()
        .request(Method::GET, path)
        .send()
        .await
        .expect("request");
    let status = response.status();
    (status, response.text().await.expect("body"))
}

#[tokio::test]
async fn verify_of_a_log_holding_nul_is_a_report_from_every_pass() {
    let (app, options, _, _) = shop_with_nul().await;
    crate::support::audit::seal(&app).await;

    let (status, body) = app
        .admin()
        .get("/api/v1/admin/audit/verify")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let report = &body["data"];
    // The reservation matched its order line: the references pass read the NUL order.
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["seals"], 1, "{report}");
    assert!(
        report["read_models"]
            .as_array()
            .is_some_and(|r| !r.is_empty())
    );

    let (status, streamed) = text_of(&app, "/api/v1/admin/audit/verify/stream").await;
    assert_eq!(status, StatusCode::OK, "{streamed}");
    let last: Value = serde_json::from_str(streamed.lines().last().expect("a line")).expect("json");
    assert_eq!(last["report"]["ok"], true, "{streamed}");

    let (ok, text) = run(&options, &["audit", "verify"]);
    assert!(ok, "{text}");
    assert!(text.contains("OK: every hash chain"), "{text}");

    // Still a verifier: the NUL order's reservation cut behind ordo's back is found.
    let position: i64 =
        sqlx::query_scalar("SELECT global_position FROM events WHERE event_type = 'StockReserved'")
            .fetch_one(&app.pool)
            .await
            .expect("position");
    crate::support::audit::tamper(
        &app.pool,
        &format!(
            "UPDATE events SET payload = replace(payload::text, '\"quantity\":1', '\"quantity\":7')::json
              WHERE global_position = {position}"
        ),
    )
    .await;
    let (status, body) = app
        .admin()
        .get("/api/v1/admin/audit/verify")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let kinds: Vec<&str> = body["data"]["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"hash_mismatch"), "{body}");
    assert!(kinds.contains(&"reservation_mismatch"), "{body}");
}

#[tokio::test]
async fn history_states_as_of_and_export_of_a_log_holding_nul_give_it_back_exactly() {
    let (app, options, order, product) = shop_with_nul().await;
    let admin = app.admin();

    let (status, body) = admin
        .get(&format!("/api/v1/admin/orders/{order}/history"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"][0]["payload"]["OrderPlaced"]["remark"], REMARK);
    assert_eq!(body["data"][1]["type"], "StockReserved", "{body}");
    let (ok, text) = run(&options, &["audit", "order", &order.to_string()]);
    assert!(ok, "{text}");
    assert!(text.contains("StockReserved"), "{text}");

    let as_of = (chrono::Utc::now() + chrono::Duration::seconds(1))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let (status, body) = admin
        .get(&format!("/api/v1/admin/orders/{order}/state?as_of={as_of}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["data"]["order"]["lines"][0]["name"], LINE_NAME,
        "{body}"
    );
    let (status, body) = admin
        .get(&format!(
            "/api/v1/admin/products/{product}/stock?as_of={as_of}"
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["reserved"], 1, "{body}");
    let (ok, text) = run(
        &options,
        &["audit", "order", &order.to_string(), "--as-of", &as_of],
    );
    assert!(ok, "{text}");
    assert!(text.contains("1 × Green\u{0}Tea"), "{text}");

    let (status, exported) = text_of(&app, "/api/v1/admin/audit/export").await;
    assert_eq!(status, StatusCode::OK, "{exported}");
    assert!(
        exported.contains(r#""remark":"ring twice\u0000then \\\u0000wait \\u0000""#),
        "{exported}"
    );
    let file = std::env::temp_dir().join(format!("ordo-export-{}.ndjson", Uuid::new_v4()));
    let (ok, text) = run(&options, &["audit", "export", "-o", path(&file)]);
    assert!(ok, "{text}");
    assert_eq!(std::fs::read_to_string(&file).expect("export"), exported);

    // Imported into an empty store, it is the same log: it verifies, the order reads back.
    let (empty, empty_options) = fresh_database().await;
    let (ok, text) = run(&empty_options, &["audit", "import", path(&file)]);
    let _ = std::fs::remove_file(&file);
    assert!(ok, "{text}");
    let imported = spawn_app_on(empty).await;
    settle(&imported.pool).await;
    let (status, body) = imported
        .user("nul-user")
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["remark"], REMARK);
}

#[tokio::test]
async fn a_backup_of_a_log_holding_nul_restores_and_verifies() {
    let (_app, options, order, _) = shop_with_nul().await;
    let dir = backup_dir();
    let (ok, text) = run(&options, &["backup", path(&dir)]);
    assert!(ok, "{text}");

    let (restored_pool, restored_options) = fresh_database().await;
    let (ok, text) = run(&restored_options, &["restore", path(&dir)]);
    let _ = std::fs::remove_dir_all(&dir);
    assert!(ok, "{text}");
    assert!(text.contains("OK: every hash chain"), "{text}");
    let restored = spawn_app_on(restored_pool).await;
    let (status, body) = restored
        .user("nul-user")
        .get(&format!("/api/v1/orders/{order}"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["remark"], REMARK);
    assert_eq!(body["data"]["address"]["detail"], "Room\u{0}1");
}
