//! Figures for the operators' console that `/metrics` also serves, as JSON behind an
//! operator's token (the console cannot hold `ORDO_METRICS_TOKEN`).

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::metrics::OrderCounts;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(order_counts))
}

/// Orders placed and refused (by reason) by this server process since it started: the
/// counters `orders_placed_total` and `orders_refused_total` of `/metrics`. Two samples
/// give a rate.
#[utoipa::path(get, path = "/api/v1/admin/metrics/orders", tag = "admin",
    responses(
        (status = 200, description = "the counters", body = Envelope<OrderCounts>),
    ),
    security(("bearer" = [])))]
async fn order_counts(_admin: AdminUser) -> Result<Success<OrderCounts>, ApiError> {
    Ok(Success::ok(OrderCounts::now()))
}
