//! The payments ordo opened at WeChat Pay (table `payment_prepays`): written before each
//! prepay call, so that whenever WeChat Pay may hold a payment for an order, ordo knows to
//! ask about it. Settled once the payment is recorded or closed at WeChat Pay.

use std::time::Duration;

use sqlx::PgPool;
use uuid::Uuid;

use crate::database::DatabaseError;

/// The table.
#[derive(Debug, Clone)]
pub struct Prepays {
    pool: PgPool,
}

/// A payment opened at WeChat Pay and not settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct OpenPrepay {
    pub order_id: Uuid,
    /// How many times ordo asked WeChat Pay about it.
    pub checks: i32,
}

impl Prepays {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Notes that the order's payment is (about to be) opened at WeChat Pay; a repeated
    /// prepay keeps the first time.
    pub async fn opening(&self, order_id: Uuid) -> Result<(), DatabaseError> {
        sqlx::query(
            "INSERT INTO payment_prepays (order_id) VALUES ($1)
             ON CONFLICT (order_id) DO UPDATE SET settled_at = NULL",
        )
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The order's payment at WeChat Pay, if one was opened and is not settled.
    pub async fn open(&self, order_id: Uuid) -> Result<Option<OpenPrepay>, DatabaseError> {
        Ok(sqlx::query_as(
            "SELECT order_id, checks FROM payment_prepays
              WHERE order_id = $1 AND settled_at IS NULL",
        )
        .bind(order_id)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// Notes that ordo asked WeChat Pay about the order's payment just now.
    pub async fn asked(&self, order_id: Uuid) -> Result<(), DatabaseError> {
        sqlx::query(
            "UPDATE payment_prepays SET checked_at = now(), checks = checks + 1
              WHERE order_id = $1",
        )
        .bind(order_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Nothing left to ask: the payment is recorded, or closed at WeChat Pay.
    pub async fn settle(&self, order_id: Uuid) -> Result<(), DatabaseError> {
        sqlx::query("UPDATE payment_prepays SET settled_at = now() WHERE order_id = $1")
            .bind(order_id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Up to `limit` orders still awaiting payment (and not expired: the payment timeout
    /// asks about those) whose payment was opened more than `late_after` ago and whose
    /// notice has not come, each due for another question: the first after `late_after`,
    /// then after twice as long each time, at most an hour apart.
    pub async fn late(&self, late_after: Duration, limit: i64) -> Result<Vec<Uuid>, DatabaseError> {
        let late_after = i64::try_from(late_after.as_secs()).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(
            "SELECT p.order_id
               FROM payment_prepays p
               JOIN order_views v ON v.order_id = p.order_id
              WHERE p.settled_at IS NULL
                AND v.status = 'awaiting_payment' AND v.expires_at > now()
                AND p.prepaid_at <= now() - make_interval(secs => $1)
                AND (p.checked_at IS NULL OR p.checked_at <= now() - make_interval(
                        secs => least(3600, $1 * power(2, least(p.checks, 12))::bigint)))
              ORDER BY coalesce(p.checked_at, p.prepaid_at)
              LIMIT $2",
        )
        .bind(late_after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Up to `limit` cancelled orders whose payment is still open at WeChat Pay (the
    /// shopper cancelled, or the timeout's bound passed while WeChat Pay did not answer),
    /// each due for a question: at once, then after twice as long each time from
    /// `first_again`, at most an hour apart.
    pub async fn cancelled(
        &self,
        first_again: Duration,
        limit: i64,
    ) -> Result<Vec<Uuid>, DatabaseError> {
        let first_again = i64::try_from(first_again.as_secs()).unwrap_or(i64::MAX);
        Ok(sqlx::query_scalar(
            "SELECT p.order_id
               FROM payment_prepays p
               JOIN order_views v ON v.order_id = p.order_id
              WHERE p.settled_at IS NULL AND v.status = 'cancelled'
                AND (p.checked_at IS NULL OR p.checked_at <= now() - make_interval(
                        secs => least(3600, $1 * power(2, least(p.checks, 12))::bigint)))
              ORDER BY coalesce(p.checked_at, p.prepaid_at)
              LIMIT $2",
        )
        .bind(first_again)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?)
    }
}
