//! Reading the order views: a shopper's order and their list, and the orders whose
//! payment time is up. The columns of `order_views` and `order_counts` are spelled here
//! and in the projection beside it, nowhere else.

use std::collections::BTreeMap;

use aggregates::order::{Address, OrderLine, Refund};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use sqlx::PgPool;
use sqlx::types::Json;
use uuid::Uuid;

use crate::stored_text::unescaped as text;

/// An order as the views hold it, its text as the events held it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OrderRow {
    pub order_id: Uuid,
    /// `awaiting_payment`, `paid`, `shipped`, `completed` or `cancelled`.
    pub status: String,
    pub lines: Json<Vec<OrderLine>>,
    pub total_cents: i64,
    pub address: Json<Address>,
    pub remark: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
    pub carrier: Option<String>,
    pub tracking_no: Option<String>,
    pub shipped_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub payment_id: Option<String>,
    pub refunds_due: Json<Vec<RefundRow>>,
    /// Each refund by its number.
    pub refunds: Json<BTreeMap<String, Refund>>,
    pub refunded_at: Option<DateTime<Utc>>,
}

/// A payment owed back, as the views hold it.
#[derive(Debug, Clone, Deserialize)]
pub struct RefundRow {
    pub payment_id: String,
    pub amount_cents: i64,
    /// `paid_after_cancel` or `paid_twice`.
    pub reason: String,
}

impl OrderRow {
    /// The text as the events held it (see [`crate::stored_text`]).
    pub(crate) fn unescaped(self) -> Self {
        let Json(address) = self.address;
        Self {
            lines: Json(
                self.lines
                    .0
                    .into_iter()
                    .map(|line| OrderLine {
                        name: text(line.name),
                        image: line.image.map(text),
                        ..line
                    })
                    .collect(),
            ),
            address: Json(Address {
                name: text(address.name),
                phone: text(address.phone),
                province: text(address.province),
                city: text(address.city),
                district: text(address.district),
                detail: text(address.detail),
            }),
            remark: text(self.remark),
            carrier: self.carrier.map(text),
            tracking_no: self.tracking_no.map(text),
            payment_id: self.payment_id.map(text),
            refunds_due: Json(
                self.refunds_due
                    .0
                    .into_iter()
                    .map(|due| RefundRow {
                        payment_id: text(due.payment_id),
                        ..due
                    })
                    .collect(),
            ),
            refunds: Json(
                self.refunds
                    .0
                    .into_iter()
                    .map(|(number, refund)| {
                        let refund = Refund {
                            payment_id: text(refund.payment_id),
                            reason: text(refund.reason),
                            provider_refund_id: refund.provider_refund_id.map(text),
                            failure: refund.failure.map(text),
                            abnormal: refund.abnormal.map(text),
                            ..refund
                        };
                        (number, refund)
                    })
                    .collect(),
            ),
            ..self
        }
    }

    /// The refunds, oldest first.
    pub fn refunds(&self) -> Vec<Refund> {
        let mut refunds: Vec<Refund> = self.refunds.0.values().cloned().collect();
        refunds.sort_by(|a, b| {
            (a.requested_at, a.refund_no.len(), &a.refund_no).cmp(&(
                b.requested_at,
                b.refund_no.len(),
                &b.refund_no,
            ))
        });
        refunds
    }
}

pub(crate) const COLUMNS: &str =
    "order_id, status, lines, total_cents, address, remark, created_at,
    expires_at, paid_at, cancelled_at, cancel_reason, carrier, tracking_no, shipped_at,
    completed_at, payment_id, refunds_due, refunds, refunded_at";

/// The order if it is `user_id`'s.
pub async fn order_of(
    pool: &PgPool,
    order_id: Uuid,
    user_id: &str,
) -> Result<Option<OrderRow>, sqlx::Error> {
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_views WHERE order_id = $1 AND user_id = $2"
    ))
    .bind(order_id)
    .bind(user_id)
    .fetch_optional(pool)
    .await?;
    Ok(row.map(OrderRow::unescaped))
}

/// A page of `user_id`'s orders (in `status`, if given), newest first, and how many there
/// are in all: counted from `order_counts`, the same cost for any history.
pub async fn orders_of(
    pool: &PgPool,
    user_id: &str,
    status: Option<&str>,
    limit: i64,
    offset: i64,
) -> Result<(Vec<OrderRow>, i64), sqlx::Error> {
    let condition = "user_id = $1 AND ($2::text IS NULL OR status = $2)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT coalesce(sum(orders), 0)::bigint FROM order_counts WHERE {condition}"
    ))
    .bind(user_id)
    .bind(status)
    .fetch_one(pool)
    .await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_views WHERE {condition}
          ORDER BY created_at DESC, order_id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(user_id)
    .bind(status)
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows.into_iter().map(OrderRow::unescaped).collect(), total))
}

/// A page of the orders holding payments they could not take (`refunds_due`) or a
/// refund the provider reports stuck (`refund_attention`), newest first, and how many
/// there are: what operators see to. Served by a partial index, so the cost follows the
/// orders owing money, not all orders.
pub async fn owing_refunds(
    pool: &PgPool,
    limit: i64,
    offset: i64,
) -> Result<(Vec<OrderRow>, i64), sqlx::Error> {
    let condition = "(refunds_due <> '[]'::jsonb OR refund_attention)";
    let total: i64 = sqlx::query_scalar(&format!(
        "SELECT count(*) FROM order_views WHERE {condition}"
    ))
    .fetch_one(pool)
    .await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {COLUMNS} FROM order_views WHERE {condition}
          ORDER BY created_at DESC, order_id DESC LIMIT $1 OFFSET $2"
    ))
    .bind(limit)
    .bind(offset)
    .fetch_all(pool)
    .await?;
    Ok((rows.into_iter().map(OrderRow::unescaped).collect(), total))
}

/// Up to `limit` orders still awaiting payment past their expiry, oldest expiry first.
pub async fn expired_unpaid(pool: &PgPool, limit: i64) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT order_id FROM order_views
          WHERE status = 'awaiting_payment' AND expires_at <= now()
          ORDER BY expires_at LIMIT $1",
    )
    .bind(limit)
    .fetch_all(pool)
    .await
}

/// Up to `limit` orders with a refund waiting for the payment provider's answer, after
/// `after` in id order (keyset paging: every waiting refund is reached, however many).
pub async fn refund_pending(
    pool: &PgPool,
    after: Uuid,
    limit: i64,
) -> Result<Vec<Uuid>, sqlx::Error> {
    sqlx::query_scalar(
        "SELECT order_id FROM order_views
          WHERE refund_pending AND order_id > $1
          ORDER BY order_id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(pool)
    .await
}
