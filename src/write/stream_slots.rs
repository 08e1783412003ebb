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
use cqrs_es::event_sink::EventSink;
use tokio::sync::{Mutex as AsyncMutex, OwnedMutexGuard};

use crate::event_store::{EventStore, LoadError, Loaded, SNAPSHOT_EVERY, StreamId};

/// The most slots of one aggregate type kept at once. Above it, the least recently used
/// idle ones are dropped (down to three quarters of it, so that the scan this takes runs
/// once per many commands, not at each).
const MAX_SLOTS: usize = 10_000;

/// A stream's cached state and when it was last confirmed against the database.
#[derive(Debug)]
pub struct Cached<A> {
    pub loaded: Loaded<A>,
    pub confirmed_at: Instant,
}

type Slot<A> = Arc<AsyncMutex<Option<Cached<A>>>>;

#[derive(Debug)]
struct Entry<A> {
    slot: Slot<A>,
    used_at: Instant,
}

type SlotMap<A> = Mutex<HashMap<String, Entry<A>>>;

/// The slots of one aggregate type. Bounded: a slot is dropped as soon as it holds
/// nothing worth keeping and nobody waits for it (so ids that do not exist, or streams
/// touched once, leave nothing behind), and the least recently used idle ones go when
/// there are more than [`MAX_SLOTS`].
#[derive(Debug)]
pub struct StreamSlots<A> {
    slots: Arc<SlotMap<A>>,
    /// Keep state after a command (stocks, products) or drop it (orders: each is
    /// touched a few times in its life, keeping them all would only grow memory).
    keep_state: bool,
}

impl<A: Aggregate + Clone> StreamSlots<A> {
    pub fn new(keep_state: bool) -> Self {
        Self {
            slots: Arc::new(Mutex::new(HashMap::new())),
            keep_state,
        }
    }

    /// How many slots are held now.
    pub fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    /// Waits for this stream's turn. Callers locking several streams lock them in one
    /// global order so that two commands never wait on each other: by type — Order,
    /// Shopper, Product, Stock — then by id. (A shopper comes before products because a
    /// single-line order takes its shopper in the request's own task and hands it to the
    /// product's batch, which then takes the product and its stock.)
    pub async fn lock(&self, aggregate_id: &str) -> SlotGuard<A> {
        let slot = {
            let mut slots = lock(&self.slots);
            if slots.len() >= MAX_SLOTS && !slots.contains_key(aggregate_id) {
                evict_idle(&mut slots, MAX_SLOTS * 3 / 4);
            }
            let entry = slots
                .entry(aggregate_id.to_owned())
                .or_insert_with(|| Entry {
                    slot: Slot::default(),
                    used_at: Instant::now(),
                });
            entry.used_at = Instant::now();
            entry.slot.clone()
        };
        let mut guard = slot.clone().lock_owned().await;
        if !self.keep_state {
            *guard = None;
        }
        SlotGuard {
            aggregate_id: aggregate_id.to_owned(),
            guard: Some(guard),
            slot,
            slots: self.slots.clone(),
            keep_state: self.keep_state,
            ahead: false,
        }
    }
}

fn lock<A>(slots: &SlotMap<A>) -> std::sync::MutexGuard<'_, HashMap<String, Entry<A>>> {
    slots
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Drops the least recently used slots nobody holds or waits for, until at most `keep`
/// remain (or none of the rest is idle).
fn evict_idle<A>(slots: &mut HashMap<String, Entry<A>>, keep: usize) {
    // Only the map holds an idle slot.
    let mut idle: Vec<(Instant, String)> = slots
        .iter()
        .filter(|(_, entry)| Arc::strong_count(&entry.slot) == 1)
        .map(|(id, entry)| (entry.used_at, id.clone()))
        .collect();
    idle.sort_unstable();
    let excess = slots.len().saturating_sub(keep);
    for (_, id) in idle.into_iter().take(excess) {
        slots.remove(&id);
    }
}

