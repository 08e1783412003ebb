//! Audit: history and state as of what the API showed, a log that verifies, tampering of
//! every kind detected and named, and an export that re-imports to the same read models.

use std::time::Duration;

use chrono::{DateTime, Utc};
use ordo::state::AppSettings;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use sqlx::PgPool;

use crate::support::audit::{
    cancel, halve_a_reservation, many_events, place, position_of, seal, tamper, verify_report,
    workload,
};
use crate::support::{TestApp, fresh_database, spawn_app, start};

/// A moment strictly between what came before and what comes after.
async fn moment() -> DateTime<Utc> {
    tokio::time::sleep(Duration::from_millis(20)).await;
    let now = Utc::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    now
}

#[tokio::test]
async fn history_and_state_as_of_match_what_the_api_showed() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Tea", 500, 5).await;
    let before = moment().await;
    let mei = app.user("mei");
    let placed = place(&mei, tea, 2, "req-place").await;
    let id = placed["id"].as_str().expect("id").to_owned();
    let between = moment().await;
    let cancelled = cancel(&mei, &id, "req-cancel").await;
    let after = moment().await;

    let (status, history) = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}/history"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{history}");
    let entries = history["data"].as_array().expect("entries");
    let types: Vec<&str> = entries.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        types,
        [
            "OrderPlaced",
            "StockReserved",
            "OrderCancelled",
            "StockReleased"
        ]
    );
    assert_eq!(entries[0]["actor"]["id"], "mei");
    assert_eq!(entries[0]["actor"]["role"], "user");
    assert_eq!(entries[0]["request_id"], "req-place");
    assert_eq!(entries[1]["aggregate_id"], tea.to_string());
    assert_eq!(entries[1]["payload"]["StockReserved"]["quantity"], 2);
    assert_eq!(entries[2]["request_id"], "req-cancel");
    assert_eq!(entries[2]["version"], 2);
    let positions: Vec<i64> = entries
        .iter()
        .filter_map(|e| e["position"].as_i64())
        .collect();
    assert!(
        positions.windows(2).all(|w| w[0] < w[1]),
        "in order: {positions:?}"
    );

    let state_at = |at: DateTime<Utc>| {
        let app = &app;
        let id = id.clone();
        async move {
            app.admin()
                .get(&format!(
                    "/api/v1/admin/orders/{id}/state?as_of={}",
                    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
                ))
                .await
                .into_parts()
        }
    };
    let (status, _) = state_at(before).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "not placed yet");
    let (status, then) = state_at(between).await;
    assert_eq!(status, StatusCode::OK, "{then}");
    for field in ["status", "total_cents", "lines", "address", "expires_at"] {
        assert_eq!(
            then["data"]["order"][field], placed[field],
            "{field} as placed"
        );
    }
    assert_eq!(then["data"]["stocks"][0]["available"], 3);
    assert_eq!(then["data"]["stocks"][0]["reserved"], 2);
    let (_, now) = state_at(after).await;
    for field in ["status", "cancel_reason", "cancelled_at"] {
        assert_eq!(
            now["data"]["order"][field], cancelled[field],
            "{field} as cancelled"
        );
    }
    assert_eq!(now["data"]["stocks"][0]["available"], 5);
    let (status, stock) = app
        .admin()
        .get(&format!(
            "/api/v1/admin/products/{tea}/stock?as_of={}",
            between.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{stock}");
    assert_eq!(
        (
            stock["data"]["on_hand"].as_i64(),
            stock["data"]["reserved"].as_i64()
        ),
        (Some(5), Some(2))
    );

    let (status, bad) = app
        .admin()
        .get(&format!("/api/v1/admin/orders/{id}/state?as_of=yesterday"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(bad["data"]["errors"][0]["field"], "as_of");
    let (status, _) = app
        .user("mei")
        .get(&format!("/api/v1/admin/orders/{id}/history"))
        .await
        .into_parts();
    assert_eq!(status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn an_untouched_log_verifies_with_its_seals_and_read_models() {
    let app = spawn_app().await;
    workload(&app).await;
    seal(&app).await;
    workload(&app).await;
    seal(&app).await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], true, "{report}");
    // Ours, and any the app's own sealer (every 10 s) added on a slow machine.
    let sealed: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_seals")
        .fetch_one(&app.pool)
        .await
        .expect("seals");
    assert!(sealed >= 2, "{sealed} seals");
    assert_eq!(report["seals"], sealed);
    let (status, seals) = app
        .admin()
        .get("/api/v1/admin/audit/seals")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{seals}");
    assert_eq!(seals["data"]["pagination"]["total"], sealed);
    assert_eq!(seals["data"]["list"][0]["event_count"], report["events"]);
    assert_eq!(
        seals["data"]["list"][0]["cumulative_hash"]
            .as_str()
            .map(str::len),
        Some(64)
    );
    assert_eq!(report["failure_count"], 0);
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(report["events"], total);
    let models = report["read_models"].as_array().expect("read models");
    assert_eq!(models.len(), 5, "one per projection");
    assert!(
        models
            .iter()
            .all(|m| m["missing_rows"] == 0 && m["extra_rows"] == 0),
        "{report}"
    );
}

#[tokio::test]
async fn an_edited_payload_is_found_at_its_position() {
    let app = spawn_app().await;
    workload(&app).await;
    let target = position_of(&app.pool, "StockReserved", 2).await;
    halve_a_reservation(&app.pool, target).await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false);
    assert_eq!(report["first_failure_position"], target, "{report}");
    assert_eq!(report["failures"][0]["kind"], "hash_mismatch");
    assert_eq!(report["failures"][0]["position"], target);
}

/// ordo chains each event's hash itself. The database fills in a hash a writer does not
/// give, checks a given one when `ordo.check_hashes` is on (every test database: each
/// test's appends pass it), and with the check off a wrong hash is stored and then named
/// by verification, like any hash that does not recompute.
#[tokio::test]
async fn a_hash_a_writer_gives_is_checked_by_the_database_or_found_by_verify() {
    let app = spawn_app().await;
    workload(&app).await;
    let checking: String = sqlx::query_scalar("SELECT current_setting('ordo.check_hashes')")
        .fetch_one(&app.pool)
        .await
        .expect("setting");
    assert_eq!(checking, "on", "the workload's appends were checked");
    let note = |sequence: i64| {
        format!(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata{})
             VALUES ('Note', 'n-1', {sequence}, 'NoteWritten', '1.0', '{{\"text\": \"hi\"}}',
                     '{{}}'{}) RETURNING global_position",
            if sequence > 1 { ", hash" } else { "" },
            if sequence > 1 { ", $1" } else { "" },
        )
    };
    // Without a hash: the database chains it.
    sqlx::query(&note(1))
        .execute(&app.pool)
        .await
        .expect("a writer that gives no hash");
    let wrong = vec![7_u8; 32];
    let refused = sqlx::query(&note(2))
        .bind(&wrong)
        .execute(&app.pool)
        .await
        .expect_err("a hash its chain does not give, checked");
    let refused = refused
        .as_database_error()
        .expect("the database refused it");
    assert_eq!(refused.code().as_deref(), Some("23000"), "{refused}");
    assert!(refused.message().contains("its chain gives"), "{refused}");

    let mut unchecked = app.pool.acquire().await.expect("connection");
    sqlx::query("SET ordo.check_hashes = off")
        .execute(&mut *unchecked)
        .await
        .expect("check off");
    let stored: i64 = sqlx::query_scalar(&note(2))
        .bind(&wrong)
        .fetch_one(&mut *unchecked)
        .await
        .expect("stored unchecked");
    drop(unchecked);

    let (status, report) = app
        .admin()
        .get("/api/v1/admin/audit/verify?read_models=false")
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{report}");
    let report = &report["data"];
    assert_eq!(report["ok"], false, "{report}");
    assert_eq!(report["failure_count"], 1, "{report}");
    assert_eq!(report["failures"][0]["kind"], "hash_mismatch", "{report}");
    assert_eq!(report["failures"][0]["position"], stored, "{report}");
}

#[tokio::test]
async fn a_deleted_event_is_found() {
    let app = spawn_app().await;
    workload(&app).await;
    ordo::audit::sealer::seal(&app.pool).await.expect("seal");
    // A stock's first reservation: its stream continues after it.
    let target = position_of(&app.pool, "StockReserved", 0).await;
    tamper(
        &app.pool,
        &format!("DELETE FROM events WHERE global_position = {target}"),
    )
    .await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false);
    let kinds: Vec<&str> = report["failures"]
        .as_array()
        .expect("failures")
        .iter()
        .filter_map(|f| f["kind"].as_str())
        .collect();
    assert!(kinds.contains(&"sequence_gap"), "{report}");
    assert!(kinds.contains(&"seal_mismatch"), "{report}");
    assert!(kinds.contains(&"reservation_mismatch"), "{report}");
    assert!(report["first_failure_position"].as_i64().expect("position") <= target + 1);
}

