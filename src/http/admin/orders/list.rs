//! Operators' list of one shopper's orders (a customer's complaint starts here), served
//! by an index; a list of every order is not offered (the audit export is that).

use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;
use utoipa::openapi::path::{Parameter, ParameterIn};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::order_status::StatusQuery;
use crate::http::extract::paging::{Page, PagingQuery};
use crate::http::extract::params::{QueryRules, ValidQuery, check_text, required_text_param};
use crate::http::views::order::OrderView;
use crate::state::AppState;
use aggregates::text::TextRule;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(shoppers_orders))
}

/// A user id as the API shows it: one short line.
const USER_ID: TextRule = TextRule::single_line(100).required();

/// `?user_id=`: whose orders.
#[derive(Debug, Deserialize)]
struct ShopperQuery {
    user_id: String,
}

impl IntoParams for ShopperQuery {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        vec![required_text_param(
            "user_id",
            "The shopper's user id, as `GET /me` shows it.",
            USER_ID,
        )]
    }
}

impl QueryRules for ShopperQuery {
    fn check(&self) -> Result<(), ApiError> {
        check_text("user_id", &self.user_id, USER_ID)
    }
}

/// One shopper's orders, newest first, in one status if asked (a customer's complaint
/// starts here; `refunding` shows the refunds still waiting for WeChat Pay).
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin",
    params(PagingQuery, ShopperQuery, StatusQuery),
    responses(
        (status = 200, description = "one page of the shopper's orders", body = Envelope<Page<OrderView>>),
        (status = 400, description = "no `user_id`, or an unknown `status` (40000)", body = ErrorBody),
        (status = 422, description = "`user_id` empty, too long or not one clean line (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn shoppers_orders(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(paging): ValidQuery<PagingQuery>,
    ValidQuery(shopper): ValidQuery<ShopperQuery>,
    ValidQuery(filter): ValidQuery<StatusQuery>,
) -> Result<Success<Page<OrderView>>, ApiError> {
    let paging = paging.paging();
    let (rows, total) = state
        .reads
        .orders_of(
            &shopper.user_id,
            filter.status(),
            paging.size,
            paging.offset(),
        )
        .await?;
    Ok(Success::ok(OrderView::page(
        rows,
        total,
        paging,
        &state.media_urls,
    )))
}
