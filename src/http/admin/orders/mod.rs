//! Operators' orders: the shop's list and its CSV export, one order, shipping paid orders
//! (`shipping`, `bulk_shipping`), refunding them in full or in part (`refund`), and (for
//! auditors) an order's history and state as of an instant.

mod bulk_shipping;
mod export;
mod history;
mod list;
mod refund;
mod shipping;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(refund::router())
        .merge(shipping::router())
        .merge(bulk_shipping::router())
        .merge(list::router())
        .merge(export::router())
        .merge(history::router())
}
