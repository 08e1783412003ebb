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

/// Waits (at most 20 s) until every live projection has applied the last event written:
/// the app's own projector does the work; the shared server's horizon may delay it.
pub async fn settle(pool: &sqlx::PgPool) {
    eventually("the projections catch up with the log", || async {
        let settled: Option<bool> = sqlx::query_scalar(
            "SELECT bool_and((c.transaction_id, c.global_position)
                             >= (e.transaction_id, e.global_position))
               FROM projection_checkpoints c,
                    (SELECT transaction_id, global_position FROM events
                      ORDER BY transaction_id DESC, global_position DESC LIMIT 1) e
              WHERE c.projection NOT LIKE '%\\_\\_%'",
        )
        .fetch_one(pool)
        .await
        .expect("checkpoints");
        (settled != Some(false)).then_some(())
    })
    .await
}

/// Polls `check` every 50 ms until it gives an answer (at most 20 s), then returns it;
/// panics naming `what` when it never does.
pub async fn eventually<T, F, Fut>(what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        if let Some(answer) = check().await {
            return answer;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "never happened: {what}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
