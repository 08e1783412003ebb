//! The shopper's orders: placing and cancelling.

use aggregates::order::{Address, CancelReason, Order, OrderLine};
use axum::Router;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::routing::post;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::context::{metadata, parse_id};
use super::envelope::Success;
use super::error::ApiError;
use super::json::JsonBody;
use crate::app::AppState;
use crate::auth::AuthUser;
use crate::write::{OrderActor, PlaceOrder};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/v1/orders", post(place_order))
        .route("/api/v1/orders/{id}/cancel", post(cancel_order))
}

/// An order as the API shows it.
#[derive(Debug, Serialize)]
pub struct OrderView {
    pub id: Uuid,
    pub status: &'static str,
    pub lines: Vec<OrderLine>,
    pub total_cents: i64,
    pub address: Address,
    pub remark: String,
    pub created_at: Option<DateTime<Utc>>,
    pub expires_at: Option<DateTime<Utc>>,
    pub paid_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub cancel_reason: Option<CancelReason>,
}

impl OrderView {
    pub fn of(id: Uuid, order: Order) -> Self {
        Self {
            id,
            status: order.status.map_or("unknown", |status| status.as_str()),
            lines: order.lines,
            total_cents: order.total_cents,
            address: order.address,
            remark: order.remark,
            created_at: order.placed_at,
            expires_at: order.expires_at,
            paid_at: order.paid_at,
            cancelled_at: order.cancelled_at,
            cancel_reason: order.cancel_reason,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineRequest {
    product_id: Uuid,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PlaceOrderRequest {
    lines: Vec<LineRequest>,
    address: Address,
    #[serde(default)]
    remark: String,
}

async fn place_order(
    State(state): State<AppState>,
    user: AuthUser,
    headers: HeaderMap,
    JsonBody(body): JsonBody<PlaceOrderRequest>,
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
    let written = state
        .write
        .place_order(request, &metadata(&user.0, &headers))
        .await?;
    let (id, order) = written.value;
    Ok(Success::created(OrderView::of(id, order)))
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
    Ok(Success::ok(OrderView::of(id, written.value)))
}
