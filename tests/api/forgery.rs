//! Nothing forges history: `ordo audit import` writes only into an empty store no server
//! runs on, and `ordo restore` takes only a backup the operator's key authenticates —
//! however well the forger recomputed digests, hashes and seals.

use std::os::unix::fs::PermissionsExt;

use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::support::backups::{
    alter, feed_end, forged_line, last_of, path, run, said, sign, small_backup,
};
use crate::support::{TestApp, eventually, fresh_database};

async fn count(pool: &PgPool, table: &str) -> i64 {
    sqlx::query_scalar(&format!("SELECT count(*) FROM {table}"))
        .fetch_one(pool)
        .await
        .expect("count")
}

/// `ndjson` with a payment WeChat Pay never took: `OrderPaid` for `order` and the sale
/// of its one unit of `product`, each hashed to chain on its stream.
fn with_forged_payment(ndjson: &str, order: &str, product: &str) -> String {
    let end = feed_end(ndjson);
    let paid = forged_line(
        last_of(ndjson, "Order", order),
        "OrderPaid",
        json!({"OrderPaid": {"payment_id": "4200000000000000000000000001",
                             "amount_cents": 100, "paid_at": chrono::Utc::now()}}),
        end,
    );
    let sold = forged_line(
        last_of(ndjson, "Stock", product),
        "StockSold",
        json!({"StockSold": {"order_id": order, "quantity": 1}}),
        end + 1,
    );
    format!("{ndjson}{paid}{sold}")
}

