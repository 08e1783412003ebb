//! `ordo backup <dir>`: every file read in one REPEATABLE READ, READ ONLY transaction, so
//! the backup is the store as of one instant, taken while the server keeps writing. A
//! read-only transaction takes no transaction id, so it does not hold back the feed's
//! horizon (projections keep up while a backup runs). Rows stream from the server, so
//! memory stays flat whatever the store's size.
//!
//! The files hold shoppers' names, phones and addresses and live sessions: the directory
//! is its owner's only (0700), each file too (0600). The manifest is signed with the
//! operator's backup key ([`super::key`]), so a restore knows who made it.

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use futures::TryStreamExt;
use sqlx::{PgConnection, PgPool};
use tokio::io::BufWriter;

use super::key::{BackupKey, MAC_FILE};
use super::manifest::{CountingWriter, FORMAT, FileEntry, MANIFEST_FILE, Manifest};
use super::{EVENTS_FILE, KEPT_TABLES, SEALS_FILE, table_file};
use crate::audit::export::{every_event, line};

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} is not empty: back up into a new directory")]
    NotEmpty(PathBuf),
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// Only the owner reads or enters a backup's directory, and reads or writes its files.
const DIR_MODE: u32 = 0o700;
const FILE_MODE: u32 = 0o600;

/// Writes a backup of the store behind `pool` into `dir` (created, or empty), its
/// manifest signed with `key`.
pub async fn backup(pool: &PgPool, dir: &Path, key: &BackupKey) -> Result<Manifest, BackupError> {
    prepare(dir).await?;
    let mut tx = pool.begin().await?;
    sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        .execute(&mut *tx)
        .await?;
    // The transaction's start: the snapshot holds everything committed before it.
    let taken_at = sqlx::query_scalar("SELECT now()")
        .fetch_one(&mut *tx)
        .await?;
    let schema_version =
        sqlx::query_scalar("SELECT coalesce(max(version), 0) FROM _sqlx_migrations WHERE success")
            .fetch_one(&mut *tx)
            .await?;
    let mut files = BTreeMap::new();
    files.insert(EVENTS_FILE.to_owned(), write_events(&mut tx, dir).await?);
    files.insert(SEALS_FILE.to_owned(), write_seals(&mut tx, dir).await?);
    for table in KEPT_TABLES {
        files.insert(table_file(table), write_table(&mut tx, dir, table).await?);
    }
    tx.commit().await?;
    let manifest = Manifest {
        format: FORMAT.to_owned(),
        ordo_version: env!("CARGO_PKG_VERSION").to_owned(),
        schema_version,
        taken_at,
        files,
    };
    write_manifest(dir, &manifest, key).await?;
    Ok(manifest)
}

/// Creates `dir`, or checks that it is empty: a backup never mixes with another. Either
/// way it ends up its owner's only, before any file is written into it.
async fn prepare(dir: &Path) -> Result<(), BackupError> {
    let io = |source| BackupError::File {
        path: dir.to_owned(),
        source,
    };
    tokio::fs::DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(dir)
        .await
        .map_err(io)?;
    let mut entries = tokio::fs::read_dir(dir).await.map_err(io)?;
    if entries.next_entry().await.map_err(io)?.is_some() {
        return Err(BackupError::NotEmpty(dir.to_owned()));
    }
    tokio::fs::set_permissions(dir, std::fs::Permissions::from_mode(DIR_MODE))
        .await
        .map_err(io)
}

/// Creates (or truncates) `path`, readable and writable by its owner only.
async fn create_private(path: &Path) -> std::io::Result<tokio::fs::File> {
    tokio::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .await
}

/// Writes `bytes` to `path` (owner only) and syncs it.
async fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use tokio::io::AsyncWriteExt;
    let mut file = create_private(path).await?;
    file.write_all(bytes).await?;
    file.sync_all().await
}

/// A file of the backup, written line by line, then flushed and synced to disk.
struct BackupFile {
    path: PathBuf,
    writer: CountingWriter<BufWriter<tokio::fs::File>>,
}

