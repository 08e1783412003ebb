//! ordo's read side: the global event feed, the read models built from it, and the
//! projector that keeps them up to date.
//!
//! The feed is read here (not in the server's event store adapter) because it is what
//! projections consume; the server re-exports its types.

pub mod cancellation;
pub mod catalog;
pub mod checkpoint;
pub mod compare;
pub mod daily_sales;
pub mod failed_batch;
pub mod failure;
pub mod feed;
pub mod metadata;
pub mod orders;
pub mod parking;
pub mod projection;
pub mod projector;
pub mod rebuild;
pub mod retry;
pub mod status;
pub mod stored_text;
pub mod upcasting;

pub use feed::{FeedPosition, RecordedEvent, read_feed};
pub use metadata::EventMetadata;
pub use projection::{Projection, ProjectionError, Target};
pub use projector::{Projector, Step};
pub use retry::Retried;

use std::sync::Arc;

/// Every projection ordo serves from.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(catalog::ProductCatalog),
        Arc::new(daily_sales::DailySales),
        Arc::new(orders::OrderViews),
    ]
}
