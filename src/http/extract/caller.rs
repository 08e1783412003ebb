//! Who is calling: the `Authorization: Bearer <access token>` of a request.

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::auth::revocations::{self, MAX_OPERATOR_TTL};
use crate::auth::{AccessClaims, JwtError, Role};
use crate::http::error::ApiError;
use crate::state::AppState;

/// An authenticated caller, shopper or operator.
#[derive(Debug, Clone)]
pub struct AuthUser(pub AccessClaims);

/// An authenticated operator (role `admin`); a shopper gets 403.
#[derive(Debug, Clone)]
pub struct AdminUser(pub AccessClaims);

impl AuthUser {
    pub fn id(&self) -> &str {
        &self.0.sub
    }
}

impl FromRequestParts<AppState> for AuthUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        // Authenticated once per request: a middleware that needed the caller (the
        // idempotency guard) left it here, and the session check is a query.
        if let Some(known) = parts.extensions.get::<Self>() {
            return Ok(known.clone());
        }
        let header = parts.headers.get(AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized("missing Authorization: Bearer <access token>")
        })?;
        let token = header
            .to_str()
            .ok()
            .and_then(|value| value.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer <access token>`")
            })?;
        let claims = match state.jwt.verify(token) {
            Ok(claims) => claims,
            Err(JwtError::Expired) => {
                return Err(ApiError::unauthorized("the access token has expired"));
            }
            Err(_) => return Err(ApiError::unauthorized("the access token is invalid")),
        };
        tracing::Span::current().record("user_id", claims.sub.as_str());
        match claims.sid {
            Some(session) => {
                if !state.sessions.is_active(session).await? {
                    return Err(ApiError::unauthorized(
                        "the session has ended; log in again",
                    ));
                }
            }
            // An operator token: no session to end, so a lifetime cap and a revocation
            // list instead.
            None => {
                let lifetime = claims.exp.saturating_sub(claims.iat);
                if lifetime > i64::try_from(MAX_OPERATOR_TTL.as_secs()).unwrap_or(i64::MAX) {
                    return Err(ApiError::unauthorized(
                        "the token outlives the longest an operator token may (24 h); mint a new one",
                    ));
                }
                if let Some(reason) = state.sessions.token_revocation(&claims.jti).await? {
                    let why = if revocations::is_ordos_own(&reason) {
                        format!(": {reason}")
                    } else {
                        String::new()
                    };
                    return Err(ApiError::unauthorized(format!(
                        "the token has been revoked{why}"
                    )));
                }
            }
        }
        let caller = Self(claims);
        parts.extensions.insert(caller.clone());
        Ok(caller)
    }
}

impl FromRequestParts<AppState> for AdminUser {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        if claims.role != Role::Admin {
            return Err(ApiError::forbidden("this needs an operator (admin) token"));
        }
        Ok(Self(claims))
    }
}

/// An operator if the request carries a valid operator token that is neither revoked nor
/// of an ended session; otherwise none, never an error (for answers that only say more
/// to operators). Fails closed: when revocations cannot be read, no operator.
impl OptionalFromRequestParts<AppState> for AdminUser {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Option<Self>, Self::Rejection> {
        if !parts.headers.contains_key(AUTHORIZATION) {
            return Ok(None);
        }
        Ok(
            <Self as FromRequestParts<AppState>>::from_request_parts(parts, state)
                .await
                .ok(),
        )
    }
}
