//! Catalog administration: products, their stock and their images.

mod images;
mod stock;

use aggregates::product::{NewProduct, ProductChanges};
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::IdPath;
use crate::http::extract::recorded::Recorded;
use crate::http::extract::whole_number;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::views::product::ProductView;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use aggregates::product::ProductEvent;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_product))
        .routes(routes!(update_product))
        .merge(images::router())
        .merge(stock::router())
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
    if let Some(id) = retry.created(ProductEvent::PRODUCT_CREATED).await?
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
