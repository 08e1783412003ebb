//! A SKU's stock: restocks and write-offs, its stock as of an instant (auditors), and its
//! latest moves with the stock each left (the console's stock chart). A product without
//! specs is its one SKU: its own paths (`/products/{id}/stock`) are the SKU's.

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
use crate::http::extract::params::{IdPath, QueryRules, SkuPath, ValidQuery};
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
use uuid::Uuid;

use crate::event_store::EventMetadata;

/// Moves answered unless `limit` says otherwise.
const DEFAULT_MOVES: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(adjust_stock, stock_as_of))
        .routes(routes!(latest_moves))
        .routes(routes!(adjust_sku_stock, sku_stock_as_of))
        .routes(routes!(latest_sku_moves))
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
    moves(&state, id, id, query).await
}

/// A SKU's latest stock moves, oldest first, each with the stock on hand, reserved and
/// available right after it, and who caused it.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/skus/{sku_id}/stock/moves", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"),
           ("sku_id" = Uuid, Path, description = "the SKU"), MovesQuery),
    responses(
        (status = 200, description = "the moves", body = Envelope<Vec<StockMove>>),
        (status = 404, description = "no such product or SKU (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn latest_sku_moves(
    State(state): State<AppState>,
    _admin: AdminUser,
    path: SkuPath,
    ValidQuery(query): ValidQuery<MovesQuery>,
) -> Result<Success<Vec<StockMove>>, ApiError> {
    moves(&state, path.product_id, path.sku_id, query).await
}

async fn moves(
    state: &AppState,
    id: Uuid,
    sku_id: Uuid,
    query: MovesQuery,
) -> Result<Success<Vec<StockMove>>, ApiError> {
    let limit = query.limit.unwrap_or(DEFAULT_MOVES);
    match state.audit.stock_moves(sku_id, limit).await {
        // Only a SKU without moves needs asking whether it exists at all.
        Ok(moves) if moves.is_empty() => {
            known_sku(state, id, sku_id).await?;
            Ok(Success::ok(moves))
        }
        Ok(moves) => Ok(Success::ok(moves)),
        Err(MovesError::Database(db)) => Err(DatabaseError::from(db).into()),
        Err(MovesError::Load(load)) => Err(load.into()),
        Err(err) => Err(ApiError::internal(&err)),
    }
}

/// A 404 naming what is missing: the product, or its SKU.
async fn known_sku(state: &AppState, id: Uuid, sku_id: Uuid) -> Result<(), ApiError> {
    match state.write.product(id).await? {
        None => Err(ApiError::not_found("product")),
        Some(product) if !product.skus.iter().any(|s| s.id == sku_id) => {
            Err(ApiError::not_found("SKU"))
        }
        Some(_) => Ok(()),
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
    adjust(&state, id, id, &metadata, &retry, body).await
}

/// Restocks (`quantity` > 0) or writes off (`quantity` < 0) one SKU.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/skus/{sku_id}/stock", tag = "admin",
    params(("id" = Uuid, Path, description = "the product"),
           ("sku_id" = Uuid, Path, description = "the SKU")),
    request_body = AdjustStockRequest,
    responses(
        (status = 200, description = "adjusted", body = Envelope<ProductView>),
        (status = 404, description = "no such product or SKU (40400)", body = ErrorBody),
        (status = 409, description = "a write-off below what is reserved (40902) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn adjust_sku_stock(
    State(state): State<AppState>,
    _admin: AdminUser,
    path: SkuPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<AdjustStockRequest>,
) -> Result<Success<ProductView>, ApiError> {
    adjust(
        &state,
        path.product_id,
        path.sku_id,
        &metadata,
        &retry,
        body,
    )
    .await
}

async fn adjust(
    state: &AppState,
    id: Uuid,
    sku_id: Uuid,
    metadata: &EventMetadata,
    retry: &Retry,
    body: AdjustStockRequest,
) -> Result<Success<ProductView>, ApiError> {
    // A retry whose first run stopped before answering must not move the stock twice.
    if retry.wrote(stock_event(body.quantity), sku_id).await?
        && let Some(product) = state.write.product(id).await?
    {
        return Ok(Success::ok(ProductView::new(product, &state.media_urls)));
    }
    let adjustment = StockAdjustment {
        quantity: body.quantity,
        reason: body.reason,
    };
    let written = state
        .write
        .adjust_stock(id, sku_id, adjustment, metadata)
        .await?;
    await_projections(state, &["catalog"], written.position).await;
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
    as_of(&state, id, id, &query).await
}

/// A SKU's stock as it was at `as_of`, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/skus/{sku_id}/stock", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"),
           ("sku_id" = Uuid, Path, description = "the SKU"), AsOfQuery),
    responses(
        (status = 200, description = "the stock then", body = Envelope<StockAsOf>),
        (status = 404, description = "the SKU had no stock then (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn sku_stock_as_of(
    State(state): State<AppState>,
    _admin: AdminUser,
    path: SkuPath,
    ValidQuery(query): ValidQuery<AsOfQuery>,
) -> Result<Success<StockAsOf>, ApiError> {
    as_of(&state, path.product_id, path.sku_id, &query).await
}

async fn as_of(
    state: &AppState,
    product_id: Uuid,
    sku_id: Uuid,
    query: &AsOfQuery,
) -> Result<Success<StockAsOf>, ApiError> {
    let as_of = query.instant()?;
    let stock = state
        .audit
        .stock_as_of(sku_id, as_of)
        .await
        .map_err(state_error)?;
    if stock.version == 0 {
        return Err(ApiError::not_found("stock"));
    }
    Ok(Success::ok(StockAsOf {
        product_id,
        sku_id,
        version: stock.version,
        on_hand: stock.state.on_hand(),
        reserved: stock.state.reserved(),
        available: stock.state.available(),
    }))
}
