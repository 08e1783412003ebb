//! The product catalog: each product with its price, whether it sells, and its stock
//! (on hand, reserved, available) — `GET /products` and `GET /products/{id}`.
//!
//! Product and Stock are two streams; each row keeps the last applied sequence of both,
//! so either kind of event applied again changes nothing. A product with specs has a row
//! per SKU in `product_skus` (see [`skus`]); its own row then carries the SKUs' price
//! range and stock totals.

pub mod query;
mod skus;

use std::collections::BTreeMap;

use aggregates::product::{Product, ProductEvent};
use aggregates::stock::{Stock, StockEvent};
use cqrs_es::Aggregate;
use serde_json::{Value, json};
use sqlx::PgConnection;
use uuid::Uuid;

use crate::RecordedEvent;
use crate::projection::{Projection, ProjectionError, Target, decode};

pub struct ProductCatalog;

/// What a batch does to one product.
#[derive(Default)]
struct ProductChange {
    created: bool,
    /// Whether a created or updated event (carrying every field) is in the batch.
    fields: bool,
    name: Option<String>,
    description: Option<String>,
    category: Option<String>,
    price_cents: Option<i64>,
    on_sale: Option<bool>,
    /// Meaningful with a product event in the batch (events carry every field).
    limit_per_user: Option<i64>,
    /// The images after the batch's last image event, if it has one.
    images: Option<Vec<String>>,
    /// The specs after the batch's last SKU event, if it has one.
    specs: Option<Value>,
    on_hand_delta: i64,
    reserved_delta: i64,
    product_version: i64,
    stock_version: i64,
}

impl ProductChange {
    fn fold_product(&mut self, event: ProductEvent) {
        let (name, description, category, price_cents, on_sale) = match event {
            ProductEvent::ProductCreated {
                name,
                description,
                category,
                price_cents,
                limit_per_user,
            } => {
                self.created = true;
                self.limit_per_user = limit_per_user;
                (name, description, category, price_cents, true)
            }
            ProductEvent::ProductUpdated {
                name,
                description,
                category,
                price_cents,
                on_sale,
                limit_per_user,
            } => {
                self.limit_per_user = limit_per_user;
                (name, description, category, price_cents, on_sale)
            }
            ProductEvent::ProductImageAdded { images, .. }
            | ProductEvent::ProductImageRemoved { images, .. } => {
                self.images = Some(images);
                return;
            }
            ProductEvent::SkuAdded { specs, .. } => {
                self.specs = Some(json!(specs));
                return;
            }
            ProductEvent::SkuChanged { .. } => return,
        };
        self.fields = true;
        self.name = Some(name);
        self.description = Some(description);
        self.category = Some(category);
        self.price_cents = Some(price_cents);
        self.on_sale = Some(on_sale);
    }

    fn fold_stock(&mut self, event: &StockEvent) {
        let (on_hand, reserved) = event.moves();
        self.on_hand_delta += on_hand;
        self.reserved_delta += reserved;
    }
}