#[tokio::test]
async fn a_stream_s_last_event_deleted_is_found_by_the_seal() {
    let app = spawn_app().await;
    workload(&app).await;
    ordo::audit::sealer::seal(&app.pool).await.expect("seal");
    let last_placed = position_of(&app.pool, "OrderPlaced", 5).await;
    // The last order's own stream ends with its OrderPlaced (it is still open).
    tamper(
        &app.pool,
        &format!("DELETE FROM events WHERE global_position = {last_placed}"),
    )
    .await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false);
    assert!(
        report["failures"]
            .as_array()
            .expect("failures")
            .iter()
            .any(|f| f["kind"] == "seal_mismatch"),
        "{report}"
    );
}

#[tokio::test]
async fn two_events_reordered_are_found() {
    let app = spawn_app().await;
    let [tea, _] = workload(&app).await[..] else {
        panic!("two products")
    };
    // Swap the 2nd and 3rd events of the tea's stock stream.
    let positions: Vec<i64> = sqlx::query_scalar(
        "SELECT global_position FROM events WHERE aggregate_type = 'Stock' AND aggregate_id = $1
          AND sequence IN (2, 3) ORDER BY sequence",
    )
    .bind(tea.to_string())
    .fetch_all(&app.pool)
    .await
    .expect("positions");
    let pair = format!("{}, {}", positions[0], positions[1]);
    tamper(
        &app.pool,
        &format!("UPDATE events SET sequence = sequence + 1000 WHERE global_position IN ({pair})"),
    )
    .await;
    tamper(
        &app.pool,
        &format!(
            "UPDATE events SET sequence = CASE sequence WHEN 1002 THEN 3 ELSE 2 END
              WHERE global_position IN ({pair})"
        ),
    )
    .await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false);
    assert_eq!(report["failures"][0]["kind"], "hash_mismatch", "{report}");
    assert_eq!(
        report["first_failure_position"],
        positions[0].min(positions[1]),
        "{report}"
    );
}

