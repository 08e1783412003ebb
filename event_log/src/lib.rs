//! The event log below both sides: what a recorded event is, its place in the global
//! feed and how the feed is read, the metadata written beside each event, and the
//! upcasters that bring old event versions to today's shape. The write side (appends,
//! loads) and the read side (projections, audit) both use it; neither depends on the
//! other for it.

pub mod chain;
pub mod feed;
pub mod feed_lag;
pub mod horizon;
mod metadata;
pub mod upcasting;

pub use feed::{FeedPosition, RecordedEvent, read_feed};
pub use metadata::EventMetadata;
