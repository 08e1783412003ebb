//! `ordo backup` and `ordo restore`.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use projections::Projector;

use super::audit::verify_and_report;
use super::projections::rebuild_with_progress;
use crate::backup::key::{BackupKey, Purpose};
use crate::backup::{EVENTS_FILE, restore, take};
use crate::cli::{BackupKeyArgs, GlobalArgs};
use crate::config::Config;
use crate::database::Database;

/// `ordo backup <dir>`: a consistent snapshot, taken beside a running server.
pub async fn backup(global: &GlobalArgs, key: &BackupKeyArgs, dir: &Path) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let key = BackupKey::resolve(key, &config, Purpose::Backup)?;
    let database = Database::open_beside_server(&config).await?;
    let started = Instant::now();
    let taken = take::backup(&database.pool, dir, &key).await;
    database.close().await?;
    let manifest = taken.with_context(|| format!("backing up into {}", dir.display()))?;
    let rows = |file: &str| manifest.lines(file);
    println!(
        "backed up {} events and everything events do not record ({} files) as of {} into {} \
         in {:.1} s",
        rows(EVENTS_FILE),
        manifest.files.len(),
        manifest
            .taken_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        dir.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// `ordo restore <dir>`: the backup into an empty database, then every projection rebuilt
/// and the whole log verified. Exit code 1 when the verification fails.
pub async fn restore(global: &GlobalArgs, key: &BackupKeyArgs, dir: &Path) -> anyhow::Result<()> {
    let config = Config::resolve(global, None)?;
    let key = BackupKey::resolve(key, &config, Purpose::Restore)
        .with_context(|| format!("restoring {}", dir.display()))?;
    let database = Database::open_beside_server(&config).await?;
    let result = restore_and_verify(&database, &key, dir).await;
    database.close().await?;
    if result? {
        std::process::exit(1);
    }
    Ok(())
}

/// Whether the verification after the restore failed.
async fn restore_and_verify(
    database: &Database,
    key: &BackupKey,
    dir: &Path,
) -> anyhow::Result<bool> {
    let started = Instant::now();
    let restored = restore::restore(&database.pool, dir, key)
        .await
        .with_context(|| format!("restoring {}", dir.display()))?;
    println!(
        "restored {} events (every hash recomputed equal) and {} seals (each checked against \
         the backup, then made again over the new positions) as of {} in {:.1} s",
        restored.events,
        restored.seals,
        restored
            .taken_at
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, true),
        started.elapsed().as_secs_f64()
    );
    for (table, rows) in &restored.rows {
        println!("restored {rows} rows of {table}");
    }
    let projector = Projector::new(database.pool.clone(), projections::all());
    projector.register().await?;
    let names: Vec<String> = projector
        .projections()
        .iter()
        .map(|p| p.name().to_owned())
        .collect();
    rebuild_with_progress(&projector, &names).await?;
    verify_and_report(&database.pool, true, false).await
}
