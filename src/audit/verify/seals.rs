//! Pass 2: the feed in order, its cumulative hash compared with every seal. An event
//! removed, added, edited or moved below a seal changes the cumulative hash from there on;
//! the first seal that disagrees bounds where.

use sqlx::{PgPool, Row};

use super::{Failure, Findings, VerifyError};
use crate::audit::hash::{ZERO, hex};
use crate::audit::sealer::link;
use projections::cancellation::Cancellation;

/// Events read per query.
const BATCH: i64 = 20_000;

struct SealRow {
    seal_id: i64,
    transaction_id: i64,
    global_position: i64,
    event_count: i64,
    cumulative_hash: Vec<u8>,
}

/// Checks every seal; the number of seals. `progress(done, total)` counts the events
/// hashed, up to the last seal's.
pub async fn check(
    pool: &PgPool,
    findings: &mut Findings,
    cancellation: &Cancellation,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, VerifyError> {
    let seals: Vec<SealRow> = sqlx::query(
        "SELECT seal_id, transaction_id::text::bigint AS transaction_id, global_position,
                event_count, cumulative_hash
           FROM audit_seals ORDER BY transaction_id, global_position",
    )
    .fetch_all(pool)
    .await?
    .into_iter()
    .map(|row| {
        Ok(SealRow {
            seal_id: row.try_get("seal_id")?,
            transaction_id: row.try_get("transaction_id")?,
            global_position: row.try_get("global_position")?,
            event_count: row.try_get("event_count")?,
            cumulative_hash: row.try_get("cumulative_hash")?,
        })
    })
    .collect::<Result<_, sqlx::Error>>()?;
    let Some(last) = seals.last() else {
        progress(0, 0);
        return Ok(0);
    };
    let end = (last.transaction_id, last.global_position);
    let total = u64::try_from(last.event_count).unwrap_or_default();
    progress(0, total);
    let mut next_seal = seals.iter().peekable();
    let mut chain = ZERO.to_vec();
    let mut count = 0i64;
    let mut hashed = 0u64;
    let mut after = (0i64, 0i64);
    // The position just after the last seal that matched: where trouble may start.
    let mut trusted_up_to: Option<i64> = None;
    'feed: loop {
        if cancellation.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let rows = sqlx::query(
            "SELECT transaction_id::text::bigint AS transaction_id, global_position, hash
               FROM events
              WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                AND (transaction_id, global_position) <= ($3::bigint::text::xid8, $4)
              ORDER BY events.transaction_id, events.global_position LIMIT $5",
        )
        .bind(after.0)
        .bind(after.1)
        .bind(end.0)
        .bind(end.1)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        if rows.is_empty() {
            break;
        }
        let batch = rows.len() as u64;
        for row in rows {
            let position: (i64, i64) = (
                row.try_get("transaction_id")?,
                row.try_get("global_position")?,
            );
            // A seal whose own event is gone: passed without meeting it.
            while let Some(seal) =
                next_seal.next_if(|s| (s.transaction_id, s.global_position) < position)
            {
                findings.add(missing(seal, trusted_up_to));
            }
            let hash: Vec<u8> = row.try_get("hash")?;
            chain = link(&chain, position, &hash).to_vec();
            count += 1;
            after = position;
            if let Some(seal) =
                next_seal.next_if(|s| (s.transaction_id, s.global_position) == position)
            {
                if seal.cumulative_hash == chain && seal.event_count == count {
                    trusted_up_to = Some(position.1);
                } else {
                    findings.add(Failure {
                        kind: "seal_mismatch",
                        position: Some(trusted_up_to.map_or(1, |p| p + 1)),
                        stream: None,
                        message: format!(
                            "seal {} at position {} records {} events, hash {}; the log has {count}, hash {}: \
                             something after position {} and up to {} was changed, added or removed (or the seal was)",
                            seal.seal_id,
                            seal.global_position,
                            seal.event_count,
                            hex(&seal.cumulative_hash),
                            hex(&chain),
                            trusted_up_to.unwrap_or(0),
                            seal.global_position
                        ),
                    });
                    // Later seals are compared on the log as it is from here.
                    chain = seal.cumulative_hash.clone();
                    count = seal.event_count;
                }
            }
            if next_seal.peek().is_none() {
                break 'feed;
            }
        }
        hashed += batch;
        progress(hashed.min(total), total);
    }
    progress(total, total);
    for seal in next_seal {
        findings.add(missing(seal, trusted_up_to));
    }
    Ok(seals.len() as u64)
}

fn missing(seal: &SealRow, trusted_up_to: Option<i64>) -> Failure {
    Failure {
        kind: "seal_mismatch",
        position: Some(trusted_up_to.map_or(1, |p| p + 1)),
        stream: None,
        message: format!(
            "seal {} names position {}, which is no longer in the log",
            seal.seal_id, seal.global_position
        ),
    }
}
