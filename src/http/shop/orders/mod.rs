//! The shopper's orders: placing, reading, cancelling, confirming receipt.

mod from_events;
mod pay;

use aggregates::order::{Address, CancelReason, OrderEvent};
use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AuthUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::order_status::StatusQuery;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{IdPath, ValidQuery};
use crate::http::extract::recorded::Recorded;
use crate::http::extract::whole_number;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::schemas::AddressSchema;
use crate::http::views::current_order::{current_order, load_order, transition};
use crate::http::views::order::OrderView;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use crate::write::{self, OrderActor, PlaceOrder, WriteError};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(place_order, list_orders))
        .routes(routes!(get_order))
        .routes(routes!(cancel_order))
        .routes(routes!(confirm_receipt))
        .merge(pay::router())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct LineRequest {
    product_id: Uuid,
    /// The SKU picked; may be left out only for a product with one SKU.
    #[serde(default)]
    sku_id: Option<Uuid>,
    #[serde(deserialize_with = "whole_number::exact")]
    #[schema(schema_with = schemas::line_quantity)]
    quantity: i64,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct PlaceOrderRequest {
    /// 1 to 50 lines, each SKU at most once.
    #[schema(min_items = 1, max_items = 50)]
    lines: Vec<LineRequest>,
    #[schema(value_type = AddressSchema)]
    address: Address,
    #[serde(default)]
    #[schema(schema_with = schemas::order_remark)]
    remark: String,
}

/// Places an order: reserves every line's stock, or nothing if any is short.
#[utoipa::path(post, path = "/api/v1/orders", tag = "orders",
    request_body = PlaceOrderRequest,
    responses(
        (status = 201, description = "placed; stock reserved until it is paid or expires", body = Envelope<OrderView>),
        (status = 404, description = "a product does not exist (40400)", body = ErrorBody),
        (status = 409, description = "insufficient stock (40901, `data.shortages` names each SKU), past a purchase limit (40904, `data.limits` names each product), too many unpaid orders (40905) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn place_order(
    State(state): State<AppState>,
    user: AuthUser,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<PlaceOrderRequest>,
) -> Result<Success<OrderView>, ApiError> {
    // A retry whose first run stopped before answering may find its order written.
    if let Some(id) = retry.created(OrderEvent::ORDER_PLACED).await? {
        return Ok(Success::created(current_order(&state, id).await?));
    }
    let request = PlaceOrder {
        user_id: user.id().to_owned(),
        lines: body
            .lines
            .iter()
            .map(|line| write::LineRequest {
                product_id: line.product_id,
                sku_id: line.sku_id,
                quantity: line.quantity,
            })
            .collect(),
        address: body.address,
        remark: body.remark,
    };
    let written = match state.write.place_order(request, &metadata).await {
        Ok(written) => {
            metrics::counter!("orders_placed_total").increment(1);
            written
        }
        Err(err) => {
            let reason = match &err {
                WriteError::InsufficientStock(_) => "insufficient_stock",
                WriteError::LimitExceeded(_) => "purchase_limit",
                WriteError::TooManyUnpaid { .. } => "too_many_unpaid",
                WriteError::Invalid(_) => "invalid",
                _ => "other",
            };
            metrics::counter!("orders_refused_total", "reason" => reason).increment(1);
            return Err(err.into());
        }
    };
    await_projections(&state, &["orders", "catalog"], written.position).await;
    let (id, order) = written.value;
    Ok(Success::created(OrderView::of(
        id,
        order,
        &state.media_urls,
    )))
}

/// Cancels an order still awaiting payment; its stock is released.
#[utoipa::path(post, path = "/api/v1/orders/{id}/cancel", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "cancelled (`cancel_reason: by_user`), stock released", body = Envelope<OrderView>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "not awaiting payment (40902) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn cancel_order(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
) -> Result<Success<OrderView>, ApiError> {
    let write = state.write.cancel_order(
        id,
        OrderActor::Owner(user.id()),
        CancelReason::ByUser,
        &metadata,
    );
    transition(&state, id, retry, OrderEvent::ORDER_CANCELLED, write).await
}

/// The shopper confirms a shipped order arrived: it is completed.
#[utoipa::path(post, path = "/api/v1/orders/{id}/confirm-receipt", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "completed", body = Envelope<OrderView>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
        (status = 409, description = "not shipped (40902) or busy (40903)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn confirm_receipt(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
) -> Result<Success<OrderView>, ApiError> {
    let write = state
        .write
        .confirm_receipt(id, OrderActor::Owner(user.id()), &metadata);
    transition(&state, id, retry, OrderEvent::ORDER_COMPLETED, write).await
}

/// One of the caller's orders, from the order views; from its events when the views do
/// not show it yet.
#[utoipa::path(get, path = "/api/v1/orders/{id}", tag = "orders",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the order", body = Envelope<OrderView>),
        (status = 404, description = "no such order of yours (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn get_order(
    State(state): State<AppState>,
    user: AuthUser,
    IdPath(id): IdPath,
) -> Result<Success<OrderView>, ApiError> {
    let stale = from_events::views_stale(&state);
    if !stale && let Some(row) = state.reads.order_of(id, user.id()).await? {
        return Ok(Success::ok(OrderView::from_row(row, &state.media_urls)));
    }
    // A write waits only so long for the read models (see `await_projections`): an order
    // placed while they lag (a long transaction elsewhere in the cluster holds the feed's
    // horizon) is still the shopper's to read at once. Only a recent id is looked up in
    // the events (its UUIDv7 says when it was made): random or old ids cost no more than
    // the one read above.
    if !stale && !minted_recently(id) {
        return Err(ApiError::not_found("order"));
    }
    let order = load_order(&state, id).await?;
    if order.status.is_none() || order.user_id != user.id() {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(OrderView::of(id, order, &state.media_urls)))
}

/// How long after placing an order its id is looked up in the events when the order
/// views do not show it yet: far beyond any lag the read models recover from.
const RECENT_ORDER: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Whether `id` is a UUIDv7 (as order ids are) made within [`RECENT_ORDER`].
fn minted_recently(id: Uuid) -> bool {
    let Some((seconds, nanos)) = id.get_timestamp().map(|at| at.to_unix()) else {
        return false;
    };
    let minted = std::time::UNIX_EPOCH + std::time::Duration::new(seconds, nanos);
    // Either way: another server's clock may run a little ahead of ours.
    let apart = match std::time::SystemTime::now().duration_since(minted) {
        Ok(age) => age,
        Err(ahead) => ahead.duration(),
    };
    apart <= RECENT_ORDER
}

/// The caller's orders, newest first.
#[utoipa::path(get, path = "/api/v1/orders", tag = "orders",
    params(PagingQuery, StatusQuery),
    responses((status = 200, description = "one page of the caller's orders", body = Envelope<Page<OrderView>>)),
    security(("bearer" = [])))]
