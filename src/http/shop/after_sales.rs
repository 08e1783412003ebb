//! A shopper's after-sales: asking for money back or to return goods of their order,
//! seeing where each stands, and entering the return shipment once the merchant agreed.

use aggregates::order::{AfterSaleKind, OrderEvent, RefundLine};
use axum::extract::{Path, State};
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AuthUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::IdPath;
use crate::http::extract::recorded::Recorded;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas::RefundLineSchema;
use crate::http::views::after_sale::{
    AfterSaleView, after_sale_view, not_found_if_unknown, parse_id,
};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(request_after_sale, list_after_sales))
        .routes(routes!(ship_return))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AfterSaleBody {
    /// `refund_only` (while the order is paid or shipped) or `return_refund` (after it
    /// shipped, within the shop's return window).
    #[schema(value_type = String, pattern = "^(refund_only|return_refund)$")]
    kind: AfterSaleKind,
    /// The units, each SKU once, at most those not refunded or asked for yet.
    lines: Vec<RefundLineSchema>,
    /// Why: one line of 1 to 200 characters (the merchant reads it).
    reason: String,
}

/// Asks for money back (`refund_only`) or to return goods (`return_refund`) for some
/// units of the caller's order. The merchant approves (with an amount, never more than
/// those units were paid) or rejects (with a reason).
#[utoipa::path(post, path = "/api/v1/orders/{id}/after-sales", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    request_body = AfterSaleBody,
    responses(
        (status = 201, description = "asked: `requested`", body = Envelope<AfterSaleView>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "the order is not paid or shipped (refund-only), not shipped or past the return window (return), has 20 after-sales (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "a line, quantity or the reason out of bounds, each named (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn request_after_sale(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(order_id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<AfterSaleBody>,
) -> Result<Success<AfterSaleView>, ApiError> {
    let lines: Vec<RefundLine> = body.lines.into_iter().map(Into::into).collect();
    if retry
        .wrote(OrderEvent::AFTER_SALE_REQUESTED, order_id)
        .await?
    {
        // The first run's after-sale: the newest asking what this request asks (the
        // shopper may have asked another since).
        let asked = serde_json::json!(lines);
        let rows = state.reads.after_sales_of(order_id).await?;
        let row = rows
            .into_iter()
            .rev()
            .find(|row| {
                row.kind == body.kind.as_str()
                    && row.lines == asked
                    && row.reason == body.reason.trim()
            })
            .ok_or_else(|| ApiError::not_found("after-sale"))?;
        return Ok(Success::created(row.into()));
    }
    let written = state
        .write
        .request_after_sale(
            order_id,
            user.id(),
            body.kind,
            lines,
            body.reason,
            &metadata,
        )
        .await?;
    let no = u32::try_from(written.value.after_sales.len()).unwrap_or(u32::MAX);
    let id = aggregates::order::after_sale_id(order_id, no);
    Ok(Success::created(
        after_sale_view(&state, &id, written.position).await?,
    ))
}

/// The caller's after-sales of their order, oldest first.
#[utoipa::path(get, path = "/api/v1/orders/{id}/after-sales", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "its after-sales", body = Envelope<Vec<AfterSaleView>>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_after_sales(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(order_id): IdPath,
) -> Result<Success<Vec<AfterSaleView>>, ApiError> {
    if state.reads.order_of(order_id, user.id()).await?.is_none() {
        return Err(ApiError::not_found("order"));
    }
    let rows = state.reads.after_sales_of(order_id).await?;
    Ok(Success::ok(rows.into_iter().map(Into::into).collect()))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReturnShipmentBody {
    /// WeChat's delivery id of the carrier, e.g. `SF`, `ZTO`.
    express_company: String,
    tracking_no: String,
}

/// The shopper sent the goods of an approved return back: the carrier and tracking
/// number (may be corrected until the merchant receives them).
#[utoipa::path(post, path = "/api/v1/after-sales/{id}/return-shipment", tag = "orders",
    params(("id" = String, Path, description = "the after-sale")),
    request_body = ReturnShipmentBody,
    responses(
        (status = 200, description = "`return_shipped`", body = Envelope<AfterSaleView>),
        (status = 404, description = "no such after-sale of yours (40400)", body = ErrorBody),
        (status = 409, description = "not an approved return waiting for its goods (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "the carrier or tracking number empty, too long or not one line (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ship_return(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<ReturnShipmentBody>,
) -> Result<Success<AfterSaleView>, ApiError> {
    let (order_id, no) = parse_id(&id)?;
    let written = state
        .write
        .ship_return(
            order_id,
            user.id(),
            no,
            body.express_company,
            body.tracking_no,
            &metadata,
        )
        .await
        .map_err(not_found_if_unknown)?;
    Ok(Success::ok(
        after_sale_view(&state, &id, written.position).await?,
    ))
}
