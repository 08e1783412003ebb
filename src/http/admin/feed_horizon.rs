//! Who holds the read side back: long transactions and projection lag.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::feed_horizon::HorizonReport;
use crate::http::envelope::{Envelope, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(feed_horizon))
}

/// Who holds transaction ids on the cluster (the feed's horizon waits for those that
/// append and passes the others after a moment), and how far behind each projection is,
/// as this server's watcher saw them last (a few times a second).
#[utoipa::path(get, path = "/api/v1/admin/feed-horizon", tag = "admin",
    responses(
        (status = 200, description = "the watcher's last look", body = Envelope<HorizonReport>),
    ),
    security(("bearer" = [])))]
async fn feed_horizon(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Success<HorizonReport>, ApiError> {
    Ok(Success::ok(HorizonReport::clone(&state.horizon.report())))
}
