//! Rate limit settings as operators write them: `off`, `N` (burst 2N) or `N/B`.

use std::fmt;
use std::str::FromStr;

use crate::rate_limit::{LoginRate, Rate, RateLimits};

/// A rate limit setting: `off`, `N` (burst 2N) or `N/B`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateSetting(pub Option<Rate>);

impl RateSetting {
    pub(super) fn default_per_ip() -> Self {
        Self(RateLimits::default().per_ip)
    }

    pub(super) fn default_per_user() -> Self {
        Self(RateLimits::default().per_user)
    }
}

/// An allowance as the settings write it: `off` (`Some(None)`), `N` (burst 2N) or `N/B`
/// (`Some(Some((N, B)))`); `None` when it is neither.
fn parse_allowance(value: &str) -> Option<Option<(u32, u32)>> {
    let value = value.trim();
    if value == "off" {
        return Some(None);
    }
    let (rate, burst) = match value.split_once('/') {
        Some((rate, burst)) => (rate.parse().ok()?, burst.parse().ok()?),
        None => {
            let rate: u32 = value.parse().ok()?;
            (rate, rate.saturating_mul(2))
        }
    };
    (rate > 0 && burst > 0).then_some(Some((rate, burst)))
}

impl FromStr for RateSetting {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let allowance = parse_allowance(value).ok_or_else(|| {
            "`off` or requests per second with an optional burst, e.g. `20` or `20/40`".to_owned()
        })?;
        Ok(Self(
            allowance.map(|(per_second, burst)| Rate { per_second, burst }),
        ))
    }
}

/// The login allowance setting: `off`, `N` (burst 2N) or `N/B`, per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoginRateSetting(pub Option<LoginRate>);

impl LoginRateSetting {
    pub(super) fn default_per_ip() -> Self {
        Self(RateLimits::default().login_per_ip)
    }
}

impl FromStr for LoginRateSetting {
    type Err = String;

    fn from_str(value: &str) -> Result<Self, String> {
        let allowance = parse_allowance(value).ok_or_else(|| {
            "`off` or logins per minute with an optional burst, e.g. `10` or `10/20`".to_owned()
        })?;
        Ok(Self(allowance.map(|(per_minute, burst)| LoginRate {
            per_minute,
            burst,
        })))
    }
}

impl fmt::Display for LoginRateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(rate) => write!(f, "{}/{}", rate.per_minute, rate.burst),
        }
    }
}

impl fmt::Display for RateSetting {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => f.write_str("off"),
            Some(rate) => write!(f, "{}/{}", rate.per_second, rate.burst),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_read_as_documented() {
        let rate = |per_second, burst| RateSetting(Some(Rate { per_second, burst }));
        assert_eq!("20".parse(), Ok(rate(20, 40)));
        assert_eq!(" 20/25 ".parse(), Ok(rate(20, 25)));
        assert_eq!("off".parse(), Ok(RateSetting(None)));
        for bad in ["", "0", "-1", "20/0", "fast", "20/x"] {
            assert!(bad.parse::<RateSetting>().is_err(), "{bad:?} was accepted");
        }
        assert_eq!(rate(500, 1000).to_string(), "500/1000");
        let login = |per_minute, burst| LoginRateSetting(Some(LoginRate { per_minute, burst }));
        assert_eq!("10/20".parse(), Ok(login(10, 20)));
        assert_eq!("3".parse(), Ok(login(3, 6)));
        assert_eq!("off".parse(), Ok(LoginRateSetting(None)));
        assert!("0/5".parse::<LoginRateSetting>().is_err());
        assert_eq!(LoginRateSetting::default_per_ip().to_string(), "10/20");
    }
}
