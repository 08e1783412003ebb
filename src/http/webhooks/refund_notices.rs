//! WeChat Pay's refund notices (`POST /payments/wechat/refund-notify`): verified and
//! decrypted like payment notices, then the refund settled through the write model (the
//! Order aggregate keeps the first answer on a refund, so a repeated notice, or one that
//! crosses the refund call's own answer, changes nothing). Every notice WeChat Pay's key
//! vouches for is recorded in `payment_notices` with kind `refund`.

use aggregates::order::{OrderError, RefundOutcome};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use chrono::Utc;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::event_store::FeedPosition;
use crate::http::error::ApiError;
use crate::http::views::read_your_writes::await_projections;
use crate::http::webhooks::payment_notices::{
    NoticeAnswer, NoticeRecord, notice_answer, notice_metadata, open_or_refuse, record,
};
use crate::state::AppState;
use crate::wechat_pay::{RefundResult, quoted};
use crate::write::WriteError;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(wechat_refund_notify))
}

/// WeChat Pay's refund notice (`REFUND.SUCCESS`, `REFUND.ABNORMAL`, `REFUND.CLOSED`).
/// Verified (signature with the platform key, timestamp within 5 minutes), decrypted
/// (AEAD_AES_256_GCM, APIv3 key), checked (merchant, order, refund number, the refunded
/// payment's `transaction_id`, amount), then the refund is settled: `SUCCESS` makes a
/// refunded order `refunded` (and returns its units to stock if it never shipped);
/// `CLOSED` records the failure and puts the order back; `ABNORMAL` keeps the order
/// `refunding`, the refund flagged for an operator until WeChat Pay's final word. A
/// repeated notice answers success again and changes nothing.
#[utoipa::path(post, path = "/api/v1/payments/wechat/refund-notify", tag = "payments",
    request_body(content = Value, description = "WeChat Pay's notice: `{id, event_type, resource: {algorithm, ciphertext, associated_data, nonce}}`"),
    responses(
        (status = 200, description = "accepted (or already known): `{\"code\": \"SUCCESS\"}`", body = NoticeAnswer),
        (status = 400, description = "malformed, undecryptable, or not matching the refund (`FAIL`)", body = NoticeAnswer),
        (status = 401, description = "bad signature, unknown key or stale timestamp (`FAIL`)", body = NoticeAnswer),
        (status = 404, description = "no such order or refund (`FAIL`)", body = NoticeAnswer),
        (status = 503, description = "cannot record the refund now; WeChat Pay retries (`FAIL`)", body = NoticeAnswer),
    ))]
async fn wechat_refund_notify(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // A task of its own: if WeChat Pay hangs up, the refund and its record still finish.
    tokio::spawn(handle_refund_notice(state, headers, body).instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|_| notice_answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}

async fn handle_refund_notice(state: AppState, headers: HeaderMap, body: Bytes) -> Response {
    let (notice, result): (_, RefundResult) =
        match open_or_refuse(&state, &headers, &body, "refund").await {
            Ok(opened) => opened,
            Err(answer) => return answer,
        };
    let entry =
        |outcome: &'static str, reason: Option<String>, order_id: Option<Uuid>| NoticeRecord {
            kind: "refund",
            outcome,
            reason,
            notice_id: Some(&notice.id),
            transaction_id: Some(&result.transaction_id),
            amount_cents: Some(result.amount.refund),
            order_id,
            refund_no: Some(&result.out_refund_no),
        };
    let mch_id = state
        .wechat_pay
        .config()
        .map(|config| config.mch_id.as_str());
    if Some(result.mchid.as_str()) != mch_id {
        let reason = format!(
            "mismatch: for merchant {}, not this one",
            quoted(&result.mchid)
        );
        record(
            &state,
            &headers,
            entry("refused", Some(reason.clone()), None),
        )
        .await;
        return notice_answer(StatusCode::BAD_REQUEST, reason);
    }
    let Ok(order_id) = Uuid::parse_str(&result.out_trade_no) else {
        let reason = format!(
            "unknown order: out_trade_no {}",
            quoted(&result.out_trade_no)
        );
        record(
            &state,
            &headers,
            entry("refused", Some(reason.clone()), None),
        )
        .await;
        return notice_answer(StatusCode::NOT_FOUND, reason);
    };
    let outcome = match result.refund_status.as_str() {
        "SUCCESS" => RefundOutcome::Succeeded {
            provider_refund_id: result.refund_id.clone(),
            refunded_at: result.success_time.unwrap_or_else(Utc::now),
        },
        "CLOSED" => RefundOutcome::Failed {
            reason: format!("WeChat Pay: refund {}", result.refund_status),
            failed_at: Utc::now(),
        },
        "ABNORMAL" => RefundOutcome::Abnormal {
            reason: format!("WeChat Pay: refund {}", result.refund_status),
            reported_at: Utc::now(),
        },
        other => {
            // Not a result (yet): nothing to do, and WeChat Pay need not send it again.
            let reason = format!(
                "not a refund result: {} / {}",
                quoted(&notice.event_type),
                quoted(other)
            );
            record(
                &state,
                &headers,
                entry("refused", Some(reason), Some(order_id)),
            )
            .await;
            return notice_answer(StatusCode::OK, "OK");
        }
    };
    let failure = match &outcome {
        RefundOutcome::Failed { reason, .. } | RefundOutcome::Abnormal { reason, .. } => {
            Some(reason.clone())
        }
        RefundOutcome::Succeeded { .. } => None,
    };
    let metadata = notice_metadata(&headers, &notice);
    let written = state
        .write
        .settle_refund(
            order_id,
            result.out_refund_no.clone(),
            result.amount.refund,
            Some(result.transaction_id.clone()),
            outcome,
            &metadata,
        )
        .await;
    let refused = |status: StatusCode, reason: String| {
        let state = &state;
        let headers = &headers;
        let record_it = entry("refused", Some(reason.clone()), Some(order_id));
        async move {
            record(state, headers, record_it).await;
            notice_answer(status, reason)
        }
    };
    let outcome = match written {
        Ok(written) if written.position == FeedPosition::START => "duplicate",
        Ok(written) => {
            await_projections(&state, &["orders", "catalog"], written.position).await;
            "accepted"
        }
        Err(WriteError::OrderNotFound) => {
            return refused(StatusCode::NOT_FOUND, format!("unknown order {order_id}")).await;
        }
        Err(WriteError::Order(OrderError::UnknownRefund(refund_no))) => {
            let reason = format!("the order has no refund {}", quoted(&refund_no));
            return refused(StatusCode::NOT_FOUND, reason).await;
        }
        Err(WriteError::Order(OrderError::AmountMismatch { expected, paid })) => {
            let reason = format!("mismatch: refunded {paid}, the refund is {expected}");
            return refused(StatusCode::BAD_REQUEST, reason).await;
        }
        Err(WriteError::Order(OrderError::TransactionMismatch {
            refund_no,
            transaction_id,
        })) => {
            let reason = format!(
                "mismatch: transaction_id {} is not the payment refund {} returns",
                quoted(&transaction_id),
                quoted(&refund_no)
            );
            return refused(StatusCode::BAD_REQUEST, reason).await;
        }
        Err(err) => {
            // WeChat Pay sends the notice again later.
            let error = ApiError::from(err);
            return notice_answer(error.status(), error.message);
        }
    };
    record(&state, &headers, entry(outcome, failure, Some(order_id))).await;
    notice_answer(StatusCode::OK, "OK")
}
