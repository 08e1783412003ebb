//! WeChat Pay's payment notices (`POST /payments/wechat/notify`): verified, decrypted,
//! checked, then the order paid through the write model; every notice WeChat Pay's key
//! vouches for recorded in `payment_notices` with what ordo made of it. The others
//! (no valid signature, a stale replay) anybody can send at will: they are counted
//! (`payment_notices_unverified_total{reason}`) and sampled into the log, not stored.

use aggregates::order::OrderError;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Serialize;
use tracing::Instrument;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::event_store::EventMetadata;
use crate::http::error::ApiError;
use crate::http::middleware::request_id::REQUEST_ID_HEADER;
use crate::http::views::read_your_writes::await_projections;
use crate::http::webhooks::sampled_log::SampledLog;
use crate::state::AppState;
use crate::wechat_pay::{self, NoticeError, Transaction, quoted};
use crate::write::WriteError;
use projections::stored_text::escape;

/// A line every 10 s at most for notices nobody vouches for.
static UNVERIFIED: SampledLog = SampledLog::new(std::time::Duration::from_secs(10));

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(wechat_notify))
}

/// The answer WeChat Pay expects from a notice URL: `{"code": "SUCCESS" | "FAIL", "message"}`.
#[derive(Debug, Serialize, ToSchema)]
pub(super) struct NoticeAnswer {
    code: &'static str,
    message: String,
}

pub(super) fn notice_answer(status: StatusCode, message: impl Into<String>) -> Response {
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
#[derive(Default)]
pub(super) struct NoticeRecord<'a> {
    /// `payment` or `refund`.
    pub kind: &'static str,
    pub outcome: &'static str,
    pub reason: Option<String>,
    pub notice_id: Option<&'a str>,
    pub transaction_id: Option<&'a str>,
    pub amount_cents: Option<i64>,
    pub order_id: Option<Uuid>,
    pub refund_no: Option<&'a str>,
}

impl<'a> NoticeRecord<'a> {
    fn payment(outcome: &'static str, notice: &'a str, transaction: &'a Transaction) -> Self {
        Self {
            kind: "payment",
            outcome,
            notice_id: Some(notice),
            transaction_id: Some(&transaction.transaction_id),
            amount_cents: Some(transaction.amount.total),
            ..Self::default()
        }
    }
}

/// Verifies and decrypts a notice, or answers WeChat Pay why not: a refusal WeChat Pay's
/// key vouches for is recorded (as `kind`), the others counted and sampled.
pub(super) async fn open_or_refuse<R: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: &[u8],
    kind: &'static str,
) -> Result<(wechat_pay::Notice, R), Response> {
    let Some(config) = state.wechat_pay.config() else {
        return Err(notice_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "WeChat Pay is not configured",
        ));
    };
    let err = match wechat_pay::open_notice(config, headers, body, Utc::now()) {
        Ok(opened) => return Ok(opened),
        Err(err) => err,
    };
    let status = match err {
        NoticeError::Malformed(_) | NoticeError::Undecryptable => StatusCode::BAD_REQUEST,
        _ => StatusCode::UNAUTHORIZED,
    };
    let message = err.to_string();
    if !err.is_vouched_for() {
        metrics::counter!("payment_notices_unverified_total", "reason" => err.kind()).increment(1);
        if let Some(left_out) = UNVERIFIED.admit() {
            tracing::warn!(reason = %message, left_out, kind,
                "notice refused: not signed by WeChat Pay (sampled)");
        }
        return Err(notice_answer(status, message));
    }
    let refused = NoticeRecord {
        kind,
        outcome: "refused",
        reason: Some(format!("{}: {message}", err.kind())),
        ..NoticeRecord::default()
    };
    record(state, headers, refused).await;
    Err(notice_answer(status, message))
}

/// Who writes what a notice causes: WeChat Pay, with the request and the notice's id.
pub(super) fn notice_metadata(headers: &HeaderMap, notice: &wechat_pay::Notice) -> EventMetadata {
    EventMetadata {
        actor_id: Some("wechatpay".to_owned()),
        actor_role: Some("system".to_owned()),
        request_id: headers
            .get(REQUEST_ID_HEADER)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned),
        causation_id: Some(notice.id.clone()),
        ..EventMetadata::default()
    }
}

