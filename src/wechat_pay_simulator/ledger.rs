//! What the simulated WeChat Pay keeps (tables `dev_wechat_pay_trades` and
//! `dev_wechat_pay_refunds`): each payment opened by a prepay, paid by a simulated
//! shopper or closed; each refund asked for and settled. Its answers come from here, as
//! WeChat Pay's come from its records, never from ordo's log.

use chrono::{DateTime, NaiveDate, Utc};
use sqlx::PgPool;

use crate::wechat_pay::{BillLine, BillRefund};

/// A payment as the simulated WeChat Pay holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Trade {
    pub out_trade_no: String,
    pub openid: String,
    pub description: String,
    pub total_cents: i64,
    /// `NOTPAY`, `SUCCESS`, `CLOSED` or `REFUND`.
    pub trade_state: String,
    pub transaction_id: Option<String>,
    pub success_time: Option<DateTime<Utc>>,
}

/// A refund as the simulated WeChat Pay holds it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Refund {
    pub out_refund_no: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub refund_id: String,
    pub refund_cents: i64,
    pub total_cents: i64,
    /// `PROCESSING` or `SUCCESS`.
    pub status: String,
    pub success_time: Option<DateTime<Utc>>,
}

/// Why a refund is refused, as WeChat Pay's error codes say it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefundRefused {
    /// `RESOURCE_NOT_EXISTS`: no such paid transaction.
    NoSuchPayment,
    /// `NOT_ENOUGH`: more than what is left of the payment.
    NotEnough,
}

const TRADE_COLUMNS: &str =
    "out_trade_no, openid, description, total_cents, trade_state, transaction_id, success_time";
const REFUND_COLUMNS: &str = "out_refund_no, out_trade_no, transaction_id, refund_id, \
     refund_cents, total_cents, status, success_time";

/// The simulated WeChat Pay's records.
#[derive(Debug, Clone)]
pub struct Ledger {
    pool: PgPool,
}

