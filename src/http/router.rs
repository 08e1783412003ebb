//! The router: every audience's routes merged, the middleware stack around them, CORS
//! and the fallback.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, Method, Uri, header};
use axum::routing::get;
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::{DefaultOnResponse, TraceLayer};
use utoipa_axum::router::OpenApiRouter;
use utoipa_swagger_ui::SwaggerUi;

use crate::http::error::{ApiError, ErrorCode};
use crate::http::middleware::{
    body_deadline, client_address, deadline, idempotency, rate_limit, read_your_writes, request_id,
};
use crate::http::{admin, dev, service, shop, webhooks};
use crate::state::AppState;

const REQUEST_ID: HeaderName = HeaderName::from_static(request_id::REQUEST_ID_HEADER);

/// The largest request body accepted (a 50-line order is a few KiB); larger is a 413.
pub const MAX_BODY_BYTES: usize = 256 * 1024;

/// CORS for the configured browser origins; none configured, no CORS headers.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::PUT])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            HeaderName::from_static(idempotency::HEADER),
            REQUEST_ID,
        ])
        .expose_headers([REQUEST_ID, header::RETRY_AFTER]);
    if origins.iter().any(|origin| origin == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let allowed: Vec<HeaderValue> = origins
        .iter()
        .filter_map(|origin| HeaderValue::from_str(origin).ok())
        .collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

/// The API's routes, and the OpenAPI document their handlers describe.
pub fn api() -> (Router<AppState>, utoipa::openapi::OpenApi) {
    let (routes, document) = OpenApiRouter::with_openapi(super::openapi::base())
        .merge(service::router())
        .merge(shop::router())
        .merge(dev::router())
        .merge(webhooks::router())
        .merge(admin::router())
        .split_for_parts();
    (routes, super::openapi::complete(document))
}

/// Every route ordo serves.
pub fn router(state: AppState) -> Router {
    let cors = cors(&state.cors_origins);
    let (api, document) = api();
    // The guard outside the deadline: it may let a handler outlive it (see deadline.rs).
    let mut api = api
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            deadline::limit,
        ))
        .route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            idempotency::guard,
        ));
    // Only with a replica (each layer costs every request a copy of its service).
    // Outermost: it sees the answer the client gets.
    if state.reads.replica().is_some() {
        api = api.route_layer(axum::middleware::from_fn_with_state(
            state.clone(),
            read_your_writes::remember,
        ));
    }
    Router::new()
        .merge(api)
        // Serves the document at /openapi.json and the Swagger UI (vendored) at /docs.
        .merge(SwaggerUi::new("/docs").url("/openapi.json", document))
        .route("/metrics", get(service::metrics::render))
        .merge(crate::console::router())
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            rate_limit::limit,
        ))
        .layer(axum::middleware::from_fn(crate::metrics::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        // Whatever reads the body, the idempotency guard included, reads it in time.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            body_deadline::limit,
        ))
        .layer(CompressionLayer::new())
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|request: &Request| {
                    let request_id = request
                        .headers()
                        .get(request_id::REQUEST_ID_HEADER)
                        .and_then(|value| value.to_str().ok())
                        .unwrap_or_default();
                    let client = request
                        .extensions()
                        .get::<client_address::ClientAddress>()
                        .map(|client| client.0.to_string())
                        .unwrap_or_default();
                    tracing::info_span!(
                        "request",
                        method = %request.method(),
                        path = %request.uri().path(),
                        client,
                        request_id,
                        // Filled in by the auth extractor once the caller is known.
                        user_id = tracing::field::Empty,
                    )
                })
                // One line per answer, with status and latency, inside the request's span.
                .on_response(DefaultOnResponse::new().level(tracing::Level::INFO)),
        )
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        // Before the request-id layer: an unfit client id is replaced by a new one.
        .layer(axum::middleware::from_fn(request_id::accept))
        // Before anything that logs or limits: who the client is, behind trusted proxies.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            client_address::resolve,
        ))
        .layer(cors)
        .with_state(state)
}

async fn no_route(uri: Uri) -> ApiError {
    ApiError::new(ErrorCode::NotFound, format!("no route for {}", uri.path()))
}