impl BackupFile {
    async fn create(dir: &Path, name: &str) -> Result<Self, BackupError> {
        let path = dir.join(name);
        let file = create_private(&path)
            .await
            .map_err(|source| BackupError::File {
                path: path.clone(),
                source,
            })?;
        Ok(Self {
            path,
            writer: CountingWriter::new(BufWriter::new(file)),
        })
    }

    async fn write_line(&mut self, line: &str) -> Result<(), BackupError> {
        self.writer
            .write_line(line)
            .await
            .map_err(|source| BackupError::File {
                path: self.path.clone(),
                source,
            })
    }

    async fn finish(self) -> Result<FileEntry, BackupError> {
        let path = self.path;
        let io = |source| BackupError::File {
            path: path.clone(),
            source,
        };
        let (writer, entry) = self.writer.finish().await.map_err(io)?;
        writer.into_inner().sync_all().await.map_err(io)?;
        Ok(entry)
    }
}

/// Every event in feed order, in the export's format (so `ordo audit import` reads it too).
async fn write_events(conn: &mut PgConnection, dir: &Path) -> Result<FileEntry, BackupError> {
    let mut file = BackupFile::create(dir, EVENTS_FILE).await?;
    let mut events = every_event(&mut *conn);
    while let Some(event) = events.try_next().await? {
        file.write_line(&line(&event)).await?;
    }
    drop(events);
    file.finish().await
}

/// The seals in feed order, with their positions as numbers and hashes in hex.
async fn write_seals(conn: &mut PgConnection, dir: &Path) -> Result<FileEntry, BackupError> {
    let mut file = BackupFile::create(dir, SEALS_FILE).await?;
    let mut seals = sqlx::query_scalar::<_, String>(
        "SELECT json_build_object(
                    'seal_id', seal_id,
                    'transaction_id', transaction_id::text::bigint,
                    'global_position', global_position,
                    'event_count', event_count,
                    'cumulative_hash', encode(cumulative_hash, 'hex'),
                    'sealed_at', sealed_at)::text
           FROM audit_seals ORDER BY transaction_id, global_position",
    )
    .fetch(&mut *conn);
    while let Some(seal) = seals.try_next().await? {
        file.write_line(&(seal + "\n")).await?;
    }
    drop(seals);
    file.finish().await
}

/// A table's rows as JSON objects of its columns (bytea as `\x...` hex, as PostgreSQL
/// reads it back).
async fn write_table(
    conn: &mut PgConnection,
    dir: &Path,
    table: &str,
) -> Result<FileEntry, BackupError> {
    let mut file = BackupFile::create(dir, &table_file(table)).await?;
    let sql = format!("SELECT row_to_json(t)::text FROM {table} t");
    let mut rows = sqlx::query_scalar::<_, String>(&sql).fetch(&mut *conn);
    while let Some(row) = rows.try_next().await? {
        file.write_line(&(row + "\n")).await?;
    }
    drop(rows);
    file.finish().await
}

/// The manifest's MAC, then the manifest, written to a temporary name, synced and
/// renamed: it appears whole, last.
async fn write_manifest(
    dir: &Path,
    manifest: &Manifest,
    key: &BackupKey,
) -> Result<(), BackupError> {
    let path = dir.join(MANIFEST_FILE);
    let temporary = dir.join(format!("{MANIFEST_FILE}.partial"));
    let io = |source| BackupError::File {
        path: path.clone(),
        source,
    };
    let mut text = serde_json::to_string_pretty(manifest)
        .map_err(std::io::Error::other)
        .map_err(io)?;
    text.push('\n');
    let mac = format!("{}\n", key.sign(text.as_bytes()));
    write_private(&dir.join(MAC_FILE), mac.as_bytes())
        .await
        .map_err(io)?;
    write_private(&temporary, text.as_bytes())
        .await
        .map_err(io)?;
    tokio::fs::rename(&temporary, &path).await.map_err(io)?;
    // The rename itself is durable once the directory is synced.
    tokio::fs::File::open(dir)
        .await
        .map_err(io)?
        .sync_all()
        .await
        .map_err(io)
}
