//! Appending the new events of several streams in one transaction.
//!
//! Optimistic concurrency: a writer appends a stream's events at the sequences after the
//! last one it loaded. If another writer took one of those sequences first, the primary
//! key (aggregate_type, aggregate_id, sequence) refuses the insert, the whole transaction
//! is rolled back, and the caller gets [`AppendError::Conflict`] naming the streams that
//! moved, to reload and retry.

use std::collections::HashMap;
use std::sync::Arc;

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::Value;
use sqlx::{PgConnection, Row};

use super::chain::{self, Head, LinkError, Links};
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

/// Cloneable, so that one failed group commit can answer every append it carried.
#[derive(Debug, Clone, thiserror::Error)]
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
    Metadata(Arc<serde_json::Error>),
    #[error(transparent)]
    Database(Arc<sqlx::Error>),
}

impl From<serde_json::Error> for AppendError {
    fn from(err: serde_json::Error) -> Self {
        Self::Metadata(Arc::new(err))
    }
}

impl From<sqlx::Error> for AppendError {
    fn from(err: sqlx::Error) -> Self {
        Self::Database(Arc::new(err))
    }
}

fn list(streams: &[StreamId]) -> String {
    streams
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// One event, serialized as the INSERT takes it.
#[derive(Debug)]
pub(super) struct EventRow {
    pub stream: StreamId,
    pub sequence: i64,
    pub event_type: String,
    pub event_version: String,
    pub payload: String,
    pub metadata: String,
}

/// The rows of one append (one unit of work), and the streams it expects at which
/// sequence.
#[derive(Debug)]
pub(super) struct Rows {
    pub rows: Vec<EventRow>,
    /// Every stream written, with the sequence its writer loaded.
    pub expected: Vec<(StreamId, i64)>,
}

impl Rows {
    /// Serializes the streams' events (their own metadata, or `metadata`).
    pub fn of(streams: &[StreamAppend], metadata: &EventMetadata) -> Result<Self, AppendError> {
        let metadata = serde_json::to_string(metadata)?;
        let mut rows = Vec::new();
        let mut expected = Vec::new();
        for append in streams.iter().filter(|s| !s.events.is_empty()) {
            expected.push((append.stream.clone(), append.expected_sequence));
            for (event, sequence) in append.events.iter().zip(append.expected_sequence + 1..) {
                rows.push(EventRow {
                    stream: append.stream.clone(),
                    sequence,
                    event_type: event.event_type.clone(),
                    event_version: event.event_version.clone(),
                    payload: event.payload.to_string(),
                    metadata: match &event.metadata {
                        Some(own) => serde_json::to_string(own)?,
                        None => metadata.clone(),
                    },
                });
            }
        }
        if rows.is_empty() {
            return Err(AppendError::Empty);
        }
        Ok(Self { rows, expected })
    }
}

impl EventStore {
    /// Appends every stream's events in one transaction: all of them, or none.
    ///
    /// The append joins the process's group commit (see [`super::group_commit`]): it may
    /// share its transaction with other appends, never with one touching the same
    /// streams, and fails or succeeds on its own.
    pub async fn append(
        &self,
        streams: &[StreamAppend],
        metadata: &EventMetadata,
    ) -> Result<Appended, AppendError> {
        let rows = Rows::of(streams, metadata)?;
        self.committer.commit(&self.pool, rows).await
    }
}

/// What an insert wrote: each row's (global position, transaction id), in the order of
/// the rows given, and each stream's new head.
#[derive(Debug)]
pub(super) struct Inserted {
    pub at: Vec<(i64, i64)>,
    pub heads: HashMap<StreamId, Head>,
}

/// Inserts the rows of one or more units of work in one statement on `conn`, in its own
/// implicit transaction, chained to their streams' previous events (the `known` heads,
/// the others looked up).
pub(super) async fn insert_own(
    conn: &mut PgConnection,
    rows: &[&EventRow],
    known: &HashMap<StreamId, Head>,
) -> Result<Inserted, AppendError> {
    let inserted = match linked_insert(conn, rows, known, Transaction::Own).await {
        Err(AppendError::ForeignTransaction) => {
            // sqlx can hand out a pooled connection still inside the transaction of a
            // future that was dropped mid-way (seen with aborted projector tasks);
            // writing there would be lost when that transaction ends. End it, then write
            // for real. A leftover that neither wrote nor locked is not detected: code
            // must not drop futures that hold transactions (see the projector).
            tracing::warn!(
                "pooled connection was inside an unfinished transaction; rolled it back"
            );
            sqlx::query("ROLLBACK").execute(&mut *conn).await?;
            linked_insert(conn, rows, known, Transaction::Own).await?
        }
        result => result?,
    };
    Ok(inserted)
}

/// Links the rows into their streams' chains, then inserts them. A stream that does not
/// hold the event its writer loaded last is a conflict naming it.
async fn linked_insert(
    conn: &mut PgConnection,
    rows: &[&EventRow],
    known: &HashMap<StreamId, Head>,
    transaction: Transaction,
) -> Result<Inserted, AppendError> {
    let links = match chain::link(conn, rows, known).await {
        Ok(links) => links,
        Err(LinkError::Missing(streams)) => return Err(AppendError::Conflict { streams }),
        Err(LinkError::Database(err)) => return Err(classify(err)),
    };
    let at = insert(conn, rows, &links, transaction).await?;
    Ok(Inserted {
        at,
        heads: links.heads,
    })
}

/// Which of these streams now hold events past the sequence their writer expected
/// (one query, asked on the connection that saw the conflict: waiting for a second one
/// while holding this could exhaust the pool when many writers conflict at once).
pub(super) async fn moved_streams(
    conn: &mut PgConnection,
    expected: &[&(StreamId, i64)],
) -> Result<Vec<StreamId>, sqlx::Error> {
    let types: Vec<&str> = expected
        .iter()
        .map(|(s, _)| s.aggregate_type.as_str())
        .collect();
    let ids: Vec<&str> = expected
        .iter()
        .map(|(s, _)| s.aggregate_id.as_str())
        .collect();
    let next: Vec<i64> = expected.iter().map(|(_, sequence)| sequence + 1).collect();
    let moved: Vec<(String, String)> = sqlx::query_as(
        "SELECT s.t, s.i FROM unnest($1::text[], $2::text[], $3::bigint[]) AS s(t, i, next)
          WHERE EXISTS (SELECT 1 FROM events e
                         WHERE e.aggregate_type = s.t AND e.aggregate_id = s.i
                           AND e.sequence = s.next)",
    )
    .bind(&types)
    .bind(&ids)
    .bind(&next)
    .fetch_all(&mut *conn)
    .await?;
    Ok(moved
        .into_iter()
        .map(|(aggregate_type, aggregate_id)| StreamId::new(aggregate_type, aggregate_id))
        .collect())
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
    let rows = Rows::of(streams, metadata)?;
    let rows: Vec<&EventRow> = rows.rows.iter().collect();
    let inserted = linked_insert(conn, &rows, &HashMap::new(), Transaction::Caller)
        .await
        .map_err(|err| match err {
            AppendError::Conflict { .. } => AppendError::Conflict {
                streams: streams.iter().map(|append| append.stream.clone()).collect(),
            },
            other => other,
        })?;
    Ok(Appended::of(&inserted.at))
}

impl Appended {
    /// From the (global position, transaction id) of each inserted row.
    pub(super) fn of(inserted: &[(i64, i64)]) -> Self {
        let mut positions: Vec<i64> = inserted.iter().map(|(position, _)| *position).collect();
        positions.sort_unstable();
        let last = FeedPosition {
            transaction_id: inserted.first().map_or(0, |(_, transaction)| *transaction),
            global_position: positions.last().copied().unwrap_or_default(),
        };
        Self { positions, last }
    }
}

/// Whose transaction the INSERT runs in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Transaction {
    /// The caller's explicit one.
    Caller,
    /// Its own implicit one: the statement is the whole transaction.
    Own,
}

