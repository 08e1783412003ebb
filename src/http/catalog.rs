//! The shopper's catalog: products with their price and available stock, from the
//! product catalog read model. No token needed: browsing comes before login.

use aggregates::text::TextRule;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use super::paging::{Page, PagingQuery};
use super::params::{IdPath, QueryRules, ValidQuery};
use super::schemas::text_schema;
use crate::state::AppState;
use projections::stored_text::unescaped;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_products))
        .routes(routes!(get_product))
}

/// A product as shoppers see it.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct CatalogItem {
    pub id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    pub price_cents: i64,
    pub available: i64,
    pub on_sale: bool,
    /// Most units one shopper may hold in orders not cancelled; null: no limit.
    pub limit_per_user: Option<i64>,
}

impl CatalogItem {
    /// The item's text as the events held it (see `projections::stored_text`).
    fn unescaped(self) -> Self {
        Self {
            name: unescaped(self.name),
            description: unescaped(self.description),
            category: unescaped(self.category),
            ..self
        }
    }
}

const COLUMNS: &str = "product_id AS id, name, description, category, price_cents, available, on_sale, limit_per_user";

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
    // LIKE wildcards in the keyword are matched literally.
    let keyword = filter
        .keyword
        .as_deref()
        .filter(|k| !k.is_empty())
        .map(|k| {
            format!(
                "%{}%",
                k.replace('\\', "\\\\")
                    .replace('%', "\\%")
                    .replace('_', "\\_")
            )
        });
    let category = filter.category.as_deref().filter(|c| !c.is_empty());
    let filter = "($1::text IS NULL OR name ILIKE $1 OR description ILIKE $1)
                  AND ($2::text IS NULL OR category = $2)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM product_catalog WHERE {filter}"
    ))
    .bind(&keyword)
    .bind(category)
    .fetch_one(&state.pool)
    .await?;
    let list: Vec<CatalogItem> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM product_catalog WHERE {filter}
          ORDER BY category, name, product_id LIMIT $3 OFFSET $4"
    ))
    .bind(&keyword)
    .bind(category)
    .bind(paging.size)
    .bind(paging.offset())
    .fetch_all(&state.pool)
    .await?;
    let list = list.into_iter().map(CatalogItem::unescaped).collect();
    Ok(Success::ok(Page::new(list, total, paging)))
}

/// One product; no token needed.
#[utoipa::path(get, path = "/api/v1/products/{id}", tag = "products",
    params(("id" = Uuid, Path, description = "the product")),
    responses(
        (status = 200, description = "the product", body = Envelope<CatalogItem>),
        (status = 404, description = "no such product (40400)", body = ErrorBody),
    ))]
async fn get_product(
    State(state): State<AppState>,
    IdPath(id): IdPath,
) -> Result<Success<CatalogItem>, ApiError> {
    let item: Option<CatalogItem> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM product_catalog WHERE product_id = $1"
    ))
    .bind(id)
    .fetch_optional(&state.pool)
    .await?;
    item.map(|item| Success::ok(item.unescaped()))
        .ok_or_else(|| ApiError::not_found("product"))
}
