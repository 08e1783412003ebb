//! What a write records about the request that caused it.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::http::error::ApiError;
use crate::http::extract::caller::AuthUser;
use crate::http::middleware::client_address::ClientAddress;
use crate::http::middleware::request_id::REQUEST_ID_HEADER;

use crate::state::AppState;

use crate::auth::{AccessClaims, Role};
use crate::event_store::EventMetadata;

/// What the events a request writes record about it: who asked (the authenticated
/// caller), the request id and the `Idempotency-Key`. Extracting it authenticates (a
/// request without a valid token is a 401), once per request.
#[derive(Debug, Clone)]
pub struct Recorded(pub EventMetadata);

impl FromRequestParts<AppState> for Recorded {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let AuthUser(claims) = AuthUser::from_request_parts(parts, state).await?;
        Ok(Self(EventMetadata {
            client_address: client_of(parts),
            ..metadata(&claims, &parts.headers)
        }))
    }
}

/// Event metadata for a write by `claims` in the request with these headers.
fn metadata(claims: &AccessClaims, headers: &HeaderMap) -> EventMetadata {
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
        ..EventMetadata::default()
    }
}

/// The request's client address, as `client_address::resolve` found it.
pub fn client_of(parts: &Parts) -> Option<String> {
    parts
        .extensions
        .get::<ClientAddress>()
        .map(|client| client.0.to_string())
}

/// Event metadata for a write before anyone is authenticated (a first login).
pub fn metadata_of_request(headers: &HeaderMap, client: Option<ClientAddress>) -> EventMetadata {
    EventMetadata {
        actor_role: Some("user".to_owned()),
        client_address: client.map(|client| client.0.to_string()),
        request_id: headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        ..EventMetadata::default()
    }
}
