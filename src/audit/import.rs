//! Re-imports an NDJSON export into a store: the events as they were (streams, sequences,
//! payloads, metadata, recorded_at), in export order, in batches of one transaction. The
//! database recomputes each hash on insert; an import whose hash differs from the
//! exported one is refused, so an altered export cannot be imported — and, all or
//! nothing, a refused import leaves the store exactly as it was.
//!
//! Only ordo's own write path appends to a live store: an import goes into an empty one
//! that no server runs on (an auditor's copy), else an export with recomputed hashes
//! would add history nobody wrote (a payment WeChat Pay never took). A refusal never
//! shows the hash a line would have needed.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::{PgConnection, PgPool};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::hash::hex;
use event_log::FeedPosition;

/// Events per INSERT.
const BATCH: usize = 1_000;

#[derive(Debug, Deserialize)]
struct Line<'a> {
    /// Where the event was in the exporting store's feed.
    position: Option<i64>,
    transaction_id: Option<i64>,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    recorded_at: DateTime<Utc>,
    hash: String,
    #[serde(borrow)]
    payload: &'a RawValue,
    #[serde(borrow)]
    metadata: &'a RawValue,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("line {0}: {1}")]
    Malformed(u64, String),
    /// What the hash should have been stays unsaid: it is what a forger needs.
    #[error(
        "line {line}: the event does not match its exported hash {exported}: the export was \
         altered"
    )]
    HashMismatch { line: u64, exported: String },
    #[error(
        "an ordo server is running on this database: import only into a new, empty store \
         with no server running (a live store takes events from ordo's own writes only)"
    )]
    ServerRunning,
    #[error(
        "the store is not empty (it holds events): import only into a new, empty store (a \
         live store takes events from ordo's own writes only)"
    )]
    NotEmpty,
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

/// One event as imported: where it was in the exported feed, where it is now, its hash.
#[derive(Debug)]
pub struct Imported {
    pub exported: Option<FeedPosition>,
    pub imported: FeedPosition,
    pub hash: Vec<u8>,
}

#[derive(Debug, Default)]
struct Batch {
    first_line: u64,
    exported: Vec<Option<FeedPosition>>,
    aggregate_type: Vec<String>,
    aggregate_id: Vec<String>,
    sequence: Vec<i64>,
    event_type: Vec<String>,
    event_version: Vec<String>,
    payload: Vec<String>,
    metadata: Vec<String>,
    recorded_at: Vec<DateTime<Utc>>,
    hash: Vec<String>,
}

impl Batch {
    fn len(&self) -> usize {
        self.sequence.len()
    }

    async fn insert(self, conn: &mut PgConnection) -> Result<Vec<Imported>, ImportError> {
        // WITH ORDINALITY keeps the file's order, so a stream's events chain in sequence
        // and the feed keeps its order.
        let rows: Vec<(i64, i64, Vec<u8>)> = sqlx::query_as(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata, recorded_at)
             SELECT t, i, s, e, v, p::json, m::json, r
               FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                           $6::text[], $7::text[], $8::timestamptz[])
                    WITH ORDINALITY AS x(t, i, s, e, v, p, m, r, n)
              ORDER BY n
             RETURNING transaction_id::text::bigint, global_position, hash",
        )
        .bind(&self.aggregate_type)
        .bind(&self.aggregate_id)
        .bind(&self.sequence)
        .bind(&self.event_type)
        .bind(&self.event_version)
        .bind(&self.payload)
        .bind(&self.metadata)
        .bind(&self.recorded_at)
        .fetch_all(conn)
        .await?;
        let mut imported = Vec::with_capacity(rows.len());
        for (n, ((transaction_id, global_position, recomputed), (exported_hash, exported))) in rows
            .into_iter()
            .zip(self.hash.iter().zip(self.exported))
            .enumerate()
        {
            if hex(&recomputed) != *exported_hash {
                return Err(ImportError::HashMismatch {
                    line: self.first_line + n as u64,
                    exported: exported_hash.clone(),
                });
            }
            imported.push(Imported {
                exported,
                imported: FeedPosition {
                    transaction_id,
                    global_position,
                },
                hash: recomputed,
            });
        }
        Ok(imported)
    }
}

/// Imports every line of `reader` in one transaction into the empty store behind `pool`,
/// which no server may run on; the number of events imported. On any error (a server
/// running, an event already there, a malformed line, a hash that differs) nothing is
/// imported.
pub async fn import(pool: &PgPool, reader: impl AsyncBufRead + Unpin) -> Result<u64, ImportError> {
    if projections::status::any_projector_running(pool).await? {
        return Err(ImportError::ServerRunning);
    }
    let mut tx = pool.begin().await?;
    lock_out_writers(&mut tx).await?;
    let taken: bool = sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM events)")
        .fetch_one(&mut *tx)
        .await?;
    if taken {
        return Err(ImportError::NotEmpty);
    }
    let mut lines = reader.lines();
    let mut importer = Importer::default();
    let mut imported = 0;
    while let Some(text) = lines.next_line().await? {
        imported += importer.line(&mut tx, &text).await?.len() as u64;
    }
    imported += importer.finish(&mut tx).await?.len() as u64;
    tx.commit().await?;
    Ok(imported)
}

/// Holds every other writer off the events until the caller's transaction ends (readers
/// go on): once the store was found empty, a server started meanwhile waits for the
/// import or restore, and never interleaves its appends with it.
pub async fn lock_out_writers(conn: &mut PgConnection) -> Result<(), sqlx::Error> {
    sqlx::query("LOCK TABLE events IN EXCLUSIVE MODE")
        .execute(&mut *conn)
        .await
        .map(drop)
}

/// Inserts exported lines on the caller's connection (in its transaction), in their
/// order, a batch at a time; each call answers the events a full batch inserted.
#[derive(Debug, Default)]
pub struct Importer {
    batch: Batch,
    /// The line being read, from 1.
    number: u64,
}

impl Importer {
    /// Reads the file's next line; blank lines are skipped.
    pub async fn line(
        &mut self,
        conn: &mut PgConnection,
        text: &str,
    ) -> Result<Vec<Imported>, ImportError> {
        self.number += 1;
        if text.trim().is_empty() {
            return Ok(Vec::new());
        }
        let line: Line = serde_json::from_str(text)
            .map_err(|err| ImportError::Malformed(self.number, err.to_string()))?;
        let batch = &mut self.batch;
        if batch.len() == 0 {
            batch.first_line = self.number;
        }
        batch
            .exported
            .push(line.transaction_id.zip(line.position).map(
                |(transaction_id, global_position)| FeedPosition {
                    transaction_id,
                    global_position,
                },
            ));
        batch.aggregate_type.push(line.aggregate_type);
        batch.aggregate_id.push(line.aggregate_id);
        batch.sequence.push(line.sequence);
        batch.event_type.push(line.event_type);
        batch.event_version.push(line.event_version);
        batch.payload.push(line.payload.get().to_owned());
        batch.metadata.push(line.metadata.get().to_owned());
        batch.recorded_at.push(line.recorded_at);
        batch.hash.push(line.hash);
        if batch.len() < BATCH {
            return Ok(Vec::new());
        }
        std::mem::take(batch).insert(conn).await
    }

    /// Inserts what is left; the events it inserted.
    pub async fn finish(self, conn: &mut PgConnection) -> Result<Vec<Imported>, ImportError> {
        if self.batch.len() == 0 {
            return Ok(Vec::new());
        }
        self.batch.insert(conn).await
    }
}
