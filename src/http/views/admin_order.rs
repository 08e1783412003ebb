//! An order as operators see it: what the shopper sees, plus how it travels and where
//! its shipping info upload to WeChat stands.

use aggregates::order::Order;
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::http::error::ApiError;
use crate::http::views::order::OrderView;
use crate::platform::subscribers::SHIPPING_UPLOAD;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct AdminOrderView {
    #[serde(flatten)]
    pub order: OrderView,
    /// WeChat's delivery id of the carrier (`SF`, `ZTO`, …), once shipped.
    pub express_company: Option<String>,
    /// `express`, `same_city`, `virtual` or `self_pickup`, once shipped.
    pub logistics_type: Option<String>,
    /// When the shipment was corrected (WeChat takes one correction).
    pub shipment_corrected_at: Option<DateTime<Utc>>,
    /// The shipping info upload to WeChat, once the order shipped.
    pub shipping_upload: Option<ShippingUploadView>,
}

/// Where an order's shipping info upload stands.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ShippingUploadView {
    /// `pending` (to be made, or made again after a passing failure), `uploaded`,
    /// `failed` (WeChat refused it: not retried until an operator asks) or `skipped`.
    pub state: String,
    pub attempts: i32,
    pub last_error: Option<String>,
    pub uploaded_at: Option<DateTime<Utc>>,
}

impl AdminOrderView {
    /// `order` (as its events make it) with its upload's state.
    pub async fn of(state: &AppState, id: Uuid, order: Order) -> Result<Self, ApiError> {
        let shipment = order.shipment.clone();
        let upload = state.outbox.of_order(SHIPPING_UPLOAD, id).await?;
        Ok(Self {
            order: OrderView::of(id, order, &state.media_urls),
            express_company: shipment.as_ref().and_then(|s| s.express_company.clone()),
            logistics_type: shipment
                .as_ref()
                .map(|s| s.logistics_type.as_str().to_owned()),
            shipment_corrected_at: shipment.and_then(|s| s.corrected_at),
            shipping_upload: upload.map(|call| ShippingUploadView {
                state: match call.state.as_str() {
                    "done" => "uploaded".to_owned(),
                    other => other.to_owned(),
                },
                attempts: call.attempts,
                last_error: call.last_error,
                uploaded_at: call.done_at.filter(|_| call.state == "done"),
            }),
        })
    }
}
