//! `ordo backup` and `ordo restore`: a backup taken while orders are placed restores into
//! an empty database with every order acknowledged before it started, its logins, its
//! seals, and a log that verifies; a damaged or altered backup is refused before anything
//! is written.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::support::backups::{
    alter, backup_dir, path, restore_into_new, run, sign_as_operator, small_backup,
};
use crate::support::{eventually, fresh_database, spawn_app_on};

/// Shoppers placing orders at once while the backup runs.
const SHOPPERS: usize = 4;

/// An acknowledged order: its id, its shopper, and when the answer came.
type Acknowledged = (Uuid, String, Instant);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_order_and_verifies() {
    let (pool, options) = fresh_database().await;
    let app = Arc::new(spawn_app_on(pool).await);
    let product = app.admin().create_product("Tea", 100, 1_000_000).await;
    let login = app
        .anon()
        .post("/api/v1/auth/wechat-login", &json!({"code": "dev:alice"}))
        .await;
    assert_eq!(login.status, StatusCode::OK, "{}", login.body);
    let refresh_token = login.body["data"]["refresh_token"].clone();
    let (sealed, text) = run(&options, &["audit", "seal"]);
    assert!(sealed, "{text}");

    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged: Arc<Mutex<Vec<Acknowledged>>> = Arc::default();
    let shoppers: Vec<_> = (0..SHOPPERS)
        .map(|n| {
            let (app, stop, acknowledged) = (app.clone(), stop.clone(), acknowledged.clone());
            tokio::spawn(async move {
                // A new shopper each time: one may hold only a few unpaid orders.
                for i in 0.. {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    let user = format!("shopper-{n}-{i}");
                    let (status, body) = app
                        .user(&user)
                        .place_order(&[(product, 1)])
                        .await
                        .into_parts();
                    assert_eq!(status, StatusCode::CREATED, "{body}");
                    let id = body["data"]["id"].as_str().expect("order id").parse();
                    let at = Instant::now();
                    acknowledged
                        .lock()
                        .expect("lock")
                        .push((id.expect("a uuid"), user, at));
                }
            })
        })
        .collect();
    let placed = || acknowledged.lock().expect("lock").len();
    eventually("orders placed before the backup", || async {
        (placed() >= 40).then_some(())
    })
    .await;

    let dir = backup_dir();
    let started = Instant::now();
    let (backup_options, backup_path) = (options.clone(), dir.clone());
    let backed_up =
        tokio::task::spawn_blocking(move || run(&backup_options, &["backup", path(&backup_path)]))
            .await
            .expect("the backup ran");
    let after_backup = placed();
    eventually("orders placed after the backup", || async {
        (placed() >= after_backup + 20).then_some(())
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    for shopper in shoppers {
        shopper.await.expect("a shopper");
    }
    assert!(backed_up.0, "{}", backed_up.1);
    assert!(backed_up.1.contains("backed up"), "{}", backed_up.1);

    let (restored_pool, restored_options) = fresh_database().await;
    let (ok, text) = run(&restored_options, &["restore", path(&dir)]);
    assert!(ok, "{text}");
    assert!(
        text.contains("OK: every hash chain and seal holds"),
        "{text}"
    );
    assert!(text.contains("restored 1 rows of sessions"), "{text}");

    let restored = spawn_app_on(restored_pool.clone()).await;
    let orders = acknowledged.lock().expect("lock").clone();
    let before: Vec<_> = orders.iter().filter(|(_, _, at)| *at < started).collect();
    assert!(
        before.len() >= 40,
        "{} orders before the backup",
        before.len()
    );
    for (id, user, _) in &before {
        let (status, body) = restored
            .user(user)
            .get(&format!("/api/v1/orders/{id}"))
            .await
            .into_parts();
        assert_eq!(
            status,
            StatusCode::OK,
            "order {id} acknowledged before the backup: {body}"
        );
        assert_eq!(body["data"]["status"], "awaiting_payment", "{body}");
    }
    // Stock agrees with the orders the restore holds: one unit reserved for each.
    let restored_orders = restored.count_events("OrderPlaced").await;
    assert!(restored_orders >= before.len() as i64);
    assert!(restored_orders <= orders.len() as i64);
    let stock = restored.stock(product).await;
    assert_eq!(stock.on_hand(), 1_000_000);
    assert_eq!(stock.reserved(), restored_orders);
    // Alice's login survived: her refresh token still works on the restored store.
    let refreshed = restored
        .anon()
        .post(
            "/api/v1/auth/refresh",
            &json!({"refresh_token": refresh_token}),
        )
        .await;
    assert_eq!(refreshed.status, StatusCode::OK, "{}", refreshed.body);
    // The seal was checked against the backup and made again; the restore is on record.
    let (seals, restores): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM audit_seals), (SELECT count(*) FROM audit_restores)",
    )
    .fetch_one(&restored_pool)
    .await
    .expect("count");
    assert!(seals >= 1, "{seals} seals");
    assert_eq!(restores, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_damaged_backup_is_refused_before_anything_is_written() {
    let (dir, _app, _) = small_backup().await;
    let events = std::fs::read_to_string(dir.join("events.ndjson")).expect("events");
    std::fs::write(dir.join("events.ndjson"), events.replace("Tea", "Tex")).expect("write");

    let (ok, text, restored) = restore_into_new(&dir).await;

    assert!(!ok);
    assert!(
        text.contains("events.ndjson differs from the manifest (SHA-256"),
        "{text}"
    );
    assert_eq!(restored, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

/// Behind the signature, in depth: even the key's holder cannot restore an edited event.
#[tokio::test]
async fn an_event_altered_with_its_digest_recomputed_and_signed_is_refused_by_its_hash() {
    let (dir, _app, _) = small_backup().await;
    alter(&dir, "events.ndjson", |text| text.replace("Tea", "Tex"));
    sign_as_operator(&dir);

    let (ok, text, restored) = restore_into_new(&dir).await;

    assert!(!ok);
    assert!(
        text.contains("the event does not match its exported hash"),
        "{text}"
    );
    assert_eq!(restored, 0, "nothing is written");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_sealed_event_removed_from_the_backup_is_named_by_its_seal() {
    let (dir, _app, _) = small_backup().await;
    // The last event of the log: no hash chain notices it gone, the seal does.
    alter(&dir, "events.ndjson", |text| {
        let lines: Vec<&str> = text.lines().collect();
        lines[..lines.len() - 1].join("\n") + "\n"
    });
    sign_as_operator(&dir);

    let (ok, text, restored) = restore_into_new(&dir).await;

    assert!(!ok);
    assert!(
        text.contains("seal 1 of the backup does not match"),
        "{text}"
    );
    assert_eq!(restored, 0);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn restore_refuses_a_store_in_use_and_backup_refuses_a_used_directory() {
    let (dir, app, options) = small_backup().await;

    // Into the database it came from: a server runs there, and it has events.
    let (ok, text) = run(&options, &["restore", path(&dir)]);
    assert!(!ok);
    assert!(
        text.contains("an ordo server is running on this database"),
        "{text}"
    );
    drop(app);
    let (ok, text) = eventually_stopped(&options, &dir).await;
    assert!(!ok);
    assert!(
        text.contains("the database is not empty (events has rows)"),
        "{text}"
    );

    let (ok, text) = run(&options, &["backup", path(&dir)]);
    assert!(!ok);
    assert!(
        text.contains("is not empty: back up into a new directory"),
        "{text}"
    );

    std::fs::remove_file(dir.join("manifest.json")).expect("remove");
    let (ok, text, _) = restore_into_new(&dir).await;
    assert!(!ok);
    assert!(text.contains("has no manifest.json"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Restores again until the stopped server's projector has let go of the database.
async fn eventually_stopped(options: &PgConnectOptions, dir: &Path) -> (bool, String) {
    eventually("the server to stop", || {
        let answer = run(options, &["restore", path(dir)]);
        async move { (!answer.1.contains("an ordo server is running")).then_some(answer) }
    })
    .await
}

#[tokio::test]
async fn every_table_is_either_backed_up_or_rebuilt() {
    let (pool, _) = fresh_database().await;
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT table_name::text FROM information_schema.tables
          WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
    )
    .fetch_all(&pool)
    .await
    .expect("tables");
    let read_models: Vec<&str> = projections::all()
        .iter()
        .flat_map(|projection| projection.tables().iter().copied())
        .collect();
    for table in tables {
        let backed_up = ["events", "audit_seals"].contains(&table.as_str())
            || ordo::backup::KEPT_TABLES.contains(&table.as_str());
        let rebuilt = ordo::backup::NOT_KEPT_TABLES.contains(&table.as_str())
            || read_models.contains(&table.as_str());
        assert!(
            backed_up || rebuilt,
            "{table} is neither backed up nor rebuilt: add it to one list in src/backup"
        );
    }
}
