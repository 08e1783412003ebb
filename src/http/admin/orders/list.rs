//! The merchant's orders: every order of the shop, filtered by status, time, a shopper or a
//! search (order id prefix, receiver name or phone, product name), in keyset pages newest
//! first, with the counts per status its tabs show ("to ship: 37").

use std::collections::BTreeMap;

use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::order_status::StatusQuery;
use crate::http::extract::params::{QueryRules, ValidQuery, check_keyset_page, rfc3339};
use crate::http::schemas::text_schema;
use crate::http::views::order::OrderView;
use crate::media::MediaUrls;
use crate::state::AppState;
use aggregates::FieldError;
use aggregates::text::TextRule;
use projections::orders::shop::{Cursor, ShopFilter, ShopOrderRow};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(shop_orders))
}

/// A user id or a search: one short clean line.
const FILTER_TEXT: TextRule = TextRule::single_line(100);
/// Orders per page unless `size` says otherwise.
const DEFAULT_SIZE: i64 = 20;
/// Most orders per page.
const MAX_SIZE: i64 = 100;

/// A cursor as the list hands it out (`<micros>_<order id>`), or empty.
fn cursor_schema() -> utoipa::openapi::Object {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::Type::String)
        .pattern(Some(
            "^(|-?[0-9]{1,16}_[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12})$",
        ))
        .build()
}

pub(super) fn filter_text() -> utoipa::openapi::Object {
    text_schema(FILTER_TEXT)
}

/// `?created_from&created_to&q&user_id` of the merchant's list and export.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(super) struct FilterQuery {
    /// Placed at or after this instant (RFC 3339).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(value_type = Option<String>, format = DateTime)]
    created_from: Option<DateTime<Utc>>,
    /// Placed before this instant (RFC 3339).
    #[serde(default, deserialize_with = "rfc3339")]
    #[param(value_type = Option<String>, format = DateTime)]
    created_to: Option<DateTime<Utc>>,
    /// An order id prefix (4 hex digits or more), or part of the receiver's name or phone
    /// or of a product's name, case-insensitively; one line, at most 100 characters.
    #[param(schema_with = filter_text)]
    q: Option<String>,
    /// Only this shopper's orders.
    #[param(schema_with = filter_text)]
    user_id: Option<String>,
}

impl QueryRules for FilterQuery {
    fn check(&self) -> Result<(), ApiError> {
        if let (Some(from), Some(to)) = (self.created_from, self.created_to)
            && from >= to
        {
            return Err(ApiError::invalid(vec![FieldError::new(
                "created_to",
                "must be after created_from",
            )]));
        }
        let mut errors: Vec<FieldError> = Vec::new();
        for (field, value) in [("q", &self.q), ("user_id", &self.user_id)] {
            if let Some(value) = value {
                FILTER_TEXT.check_into(field, value, &mut errors);
            }
        }
        if errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::invalid(errors))
        }
    }
}

impl FilterQuery {
    pub(super) fn filter(&self, status: Option<&str>) -> ShopFilter {
        let text = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        ShopFilter {
            status: status.map(str::to_owned),
            created_from: self.created_from,
            created_to: self.created_to,
            q: text(&self.q),
            user_id: text(&self.user_id),
        }
    }
}

/// `?cursor&size`: where a page starts and how long it is.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct CursorQuery {
    /// Where the page starts: the `next_cursor` of the page before (empty: the newest).
    #[param(schema_with = cursor_schema)]
    cursor: Option<String>,
    /// Orders per page, 1 to 100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    size: Option<i64>,
}

impl QueryRules for CursorQuery {
    fn check(&self) -> Result<(), ApiError> {
        let cursor_reads = self.cursor().is_none_or(|c| Cursor::decode(c).is_some());
        check_keyset_page(self.size, MAX_SIZE, cursor_reads)
    }
}

impl CursorQuery {
    fn cursor(&self) -> Option<&str> {
        self.cursor.as_deref().filter(|c| !c.is_empty())
    }
}

/// An order in the merchant's list: the order and its shopper.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopOrderView {
    #[serde(flatten)]
    pub order: OrderView,
    pub user_id: String,
}

impl ShopOrderView {
    fn new(row: ShopOrderRow, urls: &MediaUrls) -> Self {
        Self {
            order: OrderView::from_row(row.order, urls),
            user_id: row.user_id,
        }
    }
}

/// One page of the merchant's list.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShopOrders {
    pub list: Vec<ShopOrderView>,
    /// Pass as `cursor` for the next page; null: this is the last.
    pub next_cursor: Option<String>,
    /// Orders in each status under the same filters, the status filter aside (statuses
    /// with none are left out).
    pub counts: BTreeMap<String, i64>,
}

/// The shop's orders, newest first, filtered; with the counts per status.
#[utoipa::path(get, path = "/api/v1/admin/orders", tag = "admin",
    params(StatusQuery, FilterQuery, CursorQuery),
    responses(
        (status = 200, description = "one page of the shop's orders", body = Envelope<ShopOrders>),
        (status = 400, description = "an unknown `status`, a malformed instant or cursor, `size` out of range (40000)", body = ErrorBody),
        (status = 422, description = "`q` or `user_id` too long or not one clean line (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn shop_orders(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(status): ValidQuery<StatusQuery>,
    ValidQuery(filter): ValidQuery<FilterQuery>,
    ValidQuery(page): ValidQuery<CursorQuery>,
) -> Result<Success<ShopOrders>, ApiError> {
    let filter = filter.filter(status.status());
    let after = page.cursor().and_then(Cursor::decode);
    let size = page.size.unwrap_or(DEFAULT_SIZE);
    let (rows, next) = state.reads.shop_orders(&filter, after, size).await?;
    let counts = state.reads.shop_order_counts(&filter).await?;
    Ok(Success::ok(ShopOrders {
        list: rows
            .into_iter()
            .map(|row| ShopOrderView::new(row, &state.media_urls))
            .collect(),
        next_cursor: next.map(|cursor| cursor.encode()),
        counts,
    }))
}
