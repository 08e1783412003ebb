//! The HTTP interface: routes of each resource merged into one router.

mod admin_projections;
mod auth;
mod catalog;
pub mod context;
pub mod envelope;
pub mod error;
mod health;
pub mod json;
mod me;
pub mod orders;
pub mod paging;
pub mod products;

use axum::Router;
use axum::http::HeaderName;
use axum::http::{StatusCode, Uri};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use error::{ApiError, ErrorCode};

const REQUEST_ID: HeaderName = HeaderName::from_static(context::REQUEST_ID_HEADER);

/// Every route ordo serves.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::router())
        .merge(auth::router())
        .merge(me::router())
        .merge(products::router())
        .merge(orders::router())
        .merge(catalog::router())
        .merge(admin_projections::router())
        .fallback(no_route)
        .layer(TraceLayer::new_for_http())
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        ErrorCode::NotFound,
        format!("no route for {}", uri.path()),
    )
}
