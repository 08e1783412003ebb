//! ordo's read side: the global event feed, the read models built from it, and the
//! projector that keeps them up to date.
//!
//! The feed is read here (not in the server's event store adapter) because it is what
//! projections consume; the server re-exports its types.

pub mod feed;
pub mod metadata;
pub mod orders;
pub mod projection;
pub mod projector;

pub use feed::{FeedPosition, RecordedEvent, read_feed};
pub use metadata::EventMetadata;
pub use projection::{Projection, ProjectionError};
pub use projector::{Projector, Step};

use std::sync::Arc;

/// Every projection ordo serves from.
pub fn all() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(orders::OrderViews)]
}
