//! Dev mode's simulators (`/api/v1/dev/...`): what WeChat Pay would send, sent by ordo
//! to itself; what the simulated WeChat platform received.

mod payments;
mod wechat_calls;

use utoipa_axum::router::OpenApiRouter;

use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    payments::router().merge(wechat_calls::router())
}
