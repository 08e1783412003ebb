//! The SKUs of products with specs (`product_skus`), one row each with its price, on-sale
//! flag, picture and stock; and what they make of their product's row: the price range
//! shoppers see first and the stock totals.
//!
//! A product without specs has no row here: it is its one SKU, and its stock stream (the
//! product's id) moves its own catalog row as it always did. A SKU's stock stream has the
//! SKU's id, never a product's, so a stock move lands in exactly one of the two tables.

use std::collections::{BTreeMap, BTreeSet};

use aggregates::product::{ProductEvent, SpecValues};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

use crate::projection::{ProjectionError, Target};

/// What a batch does to the SKUs, by SKU, and which products it touched.
#[derive(Default)]
pub(super) struct SkuChanges {
    skus: BTreeMap<Uuid, SkuChange>,
    products: BTreeSet<Uuid>,
}

/// One SKU after the batch's events.
struct SkuChange {
    product_id: Uuid,
    /// Added in this batch (its row is inserted).
    added: bool,
    /// The product stream's sequence of its `SkuAdded`: the picker's order.
    position: i64,
    spec: SpecValues,
    code: String,
    price_cents: i64,
    on_sale: bool,
    image: Option<String>,
    /// The product stream's sequence of the last event applied.
    version: i64,
}

/// A stock stream's moves in a batch: the SKU's (or a product without specs') stock.
pub(super) struct StockMove {
    pub stream: Uuid,
    pub on_hand: i64,
    pub reserved: i64,
    pub version: i64,
}

impl SkuChanges {
    /// Takes in one event of product `product_id` at `sequence`.
    pub(super) fn fold(&mut self, product_id: Uuid, sequence: i64, event: &ProductEvent) {
        self.products.insert(product_id);
        match event {
            ProductEvent::SkuAdded {
                sku_id,
                spec,
                price_cents,
                code,
                image,
                ..
            } => {
                self.skus.insert(
                    *sku_id,
                    SkuChange {
                        product_id,
                        added: true,
                        position: sequence,
                        spec: spec.clone(),
                        code: code.clone(),
                        price_cents: *price_cents,
                        on_sale: true,
                        image: image.clone(),
                        version: sequence,
                    },
                );
            }
            ProductEvent::SkuChanged {
                sku_id,
                price_cents,
                on_sale,
                image,
            } => {
                let change = self.skus.entry(*sku_id).or_insert_with(|| SkuChange {
                    product_id,
                    added: false,
                    position: 0,
                    spec: SpecValues::new(),
                    code: String::new(),
                    price_cents: 0,
                    on_sale: true,
                    image: None,
                    version: 0,
                });
                change.price_cents = *price_cents;
                change.on_sale = *on_sale;
                change.image.clone_from(image);
                change.version = sequence;
            }
            _ => {}
        }
    }

