//! When ordo asks WeChat Pay about payments on its own (the late-notice sweep, the check
//! before an expiry): when a notice counts as late, how long an expired order stays
//! reserved while WeChat Pay cannot be asked, how many questions a minute at most, and
//! when each day is reconciled with WeChat Pay's bill.
//! (Here, beside the client, so that `config` can take the flags' defaults from it.)

use std::time::Duration;

use chrono::NaiveTime;

/// The settings (`ORDO_LATE_NOTICE_AFTER`, `ORDO_PAYMENT_CHECK_BOUND`,
/// `ORDO_PAYMENT_CHECKS_PER_MINUTE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PaymentCheckSettings {
    /// A payment opened this long ago whose notice has not come is asked about.
    pub late_after: Duration,
    /// An expired order whose payment WeChat Pay cannot be asked about stays reserved
    /// this long past its expiry; then it is cancelled, and a payment that still comes
    /// becomes a refund due.
    pub expiry_bound: Duration,
    /// Questions a minute at most, sweeps and checks together (per server).
    pub per_minute: u32,
    /// When yesterday's bill is reconciled, Beijing time (WeChat Pay makes it after 9:00).
    pub reconcile_at: NaiveTime,
}

impl Default for PaymentCheckSettings {
    fn default() -> Self {
        Self {
            late_after: Duration::from_secs(3 * 60),
            expiry_bound: Duration::from_secs(60 * 60),
            per_minute: 60,
            reconcile_at: NaiveTime::from_hms_opt(10, 0, 0).unwrap_or(NaiveTime::MIN),
        }
    }
}
