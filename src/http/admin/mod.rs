//! The operators' and auditors' API (`/api/v1/admin/...`): orders, products, payments,
//! the read side, the audit, metrics and the console's sign-in.

mod after_sales;
mod audit;
mod console;
mod feed_horizon;
mod metrics;
mod orders;
mod payments;
mod products;
mod projections;
mod reconciliations;
mod refunds_due;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(orders::router())
        .merge(after_sales::router())
        .merge(refunds_due::router())
        .merge(products::router())
        .merge(payments::router())
        .merge(reconciliations::router())
        .merge(projections::router())
        .merge(feed_horizon::router())
        .merge(audit::router())
        .merge(metrics::router())
        .merge(console::router())
}
