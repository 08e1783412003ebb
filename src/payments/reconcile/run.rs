//! One reconciliation run: WeChat Pay's bill of the day against the log's payments and
//! refunds of the same day (Beijing time), the payments the log lacks recorded through
//! the one payment path (and still listed as `missing_in_ordo`, with what became of
//! them), the report kept. A bill that does not check out (its digest, its format)
//! records nothing.

use crate::beijing::BEIJING;
use std::collections::{HashMap, HashSet};

use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

use super::compare::compare;
use super::reports::{Reconciliation, ReconciliationDifference};
use crate::database::DatabaseError;
use crate::payments::Payments;
use crate::payments::record::{Asking, LearnedBy, PaymentRecorded};
use crate::wechat_pay::{Amount, BillError, BillLine, PayError, Transaction, parse_bill};

#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("WeChat Pay's bill: {0}")]
    Pay(#[from] PayError),
    #[error("WeChat Pay's bill cannot be read: {0}")]
    Bill(#[from] BillError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("the payments read model: {0}")]
    ReadModel(String),
}

/// The day's bounds, in UTC.
fn bounds(date: NaiveDate) -> (DateTime<Utc>, DateTime<Utc>) {
    let start = |date: NaiveDate| {
        BEIJING
            .from_local_datetime(&date.and_hms_opt(0, 0, 0).unwrap_or_default())
            .single()
            .map(|at| at.with_timezone(&Utc))
            .unwrap_or_default()
    };
    (start(date), start(date.succ_opt().unwrap_or(date)))
}

impl Payments {
    /// Reconciles `date`: the report, kept; or why not (kept too, as a failed run).
    pub async fn reconcile(&self, date: NaiveDate) -> Result<Reconciliation, ReconcileError> {
        match self.reconcile_once(date).await {
            Ok(()) => {}
            Err(err) => {
                self.reports.failed(date, &err.to_string()).await?;
                return Err(err);
            }
        }
        self.reports
            .of(date)
            .await?
            .ok_or_else(|| ReconcileError::ReadModel("the report was not kept".to_owned()))
    }

    async fn reconcile_once(&self, date: NaiveDate) -> Result<(), ReconcileError> {
        let bill = match self.wechat_pay.trade_bill(date).await? {
            Some(text) => parse_bill(&text)?.lines,
            None => Vec::new(),
        };
        let (from, to) = bounds(date);
        let ledger = projections::payments::between(&self.pool, from, to)
            .await
            .map_err(|err| ReconcileError::ReadModel(err.to_string()))?;
        // What an earlier run found missing and recorded stays listed as such.
        let earlier: Vec<ReconciliationDifference> = self
            .reports
            .of(date)
            .await?
            .map(|report| report.differences)
            .unwrap_or_default()
            .into_iter()
            .filter(|difference| difference.kind == "missing_in_ordo")
            .collect();
        let comparison = compare(&bill, &ledger);
        // By out_trade_no: a day with a long outage lists thousands of lost notices.
        let unrecorded: HashMap<&str, &BillLine> = comparison
            .unrecorded
            .iter()
            .map(|line| (line.out_trade_no.as_str(), line))
            .collect();
        let mut differences: Vec<ReconciliationDifference> = Vec::new();
        for difference in &comparison.differences {
            let mut reported = ReconciliationDifference {
                kind: difference.kind.to_owned(),
                out_trade_no: difference.out_trade_no.clone(),
                order_id: difference.order_id,
                wechat_cents: difference.wechat_cents,
                ordo_cents: difference.ordo_cents,
                detail: difference.detail.clone(),
            };
            if difference.kind == "missing_in_ordo"
                && let Some(line) = unrecorded.get(difference.out_trade_no.as_str())
            {
                let outcome = self.record_from_bill(line).await;
                reported.detail = format!("{}; {outcome}", reported.detail);
            }
            differences.push(reported);
        }
        let listed: HashSet<String> = differences
            .iter()
            .map(|difference| difference.out_trade_no.clone())
            .collect();
        differences.extend(
            earlier
                .into_iter()
                .filter(|earlier| !listed.contains(&earlier.out_trade_no)),
        );
        self.reports.save(date, &comparison, &differences).await?;
        Ok(())
    }

    /// Records a payment only the bill knows of, as its notice would have: what became
    /// of it, for the report.
    async fn record_from_bill(&self, line: &BillLine) -> String {
        let Some(config) = self.wechat_pay.config() else {
            return "not recorded: WeChat Pay is not configured".to_owned();
        };
        let success_time = NaiveDateTime::parse_from_str(&line.traded_at, "%Y-%m-%d %H:%M:%S")
            .ok()
            .and_then(|at| BEIJING.from_local_datetime(&at).single())
            .map(|at| at.with_timezone(&Utc));
        let transaction = Transaction {
            appid: config.app_id.clone(),
            mchid: config.mch_id.clone(),
            out_trade_no: line.out_trade_no.clone(),
            transaction_id: line.transaction_id.clone(),
            trade_state: "SUCCESS".to_owned(),
            trade_type: "JSAPI".to_owned(),
            success_time,
            amount: Amount {
                total: line.amount_cents,
                currency: "CNY".to_owned(),
            },
            payer: None,
        };
        let learned = LearnedBy::Asking(Asking::Reconciliation);
        match self.record_payment(&transaction, learned, None).await {
            PaymentRecorded::Taken { written: Some(_) } => {
                "recorded now by the reconciliation".to_owned()
            }
            PaymentRecorded::Taken { written: None } => "known to the log meanwhile".to_owned(),
            PaymentRecorded::Refused { reason, .. } => format!("not recorded: {reason}"),
            PaymentRecorded::Failed(err) => format!("not recorded yet ({err}): run again"),
        }
    }
}
