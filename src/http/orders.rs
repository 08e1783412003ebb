//! The shopper's orders: placing and cancelling.

use std::collections::HashMap;

use aggregates::order::{Address, CancelReason, Order, OrderLine};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::{await_projection, metadata, parse_id};
use super::envelope::Success;
use super::error::ApiError;
use super::idempotency::{self, Claim};
use super::json::JsonBody;
use super::paging::{Page, Paging};
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::write::{OrderActor, PlaceOrder, WriteError};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders", post(place_order).get(list_orders))
        .route("/api/v1/orders/{id}", get(get_order))
        .route("/api/v1/orders/{id}/cancel", post(cancel_order))
}

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    pub id: Uuid,
    pub status: String,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    pub address: Address,
    pub remark: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<String>,
}

impl OrderView {
    pub fn of(id: Uuid, order: Order) -> Self {
        Self {
            id,
            status: order
                .status
                .map_or("unknown", |status| status.as_str())
                .to_owned(),
            lines: order.lines,
            total_cents: order.total_cents,
            address: order.address,
            remark: order.remark,
            created_at: order.placed_at,
            expires_at: order.expires_at,
            paid_at: order.paid_at,
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason.map(|reason| reason.as_str().to_owned()),
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct LineRequest {
    product_id: Uuid,
    quantity: i64,
}

#[derive(Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderRequest {
    lines: Vec<LineRequest>,
    address: Address,
    #[serde(default)]
    remark: String,
}

/// Places an order; with an `Idempotency-Key`, a retry gets the first answer again.
async fn place_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderRequest>,
) -> Result<Response, ApiError> {
    let Some(key) = idempotency::key_of(&headers)? else {
        return Ok(place(&state, &user, &headers, body).await?.into_response());
    };
    let (key, taken_over) = match idempotency::claim(&state.pool, user.id(), key, &body).await? {
        Claim::Replay(status, answer) => return Ok((status, Json(answer)).into_response()),
        Claim::Run { key, taken_over } => (key, taken_over),
    };
    // A claim taken over from a stopped server may have written its order already.
    let earlier = if taken_over {
        placed_with_key(&state, user.id(), &key).await?
    } else {
        None
    };
    let result = match earlier {
        Some(view) => Ok(Success::created(view)),
        None => place(&state, &user, &headers, body).await,
    };
    let (status, answer) = match &result {
        Ok(success) => (success.0, success.envelope()),
        Err(error) => (error.status, error.envelope()),
    };
    if let Err(err) = idempotency::complete(&state.pool, user.id(), &key, status, &answer).await {
        tracing::warn!(%err, "could not store the answer of an idempotent request");
    }
    result.map(IntoResponse::into_response)
}

async fn place(
    state: &AppState,
    user: &AuthUser,
    headers: &HeaderMap,
    body: PlaceOrderRequest,
) -> Result<Success<OrderView>, ApiError> {
    let request = PlaceOrder {
        user_id: user.id().to_owned(),
        lines: body
            .lines
            .iter()
            .map(|line| (line.product_id, line.quantity))
            .collect(),
        address: body.address,
        remark: body.remark,
    };
    let written = match state
        .write
        .place_order(request, &metadata(&user.0, headers))
        .await
    {
        Ok(written) => {
            metrics::counter!("orders_placed_total").increment(1);
            written
        }
        Err(err) => {
            let reason = match &err {
                WriteError::InsufficientStock(_) => "insufficient_stock",
                WriteError::Invalid(_) => "invalid",
                _ => "other",
            };
            metrics::counter!("orders_refused_total", "reason" => reason).increment(1);
            return Err(err.into());
        }
    };
    await_projection(state, "orders", written.position).await;
    await_projection(state, "catalog", written.position).await;
    let (id, order) = written.value;
    Ok(Success::created(OrderView::of(id, order)))
}

/// The order this user placed with this key, found through the events' metadata.
async fn placed_with_key(
    state: &AppState,
    user_id: &str,
    key: &str,
) -> Result<Option<OrderView>, ApiError> {
    let id: Option<String> = sqlx::query_scalar(
        "SELECT aggregate_id FROM events
          WHERE metadata ->> 'idempotency_key' = $1 AND metadata ->> 'actor_id' = $2
            AND event_type = 'OrderPlaced'
          LIMIT 1",
    )
    .bind(key)
    .bind(user_id)
    .fetch_optional(&state.pool)
    .await?;
    let Some(id) = id.and_then(|id| Uuid::parse_str(&id).ok()) else {
        return Ok(None);
    };
    let order = state
        .events
        .load::<Order>(&id.to_string())
        .await
        .map_err(|err| ApiError::internal(&err))?;
    Ok(Some(OrderView::of(id, order.aggregate)))
}

async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Result<Success<OrderView>, ApiError> {
    let id = parse_id(&id)?;
    let written = state
        .write
        .cancel_order(
            id,
            OrderActor::Owner(user.id()),
            CancelReason::ByUser,
            &metadata(&user.0, &headers),
        )
        .await?;
    await_projection(&state, "orders", written.position).await;
    await_projection(&state, "catalog", written.position).await;
    Ok(Success::ok(OrderView::of(id, written.value)))
}

/// One of the caller's orders, from the order views.
async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    Path(id): Path<String>,
) -> Result<Success<OrderView>, ApiError> {
    let id = parse_id(&id)?;
    let row: Option<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM order_views WHERE order_id = $1 AND user_id = $2"
    ))
    .bind(id)
    .bind(user.id())
    .fetch_optional(&state.pool)
    .await?;
    row.map(|row| Success::ok(row.into()))
        .ok_or_else(|| ApiError::not_found("order"))
}

