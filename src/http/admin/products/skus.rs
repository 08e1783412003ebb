//! A product's SKUs: adding one (with its initial stock) and changing one's price,
//! on-sale flag or picture. A SKU is never deleted: orders and the log name it; one that
//! should no longer sell is taken off sale.

use std::collections::BTreeMap;

use aggregates::product::{NewSku, ProductEvent, SkuChanges};
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::{IdPath, SkuPath};
use crate::http::extract::recorded::Recorded;
use crate::http::extract::whole_number;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::views::product::ProductView;
use crate::http::views::read_your_writes::await_projections;
use crate::media::MediaUrls;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(add_sku))
        .routes(routes!(change_sku))
}

/// A SKU to create: its combination, price, stock and code.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct NewSkuRequest {
    /// A value for each of the product's specs, by spec name (`{"size": "M"}`).
    #[schema(value_type = BTreeMap<String, String>)]
    spec: BTreeMap<String, String>,
    #[serde(deserialize_with = "whole_number::exact")]
    #[schema(minimum = 0)]
    price_cents: i64,
    /// Units on hand from the start.
    #[serde(default, deserialize_with = "whole_number::exact")]
    #[schema(schema_with = schemas::initial_stock)]
    pub(super) initial_stock: i64,
    /// The merchant's own code (for the warehouse).
    #[serde(default)]
    #[schema(schema_with = schemas::sku_code)]
    code: String,
}

impl NewSkuRequest {
    /// The SKU, with a new id.
    pub(super) fn into_new(self) -> NewSku {
        NewSku {
            id: Uuid::now_v7(),
            spec: self.spec,
            price_cents: self.price_cents,
            code: self.code,
            image: None,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct AddSkuRequest {
    /// A value for each of the product's specs, by spec name (`{"size": "XL"}`).
    #[schema(value_type = BTreeMap<String, String>)]
    spec: BTreeMap<String, String>,
    #[serde(deserialize_with = "whole_number::exact")]
    #[schema(minimum = 0)]
    price_cents: i64,
    /// Units on hand from the start.
    #[serde(default, deserialize_with = "whole_number::exact")]
    #[schema(schema_with = schemas::initial_stock)]
    initial_stock: i64,
    #[serde(default)]
    #[schema(schema_with = schemas::sku_code)]
    code: String,
    /// Its picture: the URL of one of the product's images.
    image: Option<String>,
}

/// Adds a SKU to a product with specs, with its initial stock; a value its spec does not
/// list yet is added to it. The new SKU is the last of the answer's `skus`.
#[utoipa::path(post, path = "/api/v1/admin/products/{id}/skus", tag = "admin",
    params(("id" = Uuid, Path, description = "the product")),
    request_body = AddSkuRequest,
    responses(
        (status = 201, description = "added", body = Envelope<ProductView>),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
        (status = 422, description = "the product has no specs, the combination exists, or a field is wrong (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn add_sku(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<AddSkuRequest>,
) -> Result<Success<ProductView>, ApiError> {
    // A retry whose first run stopped before answering may find its SKU added.
    if retry.wrote(ProductEvent::SKU_ADDED, id).await?
        && let Some(product) = state.write.product(id).await?
    {
        return Ok(Success::created(ProductView::new(
            product,
            &state.media_urls,
        )));
    }
    let sku = NewSku {
        id: Uuid::now_v7(),
        spec: body.spec,
        price_cents: body.price_cents,
        code: body.code,
        image: body.image.as_deref().map(image_key),
    };
    let written = state
        .write
        .add_sku(id, sku, body.initial_stock, &metadata)
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
struct ChangeSkuRequest {
    #[serde(default, deserialize_with = "whole_number::optional")]
    #[schema(minimum = 0)]
    price_cents: Option<i64>,
    on_sale: Option<bool>,
    /// The URL of one of the product's images, or null to show none; absent keeps it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>)]
    image: Option<Option<String>>,
}

/// `Some(None)` for an explicit null, so that it differs from an absent field.
fn present<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

/// Changes a SKU's price, whether it is on sale, or its picture. The one SKU of a product
/// without specs is the product: its price and on-sale flag change.
#[utoipa::path(put, path = "/api/v1/admin/products/{id}/skus/{sku_id}", tag = "admin",
    params(("id" = Uuid, Path, description = "the product"),
           ("sku_id" = Uuid, Path, description = "the SKU")),
    request_body = ChangeSkuRequest,
    responses(
        (status = 200, description = "changed", body = Envelope<ProductView>),
        (status = 404, description = "no such product or SKU (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn change_sku(
    State(state): State<AppState>,
    _admin: AdminUser,
    path: SkuPath,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<ChangeSkuRequest>,
) -> Result<Success<ProductView>, ApiError> {
    let changes = SkuChanges {
        price_cents: body.price_cents,
        on_sale: body.on_sale,
        image: body.image.map(|image| image.as_deref().map(image_key)),
    };
    let written = state
        .write
        .change_sku(path.product_id, path.sku_id, changes, &metadata)
        .await?;
    await_projections(&state, &["catalog"], written.position).await;
    Ok(Success::ok(ProductView::new(
        written.value,
        &state.media_urls,
    )))
}

/// The media key an image URL names (one served under an earlier base URL too).
fn image_key(url: &str) -> String {
    MediaUrls::key_in(url).to_owned()
}
