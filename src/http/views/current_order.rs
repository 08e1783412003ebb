//! An order as its events make it now (the write side), and answering a move of an
//! order with it.

use aggregates::order::Order;
use uuid::Uuid;

use crate::http::envelope::Success;
use crate::http::error::ApiError;
use crate::http::middleware::idempotency::Retry;
use crate::http::views::order::OrderView;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use crate::write::{WriteError, Written};

/// The order as its events make it (the write side: always current); a default order
/// (no status) when there is none.
pub async fn load_order(state: &AppState, id: Uuid) -> Result<Order, ApiError> {
    Ok(state.events.load::<Order>(&id.to_string()).await?.aggregate)
}

/// The order as the API shows it, from the write side.
pub async fn current_order(state: &AppState, id: Uuid) -> Result<OrderView, ApiError> {
    Ok(OrderView::of(
        id,
        load_order(state, id).await?,
        &state.media_urls,
    ))
}

/// Moves one order on and answers with it once the read models show the move. A retry
/// whose first run stopped before answering gets the order as it is now.
pub async fn transition(
    state: &AppState,
    id: Uuid,
    retry: Retry,
    event_type: &str,
    write: impl Future<Output = Result<Written<Order>, WriteError>>,
) -> Result<Success<OrderView>, ApiError> {
    if retry.wrote(event_type, id).await? {
        return Ok(Success::ok(current_order(state, id).await?));
    }
    let written = write.await?;
    await_projections(state, &["orders", "catalog"], written.position).await;
    Ok(Success::ok(OrderView::of(
        id,
        written.value,
        &state.media_urls,
    )))
}
