//! Catalog administration: products, their stock and their images.

mod images;
mod skus;
mod stock;

use aggregates::FieldError;
use aggregates::product::{NewProduct, ProductChanges, Spec};
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
        .merge(skus::router())
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
    /// Required for a product without specs; left out when it has `skus` (each has its
    /// own).
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 0)]
    price_cents: Option<i64>,
    /// Units on hand from the start (a product without specs); null or absent: none.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    initial_stock: Option<i64>,
    /// Most units one shopper may hold in orders not cancelled (≥ 1); null or absent: no
    /// limit.
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 1)]
    limit_per_user: Option<i64>,
    /// The dimensions it varies in (1 to 3), each with its values; with `skus`.
    #[serde(default)]
    #[schema(max_items = 3)]
    specs: Vec<SpecRequest>,
    /// The combinations offered (1 to 200), each with its price and stock; with `specs`.
    #[serde(default)]
    #[schema(max_items = 200)]
    skus: Vec<skus::NewSkuRequest>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct SpecRequest {
    #[schema(schema_with = schemas::spec_text)]
    name: String,
    /// 1 to 50 values, in display order.
    #[schema(min_items = 1, max_items = 50)]
    values: Vec<String>,
}

impl CreateProductRequest {
    /// The product to create and each of its SKUs' initial stock; or every field that
    /// does not go together (a price beside SKUs, SKUs without specs, …).
    fn into_new(self) -> Result<(NewProduct, Vec<i64>), ApiError> {
        let mut errors = Vec::new();
        let with_skus = !self.skus.is_empty() || !self.specs.is_empty();
        if with_skus {
            for (field, given) in [
                ("price_cents", self.price_cents.is_some()),
                ("initial_stock", self.initial_stock.is_some()),
            ] {
                if given {
                    errors.push(FieldError::new(
                        field,
                        "each SKU has its own: leave it out when the product has skus",
                    ));
                }
            }
        } else if self.price_cents.is_none() {
            errors.push(FieldError::new("price_cents", "required"));
        }
        if !errors.is_empty() {
            return Err(ApiError::invalid(errors));
        }
        let stocks = if with_skus {
            self.skus.iter().map(|sku| sku.initial_stock).collect()
        } else {
            vec![self.initial_stock.unwrap_or(0)]
        };
        let new = NewProduct {
            name: self.name,
            description: self.description,
            category: self.category,
            price_cents: self.price_cents.unwrap_or(0),
            limit_per_user: self.limit_per_user,
            specs: self
                .specs
                .into_iter()
                .map(|spec| Spec {
                    name: spec.name,
                    values: spec.values,
                })
                .collect(),
            skus: self
                .skus
                .into_iter()
                .map(skus::NewSkuRequest::into_new)
                .collect(),
        };
        Ok((new, stocks))
    }
}

/// Creates a product with its initial stock: one price and stock, or `specs` and `skus`
/// each with its own.

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
    let (new, stocks) = body.into_new()?;
    let written = state.write.create_product(new, &stocks, &metadata).await?;
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
