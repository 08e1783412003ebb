//! Rate limits per client address and per signed-in user: over either, a 429 with
//! `Retry-After`. Keys are checked in memory (per process); with N processes a client
//! gets up to N times the rate, which is what a per-node limit means.

use axum::extract::{Request, State};
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;
use crate::http::middleware::client_address::ClientAddress;
use crate::state::AppState;

/// The middleware: the client's address (behind trusted proxies, the shopper's), the user from a valid
/// access token (an unverified one could spend someone else's allowance).
pub async fn limit(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limiters = &state.limiters;
    if let Some(ClientAddress(address)) = request.extensions().get::<ClientAddress>()
        && let Err(wait) = limiters.check_address(*address)
    {
        return too_many(wait);
    }
    if limiters.limits_users()
        && let Some(user) = request
            .headers()
            .get(AUTHORIZATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.strip_prefix("Bearer "))
            .and_then(|token| state.jwt.verify(token.trim()).ok())
        && let Err(wait) = limiters.check_user(&user.sub)
    {
        return too_many(wait);
    }
    next.run(request).await
}

fn too_many(wait: std::time::Duration) -> Response {
    ApiError::rate_limited("too many requests", wait).into_response()
}
