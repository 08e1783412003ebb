//! Logging in with WeChat (or a dev code), refreshing and logging out.

use std::time::Duration;

use aggregates::text::TextRule;
use axum::Extension;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::auth::revocations;
use crate::auth::{Role, SessionError, Tokens};
use crate::database::DatabaseError;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AuthUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::recorded::metadata_of_request;
use crate::http::middleware::client_address::ClientAddress;
use crate::http::middleware::dev_only;
use crate::state::AppState;
use crate::wechat::WeChatError;

/// The nickname of a user who has not set one; WeChat no longer shares real names.
const DEFAULT_NICKNAME: &str = "WeChat user";
/// Longest name after `dev:`.
const MAX_DEV_NAME_CHARS: usize = 64;
/// Longest login code, in characters: WeChat's are 32; a dev code is `dev:` and a name.
const MAX_CODE_CHARS: usize = 128;
/// How long a login waits after WeChat said the quota is spent (45011).
const WECHAT_QUOTA_RETRY: Duration = Duration::from_secs(10);
/// A login code: one line, required.
const LOGIN_CODE: TextRule = TextRule::single_line(MAX_CODE_CHARS).required();

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(wechat_login))
        .routes(routes!(refresh))
        .routes(routes!(logout))
}

fn login_code_schema() -> utoipa::openapi::Object {
    crate::http::schemas::text_schema(LOGIN_CODE)
}

#[derive(Debug, Deserialize, ToSchema)]
struct LoginRequest {
    /// From `wx.login()`; in dev mode `dev:<name>` logs in as that name.
    #[schema(schema_with = login_code_schema)]
    code: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct LoginUser {
    id: Uuid,
    nickname: String,
    avatar_url: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct LoginAnswer {
    #[serde(flatten)]
    tokens: Tokens,
    user: LoginUser,
}

/// Exchanges a `wx.login()` code for a session: an access token and a refresh token.
/// The first login creates the user.
#[utoipa::path(post, path = "/api/v1/auth/wechat-login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "logged in", body = Envelope<LoginAnswer>),
        (status = 401, description = "WeChat refused the code: invalid (its 40029) or already used (its 40163) (40100)", body = ErrorBody),
        (status = 403, description = "a dev code outside dev mode, or through a proxy while dev mode is on only by default (naming ORDO_DEV), or WeChat refused the user (40300)", body = ErrorBody),
        (status = 422, description = "the code is empty, longer than 128 characters or not one clean line (42200)", body = ErrorBody),
        (status = 429, description = "too many logins with a WeChat code from this address, too many waiting for WeChat, or WeChat's quota spent (its 45011) (42900)", body = ErrorBody),
        (status = 502, description = "WeChat failed or timed out (50200)", body = ErrorBody),
    ))]
async fn wechat_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    client: Option<Extension<ClientAddress>>,
    JsonBody(body): JsonBody<LoginRequest>,
) -> Result<Success<LoginAnswer>, ApiError> {
    let code = body.code.trim();
    // The code goes to WeChat and, in dev mode, into the log as an openid: refused here
    // if it is not one clean line.
    if let Some(error) = LOGIN_CODE.check("code", code) {
        return Err(ApiError::invalid(vec![error]));
    }
    let (openid, nickname) = match code.strip_prefix("dev:") {
        Some(name) => (code.to_owned(), dev_name(&state, &headers, name)?),
        None => {
            // Every such login spends a call of the mini program's WeChat quota: an
            // address gets few, so nobody can spend the quota and lock shoppers out.
            if let Some(Extension(ClientAddress(address))) = client
                && let Err(wait) = state.limiters.check_login(address)
            {
                return Err(ApiError::rate_limited(
                    "too many logins from this address",
                    wait,
                ));
            }
            (
                state.wechat.openid_for(code).await.map_err(wechat_error)?,
                DEFAULT_NICKNAME.to_owned(),
            )
        }
    };
    let (user_id, user) = state
        .write
        .login(
            &openid,
            &nickname,
            &metadata_of_request(&headers, client.map(|c| c.0)),
        )
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

/// The name of a `dev:<name>` code, accepted in dev mode only (and through a proxy only
/// when dev mode or dev logins were asked for).
fn dev_name(state: &AppState, headers: &HeaderMap, name: &str) -> Result<String, ApiError> {
    if !state.dev_login {
        return Err(ApiError::forbidden(
            "dev login codes are accepted in dev mode only",
        ));
    }
    dev_only::refuse_through_proxy(state.dev_login_by_default, headers, "dev logins")?;
    // Like a code WeChat never issued: a blank name is refused as WeChat refuses a bad
    // code, and a long one shows its first 64 characters (the openid keeps it whole).
    let name = name.trim();
    if name.is_empty() {
        return Err(ApiError::unauthorized(
            "a dev code is dev:<name>; the name is blank",
        ));
    }
    Ok(name.chars().take(MAX_DEV_NAME_CHARS).collect())
}

fn wechat_error(err: WeChatError) -> ApiError {
    let message = err.to_string();
    match err {
        WeChatError::InvalidCode | WeChatError::CodeUsed => ApiError::unauthorized(message),
        WeChatError::Refused => ApiError::forbidden(message),
        WeChatError::RateLimited => {
            tracing::warn!("WeChat answered 45011: the mini program's login quota is spent");
            ApiError::rate_limited(&message, WECHAT_QUOTA_RETRY)
        }
        WeChatError::TooManyInFlight => ApiError::rate_limited(&message, Duration::from_secs(1)),
        WeChatError::NotConfigured => ApiError::unavailable(message),
        WeChatError::Timeout | WeChatError::Upstream(_) => {
            tracing::warn!(%message, "WeChat login failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}

fn session_error(err: SessionError) -> ApiError {
    match err {
        SessionError::Database(db) => DatabaseError::from(db).into(),
        SessionError::Jwt(jwt) => ApiError::internal(&jwt),
        other => ApiError::unauthorized(other.to_string()),
    }
}

#[derive(Debug, Deserialize, ToSchema)]
struct RefreshRequest {
    refresh_token: String,
}

/// A new token pair; the refresh token presented stops working. Presenting a refresh
/// token that was already rotated ends its whole session.
#[utoipa::path(post, path = "/api/v1/auth/refresh", tag = "auth",
    request_body = RefreshRequest,
    responses(
        (status = 200, description = "a new pair", body = Envelope<Tokens>),
        (status = 401, description = "unknown, expired, rotated or revoked refresh token (40100)", body = ErrorBody),
    ))]
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

#[derive(Debug, Serialize, ToSchema)]
struct LoggedOut {
    revoked: bool,
}

/// Ends the caller's session: its access and refresh tokens stop working. An operator's
/// token (no session) is listed as revoked until it would have expired.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth",
    responses((status = 200, description = "the session is revoked", body = Envelope<LoggedOut>)),
    security(("bearer" = [])))]
async fn logout(
    State(state): State<AppState>,
    user: AuthUser,
) -> Result<Success<LoggedOut>, ApiError> {
    let Some(session) = user.0.sid else {
        state
            .sessions
            .revoke_token(&user.0.jti, revocations::SIGNED_OUT)
            .await?;
        return Ok(Success::ok(LoggedOut { revoked: true }));
    };
    state
        .sessions
        .revoke(session, "logout")
        .await
        .map_err(session_error)?;
    Ok(Success::ok(LoggedOut { revoked: true }))
}
