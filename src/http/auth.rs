//! Logging in with WeChat (or a dev code), refreshing and logging out.

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::metadata_of_request;
use super::envelope::Success;
use super::error::{ApiError, ErrorCode};
use super::json::JsonBody;
use crate::app::AppState;
use crate::auth::{AuthUser, Role, SessionError, Tokens};
use crate::wechat::WeChatError;

/// The nickname of a user who has not set one; WeChat no longer shares real names.
const DEFAULT_NICKNAME: &str = "WeChat user";
/// Longest name after `dev:`.
const MAX_DEV_NAME_CHARS: usize = 64;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/auth/wechat-login", post(wechat_login))
        .route("/api/v1/auth/refresh", post(refresh))
        .route("/api/v1/auth/logout", post(logout))
}

#[derive(Debug, Deserialize)]
struct LoginRequest {
    code: String,
}

#[derive(Debug, Serialize)]
struct LoginUser {
    id: Uuid,
    nickname: String,
    avatar_url: String,
}

#[derive(Debug, Serialize)]
struct LoginAnswer {
    #[serde(flatten)]
    tokens: Tokens,
    user: LoginUser,
}

async fn wechat_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Success<LoginAnswer>, ApiError> {
    let code = body.code.trim();
    if code.is_empty() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            ErrorCode::Validation,
            "code: must not be empty",
        )
        .with_data(
            serde_json::json!({"errors": [{"field": "code", "message": "must not be empty"}]}),
        ));
    }
    let (openid, nickname) = match code.strip_prefix("dev:") {
        Some(name) => (code.to_owned(), dev_name(&state, name)?),
        None => (
            state.wechat.openid_for(code).await.map_err(wechat_error)?,
            DEFAULT_NICKNAME.to_owned(),
        ),
    };
    let (user_id, user) = state
        .write
        .login(&openid, &nickname, &metadata_of_request(&headers))
        .await?;
    let tokens = state
        .sessions
        .start(&state.jwt, &user_id.to_string(), Role::User)
        .await
        .map_err(session_error)?;
    Ok(Success::ok(LoginAnswer {
        tokens,
        user: LoginUser {
            id: user_id,
            nickname: user.nickname,
            avatar_url: user.avatar_url,
        },
    }))
}

/// The name of a `dev:<name>` code, accepted in dev mode only.
fn dev_name(state: &AppState, name: &str) -> Result<String, ApiError> {
    if !state.dev_login {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "dev login codes are accepted in dev mode only",
        ));
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > MAX_DEV_NAME_CHARS {
        return Err(ApiError::malformed_field(
            "code",
            "a dev code is dev:<name>, the name 1 to 64 characters",
        ));
    }
    Ok(name.to_owned())
}

fn wechat_error(err: WeChatError) -> ApiError {
    let message = err.to_string();
    match err {
        WeChatError::InvalidCode => {
            ApiError::new(StatusCode::UNAUTHORIZED, ErrorCode::Unauthorized, message)
        }
        WeChatError::Refused => ApiError::new(StatusCode::FORBIDDEN, ErrorCode::Forbidden, message),
        WeChatError::RateLimited => {
            let mut error = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                ErrorCode::RateLimited,
                message,
            );
            error.retry_after = Some("10");
            error
        }
        WeChatError::NotConfigured => ApiError::unavailable(message),
        WeChatError::Timeout | WeChatError::Upstream(_) => {
            tracing::warn!(%message, "WeChat login failed");
            ApiError::new(StatusCode::BAD_GATEWAY, ErrorCode::Upstream, message)
        }
    }
}

fn session_error(err: SessionError) -> ApiError {
    match err {
        SessionError::Database(db) => db.into(),
        SessionError::Jwt(jwt) => ApiError::internal(&jwt),
        other => ApiError::new(
            StatusCode::UNAUTHORIZED,
            ErrorCode::Unauthorized,
            other.to_string(),
        ),
    }
}

#[derive(Debug, Deserialize)]
struct RefreshRequest {
    refresh_token: String,
}

/// A new token pair; the refresh token presented stops working.
async fn refresh(
    State(state): State<AppState>,
    JsonBody(body): JsonBody<RefreshRequest>,
) -> Result<Success<Tokens>, ApiError> {
    let tokens = state
        .sessions
        .refresh(&state.jwt, body.refresh_token.trim())
        .await
        .map_err(session_error)?;
    Ok(Success::ok(tokens))
}

#[derive(Debug, Serialize)]
struct LoggedOut {
    revoked: bool,
}

/// Ends the caller's session: its access and refresh tokens stop working.
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Success<LoggedOut>, ApiError> {
    let Some(session) = user.0.sid else {
        // Operator tokens belong to no session; they expire on their own.
        return Ok(Success::ok(LoggedOut { revoked: false }));
    };
    state
        .sessions
        .revoke(session, "logout")
        .await
        .map_err(session_error)?;
    Ok(Success::ok(LoggedOut { revoked: true }))
}
