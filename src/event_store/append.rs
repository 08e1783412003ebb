//! Appending the new events of several streams in one transaction.
//!
//! Optimistic concurrency: a writer appends a stream's events at the sequences after the
//! last one it loaded. If another writer took one of those sequences first, the primary
//! key (aggregate_type, aggregate_id, sequence) refuses the insert, the whole transaction
//! is rolled back, and the caller gets [`AppendError::Conflict`] naming the streams that
//! moved, to reload and retry.

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use sqlx::{PgConnection, Row};

use super::{EventMetadata, EventStore, FeedPosition, StreamId};

/// One event, serialized, ready to append.
#[derive(Debug, Clone, PartialEq)]
pub struct EventData {
    pub event_type: String,
    pub event_version: String,
    pub payload: Value,
    /// This event's own metadata, when it differs from the append's (events of several
    /// requests committed together).
    pub metadata: Option<EventMetadata>,
}

/// The new events of one stream, appended after `expected_sequence`, the sequence of
/// the stream's last event when it was loaded (0 for a new stream).
#[derive(Debug, Clone, PartialEq)]
pub struct StreamAppend {
    pub stream: StreamId,
    pub expected_sequence: i64,
    pub events: Vec<EventData>,
}

impl StreamAppend {
    /// Serializes an aggregate's new events the way postgres-es would, so it can load them.
    pub fn for_aggregate<A: Aggregate>(
        aggregate_id: impl Into<String>,
        expected_sequence: i64,
        events: &[A::Event],
    ) -> Result<Self, serde_json::Error> {
        let events = events
            .iter()
            .map(|event| {
                Ok(EventData {
                    event_type: event.event_type(),
                    event_version: event.event_version(),
                    payload: serde_json::to_value(event)?,
                    metadata: None,
                })
            })
            .collect::<Result<_, serde_json::Error>>()?;
        Ok(Self {
            stream: StreamId::new(A::TYPE, aggregate_id),
            expected_sequence,
            events,
        })
    }
}

/// Where the appended events landed in the global feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Appended {
    /// Global positions of the appended events, in append order.
    pub positions: Vec<i64>,
    /// The feed position of the last appended event: once a reader has passed it, it has
    /// seen every event of this append.
    pub last: FeedPosition,
}

