//! Reading the global feed: every event of every stream, in an order in which no reader
//! can skip an event.
//!
//! `global_position` is handed out when a row is inserted, but becomes visible when its
//! transaction commits, and transactions commit in any order: a reader that asks for
//! "everything after position 41" may see 43 while 42 is still uncommitted, and would
//! never look back. So the feed is ordered by (transaction_id, global_position) and only
//! holds events of transactions older than the oldest one still running
//! that may still append (`feed_horizon`, see the migration `*_feed_horizon.sql`): those
//! have all ended, so nothing can appear before them any more. A transaction that has not
//! written yet gets a larger id than anything below that horizon, so its events sort
//! after everything already read; one that holds an older id without having announced an
//! append (a forgotten psql session, a migration, another database) is passed, and
//! refused should it try to append after all.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::{FromRow, PgExecutor};

use crate::EventMetadata;

/// A place in the global feed: the pair the feed is ordered by. A reader's checkpoint
/// is the position of the last event it handled; [`FeedPosition::START`] is before all.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct FeedPosition {
    /// The writing transaction's id (PostgreSQL `xid8`, epoch-extended, so it never wraps).
    pub transaction_id: i64,
    pub global_position: i64,
}

impl FeedPosition {
    pub const START: Self = Self {
        transaction_id: 0,
        global_position: 0,
    };
    /// After every event.
    pub const END: Self = Self {
        transaction_id: i64::MAX,
        global_position: i64::MAX,
    };
}

/// An event as read from the feed.
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedEvent {
    pub position: FeedPosition,
    pub aggregate_type: String,
    pub aggregate_id: String,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    /// The payload's JSON text as stored (the log keeps it verbatim): each reader decodes
    /// it straight into the type it reads, without a JSON tree in between.
    pub payload: String,
    pub metadata: EventMetadata,
    pub recorded_at: DateTime<Utc>,
}

#[derive(FromRow)]
struct FeedRow {
    transaction_id: i64,
    global_position: i64,
    aggregate_type: String,
    aggregate_id: String,
    sequence: i64,
    event_type: String,
    event_version: String,
    payload: String,
    metadata: String,
    recorded_at: DateTime<Utc>,
}

impl From<FeedRow> for RecordedEvent {
    fn from(row: FeedRow) -> Self {
        Self {
            position: FeedPosition {
                transaction_id: row.transaction_id,
                global_position: row.global_position,
            },
            aggregate_type: row.aggregate_type,
            aggregate_id: row.aggregate_id,
            sequence: row.sequence,
            event_type: row.event_type,
            event_version: row.event_version,
            payload: row.payload,
            // Metadata is ours to read but others (postgres-es, older versions) may have
            // written a different shape: an unreadable one reads as empty, never as an error.
            metadata: serde_json::from_str(&row.metadata).unwrap_or_default(),
            recorded_at: row.recorded_at,
        }
    }
}

/// The feed's condition: after the position bound as `$1` (transaction id as bigint) and
/// `$2` (global position), and below the oldest running transaction that may append, so
/// that a range read this way never gains an event later. The horizon is computed once
/// per statement (an uncorrelated sub-select), on the statement's own snapshot. Order by `events.transaction_id,
/// events.global_position`.
pub const AFTER_POSITION_BELOW_HORIZON: &str =
    "(transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                AND transaction_id < (SELECT feed_horizon(pg_current_snapshot()))";

/// The columns a [`FeedRow`] is read from.
const FEED_COLUMNS: &str = "transaction_id::text::bigint AS transaction_id, global_position,
    aggregate_type, aggregate_id, sequence, event_type, event_version, payload::text AS payload,
    metadata::text AS metadata, recorded_at";

/// The position of the last event below the feed's horizon: reading on from it, a
/// reader sees exactly the events that become readable from now on (what a subscriber
/// that acts on the world starts from: the past is not its to act on).
pub async fn position_now<'c>(executor: impl PgExecutor<'c>) -> Result<FeedPosition, sqlx::Error> {
    let row: Option<(i64, i64)> = sqlx::query_as(
        "SELECT transaction_id::text::bigint, global_position FROM events
          WHERE transaction_id < (SELECT feed_horizon(pg_current_snapshot()))
          ORDER BY transaction_id DESC, global_position DESC LIMIT 1",
    )
    .fetch_optional(executor)
    .await?;
    Ok(
        row.map_or(FeedPosition::START, |(transaction_id, global_position)| {
            FeedPosition {
                transaction_id,
                global_position,
            }
        }),
    )
}

/// The events at these global positions, in feed order.
pub async fn read_positions<'c>(
    executor: impl PgExecutor<'c>,
    positions: &[i64],
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let rows: Vec<FeedRow> = sqlx::query_as(&format!(
        "SELECT {FEED_COLUMNS} FROM events WHERE global_position = ANY($1)
          ORDER BY events.transaction_id, events.global_position"
    ))
    .bind(positions)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// Up to `limit` events after `after`, in feed order, none of which can later be
/// preceded by an event not yet visible. An empty batch means "caught up for now".
pub async fn read_feed<'c>(
    executor: impl PgExecutor<'c>,
    after: FeedPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    read_feed_until(executor, after, FeedPosition::END, limit).await
}

/// Like [`read_feed`], but no event after `until`.
pub async fn read_feed_until<'c>(
    executor: impl PgExecutor<'c>,
    after: FeedPosition,
    until: FeedPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    feed_rows(executor, after, until, limit).await
}

