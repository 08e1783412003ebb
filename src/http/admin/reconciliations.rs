//! The daily reconciliation with WeChat Pay's bill (`/api/v1/admin/reconciliations`): a
//! day's report, and asking for a day to be reconciled now.

use axum::extract::State;
use axum::http::StatusCode;
use chrono::{Duration, NaiveDate};
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::{QueryRules, ValidQuery};
use crate::payments::reconcile::{Reconciliation, ReconciliationDay};
use crate::state::AppState;

/// How far back WeChat Pay keeps its bills.
const BILLS_KEPT_DAYS: i64 = 90;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(report, reconcile))
        .routes(routes!(days))
}

/// `?date=` of a report.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct DateQuery {
    /// The day (Beijing time), `YYYY-MM-DD`.
    date: NaiveDate,
}

impl QueryRules for DateQuery {
    fn check(&self) -> Result<(), ApiError> {
        Ok(())
    }
}

/// A day's reconciliation: both sides' counts and totals, and every difference.
#[utoipa::path(get, path = "/api/v1/admin/reconciliations", tag = "admin",
    params(DateQuery),
    responses(
        (status = 200, description = "the day's report (`state` `queued` until it has run)", body = Envelope<Reconciliation>),
        (status = 400, description = "no date, or not `YYYY-MM-DD` (40000)", body = ErrorBody),
        (status = 404, description = "the day was never reconciled (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn report(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<DateQuery>,
) -> Result<Success<Reconciliation>, ApiError> {
    let report = state.payments.reports().of(query.date).await?;
    report
        .map(Success::ok)
        .ok_or_else(|| ApiError::not_found("reconciliation of that day"))
}

/// `?month=` of the days' list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct MonthQuery {
    /// The month (Beijing time), `YYYY-MM`.
    #[param(pattern = "^[0-9]{4}-(0[1-9]|1[0-2])$")]
    month: String,
}

impl MonthQuery {
    /// The month's first and last days.
    fn days(&self) -> Option<(NaiveDate, NaiveDate)> {
        let first = NaiveDate::parse_from_str(&format!("{}-01", self.month), "%Y-%m-%d").ok()?;
        let next = first.checked_add_months(chrono::Months::new(1))?;
        Some((first, next.pred_opt()?))
    }
}

impl QueryRules for MonthQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.days() {
            Some(_) if self.month.len() == 7 => Ok(()),
            _ => Err(ApiError::malformed_field("month", "must be YYYY-MM")),
        }
    }
}

/// The days of a month that were reconciled or asked for, each with its state, matched
/// and difference counts and both sides' totals: a calendar's figures. Days never asked
/// for are not listed.
#[utoipa::path(get, path = "/api/v1/admin/reconciliations/days", tag = "admin",
    params(MonthQuery),
    responses(
        (status = 200, description = "the month's days, oldest first", body = Envelope<Vec<ReconciliationDay>>),
        (status = 400, description = "no `month`, or not `YYYY-MM` (40000)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn days(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<MonthQuery>,
) -> Result<Success<Vec<ReconciliationDay>>, ApiError> {
    let (first, last) = query
        .days()
        .ok_or_else(|| ApiError::malformed_field("month", "must be YYYY-MM"))?;
    let days = state.payments.reports().days(first, last).await?;
    Ok(Success::ok(days))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ReconcileRequest {
    /// The day (Beijing time), `YYYY-MM-DD`: today at the latest, and within the three
    /// months WeChat Pay keeps its bills.
    #[schema(value_type = String, format = Date)]
    date: NaiveDate,
}

/// Reconciles a day now (in the background, one server at a time): its report shows
/// `queued` until the run has kept it.
#[utoipa::path(post, path = "/api/v1/admin/reconciliations", tag = "admin",
    request_body = ReconcileRequest,
    responses(
        (status = 202, description = "queued; the report follows", body = Envelope<Reconciliation>),
        (status = 409, description = "a day WeChat Pay has no bill for: in the future, or older than its three months (40902)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn reconcile(
    State(state): State<AppState>,
    _admin: AdminUser,
    JsonBody(body): JsonBody<ReconcileRequest>,
) -> Result<Success<Reconciliation>, ApiError> {
    let today = crate::beijing::today();
    if body.date > today || body.date < today - Duration::days(BILLS_KEPT_DAYS) {
        // A well-formed day WeChat Pay has no bill for (yet, or any more).
        return Err(ApiError::invalid_state(format!(
            "WeChat Pay has bills from {} to {today} (three months): not of {}",
            today - Duration::days(BILLS_KEPT_DAYS),
            body.date
        )));
    }
    let reports = state.payments.reports();
    reports.queue(body.date).await?;
    let report = reports
        .of(body.date)
        .await?
        .ok_or_else(|| ApiError::not_found("reconciliation of that day"))?;
    Ok(Success(StatusCode::ACCEPTED, report))
}
