//! The orders waiting for their SKU's next batch, and what each is answered.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use aggregates::order::{NewOrder, Order};
use aggregates::shopper::Shopper;
use tokio::sync::oneshot;
use uuid::Uuid;

use crate::event_store::EventMetadata;
use crate::write::stream_slots::SlotGuard;
use crate::write::{WriteError, Written};

pub(super) type Outcome = Result<Written<(Uuid, Order)>, WriteError>;

/// What a batch decided for one order.
#[expect(
    clippy::large_enum_variant,
    reason = "mostly the large variant; moved once, to its request"
)]
pub(super) enum Decided {
    Final(Outcome),
    /// Refused by the shopper on a cached state confirmed before the order was asked for.
    StaleRefusal(WriteError),
}

/// Orders committed together at most: bounds one INSERT and one batch's latency.
const MAX_BATCH: usize = 256;

/// Which orders share a batch: single-line orders for one product that name the same
/// SKU, or none (the product's only one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(super) struct BatchKey {
    pub(super) product_id: Uuid,
    pub(super) sku_id: Option<Uuid>,
}

/// A single-line order waiting for its SKU's next batch.
pub(super) struct Pending {
    /// Validated, not yet priced.
    pub(super) order: NewOrder,
    pub(super) metadata: EventMetadata,
    /// The order's shopper, locked and loaded.
    pub(super) shopper: SlotGuard<Shopper>,
    /// When the request asked: a shopper's refusal is believed only on a state
    /// confirmed since.
    pub(super) asked_at: Instant,
    pub(super) respond: oneshot::Sender<(Decided, SlotGuard<Shopper>)>,
}

/// The orders waiting, by batch key; a key has an entry while its drainer runs.
#[derive(Default)]
pub(in crate::write) struct Queues(Mutex<HashMap<BatchKey, Vec<Pending>>>);

impl std::fmt::Debug for Queues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Queues")
    }
}

impl Queues {
    /// Queues an order; true when no drainer runs for the product and the caller must
    /// start one.
    pub(super) fn push(&self, key: BatchKey, pending: Pending) -> bool {
        let mut queues = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let start_drainer = !queues.contains_key(&key);
        queues.entry(key).or_default().push(pending);
        start_drainer
    }

    /// Everything queued for the product. When nothing is, the drainer ends: under the
    /// same lock, so an order queued right after starts a new one.
    pub(super) fn take_or_finish(&self, key: BatchKey) -> Vec<Pending> {
        let mut queues = self
            .0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match queues.get_mut(&key) {
            Some(pending) if pending.len() > MAX_BATCH => pending.drain(..MAX_BATCH).collect(),
            Some(pending) if !pending.is_empty() => std::mem::take(pending),
            _ => {
                queues.remove(&key);
                Vec::new()
            }
        }
    }
}
