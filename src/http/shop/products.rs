//! The shopper's catalog: products with their price and available stock, from the
//! product catalog read model. No token needed: browsing comes before login.

use aggregates::text::TextRule;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{IdPath, QueryRules, ValidQuery};
use crate::http::schemas::text_schema;
use crate::media::MediaUrls;
use crate::state::AppState;
use aggregates::product::{Spec, SpecValues};
use projections::catalog::query::{CatalogFilter, CatalogRow, SkuRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
}

/// A product as shoppers see it in a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogItem {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    /// The lowest price of its SKUs on sale (a product without specs: its price).
    pub price_cents: i64,
    /// The highest: a product with specs shows "¥59 – ¥79".
    pub price_max_cents: i64,
    /// Units that can be ordered, over all its SKUs.
    pub available: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled; null: no limit.
    pub limit_per_user: Option<i64>,
    /// Image URLs, the cover first.
    pub images: Vec<String>,
}

/// One product as a shopper's product page shows it: with its specs and every SKU, for a
/// variant picker.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogProduct {
    #[serde(flatten)]
    pub item: CatalogItem,
    /// Its dimensions and their values in display order; empty for a product without
    /// specs.
    #[schema(value_type = Vec<crate::http::views::product::SpecSchema>)]
    pub specs: Vec<Spec>,
    /// Every SKU; a product without specs has one, whose id is the product's.
    pub skus: Vec<CatalogSku>,
}

/// One SKU as shoppers see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CatalogSku {
    pub id: Uuid,
    /// A value for each spec, by spec name.
    #[schema(value_type = std::collections::BTreeMap<String, String>)]
    pub spec: SpecValues,
    pub price_cents: i64,
    pub available: i64,
    pub on_sale: bool,
    /// URL of its picture; null: the product's cover.
    pub image: Option<String>,
}

impl CatalogSku {
    fn new(row: SkuRow, urls: &MediaUrls) -> Self {
        Self {
            image: row.image.as_deref().map(|key| urls.url(key)),
            id: row.sku_id,
            spec: row.spec.0,
            price_cents: row.price_cents,
            available: row.available,
            on_sale: row.on_sale,
        }
    }
}

impl CatalogItem {
    fn new(row: CatalogRow, urls: &MediaUrls) -> Self {
        Self {
            images: urls.urls(&row.images.0),
            id: row.product_id,
            name: row.name,
            description: row.description,
            category: row.category,
            price_cents: row.price_cents,
            price_max_cents: row.price_max_cents,
            available: row.available,
            on_sale: row.on_sale,
            limit_per_user: row.limit_per_user,
        }
    }
}

/// Longest `keyword` or `category` filter, in characters.
const MAX_FILTER_CHARS: usize = 100;
/// A filter is one clean line: a NUL could not even be sent to PostgreSQL.
const FILTER_TEXT: TextRule = TextRule::single_line(MAX_FILTER_CHARS);

fn filter_schema() -> utoipa::openapi::Object {
    text_schema(FILTER_TEXT)
}

/// `?keyword&category` of the product list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ProductFilter {
    /// Matches the name or description, case-insensitively; at most 100 characters, one
    /// line.
    #[param(schema_with = filter_schema)]
    keyword: Option<String>,
    /// Only this category; at most 100 characters, one line.
    #[param(schema_with = filter_schema)]
    category: Option<String>,
}

impl QueryRules for ProductFilter {
    fn check(&self) -> Result<(), ApiError> {
        let mut errors = Vec::new();
        for (field, value) in [("keyword", &self.keyword), ("category", &self.category)] {
            if let Some(value) = value {
                FILTER_TEXT.check_into(field, value, &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(errors))
        }
    }
}

/// Products by category and name; no token needed.
#[utoipa::path(get, path = "/api/v1/products", tag = "products",
    params(PagingQuery, ProductFilter),
    responses(
        (status = 200, description = "one page of products", body = Envelope<Page<CatalogItem>>),
        (status = 422, description = "`keyword` or `category` too long or not one clean line (42200)", body = ErrorBody),
    ))]
async fn list_products(
    State(state): State<AppState>,
    ValidQuery(paging): ValidQuery<PagingQuery>,
    ValidQuery(filter): ValidQuery<ProductFilter>,
) -> Result<Success<Page<CatalogItem>>, ApiError> {
    let paging = paging.paging();
    let filter = CatalogFilter {
        keyword: filter.keyword.as_deref(),
        category: filter.category.as_deref(),
    };
    let (rows, total) = state
        .reads
        .catalog_page(filter, paging.size, paging.offset())
        .await?;
    let list = rows
        .into_iter()
        .map(|row| CatalogItem::new(row, &state.media_urls))
        .collect();
    Ok(Success::ok(Page::new(list, total, paging)))
}

/// One product with its specs and SKUs; no token needed.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = Uuid, Path, description = "the product")),
    responses(
        (status = 200, description = "the product", body = Envelope<CatalogProduct>),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
    ))]
async fn get_product(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Success<CatalogProduct>, ApiError> {
    let Some((row, skus)) = state.reads.product_with_skus(id).await? else {
        return Err(ApiError::not_found("product"));
    };
    let urls = &state.media_urls;
    Ok(Success::ok(CatalogProduct {
        specs: row.specs.0.clone(),
        skus: skus
            .into_iter()
            .map(|sku| CatalogSku::new(sku, urls))
            .collect(),
        item: CatalogItem::new(row, urls),
    }))
}
