//! The sweep for late notices: a payment opened a few minutes ago (`late_after`) whose
//! notice has not come is asked about, then again at growing intervals, within the
//! allowance of questions a minute. A notice lost for good (ordo down past WeChat Pay's
//! retries, a proxy dropping it) is found this way while the order is still reserved.
//! The same sweep closes what a cancelled order left open at WeChat Pay (asked first: a
//! payment made meanwhile is recorded, and owed back).

use std::time::Duration;

use tokio::sync::watch;

use super::Payments;
use super::confirm::{ConfirmError, PaymentAnswer};
use super::record::Asking;
use crate::database::DatabaseError;
use crate::wechat_pay::PayError;

/// Orders looked at per sweep.
const BATCH: i64 = 100;

/// What one sweep found.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LateSweep {
    /// Questions asked.
    pub asked: usize,
    /// Payments they found and recorded.
    pub paid: usize,
    /// Cancelled orders' payments closed at WeChat Pay.
    pub closed: usize,
}

impl Payments {
    /// Sweeps for late notices until `stop` turns true: about six times per
    /// `late_after`, between every 200 ms and every 10 s.
    pub async fn run_late_notices(self, mut stop: watch::Receiver<bool>) {
        let every =
            (self.checks.late_after / 6).clamp(Duration::from_millis(200), Duration::from_secs(10));
        loop {
            // Waits first: nothing is late the moment a server starts.
            tokio::select! {
                () = tokio::time::sleep(every) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            if let Err(err) = self.sweep_late_notices().await {
                tracing::warn!(%err, "late-notice sweep failed; retrying");
            }
        }
    }

    /// Asks about the payments whose notices are late, as many as the allowance lets.
    pub async fn sweep_late_notices(&self) -> Result<LateSweep, DatabaseError> {
        let mut sweep = LateSweep::default();
        let late = self.prepays.late(self.checks.late_after, BATCH).await?;
        let cancelled = self
            .prepays
            .cancelled(self.checks.late_after, BATCH)
            .await?;
        let due = late
            .into_iter()
            .map(|order_id| (order_id, Asking::LateNotice))
            .chain(cancelled.into_iter().map(|id| (id, Asking::Cancellation)));
        for (order_id, asking) in due {
            if !self.allowance.take() {
                break;
            }
            sweep.asked += 1;
            match self.ask_and_close(order_id, asking).await {
                Ok((PaymentAnswer::Paid { .. }, _)) => sweep.paid += 1,
                Ok((_, closed)) => sweep.closed += usize::from(closed),
                // Nobody to ask (dev mode without a merchant account).
                Err(ConfirmError::Pay(PayError::NotConfigured)) => break,
                Err(err) => {
                    tracing::warn!(%order_id, %err, learned_by = super::LearnedBy::Asking(asking).name(),
                        "could not ask WeChat Pay about an open payment");
                }
            }
        }
        Ok(sweep)
    }

    /// Asks about the order's payment; a cancelled order's unpaid one is closed too (a
    /// payment being made just now is left for the next sweep). Whether it closed one.
    async fn ask_and_close(
        &self,
        order_id: uuid::Uuid,
        asking: Asking,
    ) -> Result<(PaymentAnswer, bool), ConfirmError> {
        let answer = self.ask_about_payment(order_id, asking, None).await?;
        let close = asking == Asking::Cancellation && matches!(answer, PaymentAnswer::NotPaid);
        if close {
            self.close_payment(order_id).await?;
        }
        Ok((answer, close))
    }
}
