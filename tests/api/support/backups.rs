//! Backups and exports as tests take, alter and forge them: the CLI run against a test
//! database, a small backed-up shop, a file rewritten with its digest recomputed (what
//! anyone who can write the directory can do), the manifest signed again with the
//! operator's key (what only its holder can), and events forged with valid hashes.

use std::path::{Path, PathBuf};

use reqwest::StatusCode;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use sqlx::postgres::PgConnectOptions;
use uuid::Uuid;

use super::test_app::BACKUP_KEY;
use super::{TestApp, fresh_database, settle, spawn_app_on};

/// A new directory name for a backup.
pub fn backup_dir() -> PathBuf {
    std::env::temp_dir().join(format!("ordo-backup-{}", Uuid::new_v4()))
}

/// Runs the CLI (see [`TestApp::cli`]): whether it succeeded, and what it printed.
pub fn run(options: &PgConnectOptions, args: &[&str]) -> (bool, String) {
    said(TestApp::cli(options, args))
}

/// Whether a finished command succeeded, and what it printed.
pub fn said(output: std::process::Output) -> (bool, String) {
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

pub fn path(dir: &Path) -> &str {
    dir.to_str().expect("a UTF-8 path")
}

/// A backup of a small store with a seal over its events: two orders, and `mei` signed
/// in (a session).
pub async fn small_backup() -> (PathBuf, TestApp, PgConnectOptions) {
    let (pool, options) = fresh_database().await;
    let app = spawn_app_on(pool).await;
    let product = app.admin().create_product("Tea", 100, 10).await;
    for user in ["mei", "li"] {
        let (status, body) = app
            .user(user)
            .place_order(&[(product, 1)])
            .await
            .into_parts();
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    app.shopper("mei").await;
    seal_whole_log(&app, &options).await;
    let dir = backup_dir();
    let (ok, text) = run(&options, &["backup", path(&dir)]);
    assert!(ok, "{text}");
    (dir, app, options)
}

/// Seals the whole log in one seal. A seal stops at the feed's horizon, which a
/// transaction of another test on the same cluster can hold back for a moment: once the
/// projections have read the last event, the horizon is past it for good.
async fn seal_whole_log(app: &TestApp, options: &PgConnectOptions) {
    settle(&app.pool).await;
    let (sealed, text) = run(options, &["audit", "seal"]);
    assert!(sealed, "{text}");
}

/// Rewrites a backup file with `change` and records its new digest in the manifest, as
/// someone covering their tracks would.
pub fn alter(dir: &Path, file: &str, change: impl FnOnce(String) -> String) {
    let text = change(std::fs::read_to_string(dir.join(file)).expect("read"));
    std::fs::write(dir.join(file), &text).expect("write");
    let manifest_path = dir.join("manifest.json");
    let mut manifest: Value =
        serde_json::from_str(&std::fs::read_to_string(&manifest_path).expect("manifest"))
            .expect("json");
    let digest: String = Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    manifest["files"][file] = json!({"lines": text.lines().count(), "sha256": digest});
    std::fs::write(&manifest_path, manifest.to_string()).expect("write manifest");
}

/// Signs the manifest again with `key`: what the key's holder can do (the operator's
/// key: to test the checks behind the signature).
pub fn sign(dir: &Path, key: &str) {
    let manifest = std::fs::read(dir.join("manifest.json")).expect("manifest");
    let key = ordo::backup::key::BackupKey::new(&ordo::secret::Secret::new(key)).expect("key");
    std::fs::write(dir.join("manifest.hmac"), key.sign(&manifest)).expect("write the MAC");
}

/// [`sign`] with the operator's own key.
pub fn sign_as_operator(dir: &Path) {
    sign(dir, BACKUP_KEY);
}

/// Restores `dir` into a new database: whether it worked, what it said, and how many
/// events the database then holds.
pub async fn restore_into_new(dir: &Path) -> (bool, String, i64) {
    let (pool, options) = fresh_database().await;
    let (ok, text) = run(&options, &["restore", path(dir)]);
    let events: i64 = sqlx::query_scalar("SELECT count(*) FROM events")
        .fetch_one(&pool)
        .await
        .expect("count");
    (ok, text, events)
}

/// An export line for a new event that follows `last` (the export line of its stream's
/// last event) with a hash that chains: what anyone who knows the (public) hash function
/// can write. Its position follows `feed_end`, the export's last position.
pub fn forged_line(last: &str, event_type: &str, payload: Value, feed_end: i64) -> String {
    #[derive(serde::Deserialize)]
    struct Line<'a> {
        transaction_id: i64,
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        hash: String,
        #[serde(borrow)]
        metadata: &'a RawValue,
    }
    let last: Line = serde_json::from_str(last).expect("an export line");
    let recorded_at = chrono::Utc::now();
    let event = ordo::audit::AuditEvent {
        global_position: feed_end + 1,
        transaction_id: last.transaction_id,
        aggregate_type: last.aggregate_type,
        aggregate_id: last.aggregate_id,
        sequence: last.sequence + 1,
        event_type: event_type.to_owned(),
        event_version: "1".to_owned(),
        payload: payload.to_string(),
        metadata: last.metadata.get().to_owned(),
        // The database keeps microseconds: the hash covers them only.
        recorded_at: chrono::DateTime::from_timestamp_micros(recorded_at.timestamp_micros())
            .expect("an instant"),
        hash: Vec::new(),
    };
    let prev: Vec<u8> = (0..last.hash.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&last.hash[i..i + 2], 16).expect("hex"))
        .collect();
    let hash = ordo::audit::hash::event_hash(&prev, &event);
    let event = ordo::audit::AuditEvent {
        hash: hash.to_vec(),
        ..event
    };
    ordo::audit::export::line(&event)
}

/// The export line of the last event of the stream `aggregate_type/id` in `ndjson`.
pub fn last_of<'a>(ndjson: &'a str, aggregate_type: &str, id: &str) -> &'a str {
    ndjson
        .lines()
        .rfind(|line| {
            let line: Value = serde_json::from_str(line).expect("json");
            line["aggregate_type"] == aggregate_type && line["aggregate_id"] == id
        })
        .expect("the stream's last event")
}

/// The last position in an export.
pub fn feed_end(ndjson: &str) -> i64 {
    ndjson
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter_map(|line| line["position"].as_i64())
        .max()
        .unwrap_or(0)
}
