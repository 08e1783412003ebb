//! Auditors' API: an order's history, its state as of an instant, the log as NDJSON, and
//! the seals (the integrity report is `admin_verify`).

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::caller::AdminUser;
use super::envelope::{Envelope, ErrorBody, Success};
use super::error::ApiError;
use super::order_view::OrderView;
use super::paging::{Page, PagingQuery};
use super::params::{IdPath, QueryRules, ValidQuery, rfc3339};
use crate::audit::export::{self, ExportRange};
use crate::audit::history::{HistoryEntry, StateError, order_as_of, order_history};
use crate::audit::sealer::{self, Seal};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(history))
        .routes(routes!(state_as_of))
        .routes(routes!(stock_as_of))
        .routes(routes!(export_log))
        .routes(routes!(list_seals))
}

/// Every event of the order and of the stock moves it caused, in commit order.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}/history", tag = "audit",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the history", body = Envelope<Vec<HistoryEntry>>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn history(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
) -> Result<Success<Vec<HistoryEntry>>, ApiError> {
    let entries = order_history(&state.pool, id).await?;
    if entries.is_empty() {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(entries))
}

/// A product's stock at an instant.
#[derive(Debug, Serialize, ToSchema)]
struct StockAsOf {
    product_id: Uuid,
    version: i64,
    on_hand: i64,
    reserved: i64,
    available: i64,
}

/// An order and its products' stock at an instant.
#[derive(Debug, Serialize, ToSchema)]
struct OrderAsOf {
    as_of: DateTime<Utc>,
    /// The order's version then (events applied).
    version: i64,
    order: OrderView,
    stocks: Vec<StockAsOf>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct AsOfQuery {
    /// The instant, RFC 3339 (e.g. 2026-11-24T12:00:00Z).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(required, value_type = String, format = DateTime)]
    as_of: Option<DateTime<Utc>>,
}

impl QueryRules for AsOfQuery {
    fn check(&self) -> Result<(), ApiError> {
        self.instant().map(drop)
    }
}

impl AsOfQuery {
    fn instant(&self) -> Result<DateTime<Utc>, ApiError> {
        self.as_of
            .ok_or_else(|| ApiError::malformed_field("as_of", "required: an RFC 3339 instant"))
    }
}

/// The order as it was at `as_of`, rebuilt from its events, with its products' stock.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}/state", tag = "audit",
    params(("id" = Uuid, Path, description = "the order"), AsOfQuery),
    responses(
        (status = 200, description = "the state then", body = Envelope<OrderAsOf>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "the order did not exist then (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn state_as_of(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<AsOfQuery>,
) -> Result<Success<OrderAsOf>, ApiError> {
    let as_of = query.instant()?;
    let (order, stocks) = order_as_of(&state.pool, id, as_of)
        .await
        .map_err(state_error)?;
    if order.version == 0 {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(OrderAsOf {
        as_of,
        version: order.version,
        order: OrderView::of(id, order.state, &state.media_urls),
        stocks: stocks
            .into_iter()
            .map(|(product_id, stock)| StockAsOf {
                product_id,
                version: stock.version,
                on_hand: stock.state.on_hand(),
                reserved: stock.state.reserved(),
                available: stock.state.available(),
            })
            .collect(),
    }))
}

/// A product's stock as it was at `as_of`, rebuilt from its events.
#[utoipa::path(get, path = "/api/v1/admin/products/{id}/stock", tag = "audit",
    params(("id" = Uuid, Path, description = "the product"), AsOfQuery),
    responses(
        (status = 200, description = "the stock then", body = Envelope<StockAsOf>),
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
        (status = 404, description = "the product had no stock then (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn stock_as_of(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    ValidQuery(query): ValidQuery<AsOfQuery>,
) -> Result<Success<StockAsOf>, ApiError> {
    let product_id = id;
    let as_of = query.instant()?;
    let stock = crate::audit::history::state_as_of::<aggregates::stock::Stock>(
        &state.pool,
        &product_id.to_string(),
        as_of,
    )
    .await
    .map_err(state_error)?;
    if stock.version == 0 {
        return Err(ApiError::not_found("stock"));
    }
    Ok(Success::ok(StockAsOf {
        product_id,
        version: stock.version,
        on_hand: stock.state.on_hand(),
        reserved: stock.state.reserved(),
        available: stock.state.available(),
    }))
}

fn state_error(err: StateError) -> ApiError {
    match err {
        StateError::Database(db) => db.into(),
        StateError::Unreadable(..) => ApiError::internal(&err),
    }
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
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
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
    let body =
        export::stream(state.pool.clone(), range).map(|chunk| chunk.map_err(std::io::Error::other));
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
        (status = 403, description = "not an operator token (40300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn list_seals(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
) -> Result<Success<Page<Seal>>, ApiError> {
    let paging = paging.paging();
    let (seals, total) = sealer::list(&state.pool, paging.size, paging.offset()).await?;
    Ok(Success::ok(Page::new(seals, total, paging)))
}
