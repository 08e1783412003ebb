//! Read-your-writes: a write answers once the read models show it.

use std::time::Duration;

use chrono::Utc;

use crate::event_store::FeedPosition;
use crate::feed_horizon::STALE_AFTER;
use crate::state::AppState;

/// How long a write waits for the read models to show it before answering, in all.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// Read-your-writes: returns once every one of `projections` has applied the write at
/// `position`, so the client's next read shows it. The waits run side by side and are
/// bounded once for the request: a lagging projector delays the answer, never fails it
/// (and a shopper's own orders are then read from the events, see `shop::orders::from_events`).
pub async fn await_projections(state: &AppState, projections: &[&str], position: FeedPosition) {
    let report = state.horizon.report();
    // A projection that has published no progress for as long as it takes to be called
    // stale cannot be waited for usefully (a held horizon, a stuck checkpoint).
    let frozen_since = Utc::now() - STALE_AFTER;
    let waits = projections.iter().filter_map(|projection| {
        if report.stale(projection) && !state.projector.progressed_since(projection, frozen_since) {
            // Seen far behind and not moving: the write answers at once.
            return None;
        }
        // Otherwise it is waited for the whole bound, even when seen far behind: the look
        // may be outdated, or it is working through a backlog and will show the write.
        Some(async move {
            let seen = state
                .projector
                .wait_for(projection, position, READ_YOUR_WRITES_WAIT)
                .await;
            if !seen {
                tracing::warn!(projection, ?position, "read model lags behind a write");
            }
        })
    });
    futures::future::join_all(waits).await;
}
