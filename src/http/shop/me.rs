//! The caller's own profile.

use aggregates::user::{ProfileChanges, User};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AuthUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::recorded::Recorded;
use crate::http::schemas;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_me, put_me))
}

#[derive(Debug, Serialize, ToSchema)]
struct Profile {
    id: Uuid,
    nickname: String,
    avatar_url: String,
    phone: String,
}

impl Profile {
    fn of(id: Uuid, user: User) -> Self {
        Self {
            id,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
            phone: user.phone,
        }
    }
}

/// The caller's user id; operator tokens name no user.
fn user_id(user: &AuthUser) -> Result<Uuid, ApiError> {
    Uuid::parse_str(user.id()).map_err(|_| ApiError::not_found("user"))
}

/// The caller's profile.
#[utoipa::path(get, path = "/api/v1/me", tag = "me",
    responses(
        (status = 200, description = "the profile", body = Envelope<Profile>),
        (status = 404, description = "an operator token names no user (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_me(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Success<Profile>, ApiError> {
    let id = user_id(&user)?;
    let found = state.write.user(id).await?;
    found
        .map(|found| Success::ok(Profile::of(id, found)))
        .ok_or_else(|| ApiError::not_found("user"))
}

/// The fields to change; absent ones stay as they are.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ProfileRequest {
    #[schema(schema_with = schemas::or_null::nickname)]
    nickname: Option<String>,
    #[schema(schema_with = schemas::or_null::avatar_url)]
    avatar_url: Option<String>,
    #[schema(schema_with = schemas::or_null::phone)]
    phone: Option<String>,
}

/// Changes the caller's nickname, avatar or phone.
#[utoipa::path(put, path = "/api/v1/me", tag = "me",
    request_body = ProfileRequest,
    responses(
        (status = 200, description = "the changed profile", body = Envelope<Profile>),
        (status = 404, description = "an operator token names no user (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn put_me(
    State(state): State<AppState>,
    user: AuthUser,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<ProfileRequest>,
) -> Result<Success<Profile>, ApiError> {
    let id = user_id(&user)?;
    let changes = ProfileChanges {
        nickname: body.nickname,
        avatar_url: body.avatar_url,
        phone: body.phone,
    };
    let updated = state.write.update_profile(id, changes, &metadata).await?;
    Ok(Success::ok(Profile::of(id, updated)))
}
