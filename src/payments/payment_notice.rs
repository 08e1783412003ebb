//! WeChat Pay's payment notice: opened (see `opening`), checked (merchant, app, order,
//! amount, trade state), then the order paid through the write model; recorded with what
//! ordo made of it. Repeating a notice changes nothing and is taken again.

use aggregates::order::OrderError;
use axum::http::StatusCode;
use chrono::Utc;
use uuid::Uuid;

use super::opening::{Arrived, notice_metadata};
use super::{NoticeHandled, NoticeRecord, Payments};
use crate::event_store::FeedPosition;
use crate::wechat_pay::{Transaction, quoted};
use crate::write::WriteError;

impl<'a> NoticeRecord<'a> {
    fn payment(outcome: &'static str, notice: &'a str, transaction: &'a Transaction) -> Self {
        Self {
            kind: "payment",
            outcome,
            notice_id: Some(notice),
            transaction_id: Some(&transaction.transaction_id),
            amount_cents: Some(transaction.amount.total),
            ..Self::default()
        }
    }
}

impl Payments {
    /// Takes a payment notice, or refuses it.
    pub async fn receive_payment_notice(&self, arrived: Arrived<'_>) -> NoticeHandled {
        let (notice, transaction): (_, Transaction) = match self.open(arrived, "payment").await {
            Ok(opened) => opened,
            Err(handled) => return handled,
        };
        let Some(config) = self.wechat_pay.config() else {
            return NoticeHandled::Refused {
                status: StatusCode::SERVICE_UNAVAILABLE,
                reason: "WeChat Pay is not configured".to_owned(),
            };
        };
        let entry =
            |outcome: &'static str, reason: Option<String>, order_id: Option<Uuid>| NoticeRecord {
                reason,
                order_id,
                request_id: arrived.request_id,
                ..NoticeRecord::payment(outcome, &notice.id, &transaction)
            };
        let refuse = |status: StatusCode, reason: String, order_id: Option<Uuid>| {
            let record = entry("refused", Some(reason.clone()), order_id);
            async move {
                self.notices.record(record).await;
                NoticeHandled::Refused { status, reason }
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
        if notice.event_type != "TRANSACTION.SUCCESS" || transaction.trade_state != "SUCCESS" {
            // Not a payment (yet): nothing to do, and WeChat Pay need not send it again.
            let reason = format!(
                "not a payment: {} / trade_state {}",
                notice.event_type, transaction.trade_state
            );
            self.notices
                .record(entry("refused", Some(reason), Some(order_id)))
                .await;
            return NoticeHandled::Taken { written: None };
        }

        let metadata = notice_metadata(arrived.request_id, &notice);
        let written = self
            .write
            .pay_order(
                order_id,
                transaction.transaction_id.clone(),
                transaction.amount.total,
                transaction.success_time.unwrap_or_else(Utc::now),
                &metadata,
            )
            .await;
        let (outcome, position) = match written {
            Ok(written) => {
                let order = written.value;
                let outcome = if written.position == FeedPosition::START {
                    "duplicate"
                } else if order.payment_id.as_deref() == Some(transaction.transaction_id.as_str()) {
                    "accepted"
                } else {
                    tracing::warn!(%order_id, transaction_id = transaction.transaction_id,
                        "payment for an order that could not take it: refund required");
                    "refund_required"
                };
                (outcome, written.position)
            }
            Err(WriteError::OrderNotFound) => {
                let reason = format!("unknown order {order_id}");
                return refuse(StatusCode::NOT_FOUND, reason, None).await;
            }
            Err(WriteError::Order(OrderError::AmountMismatch { expected, paid })) => {
                let reason = format!("mismatch: paid {paid}, the order's total is {expected}");
                return refuse(StatusCode::BAD_REQUEST, reason, Some(order_id)).await;
            }
            // WeChat Pay sends the notice again later.
            Err(err) => return NoticeHandled::Failed(err),
        };
        self.notices
            .record(entry(outcome, None, Some(order_id)))
            .await;
        NoticeHandled::Taken {
            written: Some(position),
        }
    }
}
