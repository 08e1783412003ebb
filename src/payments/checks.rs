//! How many questions ordo asks WeChat Pay about payments on its own (the late-notice
//! sweep, the check before an expiry), at most, per minute.

use std::num::NonZeroU32;
use std::sync::Arc;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};

/// The allowance of questions ordo asks on its own (a shopper's confirmation is not
/// counted: the per-user request limits bound those).
#[derive(Clone)]
pub struct Allowance(Arc<DefaultDirectRateLimiter>);

impl std::fmt::Debug for Allowance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Allowance")
    }
}

impl Allowance {
    pub fn per_minute(per_minute: u32) -> Self {
        let per_minute = NonZeroU32::new(per_minute).unwrap_or(NonZeroU32::MIN);
        Self(Arc::new(RateLimiter::direct(Quota::per_minute(per_minute))))
    }

    /// Takes one question from the allowance; false when it is spent for now.
    pub fn take(&self) -> bool {
        self.0.check().is_ok()
    }
}
