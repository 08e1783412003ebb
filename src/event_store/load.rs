//! Loading an aggregate through postgres-es: from its latest snapshot, when there is
//! one, plus the events after it.

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, EventStore as _};
use event_log::upcasting;
use postgres_es::PostgresEventRepository;

use super::EventStore;

/// How many events apart snapshots are taken (see [`EventStore::save_snapshot`]).
pub const SNAPSHOT_EVERY: i64 = 100;

/// An aggregate's current state and the sequence of the last event applied to it: new
/// events are appended after that sequence.
#[derive(Debug)]
pub struct Loaded<A> {
    pub aggregate: A,
    pub sequence: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("could not load {aggregate_type} {aggregate_id}: {cause}")]
pub struct LoadError {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub cause: LoadFailure,
}

/// Why a load failed. The database's own error is kept, not its text, so that callers
/// can tell an outage (retry: 503) from a fault.
#[derive(Debug, thiserror::Error)]
pub enum LoadFailure {
    #[error(transparent)]
    Database(sqlx::Error),
    #[error("{0}")]
    Other(String),
}

impl LoadFailure {
    fn of<E: std::error::Error>(err: AggregateError<E>) -> Self {
        match err {
            // postgres-es boxes sqlx's error into these two.
            AggregateError::DatabaseConnectionError(boxed)
            | AggregateError::UnexpectedError(boxed) => match boxed.downcast::<sqlx::Error>() {
                Ok(db) => Self::Database(*db),
                Err(other) => Self::Other(other.to_string()),
            },
            other => Self::Other(other.to_string()),
        }
    }
}

impl EventStore {
    /// The aggregate with id `aggregate_id` as its events make it (the default state when
    /// it has none).
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Loaded<A>, LoadError> {
        let snapshots = PersistedEventStore::<_, A>::new_snapshot_store(
            PostgresEventRepository::new(self.pool.clone()),
            usize::try_from(SNAPSHOT_EVERY).unwrap_or(1),
        )
        .with_upcasters(upcasting::upcasters());
        let context = match snapshots.load_aggregate(aggregate_id).await {
            // A snapshot is a cache of state whose shape may have changed since it was
            // written: one that no longer reads is ignored, and the events replayed.
            Err(AggregateError::DeserializationError(err)) => {
                tracing::warn!(aggregate_type = A::TYPE, aggregate_id, %err,
                    "snapshot or event does not read; loading from the events alone");
                PersistedEventStore::<_, A>::new_event_store(PostgresEventRepository::new(
                    self.pool.clone(),
                ))
                .with_upcasters(upcasting::upcasters())
                .load_aggregate(aggregate_id)
                .await
            }
            loaded => loaded,
        }
        .map_err(|err: AggregateError<A::Error>| LoadError {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_owned(),
            cause: LoadFailure::of(err),
        })?;
        Ok(Loaded {
            aggregate: context.aggregate,
            sequence: i64::try_from(context.current_sequence).unwrap_or(i64::MAX),
        })
    }
}

impl EventStore {
    /// The sequence of the stream's last event (0 when it has none): one probe of the
    /// primary key, for confirming that a cached state is still the stream's.
    pub async fn last_sequence<A: Aggregate>(&self, aggregate_id: &str) -> Result<i64, LoadError> {
        sqlx::query_scalar(
            "SELECT coalesce(max(sequence), 0)::bigint FROM events
              WHERE aggregate_type = $1 AND aggregate_id = $2",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .fetch_one(&self.pool)
        .await
        .map_err(|err| LoadError {
            aggregate_type: A::TYPE,
            aggregate_id: aggregate_id.to_owned(),
            cause: LoadFailure::Database(err),
        })
    }

    /// Records `aggregate` as of `sequence` as the stream's snapshot, in postgres-es's
    /// format (one row per stream), so loads replay only the events after it. A snapshot
    /// is a cache: written after the events committed, a lost or older one only makes a
    /// load replay more.
    pub async fn save_snapshot<A: Aggregate>(
        &self,
        aggregate_id: &str,
        aggregate: &A,
        sequence: i64,
    ) -> Result<(), sqlx::Error> {
        let payload =
            serde_json::to_value(aggregate).map_err(|err| sqlx::Error::Encode(Box::new(err)))?;
        sqlx::query(
            "WITH replaced AS (
                DELETE FROM snapshots WHERE aggregate_type = $1 AND aggregate_id = $2
                RETURNING current_snapshot)
             INSERT INTO snapshots (aggregate_type, aggregate_id, last_sequence, current_snapshot,
                                    payload)
             SELECT $1, $2, $3, coalesce((SELECT max(current_snapshot) FROM replaced), 0) + 1, $4",
        )
        .bind(A::TYPE)
        .bind(aggregate_id)
        .bind(sequence)
        .bind(sqlx::types::Json(payload))
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
