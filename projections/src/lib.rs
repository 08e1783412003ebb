//! ordo's read side: the global event feed, the read models built from it, and the
//! projector that keeps them up to date.
//!
//! The log itself (its types, how the feed is read, upcasting) is the `event_log`
//! crate's, below this one and the write side alike.

pub mod after_sales;
pub mod cancellation;
pub mod catalog;
pub mod checkpoint;
pub mod compare;
pub mod daily_sales;
pub mod failed_batch;
pub mod failure;
mod feed_listener;
pub mod orders;
pub mod parking;
pub mod payments;
pub mod projection;
pub mod projector;
pub mod rebuild;
pub mod retry;
pub mod status;
pub mod stored_text;
pub mod table_copy;

pub use event_log::{EventMetadata, FeedPosition, RecordedEvent, feed, read_feed, upcasting};
pub use projection::{Backlog, Projection, ProjectionError, Target};
pub use projector::{Projector, Step};
pub use retry::Retried;

use std::sync::Arc;

/// Every projection ordo serves from.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(after_sales::AfterSales),
        Arc::new(catalog::ProductCatalog),
        Arc::new(daily_sales::DailySales),
        Arc::new(orders::OrderViews),
        Arc::new(payments::PaymentLedger),
    ]
}
