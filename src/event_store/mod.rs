//! The event store adapter: appends events of several streams in one transaction, loads
//! aggregates through postgres-es (with snapshots), and reads the global feed in
//! gap-free order.
//!
//! The tables are postgres-es's own plus three columns (see the first migration), so
//! postgres-es loads what we append and we read what it writes.

mod append;
mod chain;
mod group_commit;
mod load;
pub mod synthetic;

use std::sync::Arc;

use sqlx::PgPool;

pub use append::{AppendError, Appended, EventData, StreamAppend, append_in};
pub use event_log::{EventMetadata, FeedPosition, RecordedEvent};
pub use load::{LoadError, LoadFailure, Loaded, SNAPSHOT_EVERY};

/// Identifies one stream of events: one aggregate instance.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct StreamId {
    pub aggregate_type: String,
    pub aggregate_id: String,
}

impl StreamId {
    pub fn new(aggregate_type: impl Into<String>, aggregate_id: impl Into<String>) -> Self {
        Self {
            aggregate_type: aggregate_type.into(),
            aggregate_id: aggregate_id.into(),
        }
    }
}

impl std::fmt::Display for StreamId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.aggregate_type, self.aggregate_id)
    }
}

/// The event store over one connection pool. Clones share one group commit.
#[derive(Debug, Clone)]
pub struct EventStore {
    pool: PgPool,
    committer: Arc<group_commit::Committer>,
}

impl EventStore {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            committer: Arc::default(),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// Up to `limit` events of the global feed after `after` (see [`event_log::feed`]).
    pub async fn read_feed(
        &self,
        after: FeedPosition,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, sqlx::Error> {
        event_log::read_feed(&self.pool, after, limit).await
    }

    /// Up to `limit` committed events of `event_type` (of `aggregate_type`) after feed
    /// position `after`, in feed order, as (position, aggregate id, payload brought to
    /// today's version), whether or not the feed's horizon has reached them yet: what a
    /// read model checkpointed at `after` lacks.
    pub async fn of_type_after(
        &self,
        (aggregate_type, event_type): (&str, &str),
        after: FeedPosition,
        limit: i64,
    ) -> Result<Vec<(FeedPosition, String, serde_json::Value)>, sqlx::Error> {
        let rows: Vec<(i64, i64, String, String, serde_json::Value)> = sqlx::query_as(
            "SELECT transaction_id::text::bigint, global_position, aggregate_id, event_version,
                    payload
               FROM events
              WHERE (transaction_id, global_position) > ($3::bigint::text::xid8, $4)
                AND aggregate_type = $1 AND event_type = $2
              ORDER BY transaction_id, global_position
              LIMIT $5",
        )
        .bind(aggregate_type)
        .bind(event_type)
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(|(transaction_id, global_position, id, version, payload)| {
                let position = FeedPosition {
                    transaction_id,
                    global_position,
                };
                let payload = event_log::upcasting::upcast(event_type, &version, payload);
                (position, id, payload)
            })
            .collect())
    }

    /// The payloads of `stream`'s latest `limit` committed events after feed position
    /// `after`, newest first, whether or not the feed's horizon has reached them yet: what
    /// the read models may not show yet. Bounded, however long the stream or the lag.
    pub async fn latest_payloads_after(
        &self,
        stream: &StreamId,
        after: FeedPosition,
        limit: i64,
    ) -> Result<Vec<serde_json::Value>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT payload FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2
                AND (transaction_id, global_position) > ($3::bigint::text::xid8, $4)
              ORDER BY sequence DESC
              LIMIT $5",
        )
        .bind(&stream.aggregate_type)
        .bind(&stream.aggregate_id)
        .bind(after.transaction_id)
        .bind(after.global_position)
        .bind(limit)
        .fetch_all(&self.pool)
        .await
    }

    /// The stream of an event (of `event_type`, or of any type) written by `actor` with
    /// `Idempotency-Key` `key` since the key was claimed: what an earlier run of a
    /// retried request wrote. A key used again after its 24 hours must not find the
    /// writes of its earlier use. Shopper rows are not indexed by key (an order's own
    /// rows, in the same append, find it).
    pub async fn written_with_key(
        &self,
        actor: &str,
        key: &str,
        event_type: Option<&str>,
    ) -> Result<Option<String>, sqlx::Error> {
        sqlx::query_scalar(
            "SELECT e.aggregate_id FROM events e
               JOIN idempotency_keys k ON k.user_id = $2 AND k.key = $1
              WHERE e.metadata ->> 'idempotency_key' = $1 AND e.metadata ->> 'actor_id' = $2
                AND e.aggregate_type <> 'Shopper'
                AND e.recorded_at >= k.created_at
                AND ($3::text IS NULL OR e.event_type = $3)
              LIMIT 1",
        )
        .bind(key)
        .bind(actor)
        .bind(event_type)
        .fetch_optional(&self.pool)
        .await
    }
}
