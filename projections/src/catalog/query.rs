//! Reading the catalog: what shoppers browse. The columns of `product_catalog` are spelled
//! here and in the projection beside it, nowhere else.

use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use aggregates::product::{Spec, SpecValues};

use crate::stored_text::unescaped;

/// A product as the catalog holds it, its text as the events held it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct CatalogRow {
    pub product_id: Uuid,
    pub name: String,
    pub description: String,
    pub category: String,
    /// The lowest price (of the SKUs on sale, for a product with specs).
    pub price_cents: i64,
    /// The highest; the price itself for a product without specs.
    pub price_max_cents: i64,
    /// Summed over the SKUs of a product with specs.
    pub available: i64,
    pub on_sale: bool,
    pub limit_per_user: Option<i64>,
    /// Media keys, cover first.
    pub images: Json<Vec<String>>,
    /// Empty for a product without specs.
    pub specs: Json<Vec<Spec>>,
}

/// One SKU of a product with specs, as the catalog holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SkuRow {
    pub sku_id: Uuid,
    pub spec: Json<SpecValues>,
    pub price_cents: i64,
    pub available: i64,
    pub on_sale: bool,
    /// Media key of its picture.
    pub image: Option<String>,
    pub code: String,
}

impl SkuRow {
    /// A product without specs' one SKU: the product itself.
    pub fn of_product(product: &CatalogRow) -> Self {
        Self {
            sku_id: product.product_id,
            spec: Json(SpecValues::new()),
            price_cents: product.price_cents,
            available: product.available,
            on_sale: product.on_sale,
            image: None,
            code: String::new(),
        }
    }

    fn unescaped(self) -> Self {
        Self {
            spec: Json(
                self.spec
                    .0
                    .into_iter()
                    .map(|(name, value)| (unescaped(name), unescaped(value)))
                    .collect(),
            ),
            image: self.image.map(unescaped),
            code: unescaped(self.code),
            ..self
        }
    }
}

impl CatalogRow {
    /// The text as the events held it (see [`crate::stored_text`]).
    fn unescaped(self) -> Self {
        Self {
            name: unescaped(self.name),
            description: unescaped(self.description),
            category: unescaped(self.category),
            images: Json(self.images.0.into_iter().map(unescaped).collect()),
            specs: Json(
                self.specs
                    .0
                    .into_iter()
                    .map(|spec| Spec {
                        name: unescaped(spec.name),
                        values: spec.values.into_iter().map(unescaped).collect(),
                    })
                    .collect(),
            ),
            ..self
        }
    }
}

const COLUMNS: &str = "product_id, name, description, category, price_cents,
     price_max_cents, available, on_sale, limit_per_user, images, specs";

/// Which products a page of the catalog shows.
#[derive(Debug, Clone, Copy, Default)]
pub struct CatalogFilter<'a> {
    /// In the name or description, case-insensitively; matched literally.
    pub keyword: Option<&'a str>,
    pub category: Option<&'a str>,
}

/// A page of the catalog by category and name, and how many products match in all.
pub async fn page(
    pool: &PgPool,
    filter: CatalogFilter<'_>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<CatalogRow>, i64), sqlx::Error> {
    // LIKE wildcards in the keyword are matched literally.
    let keyword = filter.keyword.filter(|k| !k.is_empty()).map(|k| {
        format!(
            "%{}%",
            k.replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_")
        )
    });
    let category = filter.category.filter(|c| !c.is_empty());
    let condition = "($1::text IS NULL OR name ILIKE $1 OR description ILIKE $1)
                     AND ($2::text IS NULL OR category = $2)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM product_catalog WHERE {condition}"
    ))
    .bind(&keyword)
    .bind(category)
    .fetch_one(pool)
    .await?;
    let rows: Vec<CatalogRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM product_catalog WHERE {condition}
          ORDER BY category, name, product_id LIMIT $3 OFFSET $4"
    ))
    .bind(&keyword)
    .bind(category)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows.into_iter().map(CatalogRow::unescaped).collect(), total))
}

/// One product, if the catalog has it.
pub async fn product(pool: &PgPool, id: Uuid) -> Result<Option<CatalogRow>, sqlx::Error> {
    let row: Option<CatalogRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM product_catalog WHERE product_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(CatalogRow::unescaped))
}

/// The SKUs of `product`, in the order they were added: its one SKU (itself) when it has
/// no specs.
pub async fn skus(pool: &PgPool, product: &CatalogRow) -> Result<Vec<SkuRow>, sqlx::Error> {
    if product.specs.0.is_empty() {
        return Ok(vec![SkuRow::of_product(product)]);
    }
    let rows: Vec<SkuRow> = sqlx::query_as(
        "SELECT sku_id, spec, price_cents, available, on_sale, image, code
           FROM product_skus WHERE product_id = $1 ORDER BY position, sku_id",
    )
    .bind(product.product_id)
    .fetch_all(pool)
    .await?;
    Ok(rows.into_iter().map(SkuRow::unescaped).collect())
}
