//! The flags of ordo's own questions to WeChat Pay: late notices, expiries, the daily
//! reconciliation.

use clap::Args;

use super::duration::{self, SettingDuration};
use crate::wechat_pay::PaymentCheckSettings;

#[derive(Debug, Clone, Args)]
pub struct PaymentCheckArgs {
    /// A payment opened at WeChat Pay this long ago whose notice has not come is asked
    /// about (then again at growing intervals), e.g. `3m`.
    #[arg(long, env = "ORDO_LATE_NOTICE_AFTER", value_name = "DURATION",
          default_value_t = PaymentCheckSettings::default().late_after.into(), value_parser = duration::positive)]
    pub late_notice_after: SettingDuration,

    /// How long past its expiry an order whose payment WeChat Pay cannot be asked about
    /// stays reserved; then it is cancelled, and a payment that still comes is owed
    /// back, e.g. `1h`.
    #[arg(long, env = "ORDO_PAYMENT_CHECK_BOUND", value_name = "DURATION",
          default_value_t = PaymentCheckSettings::default().expiry_bound.into(), value_parser = duration::positive)]
    pub payment_check_bound: SettingDuration,

    /// Questions a minute at most that ordo asks WeChat Pay on its own about payments
    /// (late notices, expiries), per server.
    #[arg(long, env = "ORDO_PAYMENT_CHECKS_PER_MINUTE", default_value_t = PaymentCheckSettings::default().per_minute, value_parser = clap::value_parser!(u32).range(1..))]
    pub payment_checks_per_minute: u32,

    /// When each morning yesterday is reconciled with WeChat Pay's bill, `HH:MM` Beijing
    /// time (WeChat Pay makes its bills after 9:00).
    #[arg(long, env = "ORDO_RECONCILE_AT", value_name = "HH:MM",
          default_value = "10:00", value_parser = clock_time)]
    pub reconcile_at: chrono::NaiveTime,
}

impl PaymentCheckArgs {
    pub fn settings(&self) -> PaymentCheckSettings {
        PaymentCheckSettings {
            late_after: self.late_notice_after.into(),
            expiry_bound: self.payment_check_bound.into(),
            per_minute: self.payment_checks_per_minute,
            reconcile_at: self.reconcile_at,
        }
    }
}

/// `HH:MM`, a time of day.
fn clock_time(value: &str) -> Result<chrono::NaiveTime, String> {
    chrono::NaiveTime::parse_from_str(value.trim(), "%H:%M")
        .map_err(|_| format!("{value:?} is not a time of day HH:MM (e.g. 10:00)"))
}