/// One multi-row INSERT of the rows with their `links` (hashes, one time). Rows go in
/// the global (type, id, sequence) order, so two writers touching the same streams wait
/// for each other instead of deadlocking on each other's uncommitted keys. Answers each
/// row's (global position, transaction id), in the order of `rows`.
async fn insert(
    conn: &mut PgConnection,
    rows: &[&EventRow],
    links: &Links,
    transaction: Transaction,
) -> Result<Vec<(i64, i64)>, AppendError> {
    let mut order: Vec<usize> = (0..rows.len()).collect();
    order.sort_by(|&a, &b| {
        (&rows[a].stream, rows[a].sequence).cmp(&(&rows[b].stream, rows[b].sequence))
    });
    let column = |field: fn(&EventRow) -> &str| -> Vec<&str> {
        order.iter().map(|&i| field(rows[i])).collect()
    };
    let inserted = sqlx::query(
        "INSERT INTO events
             (aggregate_type, aggregate_id, sequence, event_type, event_version, payload, metadata,
              recorded_at, hash)
         SELECT t, i, s, et, ev, p::json, m::json, $9, h
           FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::text[],
                       $7::text[], $10::bytea[])
                AS row(t, i, s, et, ev, p, m, h)
          -- In its own implicit transaction nothing has a transaction id before this
          -- INSERT; if something does, a pooled connection came back inside somebody's
          -- unfinished transaction that wrote or locked rows, and nothing is written.
          -- (Evaluated once, before the first row: an uncorrelated sub-select.)
          WHERE NOT $8 OR (SELECT pg_current_xact_id_if_assigned() IS NULL)
         RETURNING aggregate_type, aggregate_id, sequence, global_position,
                   transaction_id::text::bigint AS transaction_id",
    )
    .bind(column(|row| &row.stream.aggregate_type))
    .bind(column(|row| &row.stream.aggregate_id))
    .bind(
        order
            .iter()
            .map(|&i| rows[i].sequence)
            .collect::<Vec<i64>>(),
    )
    .bind(column(|row| &row.event_type))
    .bind(column(|row| &row.event_version))
    .bind(column(|row| &row.payload))
    .bind(column(|row| &row.metadata))
    .bind(transaction == Transaction::Own)
    .bind(links.recorded_at)
    .bind(
        order
            .iter()
            .map(|&i| links.hashes[i].as_slice())
            .collect::<Vec<&[u8]>>(),
    )
    .fetch_all(&mut *conn)
    .await
    .map_err(classify)?;
    if inserted.is_empty() {
        return Err(AppendError::ForeignTransaction);
    }

    // RETURNING promises no order: match the rows back by their keys.
    let mut landed = HashMap::with_capacity(inserted.len());
    for row in &inserted {
        let key: (String, String, i64) = (
            row.try_get("aggregate_type")?,
            row.try_get("aggregate_id")?,
            row.try_get("sequence")?,
        );
        let at: (i64, i64) = (
            row.try_get("global_position")?,
            row.try_get("transaction_id")?,
        );
        landed.insert(key, at);
    }
    rows.iter()
        .map(|row| {
            let key = (
                row.stream.aggregate_type.clone(),
                row.stream.aggregate_id.clone(),
                row.sequence,
            );
            landed.get(&key).copied().ok_or_else(|| {
                AppendError::from(sqlx::Error::Protocol(format!(
                    "the INSERT did not return {}#{}",
                    row.stream, row.sequence
                )))
            })
        })
        .collect()
}

/// A taken sequence (unique violation on the primary key), or a deadlock or
/// serialization failure between writers, is a conflict (the caller finds which streams
/// moved); anything else is an error.
fn classify(err: sqlx::Error) -> AppendError {
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
            streams: Vec::new(),
        }
    } else {
        AppendError::from(err)
    }
}
