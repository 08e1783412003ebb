//! What a write records about the request that caused it.

use axum::http::HeaderMap;
use uuid::Uuid;

use super::error::ApiError;
use crate::auth::{AccessClaims, Role};
use crate::event_store::EventMetadata;

/// The header carrying the request id (set by the request-id layer when absent).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Event metadata for a write by `claims` in the request with these headers.
pub fn metadata(claims: &AccessClaims, headers: &HeaderMap) -> EventMetadata {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned)
    };
    EventMetadata {
        actor_id: Some(claims.sub.clone()),
        actor_role: Some(
            match claims.role {
                Role::Admin => "admin",
                Role::User => "user",
            }
            .to_owned(),
        ),
        request_id: header(REQUEST_ID_HEADER),
        idempotency_key: header("idempotency-key"),
        correlation_id: None,
        causation_id: None,
    }
}

/// A path id: anything but a UUID is a 400 naming the parameter.
pub fn parse_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::malformed_field("id", "must be a UUID"))
}
