//! Paying for an order with WeChat Pay: the prepay (`POST /orders/{id}/pay`). WeChat
//! Pay's notices are in `webhooks/`.

use aggregates::order::{Order, OrderStatus};
use axum::extract::State;
use chrono::Utc;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AuthUser;
use crate::http::extract::params::IdPath;
use crate::http::views::current_order::load_order;
use crate::state::AppState;
use crate::wechat_pay::{self, PayError, PaymentRequest, RequestPaymentParams};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(pay_order))
}

/// The longest `description` WeChat Pay accepts, in characters.
const MAX_DESCRIPTION_CHARS: usize = 127;

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
    let order = load_order(&state, id).await?;
    if order.status.is_none() || order.user_id != user.id() {
        return Err(ApiError::not_found("order"));
    }
    let expired = order.expires_at.is_some_and(|at| at <= Utc::now());
    match order.status {
        Some(OrderStatus::AwaitingPayment) if !expired => {}
        Some(OrderStatus::AwaitingPayment) => {
            return Err(ApiError::invalid_state(
                "the order has expired and is being cancelled",
            ));
        }
        Some(status) => {
            return Err(ApiError::invalid_state(format!(
                "cannot pay an order that is {status}"
            )));
        }
        None => return Err(ApiError::not_found("order")),
    }
    let user_id = Uuid::parse_str(user.id()).map_err(|_| ApiError::not_found("user"))?;
    let shopper = state
        .write
        .user(user_id)
        .await?
        .ok_or_else(|| ApiError::not_found("user"))?;
    let request = PaymentRequest {
        out_trade_no: wechat_pay::out_trade_no(id),
        description: description(&order),
        total_cents: order.total_cents,
        openid: shopper.openid,
        expires_at: order.expires_at.unwrap_or_else(Utc::now),
    };
    let params = state.wechat_pay.prepay(&request).await.map_err(pay_error)?;
    Ok(Success::ok(params))
}

/// What the shopper sees on the payment sheet: the first product, and how many more.
fn description(order: &Order) -> String {
    let first = order
        .lines
        .first()
        .map_or("order", |line| line.name.as_str());
    let text = match order.lines.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} and {} more", n - 1),
    };
    text.chars().take(MAX_DESCRIPTION_CHARS).collect()
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