#[async_trait::async_trait]
impl Projection for ProductCatalog {
    fn name(&self) -> &'static str {
        "catalog"
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Product::TYPE, Stock::TYPE])
    }

    fn tables(&self) -> &'static [&'static str] {
        &["product_catalog", "product_skus"]
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let mut changes: BTreeMap<Uuid, ProductChange> = BTreeMap::new();
        let mut sku_changes = skus::SkuChanges::default();
        for event in events {
            let is_product = event.aggregate_type == Product::TYPE;
            if !is_product && event.aggregate_type != Stock::TYPE {
                continue;
            }
            let id = Uuid::parse_str(&event.aggregate_id)
                .map_err(|err| ProjectionError::unreadable(event, err))?;
            let change = changes.entry(id).or_default();
            if is_product {
                let product_event: ProductEvent = decode(event)?;
                sku_changes.fold(id, event.sequence, &product_event);
                change.fold_product(product_event);
                change.product_version = event.sequence;
            } else {
                change.fold_stock(&decode(event)?);
                change.stock_version = event.sequence;
            }
        }
        if changes.is_empty() {
            return Ok(());
        }
        let stock_moves: Vec<skus::StockMove> = changes
            .iter()
            .filter(|(_, change)| change.stock_version > 0)
            .map(|(id, change)| skus::StockMove {
                stream: *id,
                on_hand: change.on_hand_delta,
                reserved: change.reserved_delta,
                version: change.stock_version,
            })
            .collect();
        let mut ids = Vec::new();
        let mut created = Vec::new();
        let mut fields = Vec::new();
        let mut images = Vec::new();
        let mut specs = Vec::new();
        let mut names = Vec::new();
        let mut descriptions = Vec::new();
        let mut categories = Vec::new();
        let mut prices = Vec::new();
        let mut on_sales = Vec::new();
        let mut limits = Vec::new();
        let mut on_hand = Vec::new();
        let mut reserved = Vec::new();
        let mut product_versions = Vec::new();
        let mut stock_versions = Vec::new();
        for (id, change) in changes {
            ids.push(id);
            created.push(change.created);
            fields.push(change.fields);
            images.push(change.images.map(sqlx::types::Json));
            specs.push(change.specs);
            names.push(change.name);
            descriptions.push(change.description);
            categories.push(change.category);
            prices.push(change.price_cents);
            on_sales.push(change.on_sale);
            limits.push(change.limit_per_user);
            on_hand.push(change.on_hand_delta);
            reserved.push(change.reserved_delta);
            product_versions.push(change.product_version);
            stock_versions.push(change.stock_version);
        }
        let table = target.table("product_catalog");
        // New products are inserted whole; the others get the batch's changes, each part
        // only if its stream's version shows it was not applied yet.
        let sql = format!(
            "WITH c AS (
                SELECT * FROM unnest($1::uuid[], $2::bool[], $3::text[], $4::text[], $5::text[],
                                     $6::bigint[], $7::bool[], $8::bigint[], $9::bigint[],
                                     $10::bigint[], $11::bigint[], $12::bigint[], $13::bool[],
                                     $14::jsonb[], $15::jsonb[])
                    AS c(product_id, created, name, description, category, price_cents, on_sale,
                         on_hand, reserved, product_version, stock_version, limit_per_user,
                         fields, images, specs)
             ), inserted AS (
                INSERT INTO {table} (product_id, name, description, category, price_cents,
                                     price_max_cents, on_sale, on_hand, reserved,
                                     product_version, stock_version, limit_per_user, images,
                                     specs)
                SELECT product_id, name, description, category, price_cents, price_cents,
                       on_sale, on_hand, reserved, product_version, stock_version,
                       limit_per_user, coalesce(images, '[]'), coalesce(specs, '[]')
                  FROM c WHERE created
                ON CONFLICT (product_id) DO NOTHING
             )
             UPDATE {table} AS p SET
                name = CASE WHEN c.product_version > p.product_version AND c.fields THEN c.name ELSE p.name END,
                description = CASE WHEN c.product_version > p.product_version AND c.fields
                                   THEN c.description ELSE p.description END,
                category = CASE WHEN c.product_version > p.product_version AND c.fields THEN c.category ELSE p.category END,
                price_cents = CASE WHEN c.product_version > p.product_version AND c.fields
                                   THEN c.price_cents ELSE p.price_cents END,
                price_max_cents = CASE WHEN c.product_version > p.product_version AND c.fields
                                       THEN c.price_cents ELSE p.price_max_cents END,
                specs = CASE WHEN c.product_version > p.product_version AND c.specs IS NOT NULL
                             THEN c.specs ELSE p.specs END,
                on_sale = CASE WHEN c.product_version > p.product_version AND c.fields THEN c.on_sale ELSE p.on_sale END,
                limit_per_user = CASE WHEN c.product_version > p.product_version AND c.fields
                                      THEN c.limit_per_user ELSE p.limit_per_user END,
                images = CASE WHEN c.product_version > p.product_version AND c.images IS NOT NULL
                              THEN c.images ELSE p.images END,
                on_hand = CASE WHEN c.stock_version > p.stock_version
                               THEN p.on_hand + c.on_hand ELSE p.on_hand END,
                reserved = CASE WHEN c.stock_version > p.stock_version
                                THEN p.reserved + c.reserved ELSE p.reserved END,
                product_version = greatest(p.product_version, c.product_version),
                stock_version = greatest(p.stock_version, c.stock_version)
               FROM c
              WHERE p.product_id = c.product_id AND NOT c.created"
        );
        sqlx::query(&sql)
            .bind(&ids)
            .bind(&created)
            .bind(&names)
            .bind(&descriptions)
            .bind(&categories)
            .bind(&prices)
            .bind(&on_sales)
            .bind(&on_hand)
            .bind(&reserved)
            .bind(&product_versions)
            .bind(&stock_versions)
            .bind(&limits)
            .bind(&fields)
            .bind(&images)
            .bind(&specs)
            .execute(&mut *conn)
            .await?;
        // A SKU's rows after its product's (a SKU's stock after the SKU): each statement
        // sees the one before.
        sku_changes.apply(&mut *conn, target).await?;
        skus::apply_stock_moves(&mut *conn, target, &stock_moves).await?;
        sku_changes.summarize(conn, target).await?;
        Ok(())
    }
}
