//! WeChat Pay's refund notice (`REFUND.SUCCESS`, `REFUND.ABNORMAL`, `REFUND.CLOSED`):
//! opened like a payment notice, checked (merchant, order, refund number, the refunded
//! payment's `transaction_id`, amount), then the refund settled through the write model.
//! The Order aggregate keeps the first answer on a refund, so a repeated notice, or one
//! that crosses the refund call's own answer, changes nothing. `SUCCESS` makes a refunded
//! order `refunded` (its units back to stock if it never shipped); `CLOSED` records the
//! failure and puts the order back; `ABNORMAL` keeps the order `refunding`, flagged for
//! an operator until WeChat Pay's final word.

use aggregates::order::{OrderError, RefundOutcome};
use axum::http::StatusCode;
use chrono::Utc;
use uuid::Uuid;

use super::opening::{Arrived, notice_metadata};
use super::{NoticeHandled, NoticeRecord, Payments};
use crate::event_store::FeedPosition;
use crate::wechat_pay::{RefundResult, quoted};
use crate::write::WriteError;

impl Payments {
    /// Settles a refund from its notice, or refuses the notice.
    pub async fn receive_refund_notice(&self, arrived: Arrived<'_>) -> NoticeHandled {
        let (notice, result): (_, RefundResult) = match self.open(arrived, "refund").await {
            Ok(opened) => opened,
            Err(handled) => return handled,
        };
        let entry =
            |outcome: &'static str, reason: Option<String>, order_id: Option<Uuid>| NoticeRecord {
                kind: "refund",
                outcome,
                reason,
                notice_id: Some(&notice.id),
                transaction_id: Some(&result.transaction_id),
                amount_cents: Some(result.amount.refund),
                order_id,
                refund_no: Some(&result.out_refund_no),
                request_id: arrived.request_id,
                learned_by: None,
            };
        let refuse = |status: StatusCode, reason: String, order_id: Option<Uuid>| {
            let record = entry("refused", Some(reason.clone()), order_id);
            async move {
                self.notices.record(record).await;
                NoticeHandled::Refused { status, reason }
            }
        };
        let mch_id = self
            .wechat_pay
            .config()
            .map(|config| config.mch_id.as_str());
        if Some(result.mchid.as_str()) != mch_id {
            let reason = format!(
                "mismatch: for merchant {}, not this one",
                quoted(&result.mchid)
            );
            return refuse(StatusCode::BAD_REQUEST, reason, None).await;
        }
        let Ok(order_id) = Uuid::parse_str(&result.out_trade_no) else {
            let reason = format!(
                "unknown order: out_trade_no {}",
                quoted(&result.out_trade_no)
            );
            return refuse(StatusCode::NOT_FOUND, reason, None).await;
        };
        let outcome = match result.refund_status.as_str() {
            "SUCCESS" => RefundOutcome::Succeeded {
                provider_refund_id: result.refund_id.clone(),
                refunded_at: result.success_time.unwrap_or_else(Utc::now),
            },
            "CLOSED" => RefundOutcome::Failed {
                reason: format!("WeChat Pay: refund {}", result.refund_status),
                failed_at: Utc::now(),
            },
            "ABNORMAL" => RefundOutcome::Abnormal {
                reason: format!("WeChat Pay: refund {}", result.refund_status),
                reported_at: Utc::now(),
            },
            other => {
                // Not a result (yet): nothing to do, and WeChat Pay need not send it again.
                let reason = format!(
                    "not a refund result: {} / {}",
                    quoted(&notice.event_type),
                    quoted(other)
                );
                self.notices
                    .record(entry("refused", Some(reason), Some(order_id)))
                    .await;
                return NoticeHandled::Taken { written: None };
            }
        };
        let failure = match &outcome {
            RefundOutcome::Failed { reason, .. } | RefundOutcome::Abnormal { reason, .. } => {
                Some(reason.clone())
            }
            RefundOutcome::Succeeded { .. } => None,
        };
        let metadata = notice_metadata(arrived.request_id, &notice);
        let written = self
            .write
            .settle_refund(
                order_id,
                result.out_refund_no.clone(),
                result.amount.refund,
                Some(result.transaction_id.clone()),
                outcome,
                &metadata,
            )
            .await;
        let (outcome, position) = match written {
            Ok(written) if written.position == FeedPosition::START => ("duplicate", None),
            Ok(written) => ("accepted", Some(written.position)),
            Err(WriteError::OrderNotFound) => {
                let reason = format!("unknown order {order_id}");
                return refuse(StatusCode::NOT_FOUND, reason, Some(order_id)).await;
            }
            Err(WriteError::Order(OrderError::UnknownRefund(refund_no))) => {
                let reason = format!("the order has no refund {}", quoted(&refund_no));
                return refuse(StatusCode::NOT_FOUND, reason, Some(order_id)).await;
            }
            Err(WriteError::Order(OrderError::AmountMismatch { expected, paid })) => {
                let reason = format!("mismatch: refunded {paid}, the refund is {expected}");
                return refuse(StatusCode::BAD_REQUEST, reason, Some(order_id)).await;
            }
            Err(WriteError::Order(OrderError::TransactionMismatch {
                refund_no,
                transaction_id,
            })) => {
                let reason = format!(
                    "mismatch: transaction_id {} is not the payment refund {} returns",
                    quoted(&transaction_id),
                    quoted(&refund_no)
                );
                return refuse(StatusCode::BAD_REQUEST, reason, Some(order_id)).await;
            }
            // WeChat Pay sends the notice again later.
            Err(err) => return NoticeHandled::Failed(err),
        };
        self.notices
            .record(entry(outcome, failure, Some(order_id)))
            .await;
        NoticeHandled::Taken { written: position }
    }
}
