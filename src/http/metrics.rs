//! `GET /metrics`: what the recorder holds, plus the gauges measured when scraped.

use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::{IntoResponse, Response};

use super::error::ApiError;
use crate::metrics::handle;
use crate::state::AppState;

/// `GET /metrics`: Prometheus text format.
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    for status in projections::status::all(&state.projector).await? {
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
