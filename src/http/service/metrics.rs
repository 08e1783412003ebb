//! `GET /metrics`: what the recorder holds, plus the gauges measured when scraped.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use crate::database::DatabaseError;
use crate::http::error::ApiError;
use crate::metrics::handle;
use crate::state::AppState;

/// `GET /metrics`: Prometheus text format.
pub async fn render(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = &state.metrics_token
        && !presents(&headers, token.expose())
    {
        return Err(ApiError::unauthorized(
            "/metrics needs Authorization: Bearer <ORDO_METRICS_TOKEN>",
        ));
    }
    let statuses = projections::status::all(&state.projector)
        .await
        .map_err(DatabaseError::from)?;
    for status in statuses {
        metrics::gauge!("projection_lag_events", "projection" => status.name.clone())
            .set(status.lag_events as f64);
        metrics::gauge!("projection_lag_seconds", "projection" => status.name.clone())
            .set(status.lag_seconds);
        metrics::gauge!("projection_parked_events", "projection" => status.name)
            .set(status.parked as f64);
    }
    for (aggregate, slots) in state.write.stream_slots() {
        metrics::gauge!("write_stream_slots", "aggregate" => aggregate).set(slots as f64);
    }
    metrics::gauge!("rate_limit_keys").set(state.limiters.keys() as f64);
    Ok((
        [(CONTENT_TYPE, "text/plain; version=0.0.4")],
        handle().render(),
    )
        .into_response())
}

/// Whether the request's bearer token is `token`, compared in constant time (through
/// their hashes, so neither length nor prefix leaks through timing).
fn presents(headers: &HeaderMap, token: &str) -> bool {
    let Some(given) = headers
        .get(AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
    else {
        return false;
    };
    let (given, wanted) = (Sha256::digest(given.trim()), Sha256::digest(token));
    given
        .iter()
        .zip(wanted.iter())
        .fold(0u8, |differs, (a, b)| differs | (a ^ b))
        == 0
}
