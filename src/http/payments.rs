//! Paying for an order with WeChat Pay: the prepay (`POST /orders/{id}/pay`), WeChat Pay's
//! payment notice (`POST /payments/wechat/notify`), and dev mode's simulated payment.

use aggregates::order::{Order, OrderCommand, OrderError, OrderStatus};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::{SubsecRound, Utc};
use serde::Serialize;
use serde_json::{Value, json};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::context::{REQUEST_ID_HEADER, await_projection, parse_id};
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::{ApiError, ErrorCode};
use super::orders::{OrderView, current_order, load_order};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::event_store::EventMetadata;
use crate::wechat_pay::{
    self, NoticeError, PayError, PaymentRequest, RequestPaymentParams, Transaction,
};
use crate::write::{OrderActor, WriteError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(pay_order))
        .routes(routes!(wechat_notify))
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
    Path(id): Path<String>,
) -> Result<Success<RequestPaymentParams>, ApiError> {
    let id = parse_id(&id)?;
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
    ApiError::new(StatusCode::CONFLICT, ErrorCode::InvalidState, message)
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
            ApiError::new(StatusCode::BAD_GATEWAY, ErrorCode::Upstream, message)
        }
    }
}

/// The answer WeChat Pay expects from a notice URL: `{"code": "SUCCESS" | "FAIL", "message"}`.
#[derive(Debug, Serialize, ToSchema)]
struct NoticeAnswer {
    code: &'static str,
    message: String,
}

fn notice_answer(status: StatusCode, message: impl Into<String>) -> Response {
    let code = if status.is_success() {
        "SUCCESS"
    } else {
        "FAIL"
    };
    let answer = NoticeAnswer {
        code,
        message: message.into(),
    };
    (status, Json(answer)).into_response()
}

/// What ordo made of a notice, recorded in `payment_notices`.
struct NoticeRecord<'a> {
    outcome: &'static str,
    reason: Option<String>,
    notice_id: Option<&'a str>,
    transaction: Option<&'a Transaction>,
    order_id: Option<Uuid>,
}

impl NoticeRecord<'_> {
    fn refused(reason: String) -> Self {
        Self {
            outcome: "refused",
            reason: Some(reason),
            notice_id: None,
            transaction: None,
            order_id: None,
        }
    }
}

async fn record(state: &AppState, headers: &HeaderMap, record: NoticeRecord<'_>) {
    metrics::counter!("payment_notices_total", "outcome" => record.outcome).increment(1);
    if record.outcome == "refused" {
        tracing::warn!(reason = record.reason.as_deref(), "payment notice refused");
    }
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok());
    let written = sqlx::query(
        "INSERT INTO payment_notices
                (outcome, reason, notice_id, transaction_id, order_id, amount_cents, request_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(record.outcome)
    .bind(&record.reason)
    .bind(record.notice_id)
    .bind(record.transaction.map(|t| t.transaction_id.as_str()))
    .bind(record.order_id)
    .bind(record.transaction.map(|t| t.amount.total))
    .bind(request_id)
    .execute(&state.pool)
    .await;
    if let Err(err) = written {
        tracing::error!(%err, outcome = record.outcome, "could not record a payment notice");
    }
}

/// WeChat Pay's payment notice. Verified (signature over `timestamp\nnonce\nbody\n` with
/// the platform key, timestamp within 5 minutes), decrypted (AEAD_AES_256_GCM, APIv3
/// key), checked (merchant, app, order, amount, trade state), then the order is paid
/// through the write model. Repeating a notice changes nothing and answers success again.
/// Answers use WeChat Pay's format, not the envelope; refusals are recorded.
#[utoipa::path(post, path = "/api/v1/payments/wechat/notify", tag = "payments",
    request_body(content = Value, description = "WeChat Pay's notice: `{id, event_type, resource: {algorithm, ciphertext, associated_data, nonce}}`"),
    responses(
        (status = 200, description = "accepted (or already known): `{\"code\": \"SUCCESS\"}`", body = NoticeAnswer),
        (status = 400, description = "malformed, undecryptable, or not matching the order (`FAIL`)", body = NoticeAnswer),
        (status = 401, description = "bad signature, unknown key or stale timestamp (`FAIL`)", body = NoticeAnswer),
        (status = 404, description = "no such order (`FAIL`)", body = NoticeAnswer),
        (status = 503, description = "cannot record the payment now; WeChat Pay retries (`FAIL`)", body = NoticeAnswer),
    ))]
