//! The merchant's after-sales queue: requests by status, newest first, with counts for the
//! tabs; approving (a refund-only is refunded at once), rejecting with a reason, and
//! receiving a return's goods (units back to stock once, then the refund).

use std::collections::BTreeMap;

use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use projections::after_sales::query::Cursor;

use crate::event_store::EventMetadata;
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::{QueryRules, ValidQuery, check_keyset_page};
use crate::http::extract::recorded::Recorded;
use crate::http::views::after_sale::{
    AfterSaleView, after_sale_view, not_found_if_unknown, parse_id,
};
use crate::http::views::sent_refunds::{Asked, require_wechat_pay, send_refunds};
use crate::state::AppState;
use crate::write::Written;
use aggregates::order::Order;
use uuid::Uuid;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(queue))
        .routes(routes!(approve))
        .routes(routes!(reject))
        .routes(routes!(receive))
}

/// The statuses an after-sale can be in.
const STATUSES: [&str; 7] = [
    "requested",
    "rejected",
    "awaiting_return",
    "return_shipped",
    "refunding",
    "refunded",
    "refund_failed",
];
const DEFAULT_SIZE: i64 = 20;
const MAX_SIZE: i64 = 100;

/// `?status&cursor&size`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct QueueQuery {
    /// Only after-sales in this status.
    #[param(
        pattern = "^(requested|rejected|awaiting_return|return_shipped|refunding|refunded|refund_failed)$"
    )]
    status: Option<String>,
    /// Where the page starts: the `next_cursor` of the page before (empty: the newest).
    #[param(pattern = "^(|-?[0-9]{1,16}_[0-9a-f]{32}A[1-9][0-9]{0,8})$")]
    cursor: Option<String>,
    /// After-sales per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

impl QueryRules for QueueQuery {
    fn check(&self) -> Result<(), ApiError> {
        if let Some(status) = &self.status
            && !STATUSES.contains(&status.as_str())
        {
            return Err(ApiError::malformed_field(
                "status",
                &format!("one of {}", STATUSES.join(", ")),
            ));
        }
        let cursor_reads = self.cursor().is_none_or(|c| Cursor::decode(c).is_some());
        check_keyset_page(self.size, MAX_SIZE, cursor_reads)
    }
}

