//! Paying for an order with WeChat Pay: the prepay (`POST /orders/{id}/pay`) and dev
//! mode's simulated payment. WeChat Pay's notices are in `payment_notices`.

use aggregates::order::{Order, OrderStatus};
use axum::extract::State;
use chrono::Utc;
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::caller::AuthUser;
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::{ApiError, ErrorCode};
use super::order_view::OrderView;
use super::orders::{current_order, load_order};
use super::params::IdPath;
use crate::state::AppState;
use crate::wechat_pay::{self, PayError, PaymentRequest, RequestPaymentParams, Transaction};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay_order))
        .routes(routes!(simulate_payment))
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
            return Err(invalid_state(
                "the order has expired and is being cancelled",
            ));
        }
        Some(status) => {
            return Err(invalid_state(&format!(
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

fn invalid_state(message: &str) -> ApiError {
    ApiError::new(ErrorCode::InvalidState, message)
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
            invalid_state(&message)
        }
        PayError::Key(_) => ApiError::internal(&message),
        PayError::Refused { .. }
        | PayError::Timeout
        | PayError::Upstream(_)
        | PayError::BadSignature => {
            tracing::warn!(%message, "WeChat Pay prepay failed");
            ApiError::new(ErrorCode::Upstream, message)
        }
    }
}

/// What a simulated payment did.
#[derive(Debug, Serialize, ToSchema)]
struct SimulatedPayment {
    transaction_id: String,
    /// The HTTP status ordo's notice URL answered.
    notify_status: u16,
    /// Its answer (WeChat Pay's format).
    #[schema(value_type = Object)]
    notify_answer: Value,
    order: OrderView,
}

/// Dev mode only: ordo sends itself a correctly signed WeChat Pay notice for the order's
/// amount, as WeChat Pay would after the shopper paid.
#[utoipa::path(post, path = "/api/v1/dev/orders/{id}/simulate-payment", tag = "dev",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the notice was sent; the order as it is now", body = Envelope<SimulatedPayment>),
        (status = 403, description = "not in dev mode (40300)", body = ErrorBody),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn simulate_payment(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Success<SimulatedPayment>, ApiError> {
    let simulating = state.dev_mode
        && state
            .wechat_pay
            .config()
            .is_some_and(|config| config.simulator.is_some());
    if !simulating {
        return Err(ApiError::forbidden(
            "simulated payments exist in dev mode only",
        ));
    }
    let order = load_order(&state, id).await?;
    let is_admin = user.0.role == crate::auth::Role::Admin;
    if order.status.is_none() || (order.user_id != user.id() && !is_admin) {
        return Err(ApiError::not_found("order"));
    }
    let config = state
        .wechat_pay
        .config()
        .ok_or_else(|| ApiError::unavailable("WeChat Pay is not configured"))?;
    let openid = match Uuid::parse_str(&order.user_id) {
        Ok(user_id) => state.write.user(user_id).await?.map(|user| user.openid),
        Err(_) => None,
    };
    let transaction = Transaction {
        appid: config.app_id.clone(),
        mchid: config.mch_id.clone(),
        out_trade_no: wechat_pay::out_trade_no(id),
        transaction_id: format!("4200{:024}", rand::random::<u64>()),
        trade_state: "SUCCESS".to_owned(),
        trade_type: "JSAPI".to_owned(),
        success_time: Some(Utc::now()),
        amount: wechat_pay::Amount {
            total: order.total_cents,
            currency: "CNY".to_owned(),
        },
        payer: openid.map(|openid| wechat_pay::Payer { openid }),
    };
    let notice = wechat_pay::signed_notice(config, &transaction, Utc::now())
        .map_err(|err| ApiError::internal(&err))?;
    let addr = state
        .local_addr
        .get()
        .ok_or_else(|| ApiError::unavailable("the server is not listening yet"))?;
    let mut request = reqwest::Client::new()
        .post(format!("http://{addr}{}", wechat_pay::NOTIFY_PATH))
        .body(notice.body);
    for (name, value) in notice.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|err| {
        ApiError::new(
            ErrorCode::Upstream,
            format!("the notice did not reach the server: {err}"),
        )
    })?;
    let notify_status = response.status().as_u16();
    let notify_answer = response.json().await.unwrap_or(json!(null));
    Ok(Success::ok(SimulatedPayment {
        transaction_id: transaction.transaction_id,
        notify_status,
        notify_answer,
        order: current_order(&state, id).await?,
    }))
}
