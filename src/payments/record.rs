//! The one path a payment takes into the log, however ordo learned of it: WeChat Pay's
//! notice, or WeChat Pay's signed answer when ordo asked (the shopper's confirmation, the
//! late-notice sweep, the check before an expiry, the reconciliation). The same checks
//! every time (merchant, app, order, trade state, amount); the Order aggregate makes it
//! idempotent across all of them: whoever comes second writes nothing.

use aggregates::order::OrderError;
use axum::http::StatusCode;
use chrono::Utc;
use uuid::Uuid;

use super::{NoticeRecord, Payments};
use crate::event_store::{EventMetadata, FeedPosition};
use crate::wechat_pay::{Transaction, quoted};
use crate::write::WriteError;

/// How ordo learned of a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LearnedBy<'a> {
    /// WeChat Pay's notice, by its id.
    Notice(&'a str),
    /// WeChat Pay's answer to ordo's query.
    Asking(Asking),
}

/// Why ordo asked WeChat Pay about a payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Asking {
    /// The shopper, after `wx.requestPayment` returned.
    Confirmation,
    /// The sweep for notices that are late.
    LateNotice,
    /// The payment timeout, before cancelling.
    Expiry,
    /// The day's bill listed it.
    Reconciliation,
    /// The order was cancelled while its payment was open at WeChat Pay (the sweep asks
    /// before closing it).
    Cancellation,
}

impl LearnedBy<'_> {
    /// The name recorded (`payment_notices.learned_by`) and shown to operators.
    pub fn name(self) -> &'static str {
        match self {
            Self::Notice(_) => "notice",
            Self::Asking(Asking::Confirmation) => "confirmation",
            Self::Asking(Asking::LateNotice) => "late_notice",
            Self::Asking(Asking::Expiry) => "expiry",
            Self::Asking(Asking::Reconciliation) => "reconciliation",
            Self::Asking(Asking::Cancellation) => "cancellation",
        }
    }

    /// Who writes the events: WeChat Pay, with the request and what caused them (the
    /// notice, or the query and the transaction it returned).
    fn metadata(self, request_id: Option<&str>, transaction: &Transaction) -> EventMetadata {
        let causation = match self {
            Self::Notice(id) => id.to_owned(),
            Self::Asking(_) => format!("{}:{}", self.name(), transaction.transaction_id),
        };
        EventMetadata {
            actor_id: Some("wechatpay".to_owned()),
            actor_role: Some("system".to_owned()),
            request_id: request_id.map(str::to_owned),
            causation_id: Some(causation),
            ..EventMetadata::default()
        }
    }
}

/// What became of a payment.
#[derive(Debug)]
pub enum PaymentRecorded {
    /// The order took it now (`written` says where), had it already (`written` is none),
    /// or could not take it and owes it back (`refund_required`).
    Taken { written: Option<FeedPosition> },
    /// Not a payment ordo can take: the status and reason to answer with.
    Refused { status: StatusCode, reason: String },
    /// Could not be written now: it is to be tried again.
    Failed(WriteError),
}

impl<'a> NoticeRecord<'a> {
    fn payment(
        outcome: &'static str,
        learned: LearnedBy<'a>,
        transaction: &'a Transaction,
    ) -> Self {
        Self {
            kind: "payment",
            outcome,
            notice_id: match learned {
                LearnedBy::Notice(id) => Some(id),
                LearnedBy::Asking(_) => None,
            },
            learned_by: Some(learned.name()),
            transaction_id: Some(&transaction.transaction_id),
            amount_cents: Some(transaction.amount.total),
            ..Self::default()
        }
    }
}

impl Payments {
    /// Records the payment `transaction` describes, learned of by `learned`.
    pub async fn record_payment(
        &self,
        transaction: &Transaction,
        learned: LearnedBy<'_>,
        request_id: Option<&str>,
    ) -> PaymentRecorded {
        let Some(config) = self.wechat_pay.config() else {
            return PaymentRecorded::Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "WeChat Pay is not configured".to_owned(),
            };
        };
        let entry =
            |outcome: &'static str, reason: Option<String>, order_id: Option<Uuid>| NoticeRecord {
                reason,
                order_id,
                request_id,
                ..NoticeRecord::payment(outcome, learned, transaction)
            };
        let refuse = |status: StatusCode, reason: String, order_id: Option<Uuid>| {
            let record = entry("refused", Some(reason.clone()), order_id);
            async move {
                self.notices.record(record).await;
                PaymentRecorded::Refused { status, reason }
            }
        };
        if transaction.mchid != config.mch_id || transaction.appid != config.app_id {
            let reason = format!(
                "mismatch: for merchant {} / app {}, not this one",
                quoted(&transaction.mchid),
                quoted(&transaction.appid)
            );
            return refuse(StatusCode::BAD_REQUEST, reason, None).await;
        }
        let Ok(order_id) = Uuid::parse_str(&transaction.out_trade_no) else {
            let reason = format!(
                "unknown order: out_trade_no {}",
                quoted(&transaction.out_trade_no)
            );
            return refuse(StatusCode::NOT_FOUND, reason, None).await;
        };
        if transaction.trade_state != "SUCCESS" {
            // Not a payment (yet): nothing to write, and nothing to be sent again.
            let reason = format!("not a payment: trade_state {}", transaction.trade_state);
            self.notices
                .record(entry("refused", Some(reason), Some(order_id)))
                .await;
            return PaymentRecorded::Taken { written: None };
        }

        let written = self
            .write
            .pay_order(
                order_id,
                transaction.transaction_id.clone(),
                transaction.amount.total,
                transaction.success_time.unwrap_or_else(Utc::now),
                &learned.metadata(request_id, transaction),
            )
            .await;
        let written = match written {
            Ok(written) => written,
            Err(WriteError::OrderNotFound) => {
                let reason = format!("unknown order {order_id}");
                return refuse(StatusCode::NOT_FOUND, reason, None).await;
            }
            Err(WriteError::Order(OrderError::AmountMismatch { expected, paid })) => {
                let reason = format!("mismatch: paid {paid}, the order's total is {expected}");
                return refuse(StatusCode::BAD_REQUEST, reason, Some(order_id)).await;
            }
            Err(err) => return PaymentRecorded::Failed(err),
        };
        // The payment is the log's now: nothing left to ask WeChat Pay about it.
        if let Err(err) = self.prepays.settle(order_id).await {
            tracing::warn!(%order_id, %err, "could not settle a recorded payment's question");
        }
        let order = written.value;
        let duplicate = written.position == FeedPosition::START;
        let outcome = if duplicate {
            "duplicate"
        } else if order.payment_id.as_deref() == Some(transaction.transaction_id.as_str()) {
            "accepted"
        } else {
            tracing::warn!(%order_id, transaction_id = transaction.transaction_id,
                learned_by = learned.name(),
                "payment for an order that could not take it: refund required");
            "refund_required"
        };
        // Every notice is recorded; a question asked again about a payment known already
        // (a shopper's repeated confirmation, a sweep) is not worth a row each time.
        if !duplicate || matches!(learned, LearnedBy::Notice(_)) {
            self.notices
                .record(entry(outcome, None, Some(order_id)))
                .await;
        }
        if !duplicate && !matches!(learned, LearnedBy::Notice(_)) {
            metrics::counter!("payments_learned_by_asking_total", "learned_by" => learned.name())
                .increment(1);
            tracing::info!(%order_id, learned_by = learned.name(),
                "payment recorded from WeChat Pay's answer (its notice had not come)");
        }
        PaymentRecorded::Taken {
            written: (!duplicate).then_some(written.position),
        }
    }
}