async fn list_orders(
    State(state): State<AppState>,
    user: AuthUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
    ValidQuery(filter): ValidQuery<StatusQuery>,
) -> Result<Success<Page<OrderView>>, ApiError> {
    let paging = paging.paging();
    let status = filter.status();
    let (rows, total) = state
        .reads
        .orders_of(user.id(), status, paging.size, paging.offset())
        .await?;
    let list: Vec<OrderView> = rows
        .into_iter()
        .map(|row| OrderView::from_row(row, &state.media_urls))
        .collect();
    // While the views lag, each order as its events make it (see `shop::orders::from_events`).
    let (list, total) = if from_events::views_stale(&state) {
        let window = (paging.size, paging.offset());
        from_events::refreshed_page(&state, user.id(), status, (list, total), window).await?
    } else {
        (list, total)
    };
    Ok(Success::ok(Page::new(list, total, paging)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use uuid::{NoContext, Timestamp};

    fn v7_at(unix_seconds: u64) -> Uuid {
        Uuid::new_v7(Timestamp::from_unix(NoContext, unix_seconds, 0))
    }

    #[test]
    fn only_a_recent_v7_id_is_looked_up_in_the_events() {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs();
        assert!(minted_recently(Uuid::now_v7()));
        assert!(minted_recently(v7_at(now - 60)));
        assert!(minted_recently(v7_at(now + 5)), "a clock a little ahead");
        assert!(!minted_recently(v7_at(now - 3600)), "an hour old");
        assert!(!minted_recently(v7_at(now + 3600)), "an hour ahead");
        assert!(!minted_recently(Uuid::new_v4()), "not a v7");
        assert!(!minted_recently(Uuid::nil()));
    }
}
