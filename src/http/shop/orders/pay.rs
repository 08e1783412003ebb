//! Paying for an order with WeChat Pay: the prepay (`POST /orders/{id}/pay`) and the
//! confirmation once `wx.requestPayment` returns (`POST /orders/{id}/payment-status`).
//! WeChat Pay's notices are in `webhooks/`.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AuthUser;
use crate::http::extract::params::IdPath;
use crate::http::extract::recorded::Recorded;
use crate::http::views::current_order::current_order;
use crate::http::views::order::OrderView;
use crate::http::views::read_your_writes::await_projections;
use crate::payments::{ConfirmError, PaymentAnswer, PrepayError};
use crate::state::AppState;
use crate::wechat_pay::{PayError, RequestPaymentParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay_order))
        .routes(routes!(confirm_payment))
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

/// After `wx.requestPayment` returns, the mini program asks whether the payment went
/// through: ordo asks WeChat Pay (its signed answer checked) and, when it was paid,
/// records the payment exactly as WeChat Pay's notice would (whichever comes first
/// writes it; the other changes nothing). An order that is not paid is answered as it is.
#[utoipa::path(post, path = "/api/v1/orders/{id}/payment-status", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the order: `paid` when WeChat Pay has the payment, otherwise as it was", body = Envelope<OrderView>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 502, description = "WeChat Pay failed, timed out, or answered what ordo cannot trust or take (50200)", body = ErrorBody),
        (status = 503, description = "WeChat Pay is not configured (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn confirm_payment(
    State(state): State<AppState>,
    Recorded(metadata): Recorded,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Success<OrderView>, ApiError> {
    let answer = state
        .payments
        .confirm_payment(id, user.id(), metadata.request_id.as_deref())
        .await
        .map_err(confirm_error)?;
    if let Some(PaymentAnswer::Paid {
        written: Some(position),
    }) = answer
    {
        await_projections(&state, &["orders"], position).await;
    }
    Ok(Success::ok(current_order(&state, id).await?))
}

fn confirm_error(err: ConfirmError) -> ApiError {
    match err {
        ConfirmError::OrderNotFound => ApiError::not_found("order"),
        ConfirmError::Mismatch(_) => {
            let message = err.to_string();
            tracing::warn!(%message, "WeChat Pay reported a payment ordo cannot take");
            ApiError::new(ErrorCode::Upstream, message)
        }
        ConfirmError::Pay(err) => pay_error(err),
        ConfirmError::Load(err) => err.into(),
        ConfirmError::Write(err) => err.into(),
        ConfirmError::Database(err) => err.into(),
    }
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
        PrepayError::Database(err) => err.into(),
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
        | PayError::Untrusted(_)
        | PayError::BillDigest { .. }
        | PayError::UnsignedRefusal(_) => {
            tracing::warn!(%message, "a call to WeChat Pay failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}