    /// Inserts the SKUs added and updates the SKUs changed, each change only if its
    /// product stream's version shows it was not applied yet.
    pub(super) async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
    ) -> Result<(), ProjectionError> {
        if self.skus.is_empty() {
            return Ok(());
        }
        let table = target.table("product_skus");
        let mut ids = Vec::new();
        let mut products = Vec::new();
        let mut added = Vec::new();
        let mut positions = Vec::new();
        let mut specs = Vec::new();
        let mut codes = Vec::new();
        let mut prices = Vec::new();
        let mut on_sales = Vec::new();
        let mut images = Vec::new();
        let mut versions = Vec::new();
        for (id, change) in &self.skus {
            ids.push(*id);
            products.push(change.product_id);
            added.push(change.added);
            positions.push(change.position);
            specs.push(Json(&change.spec));
            codes.push(change.code.as_str());
            prices.push(change.price_cents);
            on_sales.push(change.on_sale);
            images.push(change.image.as_deref());
            versions.push(change.version);
        }
        let sql = format!(
            "WITH c AS (
                SELECT * FROM unnest($1::uuid[], $2::uuid[], $3::bool[], $4::bigint[],
                                     $5::jsonb[], $6::text[], $7::bigint[], $8::bool[],
                                     $9::text[], $10::bigint[])
                    AS c(sku_id, product_id, added, position, spec, code, price_cents, on_sale,
                         image, version)
             ), inserted AS (
                INSERT INTO {table} (sku_id, product_id, position, spec, code, price_cents,
                                     on_sale, image, on_hand, reserved, product_version,
                                     stock_version)
                SELECT sku_id, product_id, position, spec, code, price_cents, on_sale, image,
                       0, 0, version, 0
                  FROM c WHERE added
                -- Applied again: the batch's later changes of the SKU still count.
                ON CONFLICT (sku_id) DO UPDATE SET price_cents = excluded.price_cents,
                       on_sale = excluded.on_sale, image = excluded.image,
                       product_version = excluded.product_version
                 WHERE excluded.product_version > {table}.product_version
             )
             UPDATE {table} AS s SET price_cents = c.price_cents, on_sale = c.on_sale,
                    image = c.image, product_version = c.version
               FROM c
              WHERE s.sku_id = c.sku_id AND NOT c.added AND c.version > s.product_version"
        );
        sqlx::query(&sql)
            .bind(&ids)
            .bind(&products)
            .bind(&added)
            .bind(&positions)
            .bind(&specs)
            .bind(&codes)
            .bind(&prices)
            .bind(&on_sales)
            .bind(&images)
            .bind(&versions)
            .execute(conn)
            .await?;
        Ok(())
    }

    /// The price range and stock totals of every product with specs the batch's product
    /// events touched, from its SKUs' rows: the lowest and highest price among the SKUs
    /// on sale (among all when none is).
    pub(super) async fn summarize(
        &self,
        conn: &mut PgConnection,
        target: Target,
    ) -> Result<(), ProjectionError> {
        if self.products.is_empty() {
            return Ok(());
        }
        let products: Vec<Uuid> = self.products.iter().copied().collect();
        let sql = format!(
            "UPDATE {catalog} AS p
                SET price_cents = s.low, price_max_cents = s.high,
                    on_hand = s.on_hand, reserved = s.reserved
               FROM (SELECT product_id,
                            coalesce(min(price_cents) FILTER (WHERE on_sale), min(price_cents)) AS low,
                            coalesce(max(price_cents) FILTER (WHERE on_sale), max(price_cents)) AS high,
                            sum(on_hand)::bigint AS on_hand, sum(reserved)::bigint AS reserved
                       FROM {skus} WHERE product_id = ANY($1) GROUP BY product_id) AS s
              WHERE p.product_id = s.product_id",
            catalog = target.table("product_catalog"),
            skus = target.table("product_skus"),
        );
        sqlx::query(&sql).bind(&products).execute(conn).await?;
        Ok(())
    }
}

/// Applies each stock stream's moves to its SKU's row, if it is a SKU's, and adds the
/// moves applied to its product's totals. (A product without specs' own stream moved its
/// row in the catalog's statement.)
pub(super) async fn apply_stock_moves(
    conn: &mut PgConnection,
    target: Target,
    moves: &[StockMove],
) -> Result<(), ProjectionError> {
    if moves.is_empty() {
        return Ok(());
    }
    let streams: Vec<Uuid> = moves.iter().map(|m| m.stream).collect();
    let on_hand: Vec<i64> = moves.iter().map(|m| m.on_hand).collect();
    let reserved: Vec<i64> = moves.iter().map(|m| m.reserved).collect();
    let versions: Vec<i64> = moves.iter().map(|m| m.version).collect();
    let sql = format!(
        "WITH c AS (
            SELECT * FROM unnest($1::uuid[], $2::bigint[], $3::bigint[], $4::bigint[])
                AS c(sku_id, on_hand, reserved, version)
         ), moved AS (
            UPDATE {skus} AS s SET on_hand = s.on_hand + c.on_hand,
                   reserved = s.reserved + c.reserved, stock_version = c.version
              FROM c
             WHERE s.sku_id = c.sku_id AND c.version > s.stock_version
            RETURNING s.product_id, c.on_hand, c.reserved
         )
         UPDATE {catalog} AS p SET on_hand = p.on_hand + m.on_hand,
                reserved = p.reserved + m.reserved
           FROM (SELECT product_id, sum(on_hand)::bigint AS on_hand,
                        sum(reserved)::bigint AS reserved
                   FROM moved GROUP BY product_id) AS m
          WHERE p.product_id = m.product_id",
        catalog = target.table("product_catalog"),
        skus = target.table("product_skus"),
    );
    sqlx::query(&sql)
        .bind(&streams)
        .bind(&on_hand)
        .bind(&reserved)
        .bind(&versions)
        .execute(conn)
        .await?;
    Ok(())
}
