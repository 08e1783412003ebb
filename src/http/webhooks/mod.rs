//! What WeChat Pay sends: payment and refund notices.

mod answer;
mod payment_notices;
mod refund_notices;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .merge(payment_notices::router())
        .merge(refund_notices::router())
}
