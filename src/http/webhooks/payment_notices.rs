//! WeChat Pay's payment notices (`POST /payments/wechat/notify`); the workflow is
//! `payments::payment_notice`.

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
    OpenApiRouter::new().routes(routes!(wechat_notify))
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
    let handle = async move {
        let arrived = Arrived {
            headers: &headers,
            body: &body,
            request_id: request_id(&headers),
        };
        let handled = state.payments.receive_payment_notice(arrived).await;
        answer(&state, handled).await
    };
    tokio::spawn(handle.instrument(tracing::Span::current()))
        .await
        .unwrap_or_else(|_| notice_answer(StatusCode::INTERNAL_SERVER_ERROR, "internal error"))
}