/// The caller's orders, newest first: `?status&page&size`.
async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Success<Page<OrderView>>, ApiError> {
    let paging = Paging::from_query(&query)?;
    let status = match query.get("status").filter(|s| !s.is_empty()) {
        None => None,
        Some(status) if STATUSES.contains(&status.as_str()) => Some(status),
        Some(_) => {
            return Err(ApiError::malformed_field(
                "status",
                &format!("must be one of {}", STATUSES.join(", ")),
            ));
        }
    };
    let filter = "user_id = $1 AND ($2::text IS NULL OR status = $2)";
    let total: i64 =
        sqlx::query_scalar(&format!("SELECT count(*) FROM order_views WHERE {filter}"))
            .bind(user.id())
            .bind(status)
            .fetch_one(&state.pool)
            .await?;
    let rows: Vec<OrderRow> = sqlx::query_as(&format!(
        "SELECT {ORDER_COLUMNS} FROM order_views WHERE {filter}
          ORDER BY created_at DESC, order_id DESC LIMIT $3 OFFSET $4"
    ))
    .bind(user.id())
    .bind(status)
    .bind(paging.size)
    .bind(paging.offset())
    .fetch_all(&state.pool)
    .await?;
    let list = rows.into_iter().map(OrderView::from).collect();
    Ok(Success::ok(Page::new(list, total, paging)))
}

/// The statuses an order can have, as the API names them.
const STATUSES: [&str; 5] = [
    "awaiting_payment",
    "paid",
    "shipped",
    "completed",
    "cancelled",
];

const ORDER_COLUMNS: &str = "order_id, status, lines, total_cents, address, remark, created_at,
    expires_at, paid_at, cancelled_at, cancel_reason";

impl From<OrderRow> for OrderView {
    fn from(row: OrderRow) -> Self {
        Self {
            id: row.order_id,
            status: row.status,
            lines: row.lines.0,
            total_cents: row.total_cents,
            address: row.address.0,
            remark: row.remark,
            created_at: Some(row.created_at),
            expires_at: Some(row.expires_at),
            paid_at: row.paid_at,
            cancelled_at: row.cancelled_at,
            cancel_reason: row.cancel_reason,
        }
    }
}

/// A row of `order_views`.
#[derive(sqlx::FromRow)]
struct OrderRow {
    order_id: Uuid,
    status: String,
    lines: sqlx::types::Json<Vec<OrderLine>>,
    total_cents: i64,
    address: sqlx::types::Json<Address>,
    remark: String,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    paid_at: Option<DateTime<Utc>>,
    cancelled_at: Option<DateTime<Utc>>,
    cancel_reason: Option<String>,
}
