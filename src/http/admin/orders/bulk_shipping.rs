//! Shipping a day's parcels in one request: each shipment decided on its own (shipped, or
//! refused with its reason), so one unpaid or unknown order never holds up the others;
//! the same shipment sent again changes nothing, so a batch can be resent as it is.

use axum::extract::State;
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use aggregates::order::{OPTIONAL_SHIPMENT_FIELD, SHIPMENT_FIELD};

use super::shipping::{self, Logistics, ShipRequest};
use crate::event_store::{EventMetadata, FeedPosition};
use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::recorded::Recorded;
use crate::http::schemas;
use crate::http::views::read_your_writes::await_projections;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(ship_many))
}

/// Most shipments one request carries: a busy shop's day.
const MAX_SHIPMENTS: usize = 500;
/// Shipments decided at once: each is a write of its own, joined by the group commit.
const AT_ONCE: usize = 8;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct ShipManyRequest {
    /// 1 to 500 shipments.
    #[schema(min_items = 1, max_items = 500)]
    shipments: Vec<Shipment>,
}

/// One parcel: the order and how it travels, as `POST /admin/orders/{id}/ship` takes it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct Shipment {
    order_id: Uuid,
    #[schema(schema_with = schemas::or_null::shipment_field)]
    express_company: Option<String>,
    #[schema(schema_with = schemas::or_null::optional_shipment_field)]
    tracking_no: Option<String>,
    #[serde(default)]
    logistics_type: Logistics,
    #[schema(schema_with = schemas::or_null::shipment_field)]
    carrier: Option<String>,
}

/// What became of one shipment.
#[derive(Debug, Serialize, ToSchema)]
pub struct ShipmentResult {
    pub order_id: Uuid,
    /// Whether the order is shipped as asked (now, or by an earlier request).
    pub shipped: bool,
    /// The order's status after it (`shipped`); null when refused.
    pub status: Option<String>,
    /// Why it was refused: the error a single ship request would have answered.
    #[schema(value_type = Option<ErrorBody>)]
    pub error: Option<ErrorBody>,
}

/// Ships many orders in one request, each decided on its own; the answer has a result per
/// shipment, in the order asked.
#[utoipa::path(post, path = "/api/v1/admin/orders/shipments", tag = "admin",
    request_body = ShipManyRequest,
    responses(
        (status = 200, description = "a result per shipment", body = Envelope<Vec<ShipmentResult>>),
        (status = 422, description = "no shipments, or more than 500 (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ship_many(
    State(state): State<AppState>,
    _admin: AdminUser,
    Recorded(metadata): Recorded,
    JsonBody(body): JsonBody<ShipManyRequest>,
) -> Result<Success<Vec<ShipmentResult>>, ApiError> {
    let count = body.shipments.len();
    if !(1..=MAX_SHIPMENTS).contains(&count) {
        return Err(ApiError::invalid(vec![aggregates::FieldError::new(
            "shipments",
            format!("must hold 1 to {MAX_SHIPMENTS} shipments"),
        )]));
    }
    // Text no shipment could carry refuses the request, naming each field; what depends
    // on the order (paid? known?) is decided for each on its own below.
    let mut malformed = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (i, shipment) in body.shipments.iter().enumerate() {
        // One order twice would race itself (and a second tracking number spend its one
        // correction): refused, named.
        if !seen.insert(shipment.order_id) {
            malformed.push(aggregates::FieldError::new(
                format!("shipments[{i}].order_id"),
                "appears in more than one shipment",
            ));
        }
        for (field, value, rule) in [
            ("express_company", &shipment.express_company, SHIPMENT_FIELD),
            (
                "tracking_no",
                &shipment.tracking_no,
                OPTIONAL_SHIPMENT_FIELD,
            ),
            ("carrier", &shipment.carrier, SHIPMENT_FIELD),
        ] {
            if let Some(value) = value {
                rule.check_into(&format!("shipments[{i}].{field}"), value, &mut malformed);
            }
        }
    }
    if !malformed.is_empty() {
        return Err(ApiError::invalid(malformed));
    }
    let decided: Vec<(ShipmentResult, FeedPosition)> =
        futures::stream::iter(body.shipments.into_iter().map(|shipment| {
            let (state, metadata) = (state.clone(), metadata.clone());
            async move { ship_one(&state, shipment, &metadata).await }
        }))
        .buffered(AT_ONCE)
        .collect()
        .await;
    let last = decided
        .iter()
        .map(|(_, position)| *position)
        .max()
        .unwrap_or(FeedPosition::START);
    await_projections(&state, &["orders", "catalog", "shipping_uploads"], last).await;
    Ok(Success::ok(
        decided.into_iter().map(|(result, _)| result).collect(),
    ))
}

async fn ship_one(
    state: &AppState,
    shipment: Shipment,
    metadata: &EventMetadata,
) -> (ShipmentResult, FeedPosition) {
    let order_id = shipment.order_id;
    let request = ShipRequest {
        express_company: shipment.express_company,
        tracking_no: shipment.tracking_no,
        logistics_type: shipment.logistics_type,
        carrier: shipment.carrier,
    };
    let shipped = async {
        let details = shipping::shipment(state, request).await?;
        Ok::<_, ApiError>(state.write.ship_order(order_id, details, metadata).await?)
    }
    .await;
    match shipped {
        Ok(written) => (
            ShipmentResult {
                order_id,
                shipped: true,
                status: written.value.status.map(|s| s.as_str().to_owned()),
                error: None,
            },
            written.position,
        ),
        Err(error) => (
            ShipmentResult {
                order_id,
                shipped: false,
                status: None,
                error: Some(ErrorBody {
                    code: error.code as u32,
                    message: error.message,
                    data: error.data,
                }),
            },
            FeedPosition::START,
        ),
    }
}
