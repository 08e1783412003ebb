//! The write side: each use case is one unit of work that loads the aggregates it
//! touches, lets them decide, and appends every stream's new events in one transaction.
//! On a concurrency conflict it reloads what moved and tries again, a bounded number of
//! times with jitter.

mod after_sales;
mod attempt;
mod catalog;
mod error;
mod orders;
mod refunds;
mod shoppers;
mod stream_slots;
mod users;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use aggregates::order::Order;
use aggregates::product::Product;
use aggregates::shopper::Shopper;
use aggregates::stock::Stock;
use aggregates::user::User;

use crate::event_store::{EventStore, FeedPosition};
pub use catalog::{ProductSnapshot, SkuSnapshot, StockAdjustment};
pub use error::{Shortage, WriteError};
pub use orders::{LineRequest, OrderActor, PlaceOrder};
use stream_slots::StreamSlots;
pub use users::user_id_for;

/// Tunables of the write side.
#[derive(Debug, Clone)]
pub struct WriteSettings {
    /// How long an order may wait for payment.
    pub payment_timeout: Duration,
    /// How old a cached product or stock may be when a decision rests on it that no
    /// append will check (a product's price and on-sale flag, a refusal for lack of
    /// stock). Our own writes keep the cache current; this bounds how long another
    /// process's change can go unseen.
    pub cache_fresh_for: Duration,
    /// Attempts of one command before giving up on conflicts.
    pub max_attempts: u32,
    /// Orders one shopper may have awaiting payment at a time.
    pub max_unpaid_orders: u32,
    /// How long after shipping a shopper may ask to return goods.
    pub return_window: Duration,
}

impl Default for WriteSettings {
    fn default() -> Self {
        Self {
            payment_timeout: Duration::from_secs(15 * 60),
            cache_fresh_for: Duration::from_secs(1),
            max_attempts: 10,
            max_unpaid_orders: 5,
            // A week to arrive and WeChat's seven days without a reason to send back.
            return_window: Duration::from_secs(15 * 24 * 3600),
        }
    }
}

/// Counters of the write side, for metrics and benchmarks.
#[derive(Debug, Default)]
pub struct WriteStats {
    /// Appends refused because another writer got there first.
    pub conflicts: AtomicU64,
}

impl WriteStats {
    pub fn conflicts(&self) -> u64 {
        self.conflicts.load(Ordering::Relaxed)
    }
}

/// A command's result and where its last event landed in the feed (for
/// read-your-writes).
#[derive(Debug, Clone)]
pub struct Written<T> {
    pub value: T,
    pub position: FeedPosition,
}

/// The write model of one process.
#[derive(Debug)]
pub struct WriteModel {
    store: EventStore,
    settings: WriteSettings,
    products: StreamSlots<Product>,
    stocks: StreamSlots<Stock>,
    orders: StreamSlots<Order>,
    shoppers: StreamSlots<Shopper>,
    users: StreamSlots<User>,
    queues: orders::Queues,
    pub stats: WriteStats,
}

impl WriteModel {
    pub fn new(store: EventStore, settings: WriteSettings) -> Self {
        Self {
            store,
            settings,
            products: StreamSlots::new(true),
            stocks: StreamSlots::new(true),
            orders: StreamSlots::new(false),
            shoppers: StreamSlots::new(true),
            users: StreamSlots::new(false),
            queues: orders::Queues::default(),
            stats: WriteStats::default(),
        }
    }

    pub fn store(&self) -> &EventStore {
        &self.store
    }

    pub fn settings(&self) -> &WriteSettings {
        &self.settings
    }

    /// How many stream slots each aggregate type holds now (bounded; for metrics and
    /// tests).
    pub fn stream_slots(&self) -> [(&'static str, usize); 5] {
        [
            ("Product", self.products.len()),
            ("Stock", self.stocks.len()),
            ("Order", self.orders.len()),
            ("Shopper", self.shoppers.len()),
            ("User", self.users.len()),
        ]
    }
}
