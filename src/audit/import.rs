//! Re-imports an NDJSON export into a store: the events as they were (streams, sequences,
//! payloads, metadata, recorded_at), in export order, in batches of one transaction. The
//! database recomputes each hash on insert; an import whose hash differs from the
//! exported one is refused, so an altered export cannot be imported — and, all or
//! nothing, a refused import leaves the store exactly as it was.

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;
use sqlx::{PgConnection, PgPool};
use tokio::io::{AsyncBufRead, AsyncBufReadExt};

use super::hash::hex;

/// Events per INSERT.
const BATCH: usize = 1_000;

#[derive(Debug, Deserialize)]
struct Line<'a> {
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
    #[error("line {line}: the recomputed hash {recomputed} differs from the exported {exported}")]
    HashMismatch {
        line: u64,
        exported: String,
        recomputed: String,
    },
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

#[derive(Debug, Default)]
struct Batch {
    first_line: u64,
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

    async fn insert(self, conn: &mut PgConnection) -> Result<(), ImportError> {
        // WITH ORDINALITY keeps the file's order, so a stream's events chain in sequence.
        let hashes: Vec<Vec<u8>> = sqlx::query_scalar(
            "INSERT INTO events (aggregate_type, aggregate_id, sequence, event_type,
                                 event_version, payload, metadata, recorded_at)
             SELECT t, i, s, e, v, p::json, m::json, r
               FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[],
                           $6::text[], $7::text[], $8::timestamptz[])
                    WITH ORDINALITY AS x(t, i, s, e, v, p, m, r, n)
              ORDER BY n
             RETURNING hash",
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
        for (n, (recomputed, exported)) in hashes.iter().zip(&self.hash).enumerate() {
            if hex(recomputed) != *exported {
                return Err(ImportError::HashMismatch {
                    line: self.first_line + n as u64,
                    exported: exported.clone(),
                    recomputed: hex(recomputed),
                });
            }
        }
        Ok(())
    }
}

/// Imports every line of `reader` in one transaction; the number of events imported. On
/// any error (a malformed line, a hash that differs, a sequence taken) nothing is imported.
/// The transaction holds the feed's horizon while it runs: import into a store no live
/// projector depends on (a new one, as for an audit).
pub async fn import(pool: &PgPool, reader: impl AsyncBufRead + Unpin) -> Result<u64, ImportError> {
    let mut tx = pool.begin().await?;
    let mut lines = reader.lines();
    let mut batch = Batch::default();
    let (mut number, mut imported) = (0u64, 0u64);
    while let Some(text) = lines.next_line().await? {
        number += 1;
        if text.trim().is_empty() {
            continue;
        }
        let line: Line = serde_json::from_str(&text)
            .map_err(|err| ImportError::Malformed(number, err.to_string()))?;
        if batch.len() == 0 {
            batch.first_line = number;
        }
        batch.aggregate_type.push(line.aggregate_type);
        batch.aggregate_id.push(line.aggregate_id);
        batch.sequence.push(line.sequence);
        batch.event_type.push(line.event_type);
        batch.event_version.push(line.event_version);
        batch.payload.push(line.payload.get().to_owned());
        batch.metadata.push(line.metadata.get().to_owned());
        batch.recorded_at.push(line.recorded_at);
        batch.hash.push(line.hash);
        if batch.len() == BATCH {
            imported += BATCH as u64;
            std::mem::take(&mut batch).insert(&mut tx).await?;
        }
    }
    if batch.len() > 0 {
        imported += batch.len() as u64;
        batch.insert(&mut tx).await?;
    }
    tx.commit().await?;
    Ok(imported)
}
