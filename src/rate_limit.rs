//! Per-address and per-user request allowances (token buckets), with idle keys
//! forgotten so that invented addresses and users cannot grow memory. The HTTP
//! middleware that applies them is `http::rate_limit`.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

/// Requests per second (sustained) and burst, for one key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub per_second: u32,
    pub burst: u32,
}

/// The limits; `None` turns one off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Generous: mobile carriers put many shoppers behind one address.
    pub per_ip: Option<Rate>,
    pub per_user: Option<Rate>,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_ip: Some(Rate {
                per_second: 500,
                burst: 1_000,
            }),
            per_user: Some(Rate {
                per_second: 20,
                burst: 40,
            }),
        }
    }
}

/// The limiters of one process.
pub struct Limiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    /// When idle keys were last forgotten.
    forgotten_at: Mutex<Instant>,
}

/// How often keys whose allowance is whole again are forgotten: each key costs memory
/// for as long as it is kept, and a client can invent addresses and users endlessly.
const FORGET_IDLE_EVERY: Duration = Duration::from_secs(30);

impl std::fmt::Debug for Limiters {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Limiters")
    }
}

fn quota(rate: Rate) -> Option<Quota> {
    Some(
        Quota::per_second(NonZeroU32::new(rate.per_second)?)
            .allow_burst(NonZeroU32::new(rate.burst)?),
    )
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Arc<Self> {
        Arc::new(Self {
            per_ip: limits.per_ip.and_then(quota).map(RateLimiter::keyed),
            per_user: limits.per_user.and_then(quota).map(RateLimiter::keyed),
            forgotten_at: Mutex::new(Instant::now()),
        })
    }

    /// Keys held now (addresses and users), for metrics and tests.
    pub fn keys(&self) -> usize {
        self.per_ip.as_ref().map_or(0, |l| l.len()) + self.per_user.as_ref().map_or(0, |l| l.len())
    }

    /// Whether requests are limited per user (checking costs a token verification).
    pub fn limits_users(&self) -> bool {
        self.per_user.is_some()
    }

    /// Takes one request from `address`'s allowance: how long to wait when it is spent.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        self.forget_idle_keys();
        match &self.per_ip {
            Some(limiter) => limiter
                .check_key(&address)
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
            None => Ok(()),
        }
    }

    /// Takes one request from `user`'s allowance: how long to wait when it is spent.
    pub fn check_user(&self, user: &str) -> Result<(), Duration> {
        match &self.per_user {
            Some(limiter) => limiter
                .check_key(&user.to_owned())
                .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now())),
            None => Ok(()),
        }
    }

    /// Forgets the keys whose allowance is whole again (nothing to remember about them),
    /// at most every [`FORGET_IDLE_EVERY`]; one request does it while the others go on.
    fn forget_idle_keys(&self) {
        let Ok(mut forgotten_at) = self.forgotten_at.try_lock() else {
            return;
        };
        if forgotten_at.elapsed() < FORGET_IDLE_EVERY {
            return;
        }
        *forgotten_at = Instant::now();
        self.forget_idle_keys_now();
    }

    /// Forgets the keys whose allowance is whole again, now.
    pub fn forget_idle_keys_now(&self) {
        if let Some(limiter) = &self.per_ip {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.per_user {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_whose_allowance_is_whole_again_are_forgotten() {
        let limiters = Limiters::new(RateLimits {
            per_ip: Some(Rate {
                per_second: 1_000,
                burst: 1,
            }),
            per_user: Some(Rate {
                per_second: 1_000,
                burst: 1,
            }),
        });
        let (per_ip, per_user) = (
            limiters.per_ip.as_ref().expect("per ip"),
            limiters.per_user.as_ref().expect("per user"),
        );
        for n in 0..1_000u32 {
            let _ = per_ip.check_key(&IpAddr::from(n.to_be_bytes()));
            let _ = per_user.check_key(&format!("user-{n}"));
        }
        assert_eq!(limiters.keys(), 2_000);

        // Each allowance refills within a millisecond.
        std::thread::sleep(Duration::from_millis(20));
        limiters.forget_idle_keys_now();

        assert_eq!(limiters.keys(), 0);
    }
}
