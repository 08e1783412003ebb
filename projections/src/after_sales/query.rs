//! Reading the after-sales: an order's, one by id, and the merchant's queue by status
//! (newest first, keyset pages: a deep page costs what the first does).

use chrono::{DateTime, Utc};
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::stored_text::unescaped as text;

/// One after-sale as the read model holds it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AfterSaleRow {
    pub after_sale_id: String,
    pub order_id: Uuid,
    pub kind: String,
    pub status: String,
    /// `[{"sku_id","quantity"}]`.
    pub lines: Value,
    pub reason: String,
    pub refund_cents: Option<i64>,
    pub refund_no: Option<String>,
    pub reject_reason: Option<String>,
    pub return_express_company: Option<String>,
    pub return_tracking_no: Option<String>,
    pub requested_at: DateTime<Utc>,
    pub received_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

impl AfterSaleRow {
    /// The texts as the events hold them (stored escaped, see [`crate::stored_text`]).
    fn unescaped(self) -> Self {
        Self {
            reason: text(self.reason),
            reject_reason: self.reject_reason.map(text),
            return_express_company: self.return_express_company.map(text),
            return_tracking_no: self.return_tracking_no.map(text),
            ..self
        }
    }
}

fn unescaped(rows: Vec<AfterSaleRow>) -> Vec<AfterSaleRow> {
    rows.into_iter().map(AfterSaleRow::unescaped).collect()
}

const COLUMNS: &str = "after_sale_id, order_id, kind, status, lines, reason, refund_cents, \
    refund_no, reject_reason, return_express_company, return_tracking_no, requested_at, \
    received_at, updated_at";

/// Where the next page of the queue starts: opaque to clients, `<micros>_<id>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cursor {
    pub requested_at: DateTime<Utc>,
    pub after_sale_id: String,
}

impl Cursor {
    pub fn encode(&self) -> String {
        format!(
            "{}_{}",
            self.requested_at.timestamp_micros(),
            self.after_sale_id
        )
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (micros, id) = text.split_once('_')?;
        aggregates::order::parse_after_sale_id(id)?;
        Some(Self {
            requested_at: DateTime::from_timestamp_micros(micros.parse().ok()?)?,
            after_sale_id: id.to_owned(),
        })
    }
}

/// The after-sales of `order_id`, oldest first.
pub async fn of_order(pool: &PgPool, order_id: Uuid) -> Result<Vec<AfterSaleRow>, sqlx::Error> {
    let rows = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM after_sales WHERE order_id = $1 ORDER BY no"
    ))
    .bind(order_id)
    .fetch_all(pool)
    .await?;
    Ok(unescaped(rows))
}

/// The after-sale `id`.
pub async fn one(pool: &PgPool, id: &str) -> Result<Option<AfterSaleRow>, sqlx::Error> {
    let row: Option<AfterSaleRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM after_sales WHERE after_sale_id = $1"
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(AfterSaleRow::unescaped))
}

/// One page of the queue (all statuses, or `status`), newest first.
pub async fn page(
    pool: &PgPool,
    status: Option<&str>,
    after: Option<&Cursor>,
    size: i64,
) -> Result<(Vec<AfterSaleRow>, Option<Cursor>), sqlx::Error> {
    // One statement per filter, each matching its index (`after_sales_by_status` or
    // `after_sales_queue`): a prepared statement with `$1 IS NULL OR …` gets a generic
    // plan that reads and sorts every row.
    let mut conditions = Vec::new();
    if status.is_some() {
        conditions.push("status = $2".to_owned());
    }
    if after.is_some() {
        let first = 2 + conditions.len();
        conditions.push(format!(
            "(requested_at, after_sale_id) < (${first}, ${})",
            first + 1
        ));
    }
    let filter = if conditions.is_empty() {
        String::new()
    } else {
        format!("WHERE {}", conditions.join(" AND "))
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM after_sales {filter}
          ORDER BY requested_at DESC, after_sale_id DESC
          LIMIT $1"
    );
    let mut query = sqlx::query_as::<_, AfterSaleRow>(&sql).bind(size + 1);
    if let Some(status) = status {
        query = query.bind(status);
    }
    if let Some(cursor) = after {
        query = query.bind(cursor.requested_at).bind(&cursor.after_sale_id);
    }
    let mut rows = unescaped(query.fetch_all(pool).await?);
    let next = if rows.len() > usize::try_from(size).unwrap_or(usize::MAX) {
        rows.pop();
        rows.last().map(|row| Cursor {
            requested_at: row.requested_at,
            after_sale_id: row.after_sale_id.clone(),
        })
    } else {
        None
    };
    Ok((rows, next))
}

/// How many after-sales are in each status (the queue's tabs).
pub async fn counts(pool: &PgPool) -> Result<Vec<(String, i64)>, sqlx::Error> {
    sqlx::query_as("SELECT status, count(*) FROM after_sales GROUP BY status ORDER BY status")
        .fetch_all(pool)
        .await
}
