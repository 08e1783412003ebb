//! The console's sign-in: the token in an `ordo console-url` link is traded, once, for
//! a token of the console's own. The link stays in the browser's history; spent, it
//! signs no one in again.

use std::time::Duration;

use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::auth::Role;
use crate::auth::revocations::{LINK_SPENT, console_session_id};
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(sign_in))
}

/// The console's own token (no `Debug`: it is a secret that must not reach a log).
#[derive(Serialize, ToSchema)]
struct ConsoleSession {
    access_token: String,
    token_type: &'static str,
    /// Seconds until it expires: when the link's token would have.
    expires_in: u64,
}

/// Trades the operator token presented (from an `ordo console-url` link) for a new one
/// with the same subject and expiry, and revokes the one presented: a link signs in once.
/// `ordo token revoke <the link's id>` revokes the new token too.
#[utoipa::path(post, path = "/api/v1/admin/console/sign-in", tag = "admin",
    responses(
        (status = 200, description = "the console's token", body = Envelope<ConsoleSession>),
        (status = 401, description = "the link was already used, or its token expired or was revoked (40100)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn sign_in(
    State(state): State<AppState>,
    AdminUser(claims): AdminUser,
) -> Result<Success<ConsoleSession>, ApiError> {
    // A token of a login session would be traded for one that outlives the session.
    if claims.sid.is_some() || claims.jti.ends_with(".console") {
        return Err(ApiError::unauthorized(
            "that is already a console's token; sign in with a link from `ordo console-url`",
        ));
    }
    let left = claims.exp.saturating_sub(Utc::now().timestamp());
    let left = u64::try_from(left)
        .ok()
        .filter(|seconds| *seconds > 0)
        .ok_or_else(|| ApiError::unauthorized("the access token has expired"))?;
    // Whoever lists the link's token first is the one signed in; a second tab, or someone
    // replaying the link from the history, is refused.
    if !state.sessions.revoke_token(&claims.jti, LINK_SPENT).await? {
        return Err(ApiError::unauthorized(format!(
            "the token has been revoked: {LINK_SPENT}"
        )));
    }
    let access_token = state
        .jwt
        .issue_as(
            &claims.sub,
            Role::Admin,
            Duration::from_secs(left),
            console_session_id(&claims.jti),
        )
        .map_err(|err| ApiError::internal(&err))?;
    Ok(Success::ok(ConsoleSession {
        access_token,
        token_type: "Bearer",
        expires_in: left,
    }))
}