impl Ledger {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// A prepay: the payment is opened (again: the same payment, its amount and payer
    /// as first asked).
    pub async fn open(
        &self,
        out_trade_no: &str,
        openid: &str,
        description: &str,
        total_cents: i64,
    ) -> Result<Trade, sqlx::Error> {
        sqlx::query(
            "INSERT INTO dev_wechat_pay_trades
                    (out_trade_no, openid, description, total_cents, trade_state)
             VALUES ($1, $2, $3, $4, 'NOTPAY') ON CONFLICT (out_trade_no) DO NOTHING",
        )
        .bind(out_trade_no)
        .bind(openid)
        .bind(description)
        .bind(total_cents)
        .execute(&self.pool)
        .await?;
        self.trade(out_trade_no)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    pub async fn trade(&self, out_trade_no: &str) -> Result<Option<Trade>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {TRADE_COLUMNS} FROM dev_wechat_pay_trades WHERE out_trade_no = $1"
        ))
        .bind(out_trade_no)
        .fetch_optional(&self.pool)
        .await
    }

    /// The shopper pays (a simulated `wx.requestPayment`): the payment succeeds once,
    /// with a transaction id of its own; paying again is the same payment. A payment
    /// never opened is opened first (dev convenience); a closed one stays closed.
    pub async fn pay(
        &self,
        out_trade_no: &str,
        openid: &str,
        total_cents: i64,
    ) -> Result<Trade, sqlx::Error> {
        self.open(out_trade_no, openid, "", total_cents).await?;
        let transaction_id = format!("4200{:024}", rand::random::<u64>());
        sqlx::query(
            "UPDATE dev_wechat_pay_trades
                SET trade_state = 'SUCCESS', transaction_id = $2, success_time = now()
              WHERE out_trade_no = $1 AND trade_state = 'NOTPAY'",
        )
        .bind(out_trade_no)
        .bind(transaction_id)
        .execute(&self.pool)
        .await?;
        self.trade(out_trade_no)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
    }

    /// Closes an unpaid payment; `None` when there is no such payment, otherwise the
    /// payment as it is now (a paid one is not closed).
    pub async fn close(&self, out_trade_no: &str) -> Result<Option<Trade>, sqlx::Error> {
        sqlx::query(
            "UPDATE dev_wechat_pay_trades SET trade_state = 'CLOSED'
              WHERE out_trade_no = $1 AND trade_state = 'NOTPAY'",
        )
        .bind(out_trade_no)
        .execute(&self.pool)
        .await?;
        self.trade(out_trade_no).await
    }

    /// A refund of a paid transaction: `PROCESSING` until the simulator settles it; the
    /// same refund number again is the same refund.
    pub async fn refund(
        &self,
        out_refund_no: &str,
        transaction_id: &str,
        refund_cents: i64,
    ) -> Result<Result<Refund, RefundRefused>, sqlx::Error> {
        if let Some(known) = self.refund_of(out_refund_no).await? {
            return Ok(Ok(known));
        }
        let mut tx = self.pool.begin().await?;
        let trade: Option<Trade> = sqlx::query_as(&format!(
            "SELECT {TRADE_COLUMNS} FROM dev_wechat_pay_trades
              WHERE transaction_id = $1 AND trade_state IN ('SUCCESS', 'REFUND') FOR UPDATE"
        ))
        .bind(transaction_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(trade) = trade else {
            return Ok(Err(RefundRefused::NoSuchPayment));
        };
        let refunded: i64 = sqlx::query_scalar(
            "SELECT coalesce(sum(refund_cents), 0)::bigint FROM dev_wechat_pay_refunds
              WHERE out_trade_no = $1",
        )
        .bind(&trade.out_trade_no)
        .fetch_one(&mut *tx)
        .await?;
        if refund_cents < 1 || refunded + refund_cents > trade.total_cents {
            return Ok(Err(RefundRefused::NotEnough));
        }
        sqlx::query(
            "INSERT INTO dev_wechat_pay_refunds (out_refund_no, out_trade_no, transaction_id,
                    refund_id, refund_cents, total_cents, status)
             VALUES ($1, $2, $3, $4, $5, $6, 'PROCESSING')",
        )
        .bind(out_refund_no)
        .bind(&trade.out_trade_no)
        .bind(transaction_id)
        .bind(format!("5030{:024}", rand::random::<u64>()))
        .bind(refund_cents)
        .bind(trade.total_cents)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE dev_wechat_pay_trades SET trade_state = 'REFUND' WHERE out_trade_no = $1",
        )
        .bind(&trade.out_trade_no)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        self.refund_of(out_refund_no)
            .await?
            .ok_or(sqlx::Error::RowNotFound)
            .map(Ok)
    }

    pub async fn refund_of(&self, out_refund_no: &str) -> Result<Option<Refund>, sqlx::Error> {
        sqlx::query_as(&format!(
            "SELECT {REFUND_COLUMNS} FROM dev_wechat_pay_refunds WHERE out_refund_no = $1"
        ))
        .bind(out_refund_no)
        .fetch_optional(&self.pool)
        .await
    }

    /// The money of these refunds reaches the shopper: `SUCCESS` (once; a settled one
    /// stays as it was). The refunds as they are now.
    pub async fn settle_refunds(
        &self,
        out_refund_nos: &[String],
    ) -> Result<Vec<Refund>, sqlx::Error> {
        sqlx::query(
            "UPDATE dev_wechat_pay_refunds SET status = 'SUCCESS', success_time = now()
              WHERE out_refund_no = ANY($1) AND status = 'PROCESSING'",
        )
        .bind(out_refund_nos)
        .execute(&self.pool)
        .await?;
        sqlx::query_as(&format!(
            "SELECT {REFUND_COLUMNS} FROM dev_wechat_pay_refunds
              WHERE out_refund_no = ANY($1) ORDER BY out_refund_no"
        ))
        .bind(out_refund_nos)
        .fetch_all(&self.pool)
        .await
    }

    /// What the day's bill lists (Beijing time): each payment made that day, and each
    /// refund asked for that day, in the order they happened.
    pub async fn day(&self, date: NaiveDate) -> Result<Vec<BillLine>, sqlx::Error> {
        type Row = (
            String,
            String,
            i64,
            String,
            Option<String>,
            Option<String>,
            Option<i64>,
            Option<String>,
        );
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT * FROM (
                SELECT out_trade_no, transaction_id, total_cents,
                       to_char(success_time AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS') AS at,
                       NULL::text AS refund_id, NULL::text AS out_refund_no,
                       NULL::bigint AS refund_cents, NULL::text AS status
                  FROM dev_wechat_pay_trades
                 WHERE transaction_id IS NOT NULL
                   AND (success_time AT TIME ZONE 'Asia/Shanghai')::date = $1
                UNION ALL
                SELECT out_trade_no, transaction_id, total_cents,
                       to_char(created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI:SS'),
                       refund_id, out_refund_no, refund_cents, status
                  FROM dev_wechat_pay_refunds
                 WHERE (created_at AT TIME ZONE 'Asia/Shanghai')::date = $1
             ) lines ORDER BY at, out_trade_no, out_refund_no NULLS FIRST",
        )
        .bind(date)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(
                    out_trade_no,
                    transaction_id,
                    total_cents,
                    at,
                    refund_id,
                    out_refund_no,
                    refund_cents,
                    status,
                )| {
                    let refund = refund_id.map(|refund_id| BillRefund {
                        refund_id,
                        out_refund_no: out_refund_no.unwrap_or_default(),
                        refund_cents: refund_cents.unwrap_or_default(),
                        status: status.unwrap_or_default(),
                    });
                    BillLine {
                        line: 0,
                        traded_at: at,
                        transaction_id,
                        out_trade_no,
                        trade_state: if refund.is_some() {
                            "REFUND"
                        } else {
                            "SUCCESS"
                        }
                        .to_owned(),
                        amount_cents: total_cents,
                        refund,
                    }
                },
            )
            .collect())
    }
}
