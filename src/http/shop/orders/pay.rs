//! Paying for an order with WeChat Pay: the prepay (`POST /orders/{id}/pay`). WeChat
//! Pay's notices are in `webhooks/`.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AuthUser;
use crate::http::extract::params::IdPath;
use crate::payments::PrepayError;
use crate::state::AppState;
use crate::wechat_pay::{PayError, RequestPaymentParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pay_order))
}

/// Starts paying for an order awaiting payment: a WeChat Pay prepay, answered with what
/// the mini program passes to `wx.requestPayment`. The order is paid when WeChat Pay's
/// notice arrives.
#[utoipa::path(post, path = "/api/v1/orders/{id}/pay", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the `wx.requestPayment` parameters", body = Envelope<RequestPaymentParams>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "not awaiting payment, or expired (40902)", body = ErrorBody),
        (status = 502, description = "WeChat Pay refused, failed or timed out (50200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn pay_order(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Success<RequestPaymentParams>, ApiError> {
    let params = state
        .payments
        .prepay(id, user.id())
        .await
        .map_err(prepay_error)?;
    Ok(Success::ok(params))
}

fn prepay_error(err: PrepayError) -> ApiError {
    match err {
        PrepayError::OrderNotFound => ApiError::not_found("order"),
        PrepayError::UserNotFound => ApiError::not_found("user"),
        PrepayError::Expired | PrepayError::NotPayable(_) => {
            ApiError::invalid_state(err.to_string())
        }
        PrepayError::Pay(err) => pay_error(err),
        PrepayError::Load(err) => err.into(),
        PrepayError::Write(err) => err.into(),
    }
}

fn pay_error(err: PayError) -> ApiError {
    let message = err.to_string();
    match err {
        PayError::NotConfigured => ApiError::unavailable(message),
        PayError::Refused { code, .. } if code == "ORDERPAID" || code == "ORDER_CLOSED" => {
            ApiError::invalid_state(message)
        }
        PayError::Key(_) => ApiError::internal(&message),
        PayError::Refused { .. }
        | PayError::Timeout
        | PayError::Upstream(_)
        | PayError::BadSignature
        | PayError::UnsignedRefusal(_) => {
            tracing::warn!(%message, "WeChat Pay prepay failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}