#[tokio::test]
async fn an_edited_seal_is_found() {
    let app = spawn_app().await;
    workload(&app).await;
    ordo::audit::sealer::seal(&app.pool).await.expect("seal");
    tamper(
        &app.pool,
        "UPDATE audit_seals SET event_count = event_count + 1",
    )
    .await;

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false);
    assert_eq!(report["failures"][0]["kind"], "seal_mismatch", "{report}");
}

#[tokio::test]
async fn the_cli_exits_non_zero_and_names_the_position() {
    let (pool, options) = fresh_database().await;
    let app = start(
        pool.clone(),
        AppSettings {
            dev_mode: true,
            ..AppSettings::default()
        },
    )
    .await;
    workload(&app).await;
    let target = position_of(&pool, "OrderPlaced", 1).await;
    tamper(
        &pool,
        &format!("UPDATE events SET metadata = '{{\"actor_id\":\"mallory\"}}' WHERE global_position = {target}"),
    )
    .await;

    let output = TestApp::cli(&options, &["audit", "verify", "--no-read-models"]);
    let printed = String::from_utf8_lossy(&output.stdout);
    let complaints = String::from_utf8_lossy(&output.stderr);

    assert_eq!(output.status.code(), Some(1), "{printed}{complaints}");
    assert!(
        printed.contains(&format!("first offending position: {target}")),
        "{printed}{complaints}"
    );
}

/// The rows of every read model, comparable across databases.
async fn read_models(pool: &PgPool) -> Vec<Value> {
    let mut rows = Vec::new();
    for (table, key) in [
        ("product_catalog", "product_id"),
        ("order_views", "order_id"),
        ("order_counts", "user_id, status"),
        ("daily_sales", "day"),
        ("payment_ledger", "kind, reference"),
        ("after_sales", "after_sale_id"),
    ] {
        let table_rows: Vec<Value> =
            sqlx::query_scalar(&format!("SELECT to_jsonb(t) FROM {table} t ORDER BY {key}"))
                .fetch_all(pool)
                .await
                .expect("rows");
        rows.push(json!({table: table_rows}));
    }
    rows
}