async fn wechat_notify(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Response {
    let Some(config) = state.wechat_pay.config() else {
        return notice_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "WeChat Pay is not configured",
        );
    };
    let (notice, transaction) = match wechat_pay::open_notice(config, &headers, &body, Utc::now()) {
        Ok(opened) => opened,
        Err(err) => {
            let status = match err {
                NoticeError::Malformed(_) | NoticeError::Undecryptable => StatusCode::BAD_REQUEST,
                _ => StatusCode::UNAUTHORIZED,
            };
            let message = err.to_string();
            record(
                &state,
                &headers,
                NoticeRecord::refused(format!("{}: {message}", err.kind())),
            )
            .await;
            return notice_answer(status, message);
        }
    };
    let refuse = |status: StatusCode, reason: String, order_id: Option<Uuid>| {
        let state = &state;
        let headers = &headers;
        let notice = &notice;
        let transaction = &transaction;
        async move {
            record(
                state,
                headers,
                NoticeRecord {
                    outcome: "refused",
                    reason: Some(reason.clone()),
                    notice_id: Some(&notice.id),
                    transaction: Some(transaction),
                    order_id,
                },
            )
            .await;
            notice_answer(status, reason)
        }
    };
    if transaction.mchid != config.mch_id || transaction.appid != config.app_id {
        let reason = format!(
            "mismatch: for merchant {} / app {}, not this one",
            transaction.mchid, transaction.appid
        );
        return refuse(StatusCode::BAD_REQUEST, reason, None).await;
    }
    let Ok(order_id) = Uuid::parse_str(&transaction.out_trade_no) else {
        let reason = format!("unknown order: out_trade_no {}", transaction.out_trade_no);
        return refuse(StatusCode::NOT_FOUND, reason, None).await;
    };
    if notice.event_type != "TRANSACTION.SUCCESS" || transaction.trade_state != "SUCCESS" {
        // Not a payment (yet): nothing to do, and WeChat Pay need not send it again.
        record(
            &state,
            &headers,
            NoticeRecord {
                outcome: "refused",
                reason: Some(format!(
                    "not a payment: {} / trade_state {}",
                    notice.event_type, transaction.trade_state
                )),
                notice_id: Some(&notice.id),
                transaction: Some(&transaction),
                order_id: Some(order_id),
            },
        )
        .await;
        return notice_answer(StatusCode::OK, "OK");
    }

    let metadata = EventMetadata {
        actor_id: Some("wechatpay".to_owned()),
        actor_role: Some("system".to_owned()),
        request_id: headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        causation_id: Some(notice.id.clone()),
        ..EventMetadata::default()
    };
    let command = OrderCommand::PayOrder {
        payment_id: transaction.transaction_id.clone(),
        amount_cents: transaction.amount.total,
        // To the microsecond, as PostgreSQL stores it: events and read models agree.
        paid_at: transaction
            .success_time
            .unwrap_or_else(Utc::now)
            .trunc_subsecs(6),
    };
    let written = state
        .write
        .transition_order(order_id, OrderActor::Operator, command, &metadata)
        .await;
    let outcome = match written {
        Ok(written) => {
            await_projection(&state, "orders", written.position).await;
            await_projection(&state, "catalog", written.position).await;
            let order = written.value;
            if written.position == crate::event_store::FeedPosition::START {
                "duplicate"
            } else if order.payment_id.as_deref() == Some(transaction.transaction_id.as_str()) {
                "accepted"
            } else {
                tracing::warn!(%order_id, transaction_id = transaction.transaction_id,
                    "payment for an order that could not take it: refund required");
                "refund_required"
            }
        }
        Err(WriteError::OrderNotFound) => {
            let reason = format!("unknown order {order_id}");
            return refuse(StatusCode::NOT_FOUND, reason, None).await;
        }
        Err(WriteError::Order(OrderError::AmountMismatch { expected, paid })) => {
            let reason = format!("mismatch: paid {paid}, the order's total is {expected}");
            return refuse(StatusCode::BAD_REQUEST, reason, Some(order_id)).await;
        }
        Err(err) => {
            // WeChat Pay sends the notice again later.
            let error = ApiError::from(err);
            return notice_answer(error.status, error.message);
        }
    };
    record(
        &state,
        &headers,
        NoticeRecord {
            outcome,
            reason: None,
            notice_id: Some(&notice.id),
            transaction: Some(&transaction),
            order_id: Some(order_id),
        },
    )
    .await;
    notice_answer(StatusCode::OK, "OK")
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
    Path(id): Path<String>,
) -> Result<Success<SimulatedPayment>, ApiError> {
    let simulating = state.dev_mode
        && state
            .wechat_pay
            .config()
            .is_some_and(|config| config.simulator.is_some());
    if !simulating {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            ErrorCode::Forbidden,
            "simulated payments exist in dev mode only",
        ));
    }
    let id = parse_id(&id)?;
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
            StatusCode::BAD_GATEWAY,
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
