//! Per-address and per-user request allowances (token buckets), with idle keys
//! forgotten so that invented addresses and users cannot grow memory. The HTTP
//! middleware that applies them is `http::rate_limit`; the login handler takes from the
//! separate, low allowance of logins that cost a call to WeChat.
//!
//! An IPv6 client is known by its /64: one subscriber gets a whole /64 and may use any
//! of its 2^64 addresses, so per address they would have endless allowances.

use std::net::{IpAddr, Ipv6Addr};
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

/// Logins per minute (sustained) and burst, for one client address.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRate {
    pub per_minute: u32,
    pub burst: u32,
}

/// The limits; `None` turns one off.
#[derive(Debug, Clone, Copy)]
pub struct RateLimits {
    /// Generous: mobile carriers put many shoppers behind one address.
    pub per_ip: Option<Rate>,
    pub per_user: Option<Rate>,
    /// Logins with a WeChat code (each costs a `jscode2session` call from the mini
    /// program's quota), per client address. Low: a shopper logs in rarely.
    pub login_per_ip: Option<LoginRate>,
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
            login_per_ip: Some(LoginRate {
                per_minute: 10,
                burst: 20,
            }),
        }
    }
}

/// The limiters of one process.
pub struct Limiters {
    per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
    per_user: Option<DefaultKeyedRateLimiter<String>>,
    login_per_ip: Option<DefaultKeyedRateLimiter<IpAddr>>,
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

fn login_quota(rate: LoginRate) -> Option<Quota> {
    Some(
        Quota::per_minute(NonZeroU32::new(rate.per_minute)?)
            .allow_burst(NonZeroU32::new(rate.burst)?),
    )
}

/// The key an address's allowance is kept under: an IPv4 address itself (also when
/// written as IPv4-mapped IPv6), an IPv6 address's /64.
pub fn client_key(address: IpAddr) -> IpAddr {
    match address.to_canonical() {
        IpAddr::V6(v6) => {
            let [a, b, c, d, ..] = v6.segments();
            IpAddr::V6(Ipv6Addr::new(a, b, c, d, 0, 0, 0, 0))
        }
        v4 => v4,
    }
}

/// How long until `limiter` has an allowance for `key` again, if it has none now.
fn take<K>(limiter: &DefaultKeyedRateLimiter<K>, key: &K) -> Result<(), Duration>
where
    K: Clone + std::hash::Hash + Eq,
{
    limiter
        .check_key(key)
        .map_err(|not_until| not_until.wait_time_from(DefaultClock::default().now()))
}

impl Limiters {
    pub fn new(limits: RateLimits) -> Arc<Self> {
        Arc::new(Self {
            per_ip: limits.per_ip.and_then(quota).map(RateLimiter::keyed),
            per_user: limits.per_user.and_then(quota).map(RateLimiter::keyed),
            login_per_ip: limits
                .login_per_ip
                .and_then(login_quota)
                .map(RateLimiter::keyed),
            forgotten_at: Mutex::new(Instant::now()),
        })
    }

    /// Keys held now (addresses and users), for metrics and tests.
    pub fn keys(&self) -> usize {
        self.per_ip.as_ref().map_or(0, |l| l.len())
            + self.per_user.as_ref().map_or(0, |l| l.len())
            + self.login_per_ip.as_ref().map_or(0, |l| l.len())
    }

    /// Whether requests are limited per user (checking costs a token verification).
    pub fn limits_users(&self) -> bool {
        self.per_user.is_some()
    }

    /// Takes one request from `address`'s allowance (its /64 for IPv6): how long to
    /// wait when it is spent.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        self.forget_idle_keys();
        match &self.per_ip {
            Some(limiter) => take(limiter, &client_key(address)),
            None => Ok(()),
        }
    }

    /// Takes one request from `user`'s allowance: how long to wait when it is spent.
    pub fn check_user(&self, user: &str) -> Result<(), Duration> {
        match &self.per_user {
            Some(limiter) => take(limiter, &user.to_owned()),
            None => Ok(()),
        }
    }

    /// Takes one login that calls WeChat from `address`'s allowance (its /64 for IPv6):
    /// how long to wait when it is spent.
    pub fn check_login(&self, address: IpAddr) -> Result<(), Duration> {
        match &self.login_per_ip {
            Some(limiter) => take(limiter, &client_key(address)),
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
        if let Some(limiter) = &self.login_per_ip {
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
            login_per_ip: None,
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

    #[test]
    fn an_ipv6_client_is_known_by_its_64() {
        let ip = |text: &str| text.parse::<IpAddr>().expect("an address");
        assert_eq!(client_key(ip("2001:db8:1:2:3:4:5:6")), ip("2001:db8:1:2::"));
        assert_eq!(
            client_key(ip("2001:db8:1:2:ffff::1")),
            client_key(ip("2001:db8:1:2::9"))
        );
        assert_ne!(client_key(ip("2001:db8:1:3::1")), ip("2001:db8:1:2::"));
        assert_eq!(client_key(ip("203.0.113.9")), ip("203.0.113.9"));
        assert_eq!(client_key(ip("::ffff:203.0.113.9")), ip("203.0.113.9"));
    }
}
