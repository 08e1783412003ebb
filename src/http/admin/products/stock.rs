//! A product's stock: restocks and write-offs, its stock as of an instant (auditors),
//! and its latest moves with the stock each left (the console's stock chart).

use axum::extract::State;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::stock_moves::{MAX_MOVES, MovesError, StockMove};
use crate::database::DatabaseError;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::as_of::AsOfQuery;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::{IdPath, QueryRules, ValidQuery};
use crate::http::extract::recorded::Recorded;
use crate::http::extract::whole_number;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::views::as_of::{StockAsOf, state_error};
use crate::http::views::product::ProductView;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use crate::write::StockAdjustment;
use aggregates::stock::StockEvent;

/// Moves answered unless `limit` says otherwise.
const DEFAULT_MOVES: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(adjust_stock, stock_as_of))
        .routes(routes!(latest_moves))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MovesQuery {
    /// How many of the latest moves, 1 to 1000 (default 200).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<i64>,
}

impl QueryRules for MovesQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.limit {
            Some(limit) if !(1..=MAX_MOVES).contains(&limit) => Err(ApiError::malformed_field(
                "limit",
                &format!("must be 1 to {MAX_MOVES}"),
            )),
            _ => Ok(()),
        }
    }
}

/// The product's latest stock moves, oldest first, each with the stock on hand, reserved
/// and available right after it, and who caused it.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/stock/moves", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"), MovesQuery),
    responses(
        (status = 200, description = "the moves", body = Envelope<Vec<StockMove>>),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn latest_moves(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<MovesQuery>,
) -> Result<Success<Vec<StockMove>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_MOVES);
    match state.audit.stock_moves(id, limit).await {
        // Only a product without moves needs asking whether it exists at all.
        Ok(moves) if moves.is_empty() && state.write.product(id).await?.is_none() => {
            Err(ApiError::not_found("product"))
        }
        Ok(moves) => Ok(Success::ok(moves)),
        Err(MovesError::Database(db)) => Err(DatabaseError::from(db).into()),
        Err(MovesError::Load(load)) => Err(load.into()),
        Err(err) => Err(ApiError::internal(&err)),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AdjustStockRequest {
    /// Positive restocks; negative writes off, never below what is reserved; never 0;
    /// at most a billion units either way.
    #[serde(deserialize_with = "whole_number::exact")]
    #[schema(schema_with = schemas::stock_quantity)]
    quantity: i64,
    #[serde(default)]
    #[schema(schema_with = schemas::stock_reason)]
    reason: String,
}

/// Restocks (`quantity` > 0) or writes off (`quantity` < 0).
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/stock", tag = "admin",
    params(("id" = Uuid, Path, description = "the product")),
    request_body = AdjustStockRequest,
    responses(
        (status = 200, description = "adjusted", body = Envelope<ProductView>),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
        (status = 409, description = "a write-off below what is reserved (40902) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn adjust_stock(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<AdjustStockRequest>,
) -> Result<Success<ProductView>, ApiError> {
    // A retry whose first run stopped before answering must not move the stock twice.
    if retry.wrote(stock_event(body.quantity), id).await?
        && let Some(product) = state.write.product(id).await?
    {
        return Ok(Success::ok(ProductView::new(product, &state.media_urls)));
    }
    let adjustment = StockAdjustment {
        quantity: body.quantity,
        reason: body.reason,
    };
    let written = state.write.adjust_stock(id, adjustment, &metadata).await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::ok(ProductView::new(
        written.value,
        &state.media_urls,
    )))
}

/// The event a stock adjustment of `quantity` writes.
fn stock_event(quantity: i64) -> &'static str {
    if quantity > 0 {
        StockEvent::STOCK_ADDED
    } else {
        StockEvent::STOCK_WRITTEN_OFF
    }
}

/// A product's stock as it was at `as_of`, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/stock", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"), AsOfQuery),
    responses(
        (status = 200, description = "the stock then", body = Envelope<StockAsOf>),
        (status = 404, description = "the product had no stock then (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn stock_as_of(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<AsOfQuery>,
) -> Result<Success<StockAsOf>, ApiError> {
    let product_id = id;
    let as_of = query.instant()?;
    let stock = state
        .audit
        .stock_as_of(product_id, as_of)
        .await
        .map_err(state_error)?;
    if stock.version == 0 {
        return Err(ApiError::not_found("stock"));
    }
    Ok(Success::ok(StockAsOf {
        product_id,
        version: stock.version,
        on_hand: stock.state.on_hand(),
        reserved: stock.state.reserved(),
        available: stock.state.available(),
    }))
}
