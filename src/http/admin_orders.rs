//! Operators' order handling: shipping paid orders.

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::caller::AdminUser;
use super::context::Recorded;
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use super::idempotency::Retry;
use super::json::JsonBody;
use super::order_view::OrderView;
use super::orders::transition;
use super::params::IdPath;
use super::schemas;
use crate::state::AppState;
use aggregates::order::OrderEvent;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ship_order))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShipRequest {
    /// 1 to 64 characters, e.g. "SF Express".
    #[schema(schema_with = schemas::shipment_field)]
    carrier: String,
    /// 1 to 64 characters.
    #[schema(schema_with = schemas::shipment_field)]
    tracking_no: String,
}

/// Hands a paid order to a carrier: paid → shipped.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/ship", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    request_body = ShipRequest,
    responses(
        (status = 200, description = "shipped", body = Envelope<OrderView>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
        (status = 409, description = "not paid (40902) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ship_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<ShipRequest>,
) -> Result<Success<OrderView>, ApiError> {
    let write = state.write.ship_order(
        id,
        body.carrier.trim().to_owned(),
        body.tracking_no.trim().to_owned(),
        &metadata,
    );
    transition(&state, id, retry, OrderEvent::ORDER_SHIPPED, write).await
}
