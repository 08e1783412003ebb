//! The mini program's API: login and sessions, the shopper's profile, the catalog, their
//! orders and paying for them, their after-sales, and product images.

mod after_sales;
mod auth;
mod me;
mod media;
mod orders;
mod products;
mod subscriptions;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(auth::router())
        .merge(me::router())
        .merge(subscriptions::router())
        .merge(products::router())
        .merge(orders::router())
        .merge(after_sales::router())
        .merge(media::router())
}