#[tokio::test]
async fn a_backup_with_an_admin_session_edited_in_and_its_digests_recomputed_is_refused() {
    let (dir, _app, _) = small_backup().await;
    alter(&dir, "sessions.ndjson", |text| {
        assert!(text.contains(r#""role":"user""#), "{text}");
        text.replace(r#""role":"user""#, r#""role":"admin""#)
    });

    let (pool, options) = fresh_database().await;
    let (ok, text) = run(&options, &["restore", path(&dir)]);
    assert!(!ok);
    assert!(
        text.contains("manifest.hmac does not authenticate manifest.json with this backup key"),
        "{text}"
    );
    assert!(text.contains("nothing was restored"), "{text}");
    // Signed with a key of the forger's own: the same.
    sign(&dir, "a forger's key of thirty-two bytes or more");
    let (ok, text) = run(&options, &["restore", path(&dir)]);
    assert!(!ok);
    assert!(text.contains("does not authenticate"), "{text}");
    // Without a MAC at all.
    std::fs::remove_file(dir.join("manifest.hmac")).expect("remove the MAC");
    let (ok, text) = run(&options, &["restore", path(&dir)]);
    assert!(!ok);
    assert!(text.contains("the backup has no manifest.hmac"), "{text}");
    for table in ["events", "sessions", "audit_seals", "audit_restores"] {
        assert_eq!(count(&pool, table).await, 0, "{table}: nothing is written");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn an_untouched_backup_is_its_owners_only_and_restores_with_the_key_that_made_it() {
    let (dir, _app, _) = small_backup().await;
    let mode = |path: &std::path::Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    assert_eq!(mode(&dir), 0o700);
    let files: Vec<_> = std::fs::read_dir(&dir).expect("list").flatten().collect();
    assert!(files.iter().any(|f| f.file_name() == "manifest.hmac"));
    for file in &files {
        assert_eq!(mode(&file.path()), 0o600, "{:?}", file.file_name());
    }

    let (pool, options) = fresh_database().await;
    let mut without_key = TestApp::cli_command(&options, &["restore", path(&dir)]);
    without_key.env_remove("ORDO_BACKUP_KEY");
    let (ok, text) = said(without_key.output().expect("run ordo"));
    assert!(!ok);
    assert!(
        text.contains("ORDO_BACKUP_KEY (or ORDO_BACKUP_KEY_FILE) must be set"),
        "{text}"
    );
    let mut other_key = TestApp::cli_command(&options, &["restore", path(&dir)]);
    other_key.env("ORDO_BACKUP_KEY", "another key, also thirty-two bytes long");
    let (ok, text) = said(other_key.output().expect("run ordo"));
    assert!(!ok);
    assert!(text.contains("does not authenticate"), "{text}");
    assert_eq!(count(&pool, "events").await, 0);

    // The operator's key, from a file as a container platform hands it over.
    let key_file = std::env::temp_dir().join(format!("ordo-backup-key-{}", Uuid::new_v4()));
    std::fs::write(&key_file, format!("{}\n", crate::support::BACKUP_KEY)).expect("key file");
    let mut with_file = TestApp::cli_command(&options, &["restore", path(&dir)]);
    with_file
        .env_remove("ORDO_BACKUP_KEY")
        .env("ORDO_BACKUP_KEY_FILE", &key_file);
    let (ok, text) = said(with_file.output().expect("run ordo"));
    let _ = std::fs::remove_file(&key_file);
    assert!(ok, "{text}");
    assert!(text.contains("OK: every hash chain"), "{text}");
    assert_eq!(count(&pool, "sessions").await, 1);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn a_forged_payment_is_imported_into_no_live_store_and_restored_from_no_backup() {
    let (dir, app, options) = small_backup().await;
    let order: String = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE event_type = 'OrderPlaced' LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("an order");
    let product: String = sqlx::query_scalar(
        "SELECT aggregate_id FROM events WHERE aggregate_type = 'Stock' LIMIT 1",
    )
    .fetch_one(&app.pool)
    .await
    .expect("a product");
    let export = std::env::temp_dir().join(format!("ordo-export-{}.ndjson", Uuid::new_v4()));
    let (ok, text) = run(&options, &["audit", "export", "-o", path(&export)]);
    assert!(ok, "{text}");
    let ndjson = std::fs::read_to_string(&export).expect("export");
    let forged = with_forged_payment(&ndjson, &order, &product);
    let forged_only = &forged[ndjson.len()..];
    std::fs::write(&export, forged_only).expect("write the forgery");
    let events = count(&app.pool, "events").await;

    // Into the live store: refused while its server runs, and once it stopped.
    let (ok, text) = run(&options, &["audit", "import", path(&export)]);
    assert!(!ok);
    assert!(
        text.contains("an ordo server is running on this database"),
        "{text}"
    );
    drop(app);
    let text = eventually("the server to stop", || {
        let (ok, text) = run(&options, &["audit", "import", path(&export)]);
        async move {
            assert!(!ok, "{text}");
            (!text.contains("an ordo server is running")).then_some(text)
        }
    })
    .await;
    assert!(text.contains("the store is not empty"), "{text}");
    // A pool of its own: the app's kept alive would keep its stopped projector's lock.
    let live = PgPool::connect_with(options.clone())
        .await
        .expect("the live store");
    assert_eq!(count(&live, "events").await, events, "no event written");

    // Into a backup, digests recomputed: the manifest's MAC refuses it.
    alter(&dir, "events.ndjson", |text| format!("{text}{forged_only}"));
    let (target, target_options) = fresh_database().await;
    let (ok, text) = run(&target_options, &["restore", path(&dir)]);
    assert!(!ok);
    assert!(text.contains("does not authenticate"), "{text}");
    assert_eq!(count(&target, "events").await, 0);

    // The forgery's hashes do chain: an empty store with no server (an auditor's copy)
    // takes it whole, so the checks above are what kept it out.
    std::fs::write(&export, &forged).expect("write");
    let (ok, text) = run(&target_options, &["audit", "import", path(&export)]);
    assert!(ok, "{text}");
    assert_eq!(count(&target, "events").await, events + 2);

    // A line whose hash is off is refused without telling the hash it should have had.
    let real_hash = {
        let line: serde_json::Value =
            serde_json::from_str(forged.lines().last().expect("a line")).expect("json");
        line["hash"].as_str().expect("hash").to_owned()
    };
    std::fs::write(&export, forged.replace(&real_hash, &"0".repeat(64))).expect("write");
    let (empty, empty_options) = fresh_database().await;
    let (ok, text) = run(&empty_options, &["audit", "import", path(&export)]);
    assert!(!ok);
    assert!(text.contains("does not match its exported hash"), "{text}");
    assert!(!text.contains(&real_hash), "{text}");
    assert_eq!(count(&empty, "events").await, 0);
    let _ = std::fs::remove_file(&export);
    let _ = std::fs::remove_dir_all(&dir);
}
