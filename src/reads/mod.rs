//! The read models as handlers query them: the catalog, orders, projections' checkpoints
//! and parked events, and whether a projector runs. Typed answers and errors; the SQL is
//! beside the tables, in the `projections` crate. The catalog and the shoppers' orders
//! are read from a streaming replica when one is configured (see [`replica`]).

pub mod replica;

use std::collections::HashMap;

use sqlx::PgPool;
use uuid::Uuid;

use crate::database::{self, DatabaseError};
use crate::event_store::FeedPosition;
use projections::after_sales::query::{self as after_sales, AfterSaleRow};
use projections::catalog::query::{self as catalog, CatalogFilter, CatalogRow, SkuRow};
use projections::orders::query::{self as orders, OrderRow};
use projections::orders::shop::{self, Cursor, ShopFilter, ShopOrderRow};
use projections::parking::ParkedEvent;
use replica::Replica;

/// Queries over the read models.
#[derive(Debug, Clone)]
pub struct ReadModels {
    pool: PgPool,
    replica: Option<Replica>,
}

/// A page of the after-sales queue.
pub struct AfterSaleQueue {
    pub rows: Vec<AfterSaleRow>,
    pub next: Option<after_sales::Cursor>,
    /// How many after-sales are in each status.
    pub counts: Vec<(String, i64)>,
}

/// One page of rows and how many there are in all.
pub type Page<T> = (Vec<T>, i64);

