//! An order's history for auditors: every event of it and of the stock moves it caused,
//! and its state as of an instant.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::history::HistoryEntry;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::as_of::AsOfQuery;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::params::{IdPath, ValidQuery};
use crate::http::views::as_of::{OrderAsOf, StockAsOf, state_error};
use crate::http::views::order::OrderView;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(state_as_of))
}

/// Every event of the order and of the stock moves it caused, in commit order.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}/history", tag = "audit",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the history", body = Envelope<Vec<HistoryEntry>>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn history(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
) -> Result<Success<Vec<HistoryEntry>>, ApiError> {
    let entries = state.audit.order_history(id).await?;
    if entries.is_empty() {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(entries))
}

/// The order as it was at `as_of`, rebuilt from its events, with its SKUs' stock.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}/state", tag = "audit",
    params(("id" = Uuid, Path, description = "the order"), AsOfQuery),
    responses(
        (status = 200, description = "the state then", body = Envelope<OrderAsOf>),
        (status = 404, description = "the order did not exist then (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn state_as_of(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<AsOfQuery>,
) -> Result<Success<OrderAsOf>, ApiError> {
    let as_of = query.instant()?;
    let (order, stocks) = state
        .audit
        .order_as_of(id, as_of)
        .await
        .map_err(state_error)?;
    if order.version == 0 {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(OrderAsOf {
        as_of,
        version: order.version,
        order: OrderView::of(id, order.state, &state.media_urls),
        stocks: stocks
            .into_iter()
            .map(|(product_id, sku_id, stock)| StockAsOf {
                product_id,
                sku_id,
                version: stock.version,
                on_hand: stock.state.on_hand(),
                reserved: stock.state.reserved(),
                available: stock.state.available(),
            })
            .collect(),
    }))
}