#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    /// Another writer appended to these streams since they were loaded. Nothing was
    /// written; reload and retry.
    #[error("concurrent write to {}", list(streams))]
    Conflict { streams: Vec<StreamId> },
    #[error("nothing to append")]
    Empty,
    /// The connection was inside a transaction this append did not open.
    #[error("the connection was left inside an unfinished transaction")]
    ForeignTransaction,
    #[error("could not serialize metadata: {0}")]
    Metadata(#[from] serde_json::Error),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

fn list(streams: &[StreamId]) -> String {
    streams
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Flattened columns for one multi-row INSERT.
#[derive(Default)]
struct Rows {
    aggregate_types: Vec<String>,
    aggregate_ids: Vec<String>,
    sequences: Vec<i64>,
    event_types: Vec<String>,
    event_versions: Vec<String>,
    payloads: Vec<String>,
    metadata: Vec<String>,
}

impl EventStore {
    /// Appends every stream's events in one transaction: all of them, or none.
    pub async fn append(
        &self,
        streams: &[StreamAppend],
        metadata: &EventMetadata,
    ) -> Result<Appended, AppendError> {
        // All events go in one INSERT statement, which is atomic on its own: running it
        // outside BEGIN/COMMIT saves two round trips and commits (or fails) as a whole.
        let mut conn = self.pool.acquire().await?;
        let mut result = insert(&mut conn, streams, metadata, Transaction::Own).await;
        if matches!(result, Err(AppendError::ForeignTransaction)) {
            // sqlx can hand out a pooled connection still inside the transaction of a
            // future that was dropped mid-way (seen with aborted projector tasks);
            // writing there would be lost when that transaction ends. End it, then write
            // for real. A leftover that neither wrote nor locked is not detected: code
            // must not drop futures that hold transactions (see the projector).
            tracing::warn!(
                "pooled connection was inside an unfinished transaction; rolled it back"
            );
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            result = insert(&mut conn, streams, metadata, Transaction::Own).await;
        }
        match result {
            // Asked on the same connection: waiting for a second one while holding this
            // could exhaust the pool when many writers conflict at once.
            Err(AppendError::Conflict { .. }) => Err(AppendError::Conflict {
                streams: moved_streams(&mut conn, streams).await?,
            }),
            result => result,
        }
    }
}

/// Which of these streams now hold events past the sequence the writer expected.
async fn moved_streams(
    conn: &mut PgConnection,
    streams: &[StreamAppend],
) -> Result<Vec<StreamId>, sqlx::Error> {
    let mut moved = Vec::new();
    for append in streams {
        let head: Option<i64> = sqlx::query_scalar(
            "SELECT max(sequence) FROM events WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(&append.stream.aggregate_type)
        .bind(&append.stream.aggregate_id)
        .fetch_one(&mut *conn)
        .await?;
        if head.unwrap_or(0) > append.expected_sequence {
            moved.push(append.stream.clone());
        }
    }
    if moved.is_empty() {
        // The winner is committed before we see the violation, so this is unexpected;
        // naming every stream still tells the caller to reload them all.
        moved = streams.iter().map(|append| append.stream.clone()).collect();
    }
    Ok(moved)
}

/// Appends inside the caller's transaction, so that other writes (read models updated
/// inline, idempotency records) commit or roll back together with the events.
/// On [`AppendError::Conflict`] the transaction is aborted and must be rolled back; the
/// conflict then names every stream of the append.
pub async fn append_in(
    conn: &mut PgConnection,
    streams: &[StreamAppend],
    metadata: &EventMetadata,
) -> Result<Appended, AppendError> {
    insert(conn, streams, metadata, Transaction::Caller).await
}

/// Whose transaction the INSERT runs in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// The caller's explicit one.
    Caller,
    /// Its own implicit one: the statement is the whole transaction.
    Own,
}

async fn insert(
    conn: &mut PgConnection,
    streams: &[StreamAppend],
    metadata: &EventMetadata,
    transaction: Transaction,
) -> Result<Appended, AppendError> {
    // A fixed order of streams means two writers touching the same streams wait for each
    // other instead of deadlocking on each other's uncommitted keys.
    let mut ordered: Vec<&StreamAppend> = streams.iter().filter(|s| !s.events.is_empty()).collect();
    ordered.sort_by(|a, b| a.stream.cmp(&b.stream));
    if ordered.is_empty() {
        return Err(AppendError::Empty);
    }
    let mut rows = Rows::default();
    for append in ordered {
        for (event, sequence) in append.events.iter().zip(append.expected_sequence + 1..) {
            rows.aggregate_types
                .push(append.stream.aggregate_type.clone());
            rows.aggregate_ids.push(append.stream.aggregate_id.clone());
            rows.sequences.push(sequence);
            rows.event_types.push(event.event_type.clone());
            rows.event_versions.push(event.event_version.clone());
            rows.payloads.push(event.payload.to_string());
            rows.metadata.push(serde_json::to_string(
                event.metadata.as_ref().unwrap_or(metadata),
            )?);
        }
    }
    let inserted = sqlx::query(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata)
         SELECT t, i, s, et, ev, p::json, m::json
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                       $7::text[])
                AS row(t, i, s, et, ev, p, m)
          -- In its own implicit transaction nothing has a transaction id before this
          -- INSERT; if something does, a pooled connection came back inside somebody's
          -- unfinished transaction that wrote or locked rows, and nothing is written.
          -- (Evaluated once, before the first row: an uncorrelated sub-select.)
          WHERE NOT $8 OR (SELECT pg_current_xact_id_if_assigned() IS NULL)
         RETURNING global_position, transaction_id::text::bigint AS transaction_id",
    )
    .bind(&rows.aggregate_types)
    .bind(&rows.aggregate_ids)
    .bind(&rows.sequences)
    .bind(&rows.event_types)
    .bind(&rows.event_versions)
    .bind(&rows.payloads)
    .bind(&rows.metadata)
    .bind(transaction == Transaction::Own)
    .fetch_all(&mut *conn)
    .await
    .map_err(|err| classify(err, streams))?;
    if inserted.is_empty() {
        return Err(AppendError::ForeignTransaction);
    }

    let mut positions = Vec::with_capacity(inserted.len());
    let mut transaction_id = 0;
    for row in &inserted {
        positions.push(row.try_get::<i64, _>("global_position")?);
        transaction_id = row.try_get("transaction_id")?;
    }
    positions.sort_unstable();
    let last = FeedPosition {
        transaction_id,
        global_position: positions.last().copied().unwrap_or_default(),
    };
    Ok(Appended { positions, last })
}

/// A taken sequence (unique violation on the primary key), or a deadlock or
/// serialization failure between writers, is a conflict; anything else is an error.
fn classify(err: sqlx::Error, streams: &[StreamAppend]) -> AppendError {
    // 25P02: the connection is inside a failed transaction it did not open.
    if err
        .as_database_error()
        .is_some_and(|db| db.code().as_deref() == Some("25P02"))
    {
        return AppendError::ForeignTransaction;
    }
    let is_conflict = err.as_database_error().is_some_and(|db| {
        matches!(db.code().as_deref(), Some("40001" | "40P01"))
            || db.constraint() == Some("events_pkey")
    });
    if is_conflict {
        AppendError::Conflict {
            streams: streams.iter().map(|append| append.stream.clone()).collect(),
        }
    } else {
        AppendError::Database(err)
    }
}
