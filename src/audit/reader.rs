//! The audit as auditors' requests read it: an order's history and state as of an
//! instant, a product's stock then and its latest moves, the log as NDJSON, the seals,
//! and the verification. Typed answers; the SQL on `events` is in the modules beside.

use chrono::{DateTime, Utc};
use futures::{Stream, StreamExt};
use sqlx::PgPool;
use uuid::Uuid;

use super::export::{self, ExportRange};
use super::history::{self, AsOf, HistoryEntry, StateError};
use super::sealer::{self, Seal};
use super::stock_moves::{self, MovesError, StockMove};
use super::verify::{self, Progress, Report, VerifyError};
use crate::database::DatabaseError;
use aggregates::order::Order;
use aggregates::stock::Stock;
use projections::Projector;
use projections::cancellation::Cancellation;

/// Reads for auditors over one database.
#[derive(Debug, Clone)]
pub struct AuditReader {
    pool: PgPool,
}

impl AuditReader {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Every event of the order and of the stock moves it caused, in commit order.
    pub async fn order_history(&self, order_id: Uuid) -> Result<Vec<HistoryEntry>, DatabaseError> {
        Ok(history::order_history(&self.pool, order_id).await?)
    }

    /// The order as it was at `as_of`, with its products' stock then.
    pub async fn order_as_of(
        &self,
        order_id: Uuid,
        as_of: DateTime<Utc>,
    ) -> Result<(AsOf<Order>, Vec<(Uuid, Uuid, AsOf<Stock>)>), StateError> {
        history::order_as_of(&self.pool, order_id, as_of).await
    }

    /// A SKU's stock as it was at `as_of`.
    pub async fn stock_as_of(
        &self,
        sku_id: Uuid,
        as_of: DateTime<Utc>,
    ) -> Result<AsOf<Stock>, StateError> {
        history::state_as_of::<Stock>(&self.pool, &sku_id.to_string(), as_of).await
    }

    /// A SKU's latest `limit` stock moves, with the stock each left.
    pub async fn stock_moves(
        &self,
        sku_id: Uuid,
        limit: i64,
    ) -> Result<Vec<StockMove>, MovesError> {
        stock_moves::latest(&self.pool, sku_id, limit).await
    }

    /// The log in `range` as NDJSON lines, streamed.
    pub fn export(
        &self,
        range: ExportRange,
    ) -> impl Stream<Item = Result<String, DatabaseError>> + use<> {
        export::stream(self.pool.clone(), range).map(|chunk| chunk.map_err(DatabaseError::from))
    }

    /// The seals, newest first, one page.
    pub async fn seals(&self, limit: i64, offset: i64) -> Result<(Vec<Seal>, i64), DatabaseError> {
        Ok(sealer::list(&self.pool, limit, offset).await?)
    }

    /// Verifies the log (and the read models, given their projector).
    pub async fn verify(
        &self,
        projector: Option<&Projector>,
        cancellation: &Cancellation,
        progress: impl FnMut(Progress),
    ) -> Result<Report, VerifyError> {
        verify::verify(&self.pool, projector, cancellation, progress).await
    }
}
