//! What dev mode's simulated WeChat platform received (`dev_wechat_calls`): the uploads
//! and messages ordo would have sent to WeChat, for the console and for a developer.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::state::AppState;
use crate::wechat_simulator::SimulatedCall;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(simulated_calls))
}

/// The newest 100 calls dev mode's simulated WeChat platform received (the platform is
/// simulated in dev mode when no app id and secret are set).
#[utoipa::path(get, path = "/api/v1/dev/wechat-calls", tag = "dev",
    responses(
        (status = 200, description = "newest first", body = Envelope<Vec<SimulatedCall>>),
        (status = 403, description = "the platform is not simulated here (40300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn simulated_calls(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Success<Vec<SimulatedCall>>, ApiError> {
    if !state
        .platform
        .as_ref()
        .is_some_and(crate::wechat::Platform::simulated)
    {
        return Err(ApiError::forbidden(
            "WeChat's platform is simulated in dev mode only, without ORDO_WECHAT_APP_ID",
        ));
    }
    Ok(Success::ok(state.simulated_platform.newest(100).await?))
}
