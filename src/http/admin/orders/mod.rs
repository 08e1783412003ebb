//! Operators' orders: the shop's list and its CSV export, one order, shipping paid orders
//! (`shipping`), refunding them, and (for auditors) an order's history and state as of an
//! instant.

mod bulk_shipping;
mod export;
mod history;
mod list;
mod shipping;

use axum::extract::State;
use serde::Deserialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::error::ErrorCode;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::IdPath;
use crate::http::extract::recorded::Recorded;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::views::current_order::current_order;
use crate::http::views::order::OrderView;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;
use aggregates::order::{OrderEvent, Refund};
use axum::http::StatusCode;
use tracing::Instrument;

use crate::payments::refunds::{Refunds, Sent};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(refund_order))
        .merge(shipping::router())
        .merge(bulk_shipping::router())
        .merge(list::router())
        .merge(export::router())
        .merge(history::router())
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct RefundBody {
    /// Why the shop gives the money back: 1 to 80 characters on one line (WeChat Pay
    /// shows it to the shopper; auditors read it in the order's history).
    #[schema(schema_with = schemas::refund_reason)]
    reason: String,
}

/// Refunds an order in full through WeChat Pay: its payment if it is paid or shipped
/// (the order becomes `refunding`, then `refunded` when WeChat Pay's notice comes; an
/// order refunded before it shipped returns its units to stock), and every payment it
/// could not take (`refunds_due`). Answered once the refunds are sent; the order's
/// `refunds` show each one.
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/refund", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    request_body = RefundBody,
    responses(
        (status = 202, description = "refunds sent; the result comes in WeChat Pay's refund notice", body = Envelope<OrderView>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
        (status = 409, description = "nothing to refund, or a refund in progress (40902); busy (40903)", body = ErrorBody),
        (status = 422, description = "the reason is empty, too long or not one line (42200)", body = ErrorBody),
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
    // Refused before anything is written: a refund nobody can send would leave the order
    // `refunding` for good.
    if state.wechat_pay.config().is_none() {
        return Err(ApiError::unavailable("WeChat Pay is not configured"));
    }
    let written = state
        .write
        .request_refund(id, body.reason.trim().to_owned(), &metadata)
        .await?;
    let refunds = Refunds {
        write: state.write.clone(),
        wechat_pay: state.wechat_pay.clone(),
    };
    let to_send: Vec<Refund> = written.value.refunds_in_progress().cloned().collect();
    // A task of its own: if the operator hangs up, the refunds are still sent and their
    // answers recorded (else the follow-up sends them later).
    let sent = tokio::spawn(
        async move {
            let mut sent = Vec::new();
            for refund in to_send {
                sent.push(refunds.send(id, &refund, &metadata).await);
            }
            sent
        }
        .instrument(tracing::Span::current()),
    )
    .await
    .map_err(|err| ApiError::internal(&err))?;
    let mut position = written.position;
    let mut refused = Vec::new();
    for outcome in sent {
        match outcome? {
            Sent::Settled(at) => position = position.max(at),
            Sent::Refused(reason, at) => {
                position = position.max(at);
                refused.push(reason);
            }
            Sent::Processing | Sent::Unanswered(_) => {}
        }
    }
    await_projections(&state, &["orders", "catalog"], position).await;
    if !refused.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Upstream,
            format!("WeChat Pay refused the refund: {}", refused.join("; ")),
        ));
    }
    Ok(Success(
        StatusCode::ACCEPTED,
        current_order(&state, id).await?,
    ))
}
