//! The global feed as NDJSON, one event per line in feed order, read in batches so that
//! memory stays flat whatever the log's size. Payload and metadata are written as the
//! exact JSON text stored, so an import recomputes the same hashes.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use futures::Stream;
use sqlx::{PgConnection, PgPool};

use super::hash::hex;
use super::{AuditEvent, COLUMNS, FEED_FILTER};
use event_log::FeedPosition;

/// Events per query.
const BATCH: i64 = 5_000;

/// Which events to export.
#[derive(Debug, Clone, Copy, Default)]
pub struct ExportRange {
    /// Only events recorded at or after this instant.
    pub from: Option<DateTime<Utc>>,
    /// Only events recorded before this instant.
    pub to: Option<DateTime<Utc>>,
    /// Only events after this global position (in feed order).
    pub after_position: Option<i64>,
}

/// Every event in feed order, as stored, within the connection's snapshot: what a
/// backup writes. No horizon: within one snapshot every visible event is committed.
pub fn every_event(
    conn: &mut PgConnection,
) -> impl Stream<Item = Result<AuditEvent, sqlx::Error>> + '_ {
    static SQL: LazyLock<String> = LazyLock::new(|| {
        format!("SELECT {COLUMNS} FROM events ORDER BY transaction_id, global_position")
    });
    sqlx::query_as::<_, AuditEvent>(SQL.as_str()).fetch(conn)
}

/// One NDJSON line (with its newline) for `event`.
pub fn line(event: &AuditEvent) -> String {
    let text = |value: &str| serde_json::to_string(value).unwrap_or_default();
    format!(
        "{{\"position\":{},\"transaction_id\":{},\"aggregate_type\":{},\"aggregate_id\":{},\
         \"sequence\":{},\"event_type\":{},\"event_version\":{},\"recorded_at\":{},\
         \"hash\":\"{}\",\"payload\":{},\"metadata\":{}}}\n",
        event.global_position,
        event.transaction_id,
        text(&event.aggregate_type),
        text(&event.aggregate_id),
        event.sequence,
        text(&event.event_type),
        text(&event.event_version),
        text(
            &event
                .recorded_at
                .to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
        ),
        hex(&event.hash),
        event.payload,
        event.metadata,
    )
}

/// Where the export starts in the feed.
async fn start(pool: &PgPool, range: ExportRange) -> Result<FeedPosition, sqlx::Error> {
    let Some(position) = range.after_position else {
        return Ok(FeedPosition::START);
    };
    let transaction_id: Option<i64> = sqlx::query_scalar(
        "SELECT transaction_id::text::bigint FROM events WHERE global_position = $1",
    )
    .bind(position)
    .fetch_optional(pool)
    .await?;
    Ok(FeedPosition {
        transaction_id: transaction_id.unwrap_or(0),
        global_position: position,
    })
}

/// The next batch after `after` within `range`, and the position to continue from;
/// `None` when the feed is exhausted.
async fn batch(
    pool: &PgPool,
    after: FeedPosition,
    range: ExportRange,
) -> Result<Option<(Vec<AuditEvent>, FeedPosition)>, sqlx::Error> {
    let events: Vec<AuditEvent> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM events WHERE {FEED_FILTER}
          ORDER BY events.transaction_id, events.global_position LIMIT $3"
    ))
    .bind(after.transaction_id)
    .bind(after.global_position)
    .bind(BATCH)
    .fetch_all(pool)
    .await?;
    let Some(last) = events.last() else {
        return Ok(None);
    };
    let next = FeedPosition {
        transaction_id: last.transaction_id,
        global_position: last.global_position,
    };
    let kept = events
        .into_iter()
        .filter(|event| range.from.is_none_or(|from| event.recorded_at >= from))
        .filter(|event| range.to.is_none_or(|to| event.recorded_at < to))
        .collect();
    Ok(Some((kept, next)))
}

/// The export as a stream of NDJSON chunks (one per batch).
pub fn stream(pool: PgPool, range: ExportRange) -> impl Stream<Item = Result<String, sqlx::Error>> {
    futures::stream::try_unfold(None, move |after: Option<FeedPosition>| {
        let pool = pool.clone();
        async move {
            let after = match after {
                Some(after) => after,
                None => start(&pool, range).await?,
            };
            Ok(batch(&pool, after, range).await?.map(|(events, next)| {
                let chunk: String = events.iter().map(line).collect();
                (chunk, Some(next))
            }))
        }
    })
}
