//! Catalog administration: products and their stock.

use aggregates::product::{NewProduct, ProductChanges};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::{post, put};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::{await_projection, metadata, parse_id};
use super::envelope::Success;
use super::error::ApiError;
use super::json::JsonBody;
use crate::app::AppState;
use crate::auth::AdminUser;
use crate::write::{ProductSnapshot, StockAdjustment};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/admin/products", post(create_product))
        .route("/api/v1/admin/products/{id}", put(update_product))
        .route("/api/v1/admin/products/{id}/stock", post(adjust_stock))
}

/// A product as the API shows it.
#[derive(Debug, Serialize)]
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
}

impl From<ProductSnapshot> for ProductView {
    fn from(p: ProductSnapshot) -> Self {
        Self {
            id: p.id,
            name: p.name,
            description: p.description,
            category: p.category,
            price_cents: p.price_cents,
            available: p.available,
            on_hand: p.on_hand,
            reserved: p.reserved,
            on_sale: p.on_sale,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateProductRequest {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    category: String,
    price_cents: i64,
    #[serde(default)]
    initial_stock: i64,
}

async fn create_product(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<CreateProductRequest>,
) -> Result<Success<ProductView>, ApiError> {
    let new = NewProduct {
        name: body.name,
        description: body.description,
        category: body.category,
        price_cents: body.price_cents,
    };
    let written = state
        .write
        .create_product(new, body.initial_stock, &metadata(&admin, &headers))
        .await?;
    await_projection(&state, "catalog", written.position).await;
    Ok(Success::created(written.value.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateProductRequest {
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    price_cents: Option<i64>,
    on_sale: Option<bool>,
}

async fn update_product(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<UpdateProductRequest>,
) -> Result<Success<ProductView>, ApiError> {
    let id = parse_id(&id)?;
    let changes = ProductChanges {
        name: body.name,
        description: body.description,
        category: body.category,
        price_cents: body.price_cents,
        on_sale: body.on_sale,
    };
    let written = state
        .write
        .update_product(id, changes, &metadata(&admin, &headers))
        .await?;
    await_projection(&state, "catalog", written.position).await;
    Ok(Success::ok(written.value.into()))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustStockRequest {
    quantity: i64,
    #[serde(default)]
    reason: String,
}

async fn adjust_stock(
    State(state): State<AppState>,
    AdminUser(admin): AdminUser,
    Path(id): Path<String>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<AdjustStockRequest>,
) -> Result<Success<ProductView>, ApiError> {
    let id = parse_id(&id)?;
    let adjustment = StockAdjustment {
        quantity: body.quantity,
        reason: body.reason,
    };
    let written = state
        .write
        .adjust_stock(id, adjustment, &metadata(&admin, &headers))
        .await?;
    await_projection(&state, "catalog", written.position).await;
    Ok(Success::ok(written.value.into()))
}
