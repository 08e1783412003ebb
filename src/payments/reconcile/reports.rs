//! The reconciliation reports (tables `reconciliations` and
//! `reconciliation_differences`): one per day, replaced by each run.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use super::compare::{Comparison, Side};
use crate::database::DatabaseError;

/// A day's report, as operators read it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Reconciliation {
    pub date: NaiveDate,
    /// `queued`, `matched`, `differences` or `failed`.
    pub state: String,
    /// WeChat Pay's side: `{payments, refunds, total_cents, refunded_cents}`.
    #[schema(value_type = Object)]
    pub wechat: Value,
    /// The log's side, the same fields.
    #[schema(value_type = Object)]
    pub ordo: Value,
    /// Payments and refunds both sides hold with the same amount.
    pub matched: i64,
    /// Why the run failed, when it did.
    pub error: Option<String>,
    pub ran_at: Option<DateTime<Utc>>,
    pub runs: i32,
    pub differences: Vec<ReconciliationDifference>,
}

/// One difference, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ReconciliationDifference {
    /// `missing_in_ordo`, `missing_at_wechat`, `amount_mismatch`,
    /// `refund_missing_in_ordo`, `refund_missing_at_wechat`, `refund_amount_mismatch`.
    pub kind: String,
    pub out_trade_no: String,
    pub order_id: Option<Uuid>,
    pub wechat_cents: Option<i64>,
    pub ordo_cents: Option<i64>,
    pub detail: String,
}

/// A day at a glance, for a calendar of reconciliations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema, sqlx::FromRow)]
pub struct ReconciliationDay {
    pub date: NaiveDate,
    /// `queued`, `matched`, `differences` or `failed`.
    pub state: String,
    pub matched: i64,
    /// How many differences its report lists.
    pub differences: i64,
    /// The payments' totals of each side, in cents.
    pub wechat_total_cents: i64,
    pub ordo_total_cents: i64,
    pub ran_at: Option<DateTime<Utc>>,
}

fn side(side: &Side) -> Value {
    json!({
        "payments": side.payments,
        "refunds": side.refunds,
        "total_cents": side.total_cents,
        "refunded_cents": side.refunded_cents,
    })
}

/// The reports' table.
#[derive(Debug, Clone)]
pub struct Reports {
    pool: PgPool,
}

impl Reports {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The day's report, if it was asked for or run.
    pub async fn of(&self, date: NaiveDate) -> Result<Option<Reconciliation>, DatabaseError> {
        type Row = (
            String,
            Value,
            Value,
            i64,
            Option<String>,
            Option<DateTime<Utc>>,
            i32,
        );
        let row: Option<Row> = sqlx::query_as(
            "SELECT state, wechat, ordo, matched, error, ran_at, runs
               FROM reconciliations WHERE day = $1",
        )
        .bind(date)
        .fetch_optional(&self.pool)
        .await?;
        let Some((state, wechat, ordo, matched, error, ran_at, runs)) = row else {
            return Ok(None);
        };
        let differences = sqlx::query_as(
            "SELECT kind, out_trade_no, order_id, wechat_cents, ordo_cents, detail
               FROM reconciliation_differences WHERE day = $1 ORDER BY position",
        )
        .bind(date)
        .fetch_all(&self.pool)
        .await?;
        Ok(Some(Reconciliation {
            date,
            state,
            wechat,
            ordo,
            matched,
            error,
            ran_at,
            runs,
            differences,
        }))
    }

    /// Every day from `from` to `to` (both included) that was asked for or run, by day.
    pub async fn days(
        &self,
        from: NaiveDate,
        to: NaiveDate,
    ) -> Result<Vec<ReconciliationDay>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT day AS date, state, matched,
                    (SELECT count(*) FROM reconciliation_differences d WHERE d.day = r.day)
                        AS differences,
                    coalesce((wechat ->> 'total_cents')::bigint, 0) AS wechat_total_cents,
                    coalesce((ordo ->> 'total_cents')::bigint, 0) AS ordo_total_cents,
                    ran_at
               FROM reconciliations r WHERE day BETWEEN $1 AND $2 ORDER BY day",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Asks for the day to be reconciled by the next run (kept as it is when it ran).
    pub async fn queue(&self, date: NaiveDate) -> Result<(), DatabaseError> {
        sqlx::query(
            "INSERT INTO reconciliations (day, state) VALUES ($1, 'queued')
             ON CONFLICT (day) DO UPDATE SET state = 'queued', asked_at = now()",
        )
        .bind(date)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The days asked for and not run since, oldest first.
    pub async fn queued(&self) -> Result<Vec<NaiveDate>, DatabaseError> {
        Ok(sqlx::query_scalar(
            "SELECT day FROM reconciliations WHERE state = 'queued' ORDER BY asked_at",
        )
        .fetch_all(&self.pool)
        .await?)
    }

    /// Replaces the day's report with this run's.
    pub async fn save(
        &self,
        date: NaiveDate,
        comparison: &Comparison,
        differences: &[ReconciliationDifference],
    ) -> Result<(), DatabaseError> {
        let state = if differences.is_empty() {
            "matched"
        } else {
            "differences"
        };
        let mut tx = self.pool.begin().await?;
        sqlx::query(
            "INSERT INTO reconciliations (day, state, wechat, ordo, matched, error, ran_at, runs)
             VALUES ($1, $2, $3, $4, $5, NULL, now(), 1)
             ON CONFLICT (day) DO UPDATE SET state = $2, wechat = $3, ordo = $4, matched = $5,
                 error = NULL, ran_at = now(), runs = reconciliations.runs + 1",
        )
        .bind(date)
        .bind(state)
        .bind(side(&comparison.wechat))
        .bind(side(&comparison.ordo))
        .bind(comparison.matched)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM reconciliation_differences WHERE day = $1")
            .bind(date)
            .execute(&mut *tx)
            .await?;
        // Every difference in one statement: a day with a large outage lists thousands.
        let column = |field: fn(&ReconciliationDifference) -> String| -> Vec<String> {
            differences.iter().map(field).collect()
        };
        sqlx::query(
            "INSERT INTO reconciliation_differences
                    (day, position, kind, out_trade_no, order_id, wechat_cents, ordo_cents, detail)
             SELECT $1, position::int - 1, kind, out_trade_no, order_id, wechat_cents,
                    ordo_cents, detail
               FROM unnest($2::text[], $3::text[], $4::uuid[], $5::bigint[], $6::bigint[],
                           $7::text[])
                    WITH ORDINALITY AS d (kind, out_trade_no, order_id, wechat_cents,
                                          ordo_cents, detail, position)",
        )
        .bind(date)
        .bind(column(|d| d.kind.clone()))
        .bind(column(|d| d.out_trade_no.clone()))
        .bind(differences.iter().map(|d| d.order_id).collect::<Vec<_>>())
        .bind(
            differences
                .iter()
                .map(|d| d.wechat_cents)
                .collect::<Vec<_>>(),
        )
        .bind(differences.iter().map(|d| d.ordo_cents).collect::<Vec<_>>())
        .bind(column(|d| d.detail.clone()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Notes that the day's run failed, and why; its last report's differences stay.
    pub async fn failed(&self, date: NaiveDate, error: &str) -> Result<(), DatabaseError> {
        sqlx::query(
            "INSERT INTO reconciliations (day, state, error, ran_at, runs)
             VALUES ($1, 'failed', $2, now(), 1)
             ON CONFLICT (day) DO UPDATE SET state = 'failed', error = $2, ran_at = now(),
                 runs = reconciliations.runs + 1",
        )
        .bind(date)
        .bind(error)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