impl QueueQuery {
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// One page of the queue.
#[derive(Debug, Serialize, ToSchema)]
pub struct AfterSaleQueueView {
    pub list: Vec<AfterSaleView>,
    /// Pass as `cursor` for the next page; null: this is the last.
    pub next_cursor: Option<String>,
    /// After-sales in each status (statuses with none are left out).
    pub counts: BTreeMap<String, i64>,
}

/// The shop's after-sales, newest first; with the counts per status.
#[utoipa::path(get, path = "/api/v1/admin/after-sales", tag = "admin",
    params(QueueQuery),
    responses(
        (status = 200, description = "one page of the queue", body = Envelope<AfterSaleQueueView>),
        (status = 400, description = "an unknown `status`, a malformed cursor, `size` out of range (40000)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn queue(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<QueueQuery>,
) -> Result<Success<AfterSaleQueueView>, ApiError> {
    let after = query.cursor().and_then(Cursor::decode);
    let page = state
        .reads
        .after_sale_queue(
            query.status.as_deref(),
            after.as_ref(),
            query.size.unwrap_or(DEFAULT_SIZE),
        )
        .await?;
    Ok(Success::ok(AfterSaleQueueView {
        list: page.rows.into_iter().map(Into::into).collect(),
        next_cursor: page.next.map(|cursor| cursor.encode()),
        counts: page.counts.into_iter().collect(),
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ApproveBody {
    /// What to refund, in cents: at most what the after-sale's units were paid (their
    /// value when absent) and what is left of the payment.
    #[serde(default)]
    refund_cents: Option<i64>,
}

/// Approves a request: a refund-only is refunded through WeChat Pay now (its own refund
/// number); a return waits for the shopper's goods (`awaiting_return`). Two operators
/// approving at once: one approval.
#[utoipa::path(post, path = "/api/v1/admin/after-sales/{id}/approve", tag = "admin",
    params(("id" = String, Path, description = "the after-sale")),
    request_body = ApproveBody,
    responses(
        (status = 200, description = "approved", body = Envelope<AfterSaleView>),
        (status = 404, description = "no such after-sale (40400)", body = ErrorBody),
        (status = 409, description = "decided already, or more than is left of the payment (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "`refund_cents` out of bounds (42200)", body = ErrorBody),
        (status = 502, description = "WeChat Pay refused the refund; recorded (50200)", body = ErrorBody),
        (status = 503, description = "WeChat Pay is not configured on this server (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn approve(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<ApproveBody>,
) -> Result<Success<AfterSaleView>, ApiError> {
    let (order_id, no) = parse_id(&id)?;
    require_wechat_pay(&state)?;
    let written = state
        .write
        .approve_after_sale(order_id, no, body.refund_cents, &metadata)
        .await
        .map_err(not_found_if_unknown)?;
    refunded(&state, (&id, order_id, no), written, metadata).await
}

/// Sends the refund the after-sale (`id`: order `order_id`'s number `no`) now has, if
/// any, and answers the after-sale.
async fn refunded(
    state: &AppState,
    (id, order_id, no): (&str, Uuid, u32),
    written: Written<Order>,
    metadata: EventMetadata,
) -> Result<Success<AfterSaleView>, ApiError> {
    let position = written.position;
    let refund_no = written
        .value
        .after_sale(no)
        .and_then(|sale| sale.refund_no.clone());
    if let Some(refund_no) = &refund_no {
        send_refunds(state, order_id, written, Asked::Only(refund_no), metadata).await?;
    }
    Ok(Success::ok(after_sale_view(state, id, position).await?))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RejectBody {
    /// Why: one line of 1 to 200 characters (the shopper reads it).
    reason: String,
}

/// Rejects a request with a reason; its units may be asked for again.
#[utoipa::path(post, path = "/api/v1/admin/after-sales/{id}/reject", tag = "admin",
    params(("id" = String, Path, description = "the after-sale")),
    request_body = RejectBody,
    responses(
        (status = 200, description = "rejected", body = Envelope<AfterSaleView>),
        (status = 404, description = "no such after-sale (40400)", body = ErrorBody),
        (status = 409, description = "decided already (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "the reason empty, too long or not one line (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn reject(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<RejectBody>,
) -> Result<Success<AfterSaleView>, ApiError> {
    let (order_id, no) = parse_id(&id)?;
    let written = state
        .write
        .reject_after_sale(order_id, no, body.reason, &metadata)
        .await
        .map_err(not_found_if_unknown)?;
    Ok(Success::ok(
        after_sale_view(&state, &id, written.position).await?,
    ))
}

/// The returned goods arrived: their units go back to stock (once) and the approved
/// amount is refunded through WeChat Pay.
#[utoipa::path(post, path = "/api/v1/admin/after-sales/{id}/receive", tag = "admin",
    params(("id" = String, Path, description = "the after-sale")),
    responses(
        (status = 200, description = "received: units back, refund sent (`refunding`)", body = Envelope<AfterSaleView>),
        (status = 404, description = "no such after-sale (40400)", body = ErrorBody),
        (status = 409, description = "not an approved return, or received already (40902); busy (40903)", body = ErrorBody),
        (status = 502, description = "WeChat Pay refused the refund; recorded (50200)", body = ErrorBody),
        (status = 503, description = "WeChat Pay is not configured on this server (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn receive(
    State(state): State<AppState>,
    _admin: AdminUser,
    Path(id): Path<String>,
    Recorded(metadata): Recorded,
) -> Result<Success<AfterSaleView>, ApiError> {
    let (order_id, no) = parse_id(&id)?;
    require_wechat_pay(&state)?;
    let written = state
        .write
        .receive_return(order_id, no, &metadata)
        .await
        .map_err(not_found_if_unknown)?;
    refunded(&state, (&id, order_id, no), written, metadata).await
}
