//! `ordo restore <dir>`: a backup written into an empty database, all or nothing, in one
//! transaction. Nothing is written until the manifest is authenticated by the backup key
//! and every file's digest checks out.
//!
//! The events are inserted in the backup's feed order, so the database recomputes every
//! hash (an event edited in the backup is refused) and the feed keeps its order. They take
//! this database's transaction id and new positions: another cluster's transaction ids
//! would sort new events before the restored ones and hide them from the projections. The
//! seals hash those positions, so each is first checked against the backup's events at
//! their original positions, then written again over the restored positions.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use tokio::io::AsyncBufReadExt;

use super::key::{BackupKey, MAC_FILE};
use super::manifest::{self, FORMAT, MANIFEST_FILE, Manifest};
use super::reseal::{Resealer, SealsRestored};
use super::{EVENTS_FILE, KEPT_TABLES, SEALS_FILE, table_file};
use crate::audit::hash::hex;
use crate::audit::import::{ImportError, Importer, lock_out_writers};
use crate::database::MIGRATOR;

/// Rows per INSERT for kept tables and seals.
pub(super) const BATCH: usize = 1_000;

#[derive(Debug, thiserror::Error)]
pub enum RestoreError {
    #[error("{0} has no {MANIFEST_FILE}: not a backup, or one that never finished")]
    NoManifest(PathBuf),
    #[error(
        "the backup has no {MAC_FILE}: it cannot be authenticated (not made by an ordo \
         holding a backup key); nothing was restored"
    )]
    NoMac,
    #[error(
        "{MAC_FILE} does not authenticate {MANIFEST_FILE} with this backup key: the backup \
         was altered, or made with another key; nothing was restored"
    )]
    WrongMac,
    #[error("{MANIFEST_FILE} cannot be read: {0}")]
    BadManifest(String),
    #[error("the backup's format is {0:?}; this ordo reads {FORMAT:?}")]
    Format(String),
    #[error(
        "the backup comes from a newer ordo (schema {backup}, this one knows up to {ours}): \
         restore it with that version or a later one"
    )]
    NewerSchema { backup: i64, ours: i64 },
    #[error("{file} differs from the manifest ({detail}): the backup was damaged or altered")]
    Damaged { file: String, detail: String },
    #[error("an ordo server is running on this database: stop it before restoring")]
    ServerRunning,
    #[error("the database is not empty ({0} has rows): restore into a new database")]
    NotEmpty(String),
    #[error("{EVENTS_FILE}: {0}")]
    Events(#[from] ImportError),
    #[error(
        "seal {seal_id} of the backup does not match the backup's events ({detail}): the log \
         was changed after it was sealed"
    )]
    SealMismatch { seal_id: i64, detail: String },
    #[error("{file} line {line}: {message}")]
    Malformed {
        file: String,
        line: u64,
        message: String,
    },
    #[error("{path}: {source}")]
    File {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// What a restore wrote.
#[derive(Debug)]
pub struct Restored {
    pub taken_at: DateTime<Utc>,
    pub events: u64,
    pub seals: u64,
    /// Rows per kept table.
    pub rows: BTreeMap<String, u64>,
}

/// Restores the backup in `dir`, if `key` authenticates it, into the (migrated, empty)
/// database behind `pool`.
pub async fn restore(pool: &PgPool, dir: &Path, key: &BackupKey) -> Result<Restored, RestoreError> {
    let (manifest, manifest_sha256) = read_manifest(dir, key).await?;
    check_files(dir, &manifest).await?;
    if projections::status::any_projector_running(pool).await? {
        return Err(RestoreError::ServerRunning);
    }
    let mut tx = pool.begin().await?;
    lock_out_writers(&mut tx).await?;
    check_empty(&mut tx).await?;
    let (events, seals) = restore_events(&mut tx, dir).await?;
    let mut rows = BTreeMap::new();
    for table in KEPT_TABLES {
        rows.insert(
            (*table).to_owned(),
            restore_table(&mut tx, dir, table).await?,
        );
    }
    sqlx::query(
        "INSERT INTO audit_restores (backup_taken_at, manifest_sha256, events, seals,
                                     backup_last_seal, restored_last_seal)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(manifest.taken_at)
    .bind(&manifest_sha256)
    .bind(events as i64)
    .bind(seals.count as i64)
    .bind(&seals.backup_last)
    .bind(&seals.restored_last)
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Restored {
        taken_at: manifest.taken_at,
        events,
        seals: seals.count,
        rows,
    })
}

