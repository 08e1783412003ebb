//! Reading the feed in tests. The feed only shows events below the oldest transaction
//! still running anywhere on the server, and the test server is shared by tests running
//! in parallel, so a just-committed event may take a moment to appear.

use std::time::{Duration, Instant};

use ordo::event_store::{EventStore, FeedPosition, RecordedEvent};

/// The feed after `after`, read in batches of `batch`, until `expected` events arrived
/// (or 10 s passed: the caller's assertion then shows what is missing).
pub async fn read_feed_until(
    store: &EventStore,
    after: FeedPosition,
    batch: i64,
    expected: usize,
) -> Vec<RecordedEvent> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut events: Vec<RecordedEvent> = Vec::new();
    let mut checkpoint = after;
    while events.len() < expected && Instant::now() < deadline {
        let read = store
            .read_feed(checkpoint, batch)
            .await
            .expect("read the feed");
        match read.last() {
            Some(last) => checkpoint = last.position,
            None => tokio::time::sleep(Duration::from_millis(20)).await,
        }
        events.extend(read);
    }
    events
}