impl ReadModels {
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            replica: None,
        }
    }

    /// Reads the catalog and shoppers' orders from `replica` while it keeps up.
    pub fn with_replica(pool: PgPool, replica: Option<Replica>) -> Self {
        Self { pool, replica }
    }

    /// The replica, if reads may go to one.
    pub fn replica(&self) -> Option<&Replica> {
        self.replica.as_ref()
    }

    /// Runs `read` on the replica when it may answer `caller`, else on the primary.
    async fn routed<T, F, Fut>(&self, caller: Option<&str>, read: F) -> Result<T, sqlx::Error>
    where
        F: Fn(PgPool) -> Fut,
        Fut: std::future::Future<Output = Result<T, sqlx::Error>>,
    {
        match &self.replica {
            Some(replica) => replica.read(caller, read).await,
            None => read(self.pool.clone()).await,
        }
    }

    /// Products on sale matching `filter`, one page.
    pub async fn catalog_page(
        &self,
        filter: CatalogFilter<'_>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<CatalogRow>, DatabaseError> {
        Ok(self
            .routed(None, |pool| async move {
                catalog::page(&pool, filter, limit, offset).await
            })
            .await?)
    }

    /// One product of the catalog with its SKUs (its one SKU, itself, when it has no
    /// specs).
    pub async fn product_with_skus(
        &self,
        id: Uuid,
    ) -> Result<Option<(CatalogRow, Vec<SkuRow>)>, DatabaseError> {
        Ok(self
            .routed(None, |pool| async move {
                let Some(product) = catalog::product(&pool, id).await? else {
                    return Ok(None);
                };
                let skus = catalog::skus(&pool, &product).await?;
                Ok(Some((product, skus)))
            })
            .await?)
    }

    /// One page of the shop's orders, newest first, and where the next starts.
    pub async fn shop_orders(
        &self,
        filter: &ShopFilter,
        after: Option<Cursor>,
        size: i64,
    ) -> Result<(Vec<ShopOrderRow>, Option<Cursor>), DatabaseError> {
        Ok(shop::page(&self.pool, filter, after, size).await?)
    }

    /// Every order under `filter`, newest first, as a stream of keyset pages of `size`:
    /// one page in memory at a time, however many orders match (the export).
    pub fn shop_order_pages(
        &self,
        filter: ShopFilter,
        size: i64,
    ) -> impl futures::Stream<Item = Result<Vec<ShopOrderRow>, DatabaseError>> + use<> {
        let pool = self.pool.clone();
        futures::stream::try_unfold(Some(None), move |after: Option<Option<Cursor>>| {
            let (pool, filter) = (pool.clone(), filter.clone());
            async move {
                let Some(after) = after else {
                    return Ok(None);
                };
                let (rows, next) = shop::page(&pool, &filter, after, size).await?;
                if rows.is_empty() {
                    return Ok(None);
                }
                // `None` after the last page ends the stream at the next turn.
                Ok(Some((rows, next.map(Some))))
            }
        })
    }

    /// The shop's orders per status under `filter` (its status aside).
    pub async fn shop_order_counts(
        &self,
        filter: &ShopFilter,
    ) -> Result<std::collections::BTreeMap<String, i64>, DatabaseError> {
        Ok(shop::counts(&self.pool, filter).await?)
    }

    /// One order of `user_id`.
    pub async fn order_of(
        &self,
        order_id: Uuid,
        user_id: &str,
    ) -> Result<Option<OrderRow>, DatabaseError> {
        Ok(self
            .routed(Some(user_id), |pool| async move {
                orders::order_of(&pool, order_id, user_id).await
            })
            .await?)
    }

    /// The after-sales of an order, oldest first.
    pub async fn after_sales_of(&self, order_id: Uuid) -> Result<Vec<AfterSaleRow>, DatabaseError> {
        Ok(after_sales::of_order(&self.pool, order_id).await?)
    }

    /// One after-sale.
    pub async fn after_sale(&self, id: &str) -> Result<Option<AfterSaleRow>, DatabaseError> {
        Ok(after_sales::one(&self.pool, id).await?)
    }

    /// One page of the after-sales queue, newest first, with where the next starts and
    /// how many are in each status.
    pub async fn after_sale_queue(
        &self,
        status: Option<&str>,
        after: Option<&after_sales::Cursor>,
        size: i64,
    ) -> Result<AfterSaleQueue, DatabaseError> {
        let (rows, next) = after_sales::page(&self.pool, status, after, size).await?;
        let counts = after_sales::counts(&self.pool).await?;
        Ok(AfterSaleQueue { rows, next, counts })
    }

    /// `user_id`'s orders, newest first, in `status` if given.
    pub async fn orders_of(
        &self,
        user_id: &str,
        status: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<Page<OrderRow>, DatabaseError> {
        Ok(self
            .routed(Some(user_id), |pool| async move {
                orders::orders_of(&pool, user_id, status, limit, offset).await
            })
            .await?)
    }

    /// Orders holding a payment they could not take, newest first.
    pub async fn owing_refunds(
        &self,
        limit: i64,
        offset: i64,
    ) -> Result<Page<OrderRow>, DatabaseError> {
        Ok(orders::owing_refunds(&self.pool, limit, offset).await?)
    }

    /// How far the projection `name` has applied the feed.
    pub async fn checkpoint(&self, name: &str) -> Result<FeedPosition, DatabaseError> {
        Ok(projections::checkpoint::read(&self.pool, name)
            .await?
            .map_or(FeedPosition::START, |checkpoint| checkpoint.position()))
    }

    /// Events each projection parked, by projection.
    pub async fn parked_counts(&self) -> Result<HashMap<String, i64>, DatabaseError> {
        Ok(projections::parking::counts(&self.pool).await?)
    }

    /// Events the projection `name` parked, one page.
    pub async fn parked(
        &self,
        name: &str,
        limit: i64,
        offset: i64,
    ) -> Result<Vec<ParkedEvent>, DatabaseError> {
        Ok(projections::parking::list(&self.pool, Some(name), limit, offset).await?)
    }

    /// Whether any process runs a projector on this database.
    pub async fn projector_running(&self) -> Result<bool, DatabaseError> {
        Ok(projections::status::any_projector_running(&self.pool).await?)
    }

    /// Migrations this binary has that the database lacks.
    pub async fn pending_migrations(&self) -> Result<usize, DatabaseError> {
        Ok(database::pending_migrations(&self.pool).await?)
    }
}
