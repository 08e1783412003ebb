//! Dev mode's shopper and WeChat Pay: a payment taken by the simulated WeChat Pay
//! (`wechat_pay_simulator`), its notice signed as WeChat Pay's and sent to ordo unless
//! the caller wants it lost; a refund settled there, its notice sent the same way.

use aggregates::order::Order;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::Utc;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::{ApiError, ErrorCode};
use crate::http::extract::caller::AuthUser;
use crate::http::extract::params::IdPath;
use crate::http::extract::params::{QueryRules, ValidQuery};
use crate::http::middleware::dev_only;
use crate::http::views::current_order::{current_order, load_order};
use crate::http::views::order::OrderView;
use crate::state::AppState;
use crate::wechat_pay::{
    self, RefundAmount, RefundResult, SignedNotice, Transaction, WeChatPayConfig,
};
use crate::wechat_pay_simulator;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(simulate_payment))
        .routes(routes!(simulate_refund))
}

/// What a simulated payment did.
#[derive(Debug, Serialize, ToSchema)]
struct SimulatedPayment {
    transaction_id: String,
    /// The HTTP status ordo's notice URL answered; null when no notice was sent.
    notify_status: Option<u16>,
    /// Its answer (WeChat Pay's format); null when no notice was sent.
    #[schema(value_type = Object)]
    notify_answer: Value,
    order: OrderView,
}

/// `?notify=` of a simulated payment.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct NotifyQuery {
    /// `false`: WeChat Pay takes the payment but its notice is lost (none is sent); ordo
    /// learns of it by asking (`payment-status`, the late-notice sweep, the expiry).
    #[serde(default = "notify_by_default")]
    notify: bool,
}

fn notify_by_default() -> bool {
    true
}

impl QueryRules for NotifyQuery {
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// Dev mode only: the shopper pays the order at the simulated WeChat Pay (for its
/// total), which sends ordo its signed notice, as WeChat Pay would; with `notify=false`
/// the notice is lost.
#[utoipa::path(post, path = "/api/v1/dev/orders/{id}/simulate-payment", tag = "dev",
    params(("id" = Uuid, Path, description = "the order"), NotifyQuery),
    responses(
        (status = 200, description = "paid at the simulated WeChat Pay (and the notice sent); the order as it is now", body = Envelope<SimulatedPayment>),
        (status = 403, description = "not in dev mode, or through a proxy while dev mode is on only by default (naming ORDO_DEV) (40300)", body = ErrorBody),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "its payment was closed at WeChat Pay (the order expired) (40902)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn simulate_payment(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AuthUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<NotifyQuery>,
) -> Result<Success<SimulatedPayment>, ApiError> {
    let config = simulator(&state, &headers, "payments")?;
    let order = owned_order(&state, &user, id).await?;
    let openid = match Uuid::parse_str(&order.user_id) {
        Ok(user_id) => state.write.user(user_id).await?.map(|user| user.openid),
        Err(_) => None,
    };
    let trade = state
        .simulated_wechat_pay
        .pay(
            &wechat_pay::out_trade_no(id),
            &openid.unwrap_or_default(),
            order.total_cents,
        )
        .await
        .map_err(|err| ApiError::unavailable(format!("the simulated WeChat Pay failed: {err}")))?;
    let Some(transaction_id) = trade.transaction_id.clone() else {
        return Err(ApiError::invalid_state(
            "its payment was closed at WeChat Pay (the order expired)",
        ));
    };
    let (notify_status, notify_answer) = if query.notify {
        let transaction: Transaction =
            serde_json::from_value(wechat_pay_simulator::transaction_json(config, &trade))
                .map_err(|err| ApiError::internal(&err))?;
        let notice = wechat_pay::signed_notice(config, &transaction, Utc::now())
            .map_err(|err| ApiError::internal(&err))?;
        let (status, answer) = send_to_self(&state, wechat_pay::NOTIFY_PATH, notice).await?;
        (Some(status), answer)
    } else {
        (None, Value::Null)
    };
    Ok(Success::ok(SimulatedPayment {
        transaction_id,
        notify_status,
        notify_answer,
        order: current_order(&state, id).await?,
    }))
}

/// The simulator's config: dev mode with ordo's own WeChat Pay keys (and, when dev mode
/// is on only by default, not through a proxy), or 403 naming `what` is simulated.
fn simulator<'a>(
    state: &'a AppState,
    headers: &HeaderMap,
    what: &str,
) -> Result<&'a WeChatPayConfig, ApiError> {
    let config = match state.wechat_pay.config() {
        Some(config) if state.dev_mode && config.simulator.is_some() => config,
        _ => {
            return Err(ApiError::forbidden(format!(
                "simulated {what} exist in dev mode only"
            )));
        }
    };
    dev_only::refuse_through_proxy(
        state.dev_mode_by_default,
        headers,
        &format!("simulated {what}"),
    )?;
    Ok(config)
}

