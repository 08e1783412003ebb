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
use crate::wechat::PlatformError;
use crate::wechat::phone::PhoneError;
use aggregates::FieldError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_me, put_me))
        .routes(routes!(verify_phone))
}

#[derive(Debug, Serialize, ToSchema)]
struct Profile {
    id: Uuid,
    nickname: String,
    avatar_url: String,
    phone: String,
    /// Whether `phone` is the one WeChat verified (`POST /me/phone`), not one typed in.
    phone_verified: bool,
}

impl Profile {
    fn of(id: Uuid, user: User) -> Self {
        Self {
            id,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
            phone: user.phone,
            phone_verified: user.phone_verified,
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

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PhoneRequest {
    /// The code the mini program's `getPhoneNumber` button gave (single use, 5 minutes).
    #[schema(min_length = 1, max_length = 512)]
    code: String,
}

/// Exchanges a `getPhoneNumber` code with WeChat for the caller's verified phone, which
/// becomes their profile's (`phone_verified`).
#[utoipa::path(post, path = "/api/v1/me/phone", tag = "me",
    request_body = PhoneRequest,
    responses(
        (status = 200, description = "the profile with the verified phone", body = Envelope<Profile>),
        (status = 404, description = "an operator token names no user (40400)", body = ErrorBody),
        (status = 422, description = "the code is invalid, used or expired, named (42200)", body = ErrorBody),
        (status = 503, description = "WeChat cannot be asked now, or is not configured (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn verify_phone(
    State(state): State<AppState>,
    user: AuthUser,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<PhoneRequest>,
) -> Result<Success<Profile>, ApiError> {
    let id = user_id(&user)?;
    let code = body.code.trim();
    if code.is_empty() || code.len() > 512 {
        return Err(ApiError::invalid(vec![FieldError::new(
            "code",
            "must be the code getPhoneNumber gave (1 to 512 characters)",
        )]));
    }
    let Some(platform) = &state.platform else {
        return Err(ApiError::unavailable(
            PlatformError::NotConfigured.to_string(),
        ));
    };
    let phone = platform.phone_number(code).await.map_err(|err| match err {
        PhoneError::InvalidCode => {
            ApiError::invalid(vec![FieldError::new("code", err.to_string())])
        }
        PhoneError::Platform(err) => ApiError::unavailable(err.to_string()),
    })?;
    let updated = state.write.verify_phone(id, phone, &metadata).await?;
    Ok(Success::ok(Profile::of(id, updated)))
}
