//! Payments with WeChat Pay, whoever learns of them: the prepay a shopper pays through,
//! WeChat Pay's payment and refund notices (open → verify → command → record), asking
//! WeChat Pay when a notice is late (confirmation, sweep, before an expiry) and closing
//! what expires, the payment timeout, refunds and their follow-up. `wechat_pay` is the client (sign,
//! verify, decrypt, HTTP); `http` only adapts requests to what is here.

mod checks;
mod confirm;
mod late_notices;
mod notice_log;
mod opening;
mod payment_notice;
mod prepay;
mod prepays;
pub mod reconcile;
mod record;
mod refund_notice;
pub mod refunds;
mod sampled_log;
pub mod timeout;

use std::sync::Arc;

use axum::http::StatusCode;
use sqlx::PgPool;

use crate::event_store::{EventStore, FeedPosition};
use crate::wechat_pay::WeChatPay;
use crate::write::{WriteError, WriteModel};

pub use crate::wechat_pay::PaymentCheckSettings;
pub use checks::Allowance;
pub use confirm::{ConfirmError, PaymentAnswer};
pub use late_notices::LateSweep;
pub use notice_log::{NoticeLog, NoticeRecord, OUTCOMES, PaymentNotice};
pub use opening::Arrived;
pub use prepay::PrepayError;
pub use prepays::Prepays;
pub use record::{Asking, LearnedBy, PaymentRecorded};

/// The payment workflows a request may start.
#[derive(Debug, Clone)]
pub struct Payments {
    pool: PgPool,
    events: EventStore,
    write: Arc<WriteModel>,
    wechat_pay: WeChatPay,
    notices: NoticeLog,
    prepays: Prepays,
    checks: PaymentCheckSettings,
    /// The questions ordo may still ask WeChat Pay on its own this minute.
    allowance: Allowance,
    reports: reconcile::Reports,
}

/// What became of a notice, for the answer WeChat Pay gets.
#[derive(Debug)]
pub enum NoticeHandled {
    /// Taken, or known already (`written` is where its events are, if it wrote any):
    /// success, and WeChat Pay need not send it again.
    Taken { written: Option<FeedPosition> },
    /// Refused with this status and reason (recorded when WeChat Pay's key vouched for
    /// the notice).
    Refused { status: StatusCode, reason: String },
    /// Could not be written now: WeChat Pay sends it again later.
    Failed(WriteError),
}

impl Payments {
    pub fn new(
        pool: PgPool,
        events: EventStore,
        write: Arc<WriteModel>,
        wechat_pay: WeChatPay,
        checks: PaymentCheckSettings,
    ) -> Self {
        Self {
            events,
            write,
            wechat_pay,
            notices: NoticeLog::new(pool.clone()),
            prepays: Prepays::new(pool.clone()),
            reports: reconcile::Reports::new(pool.clone()),
            pool,
            allowance: Allowance::per_minute(checks.per_minute),
            checks,
        }
    }

    pub fn checks(&self) -> PaymentCheckSettings {
        self.checks
    }

    /// The daily reconciliations' reports.
    pub fn reports(&self) -> &reconcile::Reports {
        &self.reports
    }

    /// The notices recorded, for operators.
    pub fn notices(&self) -> &NoticeLog {
        &self.notices
    }

    /// The order `order_id` if `user_id` placed it: a shopper asks only about their own
    /// (anyone else's is "not found", as if it did not exist).
    async fn owned_order(
        &self,
        order_id: uuid::Uuid,
        user_id: &str,
    ) -> Result<Option<aggregates::order::Order>, crate::event_store::LoadError> {
        let order = self
            .events
            .load::<aggregates::order::Order>(&order_id.to_string())
            .await?
            .aggregate;
        Ok((order.status.is_some() && order.user_id == user_id).then_some(order))
    }
}
