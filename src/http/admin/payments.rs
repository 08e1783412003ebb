//! Operators' view of payments: every payment notice received and what ordo made of it —
//! refused ones (forged, tampered, stale, mismatched) and payments owed back.

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{QueryRules, ValidQuery, one_of};
use crate::state::AppState;
use projections::stored_text::unescaped;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notices))
}

const OUTCOMES: [&str; 4] = ["accepted", "duplicate", "refund_required", "refused"];

/// One payment or refund notice.
#[derive(Debug, Serialize, sqlx::FromRow, ToSchema)]
struct PaymentNotice {
    id: i64,
    received_at: DateTime<Utc>,
    /// `payment` or `refund`.
    kind: String,
    /// The refund's number (`out_refund_no`), for a refund notice.
    refund_no: Option<String>,
    /// accepted, duplicate, refund_required or refused.
    outcome: String,
    /// Why it was refused.
    reason: Option<String>,
    notice_id: Option<String>,
    transaction_id: Option<String>,
    order_id: Option<Uuid>,
    amount_cents: Option<i64>,
    request_id: Option<String>,
}

impl PaymentNotice {
    /// The notice's text as it arrived (stored escaped: `projections::stored_text`).
    fn unescaped(self) -> Self {
        let text = |value: Option<String>| value.map(unescaped);
        Self {
            reason: text(self.reason),
            notice_id: text(self.notice_id),
            transaction_id: text(self.transaction_id),
            request_id: text(self.request_id),
            refund_no: text(self.refund_no),
            ..self
        }
    }
}

/// `?outcome=` of the notice list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct OutcomeQuery {
    /// Only notices with this outcome (empty: all).
    #[param(pattern = "^(|accepted|duplicate|refund_required|refused)$")]
    outcome: Option<String>,
}

impl QueryRules for OutcomeQuery {
    fn check(&self) -> Result<(), ApiError> {
        one_of("outcome", self.outcome.as_deref(), &OUTCOMES).map(drop)
    }
}

/// Payment notices, newest first.
#[utoipa::path(get, path = "/api/v1/admin/payments/notices", tag = "admin",
    params(PagingQuery, OutcomeQuery),
    responses(
        (status = 200, description = "one page of notices", body = Envelope<Page<PaymentNotice>>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_notices(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
    ValidQuery(filter): ValidQuery<OutcomeQuery>,
) -> Result<Success<Page<PaymentNotice>>, ApiError> {
    let paging = paging.paging();
    let outcome = filter
        .outcome
        .as_deref()
        .filter(|outcome| !outcome.is_empty());
    let total: i64 = sqlx::query_scalar(
        "SELECT count(*) FROM payment_notices WHERE $1::text IS NULL OR outcome = $1",
    )
    .bind(outcome)
    .fetch_one(&state.pool)
    .await?;
    let list: Vec<PaymentNotice> = sqlx::query_as(
        "SELECT id, received_at, kind, refund_no, outcome, reason, notice_id, transaction_id,
                order_id, amount_cents, request_id
           FROM payment_notices WHERE $1::text IS NULL OR outcome = $1
          ORDER BY id DESC LIMIT $2 OFFSET $3",
    )
    .bind(outcome)
    .bind(paging.size)
    .bind(paging.offset())
    .fetch_all(&state.pool)
    .await?;
    let list = list.into_iter().map(PaymentNotice::unescaped).collect();
    Ok(Success::ok(Page::new(list, total, paging)))
}
