//! Read-your-writes: a write answers once the read models show it.

use std::time::Duration;

use crate::event_store::FeedPosition;
use crate::state::AppState;

/// How long a write waits for the read models to show it before answering, in all.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// How long a write waits for a projection last seen far behind that has moved since:
/// the look may be outdated (it is up to a few hundred ms old, and the projection may
/// have caught up), or the projection is working through a backlog, when a write must
/// not wait the whole bound.
const BEHIND_BUT_MOVING_WAIT: Duration = Duration::from_millis(250);

/// Read-your-writes: returns once every one of `projections` has applied the write at
/// `position`, so the client's next read shows it. The waits run side by side and are
/// bounded once for the request: a lagging projector delays the answer, never fails it
/// (and a shopper's own orders are then read from the events, see `shop::orders::from_events`).
pub async fn await_projections(state: &AppState, projections: &[&str], position: FeedPosition) {
    let report = state.horizon.report();
    let waits = projections.iter().filter_map(|projection| {
        let bound = if !report.stale(projection) {
            READ_YOUR_WRITES_WAIT
        } else if report
            .checked_at
            .is_some_and(|at| state.projector.progressed_since(projection, at))
        {
            BEHIND_BUT_MOVING_WAIT
        } else {
            // Seen far behind and not moving (a held horizon): the write answers at once.
            return None;
        };
        Some(async move {
            let seen = state.projector.wait_for(projection, position, bound).await;
            if !seen {
                tracing::warn!(projection, ?position, "read model lags behind a write");
            }
        })
    });
    futures::future::join_all(waits).await;
}
