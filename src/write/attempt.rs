//! Running aggregates' handlers in memory, and retrying a unit of work on conflicts.

use std::sync::atomic::Ordering;
use std::time::Duration;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use rand::Rng;

use super::{WriteError, WriteStats};
use crate::event_store::StreamAppend;

/// Runs `command` against a copy of `state`: the state after it and the events it wrote.
pub async fn decide<A>(state: &A, command: A::Command) -> Result<(A, Vec<A::Event>), A::Error>
where
    A: Aggregate<Services = ()> + Clone,
{
    let mut next = state.clone();
    let sink = EventSink::default();
    next.handle(command, &(), &sink).await?;
    Ok((next, sink.collect().await))
}

/// The append for an aggregate's new events after `sequence`; `None` when there are none.
pub fn append_for<A: Aggregate>(
    aggregate_id: &str,
    sequence: i64,
    events: &[A::Event],
) -> Result<Option<StreamAppend>, WriteError> {
    if events.is_empty() {
        return Ok(None);
    }
    Ok(Some(StreamAppend::for_aggregate::<A>(
        aggregate_id,
        sequence,
        events,
    )?))
}

/// Counts attempts of one unit of work and waits, with jitter, between them.
pub struct Attempts<'a> {
    made: u32,
    max: u32,
    stats: &'a WriteStats,
}

impl<'a> Attempts<'a> {
    pub fn new(max: u32, stats: &'a WriteStats) -> Self {
        Self {
            made: 1,
            max,
            stats,
        }
    }

    /// Called after a conflict: waits before the next attempt, or gives up.
    pub async fn retry_after_conflict(&mut self) -> Result<(), WriteError> {
        self.stats.conflicts.fetch_add(1, Ordering::Relaxed);
        metrics::counter!("write_conflicts_total").increment(1);
        if self.made >= self.max {
            metrics::counter!("write_retries_exhausted_total").increment(1);
            return Err(WriteError::Busy);
        }
        // Exponential backoff with full jitter, from 1 ms up to about 100 ms, so that
        // writers from different processes colliding on one stream spread out.
        let ceiling_ms = (1u64 << self.made.min(7)).min(100);
        let wait = rand::rng().random_range(0..=ceiling_ms);
        self.made += 1;
        metrics::counter!("write_retries_total").increment(1);
        tokio::time::sleep(Duration::from_millis(wait)).await;
        Ok(())
    }
}
