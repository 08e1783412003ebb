//! Read-your-writes: a write answers once the read models show it.

use std::time::Duration;

use crate::event_store::FeedPosition;
use crate::state::AppState;

/// How long a write waits for the read models to show it before answering, in all.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// Read-your-writes: returns once every one of `projections` has applied the write at
/// `position`, so the client's next read shows it. The waits run side by side and are
/// bounded once for the request: a lagging projector delays the answer, never fails it
/// (and a shopper's own orders are then read from the events, see `shop::orders::from_events`).
pub async fn await_projections(state: &AppState, projections: &[&str], position: FeedPosition) {
    // A projection already seen far behind is not waited for: the write answers at once.
    let report = state.horizon.report();
    let behind = projections
        .iter()
        .filter(|projection| !report.stale(projection));
    let waits = behind.map(|projection| async move {
        let seen = state
            .projector
            .wait_for(projection, position, READ_YOUR_WRITES_WAIT)
            .await;
        if !seen {
            tracing::warn!(projection, ?position, "read model lags behind a write");
        }
    });
    futures::future::join_all(waits).await;
}
