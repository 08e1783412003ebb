//! Rate limits per client address and per signed-in user: over either, a 429 with
//! `Retry-After`. Keys are checked in memory (per process); with N processes a client
//! gets up to N times the rate, which is what a per-node limit means.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use super::error::{ApiError, ErrorCode};
use crate::app::AppState;

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

/// The middleware: the client's address from the connection, the user from a valid
/// access token (an unverified one could spend someone else's allowance).
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiters = &state.limiters;
    limiters.forget_idle_keys();
    if let (Some(limiter), Some(ConnectInfo(address))) = (
        &limiters.per_ip,
        request.extensions().get::<ConnectInfo<SocketAddr>>(),
    ) && let Err(not_until) = limiter.check_key(&address.ip())
    {
        return too_many(not_until.wait_time_from(DefaultClock::default().now()));
    }
    if let Some(limiter) = &limiters.per_user
        && let Some(user) = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .and_then(|token| state.jwt.verify(token.trim()).ok())
        && let Err(not_until) = limiter.check_key(&user.sub)
    {
        return too_many(not_until.wait_time_from(DefaultClock::default().now()));
    }
    next.run(request).await
}

fn too_many(wait: std::time::Duration) -> Response {
    let seconds = wait.as_secs().max(1);
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        ErrorCode::RateLimited,
        format!("too many requests; retry in {seconds} s"),
    )
    .into_response();
    if let Ok(value) = HeaderValue::from_str(&seconds.to_string()) {
        response.headers_mut().insert("retry-after", value);
    }
    response
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
