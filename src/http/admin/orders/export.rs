//! The merchant's orders as CSV, for the warehouse and for finance: the list's filters,
//! one row per order line, streamed page by page (memory stays flat however many orders
//! match). UTF-8 with a byte-order mark, so spreadsheet programs read Chinese text; times
//! in Beijing time, amounts in yuan.

use axum::body::Body;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use futures::StreamExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::list::FilterQuery;
use crate::beijing::BEIJING;
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::order_status::StatusQuery;
use crate::http::extract::params::ValidQuery;
use crate::order_export::{BOM, HEADER, rows_of};
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(export_orders))
}

/// Orders read per page while exporting: a few hundred rows in memory at a time.
const PAGE: i64 = 500;

/// The shop's orders under the list's filters as CSV (UTF-8 with BOM), one row per order
/// line, newest order first, streamed.
#[utoipa::path(get, path = "/api/v1/admin/orders/export", tag = "admin",
    params(StatusQuery, FilterQuery),
    responses(
        (status = 200, description = "CSV, one row per order line", content_type = "text/csv", body = String),
        (status = 400, description = "an unknown `status` or a malformed instant (40000)", body = crate::http::envelope::ErrorBody),
        (status = 422, description = "`q` or `user_id` too long or not one clean line (42200)", body = crate::http::envelope::ErrorBody),
    ),
    security(("bearer" = [])))]
async fn export_orders(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(status): ValidQuery<StatusQuery>,
    ValidQuery(filter): ValidQuery<FilterQuery>,
) -> Result<Response, ApiError> {
    let filter = filter.filter(status.status());
    let header = futures::stream::once(async {
        Ok::<_, std::io::Error>(format!("{BOM}{}\r\n", HEADER.join(",")))
    });
    let rows = state.reads.shop_order_pages(filter, PAGE).map(|page| {
        page.map(|orders| orders.iter().map(rows_of).collect::<String>())
            .map_err(std::io::Error::other)
    });
    let file = format!(
        "orders-{}.csv",
        Utc::now().with_timezone(&BEIJING).format("%Y%m%d-%H%M%S")
    );
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file}\""),
            ),
        ],
        Body::from_stream(header.chain(rows)),
    )
        .into_response())
}
