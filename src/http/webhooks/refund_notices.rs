//! WeChat Pay's refund notices (`POST /payments/wechat/refund-notify`); the workflow is
//! `payments::refund_notice`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use tracing::Instrument;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::answer::{NoticeAnswer, answer, notice_answer, request_id};
use crate::payments::Arrived;
use crate::state::AppState;

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
    let handle = async move {
        let arrived = Arrived {
            headers: &headers,
            body: &body,
            request_id: request_id(&headers),
        };
        let handled = state.payments.receive_refund_notice(arrived).await;
        answer(&state, handled).await
    };
    tokio::spawn(handle.instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|_| notice_answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}