#[tokio::test]
async fn an_exported_range_reimported_into_an_empty_store_replays_to_the_same_read_models() {
    let app = spawn_app().await;
    workload(&app).await;
    crate::support::settle(&app.pool).await;
    let then = read_models(&app.pool).await;
    let cut = moment().await;
    workload(&app).await;

    let admin = app.admin();
    let response = admin
        .send_raw(admin.request(
            Method::GET,
            &format!(
                "/api/v1/admin/audit/export?to={}",
                cut.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
            ),
        ))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/x-ndjson");
    let ndjson = response.text().await.expect("body");
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|line| serde_json::from_str(line).expect("one JSON object per line"))
        .collect();
    let positions: Vec<i64> = lines
        .iter()
        .filter_map(|l| l["position"].as_i64())
        .collect();
    assert!(positions.windows(2).all(|w| w[0] < w[1]), "in order");

    let (empty, _) = fresh_database().await;
    let imported = ordo::audit::import::import(&empty, ndjson.as_bytes())
        .await
        .expect("import");
    assert_eq!(imported as usize, lines.len());
    let replayed = start(
        empty.clone(),
        AppSettings {
            dev_mode: true,
            ..AppSettings::default()
        },
    )
    .await;
    crate::support::settle(&empty).await;

    assert_eq!(read_models(&empty).await, then);
    assert_eq!(verify_report(&replayed).await["ok"], true);

    // An altered export is refused.
    let altered = ndjson.replacen("\"quantity\":2", "\"quantity\":3", 1);
    let (another, _) = fresh_database().await;
    let refused = ordo::audit::import::import(&another, altered.as_bytes()).await;
    assert!(
        matches!(
            refused,
            Err(ordo::audit::import::ImportError::HashMismatch { .. })
        ),
        "{refused:?}"
    );
}

#[tokio::test]
async fn an_import_refused_late_in_the_file_leaves_the_store_exactly_as_it_was() {
    let app = spawn_app().await;
    many_events(&app).await;
    // The export stops at the feed's horizon, which another test's open transaction on
    // the shared server may hold back for a moment.
    crate::support::settle(&app.pool).await;
    let admin = app.admin();
    let ndjson = admin
        .send_raw(admin.request(Method::GET, "/api/v1/admin/audit/export"))
        .await
        .text()
        .await
        .expect("body");
    let lines = ndjson.lines().count();
    assert!(lines > 1_100, "{lines} lines");
    // The last line tampered with: far past the first batch.
    let altered = {
        let (head, last) = ndjson.trim_end().rsplit_once('\n').expect("lines");
        format!("{head}\n{}\n", last.replacen("lot 1099", "lot 9999", 1))
    };
    assert_ne!(altered, ndjson);

    let (target, _) = fresh_database().await;
    let refused = ordo::audit::import::import(&target, altered.as_bytes()).await;
    assert!(
        matches!(refused, Err(ordo::audit::import::ImportError::HashMismatch { line, .. }) if line as usize == lines),
        "{refused:?}"
    );
    let count: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&target)
        .await
        .expect("count");
    assert_eq!(count, 0, "nothing of the refused import stays");
    let imported = ordo::audit::import::import(&target, ndjson.as_bytes())
        .await
        .expect("the untouched export imports afterwards");
    assert_eq!(imported as usize, lines);
}

#[tokio::test]
async fn a_client_hanging_up_on_verify_leaves_no_lock_behind() {
    let app = spawn_app().await;
    many_events(&app).await;
    workload(&app).await;
    crate::support::settle(&app.pool).await;
    let impatient = app.admin();
    for _ in 0..3 {
        let hung_up = impatient
            .request(Method::GET, "/api/v1/admin/audit/verify")
            .timeout(Duration::from_millis(30))
            .send()
            .await;
        assert!(hung_up.is_err(), "the client gave up before the answer");
    }

    // Once the abandoned runs stop, a verification gets the lock and finishes.
    let report = crate::support::eventually("a verification runs", || async {
        let (status, body) = app
            .admin()
            .get("/api/v1/admin/audit/verify")
            .await
            .into_parts();
        (status == StatusCode::OK).then_some(body)
    })
    .await;
    assert_eq!(report["data"]["ok"], true, "{report}");
    let leftovers: i64 =
        sqlx::query_scalar("SELECT count(*) FROM pg_tables WHERE tablename LIKE '%\\_\\_verify'")
            .fetch_one(&app.pool)
            .await
            .expect("tables");
    assert_eq!(leftovers, 0, "the replay copies are dropped");
}

