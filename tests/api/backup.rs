//! `ordo backup` and `ordo restore`: a backup taken while orders are placed restores into
//! an empty database with every order acknowledged before it started, its logins, its
//! seals, and a log that verifies; a damaged or altered backup is refused before anything
//! is written.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use reqwest::StatusCode;
use serde_json::json;
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use crate::support::{TestApp, eventually, fresh_database, spawn_app_on};

/// Shoppers placing orders at once while the backup runs.
const SHOPPERS: usize = 4;

fn backup_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ordo-backup-{}", Uuid::new_v4()))
}

fn run(options: &PgConnectOptions, args: &[&str]) -> (bool, String) {
    let output = TestApp::cli(options, args);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

fn path(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// An acknowledged order: its id, its shopper, and when the answer came.
type Acknowledged = (Uuid, String, Instant);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_order_and_verifies() {
    let (pool, options) = fresh_database().await;
    let app = Arc::new(spawn_app_on(pool).await);
    let product = app.create_product("Tea", 100, 1_000_000).await;
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
                    let (status, body) = app.place_order(&user, &[(product, 1)]).await;
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
            .get_json_as(&format!("/api/v1/orders/{id}"), &restored.user_token(user))
            .await;
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

/// A backup of a small store with a seal over its events.
async fn small_backup() -> (PathBuf, TestApp, PgConnectOptions) {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let product = app.create_product("Tea", 100, 10).await;
    for user in ["mei", "li"] {
        let (status, body) = app.place_order(user, &[(product, 1)]).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (sealed, text) = run(&options, &["audit", "seal"]);
    assert!(sealed, "{text}");
    let dir = backup_dir();
    let (ok, text) = run(&options, &["backup", path(&dir)]);
    assert!(ok, "{text}");
    (dir, app, options)
}

/// Rewrites a backup file with `change` and records its new digest in the manifest, as
/// someone covering their tracks would.
fn alter(dir: &Path, file: &str, change: impl FnOnce(String) -> String) {
    let text = change(std::fs::read_to_string(dir.join(file)).expect("read"));
    std::fs::write(dir.join(file), &text).expect("write");
    let manifest_path = dir.join("manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("json");
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    manifest["files"][file] = json!({"lines": text.lines().count(), "sha256": digest});
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");
}

/// Restores `dir` into a new database: whether it worked, what it said, and how many
/// events the database then holds.
async fn restore_into_new(dir: &Path) -> (bool, String, i64) {
    let (pool, options) = fresh_database().await;
    let (ok, text) = run(&options, &["restore", path(dir)]);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    (ok, text, events)
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

#[tokio::test]
async fn an_event_altered_with_its_digest_recomputed_is_refused_by_its_hash() {
    let (dir, _app, _) = small_backup().await;
    alter(&dir, "events.ndjson", |text| text.replace("Tea", "Tex"));

    let (ok, text, restored) = restore_into_new(&dir).await;

    assert!(!ok);
    assert!(text.contains("the recomputed hash"), "{text}");
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
