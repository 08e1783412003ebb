//! Rate limits per client address and per signed-in user: over either, a 429 with
//! `Retry-After`. Keys are checked in memory (per process); with N processes a client
//! gets up to N times the rate, which is what a per-node limit means.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::Arc;

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
}

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
        })
    }
}

/// The middleware: the client's address from the connection, the user from a valid
/// access token (an unverified one could spend someone else's allowance).
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiters = &state.limiters;
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