/// The order, if `user` owns it or is an admin.
async fn owned_order(state: &AppState, user: &AuthUser, id: Uuid) -> Result<Order, ApiError> {
    let order = load_order(state, id).await?;
    let is_admin = user.0.role == crate::auth::Role::Admin;
    if order.status.is_none() || (order.user_id != user.id() && !is_admin) {
        return Err(ApiError::not_found("order"));
    }
    Ok(order)
}

/// Posts a signed notice to this server's `path`: the status and answer it got.
async fn send_to_self(
    state: &AppState,
    path: &str,
    notice: SignedNotice,
) -> Result<(u16, Value), ApiError> {
    let addr = state
        .local_addr
        .get()
        .ok_or_else(|| ApiError::unavailable("the server is not listening yet"))?;
    let mut request = crate::tls::http_client()
        .build()
        .map_err(|err| ApiError::unavailable(format!("no HTTP client: {err}")))?
        .post(format!("http://{addr}{path}"))
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
    let status = response.status().as_u16();
    Ok((status, response.json().await.unwrap_or(json!(null))))
}

/// One simulated refund notice.
#[derive(Debug, Serialize, ToSchema)]
struct SimulatedRefundNotice {
    refund_no: String,
    /// The HTTP status ordo's refund notice URL answered.
    notify_status: u16,
    /// Its answer (WeChat Pay's format).
    #[schema(value_type = Object)]
    notify_answer: Value,
}

/// What a simulated refund did.
#[derive(Debug, Serialize, ToSchema)]
struct SimulatedRefund {
    notices: Vec<SimulatedRefundNotice>,
    order: OrderView,
}

/// Dev mode only: ordo sends itself a correctly signed WeChat Pay refund notice
/// (`REFUND.SUCCESS`) for every refund of the order in progress, as WeChat Pay would once
/// the money is back with the shopper.
#[utoipa::path(post, path = "/api/v1/dev/orders/{id}/simulate-refund", tag = "dev",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the notices were sent; the order as it is now", body = Envelope<SimulatedRefund>),
        (status = 403, description = "not in dev mode, or through a proxy while dev mode is on only by default (naming ORDO_DEV) (40300)", body = ErrorBody),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "no refund in progress (40902)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn simulate_refund(
    State(state): State<AppState>,
    headers: HeaderMap,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Success<SimulatedRefund>, ApiError> {
    let config = simulator(&state, &headers, "refunds")?;
    let order = owned_order(&state, &user, id).await?;
    let refunds: Vec<_> = order.refunds_in_progress().cloned().collect();
    if refunds.is_empty() {
        return Err(ApiError::invalid_state(
            "no refund of this order is in progress",
        ));
    }
    let numbers: Vec<String> = refunds
        .iter()
        .map(|refund| refund.refund_no.clone())
        .collect();
    let settled = state
        .simulated_wechat_pay
        .settle_refunds(&numbers)
        .await
        .map_err(|err| ApiError::unavailable(format!("the simulated WeChat Pay failed: {err}")))?;
    if settled.is_empty() {
        return Err(ApiError::invalid_state(
            "the simulated WeChat Pay holds none of this order's refunds in progress",
        ));
    }
    let mut notices = Vec::with_capacity(settled.len());
    for refund in settled {
        let result = RefundResult {
            mchid: config.mch_id.clone(),
            out_trade_no: refund.out_trade_no.clone(),
            transaction_id: refund.transaction_id.clone(),
            out_refund_no: refund.out_refund_no.clone(),
            refund_id: refund.refund_id.clone(),
            refund_status: refund.status.clone(),
            success_time: refund.success_time,
            user_received_account: "支付用户零钱".to_owned(),
            amount: RefundAmount {
                total: refund.total_cents,
                refund: refund.refund_cents,
                payer_total: refund.total_cents,
                payer_refund: refund.refund_cents,
            },
        };
        let notice = wechat_pay::signed_refund_notice(config, &result, Utc::now())
            .map_err(|err| ApiError::internal(&err))?;
        let (notify_status, notify_answer) =
            send_to_self(&state, wechat_pay::REFUND_NOTIFY_PATH, notice).await?;
        notices.push(SimulatedRefundNotice {
            refund_no: refund.out_refund_no,
            notify_status,
            notify_answer,
        });
    }
    Ok(Success::ok(SimulatedRefund {
        notices,
        order: current_order(&state, id).await?,
    }))
}
