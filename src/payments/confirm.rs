//! Asking WeChat Pay about a payment (`GET …/out-trade-no/{no}`) rather than waiting for
//! its notice: the shopper's confirmation after `wx.requestPayment`, the sweep for late
//! notices, the check before an expiry. A payment the signed answer reports is recorded
//! through the one payment path, exactly as its notice would be.

use aggregates::order::OrderStatus;
use uuid::Uuid;

use super::Payments;
use super::record::{Asking, LearnedBy, PaymentRecorded};
use crate::database::DatabaseError;
use crate::event_store::{FeedPosition, LoadError};
use crate::wechat_pay::{self, PayError};
use crate::write::WriteError;

/// What WeChat Pay said of an order's payment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PaymentAnswer {
    /// Paid, and recorded (`written` says where when this question wrote it).
    Paid { written: Option<FeedPosition> },
    /// The shopper is paying right now (`USERPAYING`): ask again shortly.
    Paying,
    /// Not paid (`NOTPAY`, `PAYERROR`, …) and still payable.
    NotPaid,
    /// Closed or revoked at WeChat Pay, or never opened there: nobody can pay it.
    NotPayable,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfirmError {
    #[error("order not found")]
    OrderNotFound,
    /// WeChat Pay reported a payment ordo cannot take (another merchant's, another
    /// amount): recorded among the refused notices for operators.
    #[error("WeChat Pay's answer does not fit the order: {0}")]
    Mismatch(String),
    #[error(transparent)]
    Pay(#[from] PayError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Database(#[from] DatabaseError),
}

impl Payments {
    /// The shopper `user_id` asks whether their order's payment went through: asked of
    /// WeChat Pay when the order is awaiting payment (or was cancelled while its payment
    /// was open) and recorded if it did. `None` when there was nothing to ask.
    pub async fn confirm_payment(
        &self,
        order_id: Uuid,
        user_id: &str,
        request_id: Option<&str>,
    ) -> Result<Option<PaymentAnswer>, ConfirmError> {
        let order = self
            .owned_order(order_id, user_id)
            .await?
            .ok_or(ConfirmError::OrderNotFound)?;
        let may_be_paid = matches!(
            order.status,
            Some(OrderStatus::AwaitingPayment | OrderStatus::Cancelled)
        );
        if !may_be_paid || self.prepays.open(order_id).await?.is_none() {
            return Ok(None);
        }
        self.ask_about_payment(order_id, Asking::Confirmation, request_id)
            .await
            .map(Some)
    }

    /// Asks WeChat Pay where the order's payment is, records it if it was made, and
    /// settles the question when nothing more can happen to it.
    pub async fn ask_about_payment(
        &self,
        order_id: Uuid,
        asking: Asking,
        request_id: Option<&str>,
    ) -> Result<PaymentAnswer, ConfirmError> {
        let asked = self
            .wechat_pay
            .query_payment(&wechat_pay::out_trade_no(order_id))
            .await;
        self.prepays.asked(order_id).await?;
        let Some(transaction) = asked? else {
            self.prepays.settle(order_id).await?;
            return Ok(PaymentAnswer::NotPayable);
        };
        let answer = match transaction.trade_state.as_str() {
            // A refund since means it was paid: the refund is the log's to know of.
            "SUCCESS" | "REFUND" => {
                let mut paid = transaction.clone();
                paid.trade_state = "SUCCESS".to_owned();
                match self
                    .record_payment(&paid, LearnedBy::Asking(asking), request_id)
                    .await
                {
                    PaymentRecorded::Taken { written } => PaymentAnswer::Paid { written },
                    PaymentRecorded::Refused { reason, .. } => {
                        return Err(ConfirmError::Mismatch(reason));
                    }
                    PaymentRecorded::Failed(err) => return Err(err.into()),
                }
            }
            "USERPAYING" => PaymentAnswer::Paying,
            "CLOSED" | "REVOKED" => PaymentAnswer::NotPayable,
            _ => PaymentAnswer::NotPaid,
        };
        if matches!(
            answer,
            PaymentAnswer::Paid { .. } | PaymentAnswer::NotPayable
        ) {
            self.prepays.settle(order_id).await?;
        }
        Ok(answer)
    }

    /// Closes the order's payment at WeChat Pay, so nobody pays an order about to be
    /// cancelled; settles the question.
    pub async fn close_payment(&self, order_id: Uuid) -> Result<(), ConfirmError> {
        self.wechat_pay
            .close_payment(&wechat_pay::out_trade_no(order_id))
            .await?;
        self.prepays.settle(order_id).await?;
        Ok(())
    }
}