/// The right to write one stream, with its cached state.
#[derive(Debug)]
pub struct SlotGuard<A> {
    aggregate_id: String,
    /// `Some` until dropped.
    guard: Option<OwnedMutexGuard<Option<Cached<A>>>>,
    slot: Slot<A>,
    slots: Arc<SlotMap<A>>,
    keep_state: bool,
    /// The cached state holds events decided in place (see [`SlotGuard::decide_in_place`])
    /// whose append has not been recorded: it is ahead of the stream, so it is reloaded
    /// before any other use and forgotten if the guard drops first.
    ahead: bool,
}

/// Events decided in place on a stream's cached state, to be appended after `sequence`.
#[derive(Debug)]
pub struct DecidedInPlace<E> {
    pub sequence: i64,
    pub events: Vec<E>,
}

impl<A> Drop for SlotGuard<A> {
    /// Drops the slot from the map when it holds nothing worth keeping (no state, or a
    /// stream without events: an id that does not exist) and nobody waits for it.
    fn drop(&mut self) {
        if self.ahead
            && let Some(guard) = self.guard.as_mut()
        {
            // Its events were never appended.
            **guard = None;
        }
        let worth_keeping = self.keep_state
            && self
                .guard
                .as_ref()
                .and_then(|guard| guard.as_ref())
                .is_some_and(|cached| cached.loaded.sequence > 0);
        // Release the stream first, so that the counts below are the waiters'.
        self.guard = None;
        if worth_keeping {
            return;
        }
        let mut slots = lock(&self.slots);
        // Ours and the map's: nobody else holds or waits for it. New waiters clone it
        // under the map's lock, which is held here.
        if Arc::strong_count(&self.slot) == 2
            && slots
                .get(&self.aggregate_id)
                .is_some_and(|entry| Arc::ptr_eq(&entry.slot, &self.slot))
        {
            slots.remove(&self.aggregate_id);
        }
    }
}

impl<A: Aggregate + Clone> SlotGuard<A> {
    pub fn aggregate_id(&self) -> &str {
        &self.aggregate_id
    }

    /// The stream's state: the cached one, or loaded from the event store.
    pub async fn current(&mut self, store: &EventStore) -> Result<&Cached<A>, LoadError> {
        if self.state().is_none() || self.ahead {
            self.reload(store).await?;
        }
        Ok(self.state().as_ref().expect("loaded above"))
    }

    /// The stream's state, reloaded unless it was confirmed within `fresh_for`: for
    /// decisions that no append will check (a product's price, a refusal).
    pub async fn fresh(
        &mut self,
        store: &EventStore,
        fresh_for: Duration,
    ) -> Result<&Cached<A>, LoadError> {
        let stale = self.ahead
            || self
                .state()
                .as_ref()
                .is_none_or(|cached| cached.confirmed_at.elapsed() > fresh_for);
        if stale && !self.confirm(store).await? {
            self.reload(store).await?;
        }
        Ok(self.state().as_ref().expect("loaded above"))
    }

    /// Whether the cached state is still the stream's (nothing was appended since it was
    /// loaded), asked of the stream's last sequence: a probe of the primary key instead
    /// of a reload that reads and decodes up to a snapshot's worth of events.
    async fn confirm(&mut self, store: &EventStore) -> Result<bool, LoadError> {
        if self.ahead {
            return Ok(false);
        }
        let Some(cached_sequence) = self.state().as_ref().map(|cached| cached.loaded.sequence)
        else {
            return Ok(false);
        };
        if store.last_sequence::<A>(&self.aggregate_id).await? != cached_sequence {
            return Ok(false);
        }
        if let Some(cached) = self.state().as_mut() {
            cached.confirmed_at = Instant::now();
        }
        Ok(true)
    }

    pub async fn reload(&mut self, store: &EventStore) -> Result<(), LoadError> {
        let loaded = store.load::<A>(&self.aggregate_id).await?;
        *self.state() = Some(Cached {
            loaded,
            confirmed_at: Instant::now(),
        });
        self.ahead = false;
        Ok(())
    }