pub(super) async fn record(state: &AppState, headers: &HeaderMap, record: NoticeRecord<'_>) {
    metrics::counter!("payment_notices_total", "outcome" => record.outcome, "kind" => record.kind)
        .increment(1);
    if record.outcome == "refused" {
        tracing::warn!(
            reason = record.reason.as_deref(),
            kind = record.kind,
            "notice refused"
        );
    }
    let request_id = headers
        .get(REQUEST_ID_HEADER)
        .and_then(|value| value.to_str().ok());
    let written = sqlx::query(
        "INSERT INTO payment_notices (kind, outcome, reason, notice_id, transaction_id,
                order_id, amount_cents, request_id, refund_no)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(record.kind)
    .bind(record.outcome)
    .bind(record.reason.as_deref().map(escape))
    .bind(record.notice_id.map(escape))
    .bind(record.transaction_id.map(escape))
    .bind(record.order_id)
    .bind(record.amount_cents)
    .bind(request_id.map(escape))
    .bind(record.refund_no.map(escape))
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
    // A task of its own: if WeChat Pay hangs up, the payment and its record still finish
    // together.
    tokio::spawn(handle_notice(state, headers, body).instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|_| notice_answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

async fn handle_notice(state: AppState, headers: HeaderMap, body: Bytes) -> Response {
    let (notice, transaction): (_, Transaction) =
        match open_or_refuse(&state, &headers, &body, "payment").await {
            Ok(opened) => opened,
            Err(answer) => return answer,
        };
    let Some(config) = state.wechat_pay.config() else {
        return notice_answer(
            StatusCode::SERVICE_UNAVAILABLE,
            "WeChat Pay is not configured",
        );
    };
    let refuse = |status: StatusCode, reason: String, order_id: Option<Uuid>| {
        let state = &state;
        let headers = &headers;
        let notice = &notice;
        let transaction = &transaction;
        async move {
            let refused = NoticeRecord {
                reason: Some(reason.clone()),
                order_id,
                ..NoticeRecord::payment("refused", &notice.id, transaction)
            };
            record(state, headers, refused).await;
            notice_answer(status, reason)
        }
    };
    if transaction.mchid != config.mch_id || transaction.appid != config.app_id {
        let reason = format!(
            "mismatch: for merchant {} / app {}, not this one",
            quoted(&transaction.mchid),
            quoted(&transaction.appid)
        );
        return refuse(StatusCode::BAD_REQUEST, reason, None).await;
    }
    let Ok(order_id) = Uuid::parse_str(&transaction.out_trade_no) else {
        let reason = format!(
            "unknown order: out_trade_no {}",
            quoted(&transaction.out_trade_no)
        );
        return refuse(StatusCode::NOT_FOUND, reason, None).await;
    };
    if notice.event_type != "TRANSACTION.SUCCESS" || transaction.trade_state != "SUCCESS" {
        // Not a payment (yet): nothing to do, and WeChat Pay need not send it again.
        record(
            &state,
            &headers,
            NoticeRecord {
                reason: Some(format!(
                    "not a payment: {} / trade_state {}",
                    notice.event_type, transaction.trade_state
                )),
                order_id: Some(order_id),
                ..NoticeRecord::payment("refused", &notice.id, &transaction)
            },
        )
        .await;
        return notice_answer(StatusCode::OK, "OK");
    }

    let metadata = notice_metadata(&headers, &notice);
    let written = state
        .write
        .pay_order(
            order_id,
            transaction.transaction_id.clone(),
            transaction.amount.total,
            transaction.success_time.unwrap_or_else(Utc::now),
            &metadata,
        )
        .await;
    let outcome = match written {
        Ok(written) => {
            await_projections(&state, &["orders", "catalog"], written.position).await;
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
            return notice_answer(error.status(), error.message);
        }
    };
    record(
        &state,
        &headers,
        NoticeRecord {
            order_id: Some(order_id),
            ..NoticeRecord::payment(outcome, &notice.id, &transaction)
        },
    )
    .await;
    notice_answer(StatusCode::OK, "OK")
}
