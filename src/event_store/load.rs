//! Loading an aggregate through postgres-es: from its latest snapshot, when there is
//! one, plus the events after it.

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{Aggregate, AggregateError, EventStore as _};
use postgres_es::PostgresEventRepository;

use super::EventStore;

/// How many events apart postgres-es snapshots are taken, when a writer takes them.
pub const SNAPSHOT_EVERY: usize = 100;

/// An aggregate's current state and the sequence of the last event applied to it: new
/// events are appended after that sequence.
#[derive(Debug)]
pub struct Loaded<A> {
    pub aggregate: A,
    pub sequence: i64,
}

#[derive(Debug, thiserror::Error)]
#[error("could not load {aggregate_type} {aggregate_id}: {message}")]
pub struct LoadError {
    pub aggregate_type: &'static str,
    pub aggregate_id: String,
    pub message: String,
}

impl EventStore {
    /// The aggregate with id `aggregate_id` as its events make it (the default state when
    /// it has none).
    pub async fn load<A: Aggregate>(&self, aggregate_id: &str) -> Result<Loaded<A>, LoadError> {
        let repository = PostgresEventRepository::new(self.pool.clone());
        let store = PersistedEventStore::<_, A>::new_snapshot_store(repository, SNAPSHOT_EVERY);
        let context =
            store
                .load_aggregate(aggregate_id)
                .await
                .map_err(|err: AggregateError<A::Error>| LoadError {
                    aggregate_type: A::TYPE,
                    aggregate_id: aggregate_id.to_owned(),
                    message: err.to_string(),
                })?;
        Ok(Loaded {
            aggregate: context.aggregate,
            sequence: i64::try_from(context.current_sequence).unwrap_or(i64::MAX),
        })
    }
}