    /// Runs `command` on the cached state itself rather than on a copy (a shopper's state
    /// is maps, copied on every order otherwise); with when that state was last confirmed.
    /// Until [`SlotGuard::appended`] records the events' append, the state is ahead of
    /// the stream: any other use reloads it, and dropping the guard forgets it.
    pub async fn decide_in_place(
        &mut self,
        store: &EventStore,
        command: A::Command,
    ) -> Result<(Instant, Result<DecidedInPlace<A::Event>, A::Error>), LoadError>
    where
        A: Aggregate<Services = ()>,
    {
        self.current(store).await?;
        let cached = self.state().as_mut().expect("loaded above");
        let (sequence, confirmed_at) = (cached.loaded.sequence, cached.confirmed_at);
        let sink = EventSink::default();
        let handled = cached.loaded.aggregate.handle(command, &(), &sink).await;
        let events = sink.collect().await;
        // A handler that wrote events and then refused still changed the state.
        self.ahead = !events.is_empty();
        Ok((
            confirmed_at,
            handled.map(|()| DecidedInPlace { sequence, events }),
        ))
    }

    /// Records that the events decided in place were appended, the stream now at
    /// `sequence`; snapshots as [`SlotGuard::store`] does.
    pub async fn appended(&mut self, store: &EventStore, sequence: i64) {
        if !self.ahead {
            return;
        }
        self.ahead = false;
        let Some(cached) = self.state().as_mut() else {
            return;
        };
        let before = cached.loaded.sequence;
        cached.loaded.sequence = sequence;
        cached.confirmed_at = Instant::now();
        if sequence / SNAPSHOT_EVERY > before / SNAPSHOT_EVERY
            && let Some(Some(cached)) = self.guard.as_deref()
            && let Err(err) = store
                .save_snapshot(&self.aggregate_id, &cached.loaded.aggregate, sequence)
                .await
        {
            tracing::warn!(%err, stream = %self.aggregate_id, "could not save a snapshot");
        }
    }

    /// Records the state after our append succeeded, and snapshots it each time the
    /// stream passes a multiple of [`SNAPSHOT_EVERY`] events, so that a reload (after a
    /// restart or a conflict) replays at most that many.
    pub async fn store(&mut self, store: &EventStore, aggregate: A, sequence: i64) {
        let before = self
            .state()
            .as_ref()
            .map_or(0, |cached| cached.loaded.sequence);
        if sequence / SNAPSHOT_EVERY > before / SNAPSHOT_EVERY
            && let Err(err) = store
                .save_snapshot(&self.aggregate_id, &aggregate, sequence)
                .await
        {
            tracing::warn!(%err, stream = %self.aggregate_id, "could not save a snapshot");
        }
        *self.state() = Some(Cached {
            loaded: Loaded {
                aggregate,
                sequence,
            },
            confirmed_at: Instant::now(),
        });
        self.ahead = false;
    }

    /// Forgets the state: someone else wrote the stream.
    pub fn invalidate(&mut self) {
        *self.state() = None;
        self.ahead = false;
    }

    /// Forgets the state if the stream is among those another writer moved.
    pub fn invalidate_if_moved(&mut self, moved: &[StreamId]) {
        if moved.iter().any(|stream| {
            stream.aggregate_type == A::TYPE && stream.aggregate_id == self.aggregate_id
        }) {
            self.invalidate();
        }
    }

    /// The stream's cached state (held until the guard drops).
    fn state(&mut self) -> &mut Option<Cached<A>> {
        self.guard.as_mut().expect("held until dropped")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aggregates::stock::Stock;

    #[test]
    fn eviction_drops_the_least_recently_used_idle_slots_and_never_a_held_one() {
        let start = Instant::now();
        let mut slots: HashMap<String, Entry<Stock>> = (0..10u64)
            .map(|n| {
                let entry = Entry {
                    slot: Slot::default(),
                    used_at: start + Duration::from_secs(n),
                };
                (format!("s{n}"), entry)
            })
            .collect();
        // The two oldest are in use (a command holds or waits for them).
        let held: Vec<Slot<Stock>> = ["s0", "s1"]
            .iter()
            .map(|id| slots[*id].slot.clone())
            .collect();

        evict_idle(&mut slots, 5);

        let mut left: Vec<&str> = slots.keys().map(String::as_str).collect();
        left.sort_unstable();
        assert_eq!(left, ["s0", "s1", "s7", "s8", "s9"]);
        drop(held);
    }
}
