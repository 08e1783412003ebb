//! A shopper's own orders from the write side, while the order views lag.
//!
//! The views are a projection of the feed and can fall behind (a projector that is
//! stopped or catching up, an appending transaction holding the feed's horizon). A
//! shopper who just placed, paid or cancelled an order must still see it as it is: when
//! the feed horizon's watcher saw the order views stale, the detail and the list are read
//! from the events (each order's own stream, and the shopper's stream for the orders the
//! views do not have yet).

use std::collections::BTreeSet;

use aggregates::shopper::ShopperEvent;
use uuid::Uuid;

use crate::database::DatabaseError;
use crate::event_store::StreamId;
use crate::http::error::ApiError;
use crate::http::views::current_order::current_order;
use crate::http::views::order::OrderView;
use crate::state::AppState;

/// The shopper's events read at most, newest first: a page's worth of orders and more,
/// whatever the lag (older changes wait for the views).
const MOST_CHANGED: i64 = 200;

/// Whether the order views may be stale now.
pub fn views_stale(state: &AppState) -> bool {
    state.horizon.report().stale("orders")
}

/// The orders of `user_id` whose events the order views have not applied yet: placed,
/// paid, cancelled or refunded since the views' checkpoint (the shopper's own stream
/// records each).
async fn changed_since_views(state: &AppState, user_id: &str) -> Result<Vec<Uuid>, ApiError> {
    let checkpoint = state.reads.checkpoint("orders").await?;
    let stream = StreamId::new("Shopper", user_id);
    let mut changed = BTreeSet::new();
    let latest = state
        .events
        .latest_payloads_after(&stream, checkpoint, MOST_CHANGED)
        .await
        .map_err(DatabaseError::from)?;
    for payload in latest {
        // An event of a shape this build does not know is not an order to show.
        if let Ok(event) = serde_json::from_value::<ShopperEvent>(payload) {
            changed.insert(event.order_id());
        }
    }
    Ok(changed.into_iter().collect())
}

/// One page of the shopper's orders with each order as its events make it, and the
/// orders the views lack (on the first page, where the newest belong).
pub async fn refreshed_page(
    state: &AppState,
    user_id: &str,
    status: Option<&str>,
    (page, total): (Vec<OrderView>, i64),
    (size, offset): (i64, i64),
) -> Result<(Vec<OrderView>, i64), ApiError> {
    let listed: BTreeSet<Uuid> = page.iter().map(|order| order.id).collect();
    let mut unlisted = Vec::new();
    if offset == 0 {
        for id in changed_since_views(state, user_id).await? {
            if !listed.contains(&id) {
                unlisted.push(id);
            }
        }
    }
    let wanted = |order: &OrderView| status.is_none_or(|wanted| order.status == wanted);
    let mut orders = Vec::with_capacity(listed.len() + unlisted.len());
    for id in listed {
        let order = current_order(state, id).await?;
        if wanted(&order) {
            orders.push(order);
        }
    }
    // The total is the views' count plus the orders they lack (an order that changed
    // status meanwhile is still counted under its old one until they catch up).
    let mut added = 0;
    for id in unlisted {
        let order = current_order(state, id).await?;
        if wanted(&order) {
            orders.push(order);
            added += 1;
        }
    }
    orders.sort_by_key(|order| std::cmp::Reverse((order.created_at, order.id)));
    orders.truncate(usize::try_from(size).unwrap_or(usize::MAX));
    Ok((orders, total + added))
}
