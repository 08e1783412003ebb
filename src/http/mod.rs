//! The HTTP interface: routes of each resource merged into one router.

pub mod envelope;
pub mod error;
mod health;

use axum::Router;
use axum::http::{StatusCode, Uri};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use error::{ApiError, ErrorCode};

/// Every route ordo serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .fallback(no_route)
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {}", uri.path()),
    )
}
