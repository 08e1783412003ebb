//! Every order holding a payment it could not take: what operators pay back.

use axum::extract::State;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::ValidQuery;
use crate::http::views::order::OrderView;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(refunds_due))
}

/// The orders holding payments they could not take (`refunds_due`: paid after they were
/// cancelled, or paid twice), newest first: what operators pay back.
#[utoipa::path(get, path = "/api/v1/admin/refunds-due", tag = "admin",
    params(PagingQuery),
    responses(
        (status = 200, description = "one page of orders owing a refund", body = Envelope<Page<OrderView>>),
    ),
    security(("bearer" = [])))]
async fn refunds_due(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
) -> Result<Success<Page<OrderView>>, ApiError> {
    let paging = paging.paging();
    let (rows, total) = state
        .reads
        .owing_refunds(paging.size, paging.offset())
        .await?;
    Ok(Success::ok(OrderView::page(
        rows,
        total,
        paging,
        &state.media_urls,
    )))
}
