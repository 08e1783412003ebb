//! Operators' view of payments: every payment notice received and what ordo made of it —
//! refused ones (forged, tampered, stale, mismatched) and payments owed back.

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{QueryRules, ValidQuery, one_of};
use crate::payments::{OUTCOMES, PaymentNotice};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_notices))
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
    let (list, total) = state
        .payments
        .notices()
        .page(outcome, paging.size, paging.offset())
        .await?;
    Ok(Success::ok(Page::new(list, total, paging)))
}
