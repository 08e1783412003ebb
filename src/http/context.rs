//! What a write records about the request that caused it.

use std::time::Duration;

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use super::caller::AuthUser;
use super::client_address::ClientAddress;
use super::error::ApiError;

use crate::event_store::FeedPosition;
use crate::state::AppState;

use crate::auth::{AccessClaims, Role};
use crate::event_store::EventMetadata;

/// The header carrying the request id (set by the request-id layer when absent).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

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

/// How long a write waits for the read models to show it before answering, in all.
const READ_YOUR_WRITES_WAIT: Duration = Duration::from_secs(2);

/// Read-your-writes: returns once every one of `projections` has applied the write at
/// `position`, so the client's next read shows it. The waits run side by side and are
/// bounded once for the request: a lagging projector delays the answer, never fails it
/// (and a shopper's own orders are then read from the events, see `own_orders`).
pub async fn await_projections(state: &AppState, projections: &[&str], position: FeedPosition) {
    // A projection already seen far behind is not waited for: the write answers at once.
    let report = state.horizon.report();
    let behind = projections
        .iter()
        .filter(|projection| !report.stale(projection));
    let waits = behind.map(|projection| async move {
        let seen = state
            .projector
            .wait_for(projection, position, READ_YOUR_WRITES_WAIT)
            .await;
        if !seen {
            tracing::warn!(projection, ?position, "read model lags behind a write");
        }
    });
    futures::future::join_all(waits).await;
}
