//! The record of every notice WeChat Pay's key vouches for (table `payment_notices`),
//! with what ordo made of it: what operators list when a shopper says "I paid".

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgPool;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::database::DatabaseError;
use projections::stored_text::{escape, unescaped};

/// The outcomes a notice may have, as recorded.
pub const OUTCOMES: [&str; 4] = ["accepted", "duplicate", "refund_required", "refused"];

/// What ordo made of a notice, as it is recorded.
#[derive(Debug, Default)]
pub struct NoticeRecord<'a> {
    /// `payment` or `refund`.
    pub kind: &'static str,
    pub outcome: &'static str,
    pub reason: Option<String>,
    pub notice_id: Option<&'a str>,
    pub transaction_id: Option<&'a str>,
    pub amount_cents: Option<i64>,
    pub order_id: Option<Uuid>,
    pub refund_no: Option<&'a str>,
    /// The request that brought it.
    pub request_id: Option<&'a str>,
    /// How ordo learned of a payment (`notice` when none is given).
    pub learned_by: Option<&'static str>,
}

/// One recorded payment or refund notice.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
pub struct PaymentNotice {
    pub id: i64,
    pub received_at: DateTime<Utc>,
    /// `payment` or `refund`.
    pub kind: String,
    /// The refund's number (`out_refund_no`), for a refund notice.
    pub refund_no: Option<String>,
    /// accepted, duplicate, refund_required or refused.
    pub outcome: String,
    /// Why it was refused.
    pub reason: Option<String>,
    pub notice_id: Option<String>,
    pub transaction_id: Option<String>,
    pub order_id: Option<Uuid>,
    pub amount_cents: Option<i64>,
    pub request_id: Option<String>,
    /// How ordo learned of it: `notice`, or by asking WeChat Pay (`confirmation`,
    /// `late_notice`, `expiry`, `reconciliation`).
    pub learned_by: String,
}

impl PaymentNotice {
    /// The notice's text as it arrived (stored escaped: `projections::stored_text`).
    fn unescaped(self) -> Self {
        let text = |value: Option<String>| value.map(unescaped);
        Self {
            reason: text(self.reason),
            notice_id: text(self.notice_id),
            transaction_id: text(self.transaction_id),
            request_id: text(self.request_id),
            refund_no: text(self.refund_no),
            ..self
        }
    }
}

/// The table of notices.
#[derive(Debug, Clone)]
pub struct NoticeLog {
    pool: PgPool,
}

impl NoticeLog {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// Records a notice, counted by outcome and kind. A failure to record is logged: the
    /// notice's effect (a payment, a refund) is in the event log whatever happens here.
    pub async fn record(&self, record: NoticeRecord<'_>) {
        metrics::counter!("payment_notices_total", "outcome" => record.outcome, "kind" => record.kind)
            .increment(1);
        if record.outcome == "refused" {
            tracing::warn!(
                reason = record.reason.as_deref(),
                kind = record.kind,
                "notice refused"
            );
        }
        let written = sqlx::query(
            "INSERT INTO payment_notices (kind, outcome, reason, notice_id, transaction_id,
                    order_id, amount_cents, request_id, refund_no, learned_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(record.kind)
        .bind(record.outcome)
        .bind(record.reason.as_deref().map(escape))
        .bind(record.notice_id.map(escape))
        .bind(record.transaction_id.map(escape))
        .bind(record.order_id)
        .bind(record.amount_cents)
        .bind(record.request_id.map(escape))
        .bind(record.refund_no.map(escape))
        .bind(record.learned_by.unwrap_or("notice"))
        .execute(&self.pool)
        .await;
        if let Err(err) = written {
            tracing::error!(%err, outcome = record.outcome, "could not record a payment notice");
        }
    }

    /// One page of notices, newest first, with this outcome if one is given, and how
    /// many there are in all.
    pub async fn page(
        &self,
        outcome: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> Result<(Vec<PaymentNotice>, i64), DatabaseError> {
        let total: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM payment_notices WHERE $1::text IS NULL OR outcome = $1",
        )
        .bind(outcome)
        .fetch_one(&self.pool)
        .await?;
        let list: Vec<PaymentNotice> = sqlx::query_as(
            "SELECT id, received_at, kind, refund_no, outcome, reason, notice_id, transaction_id,
                    order_id, amount_cents, request_id, learned_by
               FROM payment_notices WHERE $1::text IS NULL OR outcome = $1
              ORDER BY id DESC LIMIT $2 OFFSET $3",
        )
        .bind(outcome)
        .bind(limit)
        .bind(offset)
        .fetch_all(&self.pool)
        .await?;
        Ok((
            list.into_iter().map(PaymentNotice::unescaped).collect(),
            total,
        ))
    }
}