#[tokio::test]
async fn a_read_model_row_edited_or_removed_is_found_by_the_comparison() {
    let app = spawn_app().await;
    workload(&app).await;
    crate::support::settle(&app.pool).await;
    sqlx::query(
        "UPDATE order_views SET total_cents = total_cents + 1
          WHERE order_id = (SELECT order_id FROM order_views ORDER BY order_id LIMIT 1)",
    )
    .execute(&app.pool)
    .await
    .expect("edit a row");
    sqlx::query(
        "DELETE FROM product_catalog WHERE product_id = (SELECT product_id FROM product_catalog ORDER BY product_id LIMIT 1)",
    )
    .execute(&app.pool)
    .await
    .expect("remove a row");

    let report = verify_report(&app).await;

    assert_eq!(report["ok"], false, "{report}");
    let model = |name: &str| {
        report["read_models"]
            .as_array()
            .and_then(|models| models.iter().find(|m| m["projection"] == name))
            .cloned()
            .unwrap_or(Value::Null)
    };
    assert_eq!(
        (
            model("orders")["missing_rows"].as_i64(),
            model("orders")["extra_rows"].as_i64()
        ),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            model("catalog")["missing_rows"].as_i64(),
            model("catalog")["extra_rows"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(
        (
            model("daily_sales")["missing_rows"].as_i64(),
            model("daily_sales")["extra_rows"].as_i64()
        ),
        (Some(0), Some(0))
    );
    assert!(
        report["failures"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["kind"] == "read_model_differs")),
        "{report}"
    );
}

#[tokio::test]
async fn a_products_latest_stock_moves_show_the_stock_each_left() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let (status, paid) = app.user("mei").place_order(&[(tea, 2)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{paid}");
    let paid: uuid::Uuid = paid["data"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("id");
    app.pay(paid, 9_600).await;
    let (status, cancelled) = app.user("lei").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{cancelled}");
    let cancelled = cancelled["data"]["id"].as_str().expect("id").to_owned();
    let (status, body) = app.user("lei").cancel_order(&cancelled).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = app
        .admin()
        .post(
            &format!("/api/v1/admin/products/{tea}/stock"),
            &serde_json::json!({"quantity": 5, "reason": "delivery"}),
        )
        .await
        .into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");

    let admin = app.admin();
    let moves = admin
        .get(&format!("/api/v1/admin/products/{tea}/stock/moves"))
        .await;
    assert_eq!(moves.status, StatusCode::OK, "{}", moves.body);
    let seen: Vec<(String, i64, i64, i64)> = moves.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| {
            (
                m["type"].as_str().unwrap_or_default().to_owned(),
                m["on_hand"].as_i64().unwrap_or(-1),
                m["reserved"].as_i64().unwrap_or(-1),
                m["available"].as_i64().unwrap_or(-1),
            )
        })
        .collect();
    let expected = [
        ("StockAdded", 10, 0, 10),
        ("StockReserved", 10, 2, 8),
        ("StockSold", 8, 0, 8),
        ("StockReserved", 8, 1, 7),
        ("StockReleased", 8, 0, 8),
        ("StockAdded", 13, 0, 13),
    ]
    .map(|(kind, on_hand, reserved, available)| (kind.to_owned(), on_hand, reserved, available));
    assert_eq!(seen, expected);
    assert_eq!(moves.body["data"][1]["actor"]["id"], "mei");
    assert_eq!(moves.body["data"][1]["quantity"], 2);
    assert_eq!(moves.body["data"][1]["order_id"], paid.to_string());

    // The latest two only, with the same stock after each.
    let last_two = admin
        .get(&format!("/api/v1/admin/products/{tea}/stock/moves?limit=2"))
        .await;
    assert_eq!(last_two.body["data"][0]["type"], "StockReleased");
    assert_eq!(last_two.body["data"][1]["on_hand"], 13);
    for (path, status) in [
        (
            format!("/api/v1/admin/products/{tea}/stock/moves?limit=0"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/v1/admin/products/{tea}/stock/moves?limit=1001"),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!(
                "/api/v1/admin/products/{}/stock/moves",
                uuid::Uuid::new_v4()
            ),
            StatusCode::NOT_FOUND,
        ),
    ] {
        assert_eq!(admin.get(&path).await.status, status, "{path}");
    }
    let shopper = app.shopper("mei").await;
    let refused = shopper
        .get(&format!("/api/v1/admin/products/{tea}/stock/moves"))
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn the_latest_moves_of_a_long_stock_stream_are_worked_back_from_its_snapshot() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Oolong", 4_800, 1).await;
    // Past the snapshot interval (100 events), so the walk starts from a snapshot.
    for _ in 0..150 {
        app.state
            .write
            .adjust_stock(
                tea,
                tea,
                ordo::write::StockAdjustment {
                    quantity: 1,
                    reason: "delivery".into(),
                },
                &Default::default(),
            )
            .await
            .expect("restock");
    }
    let moves = app
        .admin()
        .get(&format!("/api/v1/admin/products/{tea}/stock/moves?limit=5"))
        .await;
    assert_eq!(moves.status, StatusCode::OK, "{}", moves.body);
    let on_hand: Vec<i64> = moves.body["data"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|m| m["on_hand"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(on_hand, [147, 148, 149, 150, 151]);
    assert_eq!(moves.body["data"][4]["version"], 151);
    assert_eq!(moves.body["data"][4]["quantity"], 1);
    assert_eq!(moves.body["data"][4]["order_id"], serde_json::Value::Null);
}

#[tokio::test]
async fn operators_list_a_shoppers_orders_and_the_orders_owing_a_refund() {
    let app = spawn_app().await;
    let tea = app.admin().create_product("Oolong", 4_800, 10).await;
    let mut mine = Vec::new();
    for _ in 0..2 {
        let (status, placed) = app.user("mei").place_order(&[(tea, 1)]).await.into_parts();
        assert_eq!(status, StatusCode::CREATED, "{placed}");
        mine.push(placed["data"]["id"].as_str().expect("id").to_owned());
    }
    let (status, other) = app.user("lei").place_order(&[(tea, 1)]).await.into_parts();
    assert_eq!(status, StatusCode::CREATED, "{other}");
    // Cancelled, then paid all the same: the payment is owed back.
    let (status, body) = app.user("mei").cancel_order(&mine[0]).await.into_parts();
    assert_eq!(status, StatusCode::OK, "{body}");
    app.pay(mine[0].parse().expect("uuid"), 4_800).await;
    crate::support::settle(&app.pool).await;

    let admin = app.admin();
    let listed = admin.get("/api/v1/admin/orders?user_id=mei").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let ids: Vec<&str> = listed.body["data"]["list"]
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|order| order["id"].as_str())
        .collect();
    assert_eq!(ids, [mine[1].as_str(), mine[0].as_str()], "newest first");
    assert_eq!(
        listed.body["data"]["counts"],
        serde_json::json!({"cancelled": 1, "awaiting_payment": 1})
    );

    let owing = admin.get("/api/v1/admin/refunds-due").await;
    assert_eq!(owing.status, StatusCode::OK, "{}", owing.body);
    assert_eq!(owing.body["data"]["pagination"]["total"], 1);
    assert_eq!(owing.body["data"]["list"][0]["id"], mine[0].as_str());
    assert_eq!(
        owing.body["data"]["list"][0]["refunds_due"][0]["reason"],
        "paid_after_cancel"
    );

    for (path, status) in [
        ("/api/v1/admin/orders", StatusCode::OK),
        ("/api/v1/admin/orders?user_id=", StatusCode::OK),
        (
            "/api/v1/admin/orders?user_id=m%00ei",
            StatusCode::UNPROCESSABLE_ENTITY,
        ),
    ] {
        let answer = admin.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
    }
    let shopper = app.shopper("mei").await;
    assert_eq!(
        shopper.get("/api/v1/admin/orders?user_id=lei").await.status,
        StatusCode::FORBIDDEN
    );
}
