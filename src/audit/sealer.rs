//! Seals: the cumulative hash of the whole feed up to a position, recorded periodically.
//! Per-stream chains show an edited or removed event inside a stream; seals also show a
//! stream's last event removed, or any event removed or added below a seal.

use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgPool, Row};
use tokio::sync::watch;

use super::FEED_FILTER;
use super::hash::{ZERO, cumulative, hex};

/// The seal chain over one event: its feed position and hash, so that moving an event
/// changes the chain as much as editing it.
pub fn link(chain: &[u8], (transaction_id, global_position): (i64, i64), hash: &[u8]) -> [u8; 32] {
    let mut linked = Vec::with_capacity(48);
    linked.extend_from_slice(&transaction_id.to_be_bytes());
    linked.extend_from_slice(&global_position.to_be_bytes());
    linked.extend_from_slice(hash);
    cumulative(chain, &linked)
}
use event_log::FeedPosition;

/// Events read per query while sealing.
const BATCH: i64 = 10_000;
/// Most events one seal covers, so that one run stays short.
const MAX_PER_SEAL: i64 = 500_000;
/// Only one sealer runs at a time, across every server on the database.
const SEALER_LOCK: i64 = 0x6f72_646f_7365_616c; // "ordoseal"

/// A recorded seal.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct Seal {
    pub seal_id: i64,
    /// The last sealed event's global position.
    pub global_position: i64,
    /// Events sealed since the log began.
    pub event_count: i64,
    /// Hex of the cumulative hash.
    pub cumulative_hash: String,
    pub sealed_at: DateTime<Utc>,
}

/// Seals the events committed since the last seal (up to [`MAX_PER_SEAL`]); `None` when
/// there was nothing new, or another server is sealing.
pub async fn seal(pool: &PgPool) -> Result<Option<Seal>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let locked: bool = sqlx::query_scalar("SELECT pg_try_advisory_xact_lock($1)")
        .bind(SEALER_LOCK)
        .fetch_one(&mut *tx)
        .await?;
    if !locked {
        return Ok(None);
    }
    let last = sqlx::query(
        "SELECT transaction_id::text::bigint AS transaction_id, global_position, event_count,
                cumulative_hash
           FROM audit_seals ORDER BY seal_id DESC LIMIT 1",
    )
    .fetch_optional(&mut *tx)
    .await?;
    let (mut position, mut count, mut chain) = match last {
        Some(row) => (
            FeedPosition {
                transaction_id: row.try_get("transaction_id")?,
                global_position: row.try_get("global_position")?,
            },
            row.try_get::<i64, _>("event_count")?,
            row.try_get::<Vec<u8>, _>("cumulative_hash")?,
        ),
        None => (FeedPosition::START, 0, ZERO.to_vec()),
    };
    let mut sealed = 0;
    while sealed < MAX_PER_SEAL {
        let rows = sqlx::query(&format!(
            "SELECT transaction_id::text::bigint AS transaction_id, global_position, hash
               FROM events WHERE {FEED_FILTER}
              ORDER BY events.transaction_id, events.global_position LIMIT $3"
        ))
        .bind(position.transaction_id)
        .bind(position.global_position)
        .bind(BATCH)
        .fetch_all(&mut *tx)
        .await?;
        if rows.is_empty() {
            break;
        }
        for row in &rows {
            let hash: Vec<u8> = row.try_get("hash")?;
            position = FeedPosition {
                transaction_id: row.try_get("transaction_id")?,
                global_position: row.try_get("global_position")?,
            };
            chain = link(
                &chain,
                (position.transaction_id, position.global_position),
                &hash,
            )
            .to_vec();
        }
        sealed += rows.len() as i64;
        count += rows.len() as i64;
    }
    if sealed == 0 {
        return Ok(None);
    }
    let row = sqlx::query(
        "INSERT INTO audit_seals (transaction_id, global_position, event_count, cumulative_hash)
         VALUES ($1::bigint::text::xid8, $2, $3, $4)
         RETURNING seal_id, sealed_at",
    )
    .bind(position.transaction_id)
    .bind(position.global_position)
    .bind(count)
    .bind(&chain)
    .fetch_one(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(Seal {
        seal_id: row.try_get("seal_id")?,
        global_position: position.global_position,
        event_count: count,
        cumulative_hash: hex(&chain),
        sealed_at: row.try_get("sealed_at")?,
    }))
}

/// The seals, newest first (for auditors to keep copies outside the database).
pub async fn list(pool: &PgPool, limit: i64, offset: i64) -> Result<(Vec<Seal>, i64), sqlx::Error> {
    let total: i64 = sqlx::query_scalar("SELECT count(*) FROM audit_seals")
        .fetch_one(pool)
        .await?;
    let rows = sqlx::query(
        "SELECT seal_id, global_position, event_count, cumulative_hash, sealed_at
           FROM audit_seals ORDER BY seal_id DESC LIMIT $1 OFFSET $2",
    )
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    let seals = rows
        .iter()
        .map(|row| {
            Ok(Seal {
                seal_id: row.try_get("seal_id")?,
                global_position: row.try_get("global_position")?,
                event_count: row.try_get("event_count")?,
                cumulative_hash: hex(&row.try_get::<Vec<u8>, _>("cumulative_hash")?),
                sealed_at: row.try_get("sealed_at")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()?;
    Ok((seals, total))
}

/// Seals every `every` until `stop` turns true.
pub async fn run(pool: PgPool, every: Duration, mut stop: watch::Receiver<bool>) {
    loop {
        tokio::select! {
            () = tokio::time::sleep(every) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match seal(&pool).await {
            Ok(Some(seal)) => {
                // Operators alert when this stops moving while events are written.
                metrics::gauge!("audit_sealed_events").set(seal.event_count as f64);
                tracing::debug!(
                    position = seal.global_position,
                    events = seal.event_count,
                    "sealed the log"
                );
            }
            Ok(None) => {}
            Err(err) => tracing::warn!(%err, "sealing failed; retrying"),
        }
    }
}