/// The manifest, once `key` authenticates it (before a byte of it is parsed), and its
/// SHA-256.
async fn read_manifest(dir: &Path, key: &BackupKey) -> Result<(Manifest, String), RestoreError> {
    let path = dir.join(MANIFEST_FILE);
    let bytes = match tokio::fs::read(&path).await {
        Ok(bytes) => bytes,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(RestoreError::NoManifest(dir.to_owned()));
        }
        Err(source) => return Err(RestoreError::File { path, source }),
    };
    let mac_path = dir.join(MAC_FILE);
    let mac = match tokio::fs::read_to_string(&mac_path).await {
        Ok(mac) => mac,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Err(RestoreError::NoMac);
        }
        Err(source) => {
            return Err(RestoreError::File {
                path: mac_path,
                source,
            });
        }
    };
    if !key.authenticates(&bytes, &mac) {
        return Err(RestoreError::WrongMac);
    }
    let manifest: Manifest =
        serde_json::from_slice(&bytes).map_err(|err| RestoreError::BadManifest(err.to_string()))?;
    if manifest.format != FORMAT {
        return Err(RestoreError::Format(manifest.format));
    }
    let ours = MIGRATOR.iter().map(|m| m.version).max().unwrap_or_default();
    if manifest.schema_version > ours {
        return Err(RestoreError::NewerSchema {
            backup: manifest.schema_version,
            ours,
        });
    }
    Ok((manifest, manifest::digest(&bytes)))
}

/// Every file the manifest names has its line count and digest; the ones this ordo needs
/// are all named.
async fn check_files(dir: &Path, manifest: &Manifest) -> Result<(), RestoreError> {
    let needed = [EVENTS_FILE.to_owned(), SEALS_FILE.to_owned()]
        .into_iter()
        .chain(KEPT_TABLES.iter().map(|table| table_file(table)));
    for file in needed {
        let Some(expected) = manifest.files.get(&file) else {
            return Err(RestoreError::Damaged {
                file,
                detail: "the manifest does not list it".into(),
            });
        };
        let path = dir.join(&file);
        let found = manifest::entry_of(&path)
            .await
            .map_err(|source| RestoreError::File { path, source })?;
        if found.lines != expected.lines {
            return Err(RestoreError::Damaged {
                file,
                detail: format!(
                    "{} lines, the manifest says {}",
                    found.lines, expected.lines
                ),
            });
        }
        if found.sha256 != expected.sha256 {
            return Err(RestoreError::Damaged {
                file,
                detail: format!(
                    "SHA-256 {}, the manifest says {}",
                    hex(&found.sha256),
                    hex(&expected.sha256)
                ),
            });
        }
    }
    Ok(())
}

async fn check_empty(conn: &mut PgConnection) -> Result<(), RestoreError> {
    for table in ["events", "audit_seals"].iter().chain(KEPT_TABLES) {
        let taken: bool = sqlx::query_scalar(&format!("SELECT EXISTS (SELECT 1 FROM {table})"))
            .fetch_one(&mut *conn)
            .await?;
        if taken {
            return Err(RestoreError::NotEmpty((*table).to_owned()));
        }
    }
    Ok(())
}