/// The feed between `after` and `until`.
async fn feed_rows<'c>(
    executor: impl PgExecutor<'c>,
    after: FeedPosition,
    until: FeedPosition,
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let rows: Vec<FeedRow> = sqlx::query_as(&format!(
        "SELECT {FEED_COLUMNS}
           FROM events
          WHERE {AFTER_POSITION_BELOW_HORIZON}
            AND (transaction_id, global_position) <= ($4::bigint::text::xid8, $5)
          -- Qualified: the output column of the same name is a bigint and would
          -- sort without the index.
          ORDER BY events.transaction_id, events.global_position
          LIMIT $3"
    ))
    .bind(after.transaction_id)
    .bind(after.global_position)
    .bind(limit)
    .bind(until.transaction_id)
    .bind(until.global_position)
    .fetch_all(executor)
    .await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// The feed between `after` and `until`, of `aggregate_types` only, below `horizon` (a
/// horizon an earlier statement computed: everything below it had ended by then, so a
/// later snapshot sees all of it).
///
/// Each type is read on its own in feed order (`events_feed_by_type`) and the lists are
/// merged: one filter over several types (`aggregate_type = ANY(...)`) cannot be read in
/// feed order from any index, so PostgreSQL fetched every later event of those types and
/// sorted them for each batch, and a rebuild's cost grew with the square of the log.
/// Merged this way, the first `limit` rows are complete: a type whose own list was cut
/// has `limit` rows at or before its cut, so none of its later events can be among the
/// first `limit`.
async fn rows_of_types<'c>(
    executor: impl PgExecutor<'c>,
    aggregate_types: &[&str],
    horizon: i64,
    (after, until): (FeedPosition, FeedPosition),
    limit: i64,
) -> Result<Vec<RecordedEvent>, sqlx::Error> {
    let each: Vec<String> = (0..aggregate_types.len())
        .map(|i| {
            format!(
                "(SELECT {FEED_COLUMNS}
                    FROM events
                   WHERE aggregate_type = ${type_param}
                     AND (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                     AND transaction_id < $6::bigint::text::xid8
                     AND (transaction_id, global_position) <= ($4::bigint::text::xid8, $5)
                   ORDER BY events.transaction_id, events.global_position
                   LIMIT $3)",
                type_param = i + 7
            )
        })
        .collect();
    let sql = format!(
        "SELECT * FROM ({}) AS merged ORDER BY transaction_id, global_position LIMIT $3",
        each.join(" UNION ALL ")
    );
    let mut query = sqlx::query_as::<_, FeedRow>(&sql)
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(limit)
        .bind(until.transaction_id)
        .bind(until.global_position)
        .bind(horizon);
    for aggregate_type in aggregate_types {
        query = query.bind(*aggregate_type);
    }
    let rows = query.fetch_all(executor).await?;
    Ok(rows.into_iter().map(RecordedEvent::from).collect())
}

/// A batch of the events one reader cares about, and how far the feed was looked at.
#[derive(Debug)]
pub struct FilteredBatch {
    pub events: Vec<RecordedEvent>,
    /// Where the reader may move its checkpoint: past the last event returned and, when
    /// the batch was not cut by its limit, past every event of other aggregate types
    /// up to the horizon (so a read-your-writes wait for any position is answered).
    pub reached: FeedPosition,
}

/// Like [`read_feed_until`], but only events of `aggregate_types`: a reader skips the
/// others without fetching (or decoding) them.
pub async fn read_feed_of_types(
    conn: &mut sqlx::PgConnection,
    aggregate_types: &[&str],
    after: FeedPosition,
    until: FeedPosition,
    limit: i64,
) -> Result<FilteredBatch, sqlx::Error> {
    // The horizon and the last event below it first, then the lists below that same
    // horizon: each statement computes its own, and a later one may be lower (a
    // bystander passed by the first may have ended just before the second read the lock
    // table, and is then counted as running), so lists read below their own horizon
    // could miss events of these types the first statement's scan went past.
    let (horizon, last_transaction, last_position): (i64, Option<i64>, Option<i64>) =
        sqlx::query_as(
            "WITH horizon AS MATERIALIZED (
                 SELECT feed_horizon(pg_current_snapshot()) AS below
             )
             SELECT horizon.below::text::bigint,
                    scanned.transaction_id::text::bigint, scanned.global_position
               FROM horizon
               LEFT JOIN LATERAL (
                   SELECT transaction_id, global_position
                     FROM events
                    WHERE (transaction_id, global_position) > ($1::bigint::text::xid8, $2)
                      AND transaction_id < horizon.below
                      AND (transaction_id, global_position) <= ($3::bigint::text::xid8, $4)
                    ORDER BY events.transaction_id DESC, events.global_position DESC
                    LIMIT 1
               ) AS scanned ON true",
        )
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(until.transaction_id)
        .bind(until.global_position)
        .fetch_one(&mut *conn)
        .await?;
    let events = rows_of_types(&mut *conn, aggregate_types, horizon, (after, until), limit).await?;
    let full = i64::try_from(events.len()).unwrap_or(i64::MAX) >= limit;
    let last = events.last().map_or(after, |event| event.position);
    let scanned = match (last_transaction, last_position) {
        (Some(transaction_id), Some(global_position)) => FeedPosition {
            transaction_id,
            global_position,
        },
        _ => after,
    };
    let reached = if full { last } else { last.max(scanned) };
    Ok(FilteredBatch { events, reached })
}
