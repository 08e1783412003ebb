//! `POST /admin/orders/{id}/refund`: an operator gives money back through WeChat Pay, the
//! whole of what the order holds or a part of its payment (some units, some cents).

use aggregates::order::{OrderEvent, RefundScope};
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::IdPath;
use crate::http::extract::recorded::Recorded;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas::{self, RefundLineSchema};
use crate::http::views::current_order::current_order;
use crate::http::views::order::OrderView;
use crate::http::views::sent_refunds::{Asked, require_wechat_pay, send_refunds};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(refund_order))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    /// Why the shop gives the money back: 1 to 80 characters on one line (WeChat Pay
    /// shows it to the shopper; auditors read it in the order's history).
    #[schema(schema_with = schemas::refund_reason)]
    reason: String,
    /// A partial refund of these units (each SKU once, at most the units not refunded
    /// yet); without `refund_cents`, for what they were paid.
    #[serde(default)]
    lines: Option<Vec<RefundLineSchema>>,
    /// A partial refund of this many cents (at most what `lines` were paid, and what is
    /// left of the payment); alone, money only (no units).
    #[serde(default)]
    refund_cents: Option<i64>,
}

/// Refunds an order through WeChat Pay. Without `lines` and `refund_cents`: in full —
/// what is left of its payment if it is paid, shipped or completed (the order becomes
/// `refunding`, then `refunded` when WeChat Pay's notice comes), and every payment it
/// could not take (`refunds_due`). With them: a part of its payment, its own refund
/// number, the order's status unchanged (unless it takes the last of the money: then the
/// order is refunded). Units refunded before the order shipped go back to stock when the
/// refund succeeds. Refunds of a payment never add up to more than it (at most 50 each).
/// Answered once the refunds are sent; the order's `refunds` show each one.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/refund", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    request_body = RefundBody,
    responses(
        (status = 202, description = "refunds sent; the result comes in WeChat Pay's refund notice", body = Envelope<OrderView>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
        (status = 409, description = "nothing to refund, a refund of the order in progress, more than is left of the payment, or 50 refunds already (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "the reason is empty, too long or not one line; a line or `refund_cents` out of bounds, each named (42200)", body = ErrorBody),
        (status = 502, description = "WeChat Pay refused the refund; recorded, the order is back where it was (50200)", body = ErrorBody),
        (status = 503, description = "WeChat Pay is not configured on this server (50300)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn refund_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<RefundBody>,
) -> Result<Success<OrderView>, ApiError> {
    if retry.wrote(OrderEvent::REFUND_REQUESTED, id).await? {
        return Ok(Success(
            StatusCode::ACCEPTED,
            current_order(&state, id).await?,
        ));
    }
    require_wechat_pay(&state)?;
    let scope = match (body.lines, body.refund_cents) {
        (None, None) => RefundScope::Whole,
        (lines, refund_cents) => RefundScope::Part {
            lines: lines
                .unwrap_or_default()
                .into_iter()
                .map(Into::into)
                .collect(),
            refund_cents,
        },
    };
    let whole = scope == RefundScope::Whole;
    let written = state
        .write
        .request_refund(id, scope, body.reason.trim().to_owned(), &metadata)
        .await?;
    // A partial refund is the order's newest.
    let newest = written.value.refunds.last().map(|r| r.refund_no.clone());
    let asked = match (&newest, whole) {
        (Some(refund_no), false) => Asked::Only(refund_no),
        _ => Asked::InProgress,
    };
    send_refunds(&state, id, written, asked, metadata).await?;
    Ok(Success(
        StatusCode::ACCEPTED,
        current_order(&state, id).await?,
    ))
}