/// The events, then the seals over them; the number of events.
async fn restore_events(
    conn: &mut PgConnection,
    dir: &Path,
) -> Result<(u64, SealsRestored), RestoreError> {
    let path = dir.join(EVENTS_FILE);
    let file = tokio::fs::File::open(&path)
        .await
        .map_err(|source| RestoreError::File {
            path: path.clone(),
            source,
        })?;
    let mut lines = tokio::io::BufReader::new(file).lines();
    let mut importer = Importer::default();
    let mut resealer = Resealer::open(dir)?;
    let mut events = 0;
    loop {
        let text = lines
            .next_line()
            .await
            .map_err(|source| RestoreError::File {
                path: path.clone(),
                source,
            })?;
        let imported = match &text {
            Some(text) => importer.line(conn, text).await?,
            None => std::mem::take(&mut importer).finish(conn).await?,
        };
        for event in &imported {
            resealer.follow(event)?;
        }
        events += imported.len() as u64;
        if resealer.pending() >= BATCH || text.is_none() {
            resealer.flush(conn).await?;
        }
        if text.is_none() {
            break;
        }
    }
    Ok((events, resealer.finish(conn).await?))
}

/// A kept table's rows, in batches; the number of rows. Only the columns the backup has
/// are written, so a backup from an older schema leaves newer columns to their defaults.
async fn restore_table(
    conn: &mut PgConnection,
    dir: &Path,
    table: &str,
) -> Result<u64, RestoreError> {
    let file = table_file(table);
    let path = dir.join(&file);
    let io = |source| RestoreError::File {
        path: path.clone(),
        source,
    };
    let mut lines =
        tokio::io::BufReader::new(tokio::fs::File::open(&path).await.map_err(io)?).lines();
    let known: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    let (mut columns, mut batch, mut line, mut rows) = (None, Vec::new(), 0u64, 0u64);
    while let Some(text) = lines.next_line().await.map_err(io)? {
        line += 1;
        let row: serde_json::Map<String, serde_json::Value> =
            serde_json::from_str(&text).map_err(|err| RestoreError::Malformed {
                file: file.clone(),
                line,
                message: err.to_string(),
            })?;
        if columns.is_none() {
            let listed: Vec<&String> = known.iter().filter(|c| row.contains_key(*c)).collect();
            columns = Some(
                listed
                    .iter()
                    .map(|c| format!("\"{c}\""))
                    .collect::<Vec<_>>()
                    .join(", "),
            );
        }
        batch.push(text);
        if batch.len() == BATCH {
            rows += insert_rows(conn, table, columns.as_deref(), &mut batch).await?;
        }
    }
    rows += insert_rows(conn, table, columns.as_deref(), &mut batch).await?;
    reset_identity(conn, table).await?;
    Ok(rows)
}

async fn insert_rows(
    conn: &mut PgConnection,
    table: &str,
    columns: Option<&str>,
    batch: &mut Vec<String>,
) -> Result<u64, RestoreError> {
    let (Some(columns), false) = (columns, batch.is_empty()) else {
        return Ok(0);
    };
    let array = format!("[{}]", batch.join(","));
    batch.clear();
    let inserted = sqlx::query(&format!(
        "INSERT INTO {table} ({columns}) OVERRIDING SYSTEM VALUE
         SELECT {columns} FROM json_populate_recordset(NULL::{table}, $1::json)"
    ))
    .bind(array)
    .execute(&mut *conn)
    .await?;
    Ok(inserted.rows_affected())
}

/// Moves an identity column's sequence past the rows restored with their own ids.
pub(super) async fn reset_identity(
    conn: &mut PgConnection,
    table: &str,
) -> Result<(), RestoreError> {
    let identities: Vec<String> = sqlx::query_scalar(
        "SELECT column_name::text FROM information_schema.columns
          WHERE table_schema = current_schema() AND table_name = $1 AND is_identity = 'YES'",
    )
    .bind(table)
    .fetch_all(&mut *conn)
    .await?;
    for column in identities {
        sqlx::query(&format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'),
                           coalesce(max(\"{column}\"), 0) + 1, false) FROM {table}"
        ))
        .execute(&mut *conn)
        .await?;
    }
    Ok(())
}
