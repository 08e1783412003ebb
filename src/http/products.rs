//! Catalog administration: products and their stock.

use aggregates::product::{NewProduct, ProductChanges};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::caller::AdminUser;
use super::context::{Recorded, await_projections};
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use super::idempotency::Retry;
use super::json::JsonBody;
use super::params::IdPath;
use super::{schemas, whole_number};
use crate::media::MediaUrls;
use crate::state::AppState;
use crate::write::{ProductSnapshot, StockAdjustment};
use aggregates::product::ProductEvent;
use aggregates::stock::StockEvent;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product))
        .routes(routes!(update_product))
        .routes(routes!(adjust_stock))
}

/// A product as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProductView {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub available: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled; null: no limit.
    pub limit_per_user: Option<i64>,
    /// Image URLs, the cover first.
    pub images: Vec<String>,
}

impl ProductView {
    pub fn new(p: ProductSnapshot, urls: &MediaUrls) -> Self {
        Self {
            images: urls.urls(&p.images),
            id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            price_cents: p.price_cents,
            available: p.available,
            on_hand: p.on_hand,
            reserved: p.reserved,
            on_sale: p.on_sale,
            limit_per_user: p.limit_per_user,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateProductRequest {
    #[schema(schema_with = schemas::product_name)]
    name: String,
    #[serde(default)]
    #[schema(schema_with = schemas::product_description)]
    description: String,
    #[serde(default)]
    #[schema(schema_with = schemas::product_category)]
    category: String,
    #[serde(deserialize_with = "whole_number::exact")]
    #[schema(minimum = 0)]
    price_cents: i64,
    /// Units on hand from the start.
    #[serde(default, deserialize_with = "whole_number::exact")]
    #[schema(schema_with = schemas::initial_stock)]
    initial_stock: i64,
    /// Most units one shopper may hold in orders not cancelled (≥ 1); null or absent: no
    /// limit.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 1)]
    limit_per_user: Option<i64>,
}

/// Creates a product with its initial stock.
#[utoipa::path(post, path = "/api/v1/admin/products", tag = "admin",
    request_body = CreateProductRequest,
    responses(
        (status = 201, description = "created", body = Envelope<ProductView>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn create_product(
    State(state): State<AppState>,
    _admin: AdminUser,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<CreateProductRequest>,
) -> Result<Success<ProductView>, ApiError> {
    // A retry whose first run stopped before answering may find its product created.
    if let Some(id) = retry
        .created(&state.pool, ProductEvent::PRODUCT_CREATED)
        .await?
        && let Some(product) = state.write.product(id).await?
    {
        return Ok(Success::created(ProductView::new(
            product,
            &state.media_urls,
        )));
    }
    let new = NewProduct {
        name: body.name,
        description: body.description,
        category: body.category,
        price_cents: body.price_cents,
        limit_per_user: body.limit_per_user,
    };
    let written = state
        .write
        .create_product(new, body.initial_stock, &metadata)
        .await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::created(ProductView::new(
        written.value,
        &state.media_urls,
    )))
}

/// The fields to change; absent ones stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct UpdateProductRequest {
    #[schema(schema_with = schemas::or_null::product_name)]
    name: Option<String>,
    #[schema(schema_with = schemas::or_null::product_description)]
    description: Option<String>,
    #[schema(schema_with = schemas::or_null::product_category)]
    category: Option<String>,
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 0)]
    price_cents: Option<i64>,
    on_sale: Option<bool>,
    /// A new limit (≥ 1), or null to remove it; absent keeps it.
    #[serde(default, deserialize_with = "whole_number::present")]
    #[schema(value_type = Option<i64>, minimum = 1)]
    limit_per_user: Option<Option<i64>>,
}

/// Changes a product's name, description, category, price, whether it is on sale, or its
/// purchase limit.
#[utoipa::path(put, path = "/api/v1/admin/products/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "the product")),
    request_body = UpdateProductRequest,
    responses(
        (status = 200, description = "changed", body = Envelope<ProductView>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn update_product(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<UpdateProductRequest>,
) -> Result<Success<ProductView>, ApiError> {
    let changes = ProductChanges {
        name: body.name,
        description: body.description,
        category: body.category,
        price_cents: body.price_cents,
        on_sale: body.on_sale,
        limit_per_user: body.limit_per_user,
    };
    let written = state.write.update_product(id, changes, &metadata).await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::ok(ProductView::new(
        written.value,
        &state.media_urls,
    )))
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
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
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
    if retry
        .wrote(&state.pool, stock_event(body.quantity), id)
        .await?
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
