//! Auditors' API over the whole log: the log as NDJSON, the seals, and the integrity
//! report (`verify`).

mod verify;

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::audit::export::ExportRange;
use crate::audit::sealer::Seal;
use crate::http::envelope::{Envelope, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{QueryRules, ValidQuery, rfc3339};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(export_log))
        .routes(routes!(list_seals))
        .merge(verify::router())
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct ExportQuery {
    /// Events recorded at or after this instant (RFC 3339).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(value_type = Option<String>, format = DateTime)]
    from: Option<DateTime<Utc>>,
    /// Events recorded before this instant (RFC 3339).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(value_type = Option<String>, format = DateTime)]
    to: Option<DateTime<Utc>>,
    /// Events after this global position.
    after_position: Option<i64>,
}

impl QueryRules for ExportQuery {}

/// The event log as NDJSON, one event per line in feed order, streamed: `position`,
/// `transaction_id`, `aggregate_type`, `aggregate_id`, `sequence`, `event_type`,
/// `event_version`, `recorded_at`, `hash` (hex), `payload`, `metadata`.
#[utoipa::path(get, path = "/api/v1/admin/audit/export", tag = "audit",
    params(ExportQuery),
    responses(
        (status = 200, description = "NDJSON", content_type = "application/x-ndjson", body = String),
    ),
    security(("bearer" = [])))]
async fn export_log(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<ExportQuery>,
) -> Result<Response, ApiError> {
    let range = ExportRange {
        from: query.from,
        to: query.to,
        after_position: query.after_position,
    };
    let body = state
        .audit
        .export(range)
        .map(|chunk| chunk.map_err(std::io::Error::other));
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/x-ndjson")],
        Body::from_stream(body),
    )
        .into_response())
}

/// The seals over the log, newest first: keep their hashes outside the database, and an
/// edit made behind ordo's back shows even if the attacker rewrites every later hash.
#[utoipa::path(get, path = "/api/v1/admin/audit/seals", tag = "audit",
    params(PagingQuery),
    responses(
        (status = 200, description = "one page of seals", body = Envelope<Page<Seal>>),
    ),
    security(("bearer" = [])))]
async fn list_seals(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
) -> Result<Success<Page<Seal>>, ApiError> {
    let paging = paging.paging();
    let (seals, total) = state.audit.seals(paging.size, paging.offset()).await?;
    Ok(Success::ok(Page::new(seals, total, paging)))
}
