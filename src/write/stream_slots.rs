//! One writer per stream inside the process, and the stream's state kept between
//! commands.
//!
//! Each stream has a slot: an async mutex (tokio's is fair, so waiting commands form a
//! queue) holding the aggregate as last loaded or written. Commands for a hot stream (a
//! flash-sale product) therefore wait their turn instead of racing each other into
//! optimistic-concurrency conflicts, and decide on the cached state without reloading
//! it. Other processes may still write the stream: the event store's primary key then
//! refuses our append, and the slot is reloaded.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use cqrs_es::Aggregate;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::event_store::{EventStore, LoadError, Loaded, SNAPSHOT_EVERY};

/// Above this many slots, idle ones without state are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// A stream's cached state and when it was last confirmed against the database.
#[derive(Debug)]
pub struct Cached<A> {
    pub loaded: Loaded<A>,
    pub confirmed_at: Instant,
}

type Slot<A> = Arc<AsyncMutex<Option<Cached<A>>>>;

/// The slots of one aggregate type.
#[derive(Debug)]
pub struct StreamSlots<A> {
    slots: Mutex<HashMap<String, Slot<A>>>,
    /// Keep state after a command (stocks, products) or drop it (orders: each is
    /// touched a few times in its life, keeping them all would only grow memory).
    keep_state: bool,
}

impl<A: Aggregate + Clone> StreamSlots<A> {
    pub fn new(keep_state: bool) -> Self {
        Self {
            slots: Mutex::new(HashMap::new()),
            keep_state,
        }
    }

    /// Waits for this stream's turn. Callers locking several streams lock them in one
    /// global order (sorted by type, then id) so that two commands never wait on each other.
    pub async fn lock(&self, aggregate_id: &str) -> SlotGuard<A> {
        let slot = {
            let mut slots = self
                .slots
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if slots.len() > PRUNE_ABOVE {
                // Only this map holds an idle slot; one without state costs nothing to recreate.
                slots.retain(|_, slot| {
                    Arc::strong_count(slot) > 1
                        || slot.try_lock().map(|state| state.is_some()).unwrap_or(true)
                });
            }
            slots.entry(aggregate_id.to_owned()).or_default().clone()
        };
        let mut guard = slot.lock_owned().await;
        if !self.keep_state {
            *guard = None;
        }
        SlotGuard {
            aggregate_id: aggregate_id.to_owned(),
            guard,
        }
    }
}

/// The right to write one stream, with its cached state.
#[derive(Debug)]
pub struct SlotGuard<A> {
    aggregate_id: String,
    guard: OwnedMutexGuard<Option<Cached<A>>>,
}

impl<A: Aggregate + Clone> SlotGuard<A> {
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// The stream's state: the cached one, or loaded from the event store.
    pub async fn current(&mut self, store: &EventStore) -> Result<&Cached<A>, LoadError> {
        if self.guard.is_none() {
            self.reload(store).await?;
        }
        Ok(self.guard.as_ref().expect("loaded above"))
    }

    /// The stream's state, reloaded unless it was confirmed within `fresh_for`: for
    /// decisions that no append will check (a product's price, a refusal).
    pub async fn fresh(
        &mut self,
        store: &EventStore,
        fresh_for: Duration,
    ) -> Result<&Cached<A>, LoadError> {
        let stale = self
            .guard
            .as_ref()
            .is_none_or(|cached| cached.confirmed_at.elapsed() > fresh_for);
        if stale {
            self.reload(store).await?;
        }
        Ok(self.guard.as_ref().expect("loaded above"))
    }

    pub async fn reload(&mut self, store: &EventStore) -> Result<(), LoadError> {
        let loaded = store.load::<A>(&self.aggregate_id).await?;
        *self.guard = Some(Cached {
            loaded,
            confirmed_at: Instant::now(),
        });
        Ok(())
    }

    /// Records the state after our append succeeded, and snapshots it each time the
    /// stream passes a multiple of [`SNAPSHOT_EVERY`] events, so that a reload (after a
    /// restart or a conflict) replays at most that many.
    pub async fn store(&mut self, store: &EventStore, aggregate: A, sequence: i64) {
        let before = self
            .guard
            .as_ref()
            .map_or(0, |cached| cached.loaded.sequence);
        if sequence / SNAPSHOT_EVERY > before / SNAPSHOT_EVERY
            && let Err(err) = store
                .save_snapshot(&self.aggregate_id, &aggregate, sequence)
                .await
        {
            tracing::warn!(%err, stream = %self.aggregate_id, "could not save a snapshot");
        }
        *self.guard = Some(Cached {
            loaded: Loaded {
                aggregate,
                sequence,
            },
            confirmed_at: Instant::now(),
        });
    }

    /// Forgets the state: someone else wrote the stream.
    pub fn invalidate(&mut self) {
        *self.guard = None;
    }
}
