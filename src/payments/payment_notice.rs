//! WeChat Pay's payment notice: opened (see `opening`), then recorded through the one
//! payment path (see `record`). Repeating a notice changes nothing and is taken again.

use super::opening::Arrived;
use super::record::{LearnedBy, PaymentRecorded};
use super::{NoticeHandled, Payments};
use crate::wechat_pay::Transaction;

impl Payments {
    /// Takes a payment notice, or refuses it.
    pub async fn receive_payment_notice(&self, arrived: Arrived<'_>) -> NoticeHandled {
        let (notice, transaction): (_, Transaction) = match self.open(arrived, "payment").await {
            Ok(opened) => opened,
            Err(handled) => return handled,
        };
        let mut transaction = transaction;
        if notice.event_type != "TRANSACTION.SUCCESS" {
            // Whatever the resource says, only this event type reports a payment.
            transaction.trade_state =
                format!("{} ({})", transaction.trade_state, notice.event_type);
        }
        let learned = LearnedBy::Notice(&notice.id);
        match self
            .record_payment(&transaction, learned, arrived.request_id)
            .await
        {
            PaymentRecorded::Taken { written } => NoticeHandled::Taken { written },
            PaymentRecorded::Refused { status, reason } => {
                NoticeHandled::Refused { status, reason }
            }
            // WeChat Pay sends the notice again later.
            PaymentRecorded::Failed(err) => NoticeHandled::Failed(err),
        }
    }
}
