//! Shipping orders, as WeChat's shipping info management needs it: an order shipped with
//! WeChat's delivery id and logistics type (checked against the companies WeChat knows),
//! corrected once; its upload's state in the order's admin view; failed uploads listed
//! and retried; the delivery companies a ship form offers.

use aggregates::FieldError;
use aggregates::order::{LogisticsType, OrderEvent, SHIPMENT_FIELD, ShipmentDetails};
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::http::envelope::{Envelope, ErrorBody, Success};
use crate::http::error::ApiError;
use crate::http::extract::caller::AdminUser;
use crate::http::extract::json::JsonBody;
use crate::http::extract::params::{IdPath, QueryRules, ValidQuery};
use crate::http::extract::recorded::Recorded;
use crate::http::middleware::idempotency::Retry;
use crate::http::schemas;
use crate::http::views::admin_order::AdminOrderView;
use crate::http::views::current_order::load_order;
use crate::http::views::read_your_writes::await_projections;
use crate::platform::CallView;
use crate::platform::subscribers::SHIPPING_UPLOAD;
use crate::state::AppState;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(ship_order))
        .routes(routes!(admin_order))
        .routes(routes!(retry_upload))
        .routes(routes!(shipping_uploads))
        .routes(routes!(delivery_companies))
}

/// How the parcel travels (WeChat's logistics types).
#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub(super) enum Logistics {
    #[default]
    Express,
    SameCity,
    Virtual,
    SelfPickup,
}

impl From<Logistics> for LogisticsType {
    fn from(logistics: Logistics) -> Self {
        match logistics {
            Logistics::Express => Self::Express,
            Logistics::SameCity => Self::SameCity,
            Logistics::Virtual => Self::Virtual,
            Logistics::SelfPickup => Self::SelfPickup,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShipRequest {
    /// WeChat's delivery id of the carrier (`SF`, `ZTO`, `YTO`, …: see
    /// `GET /admin/delivery-companies`); required for `express`.
    #[schema(schema_with = schemas::shipment_field)]
    pub(super) express_company: Option<String>,
    /// The tracking number, at most 64 characters; required for `express`.
    #[schema(schema_with = schemas::optional_shipment_field)]
    pub(super) tracking_no: Option<String>,
    /// `express` (default), `same_city`, `virtual` or `self_pickup`.
    #[serde(default)]
    pub(super) logistics_type: Logistics,
    /// The carrier's name as shoppers read it; by default WeChat's name for
    /// `express_company` (or the logistics type's).
    #[schema(schema_with = schemas::shipment_field)]
    pub(super) carrier: Option<String>,
}

/// Hands a paid order to a carrier (paid → shipped), or corrects a shipped order's
/// carrier or tracking number, once (WeChat takes one correction); the same shipment
/// again changes nothing. The shipping info is then uploaded to WeChat from the event
/// (see `shipping_upload`).
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/ship", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    request_body = ShipRequest,
    responses(
        (status = 200, description = "shipped (or corrected)", body = Envelope<AdminOrderView>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
        (status = 409, description = "not paid, corrected once already (40902) or busy (40903)", body = ErrorBody),
        (status = 422, description = "a delivery id WeChat does not know, or a field missing for the logistics type, named (42200)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn ship_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
    Recorded(metadata): Recorded,
    retry: Retry,
    JsonBody(body): JsonBody<ShipRequest>,
) -> Result<Success<AdminOrderView>, ApiError> {
    if retry.wrote(OrderEvent::ORDER_SHIPPED, id).await? {
        let order = load_order(&state, id).await?;
        return Ok(Success::ok(AdminOrderView::of(&state, id, order).await?));
    }
    let details = shipment(&state, body).await?;
    let written = state.write.ship_order(id, details, &metadata).await?;
    await_projections(
        &state,
        &["orders", "catalog", "shipping_uploads"],
        written.position,
    )
    .await;
    Ok(Success::ok(
        AdminOrderView::of(&state, id, written.value).await?,
    ))
}

/// The shipment `body` describes, its delivery id checked against WeChat's list.
pub(super) async fn shipment(
    state: &AppState,
    body: ShipRequest,
) -> Result<ShipmentDetails, ApiError> {
    let logistics_type = LogisticsType::from(body.logistics_type);
    let trimmed = |value: Option<String>| value.map(|v| v.trim().to_owned());
    let express_company = trimmed(body.express_company);
    let mut known_name = None;
    if let Some(id) = &express_company {
        // Read as text first: a control character or a novel is refused before a lookup.
        if let Some(error) = SHIPMENT_FIELD.check("express_company", id) {
            return Err(ApiError::invalid(vec![error]));
        }
        known_name = state.delivery_companies.name_of(id).await?;
        if known_name.is_none() {
            return Err(ApiError::invalid(vec![FieldError::new(
                "express_company",
                format!(
                    "{id:?} is not a delivery id WeChat knows (GET /api/v1/admin/delivery-companies lists them)"
                ),
            )]));
        }
    }
    let carrier = trimmed(body.carrier)
        .or(known_name)
        .unwrap_or_else(|| logistics_type.as_str().replace('_', " "));
    Ok(ShipmentDetails {
        carrier,
        tracking_no: trimmed(body.tracking_no).unwrap_or_default(),
        express_company: if logistics_type == LogisticsType::Express {
            express_company
        } else {
            None
        },
        logistics_type,
    })
}

/// The order as operators see it, from its events: with how it travels and where its
/// shipping info upload to WeChat stands.
#[utoipa::path(get, path = "/api/v1/admin/orders/{id}", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 200, description = "the order", body = Envelope<AdminOrderView>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn admin_order(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
) -> Result<Success<AdminOrderView>, ApiError> {
    let order = load_order(&state, id).await?;
    if order.status.is_none() {
        return Err(ApiError::not_found("order"));
    }
    Ok(Success::ok(AdminOrderView::of(&state, id, order).await?))
}

/// Uploads a shipped order's shipping info again now, after WeChat refused it (once the
/// cause is fixed: a whitelist, a wrong delivery id corrected by shipping again).
#[utoipa::path(post, path = "/api/v1/admin/orders/{id}/shipping-upload/retry", tag = "admin",
    params(("id" = Uuid, Path, description = "the order")),
    responses(
        (status = 202, description = "due again now", body = Envelope<AdminOrderView>),
        (status = 404, description = "no such order (40400)", body = ErrorBody),
        (status = 409, description = "its upload has not failed (40902)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn retry_upload(
    State(state): State<AppState>,
    _admin: AdminUser,
    IdPath(id): IdPath,
) -> Result<Success<AdminOrderView>, ApiError> {
    let order = load_order(&state, id).await?;
    if order.status.is_none() {
        return Err(ApiError::not_found("order"));
    }
    if state.outbox.retry_failed(SHIPPING_UPLOAD, Some(id)).await? == 0 {
        return Err(ApiError::invalid_state(
            "the order's shipping upload has not failed: nothing to retry",
        ));
    }
    Ok(Success(
        axum::http::StatusCode::ACCEPTED,
        AdminOrderView::of(&state, id, order).await?,
    ))
}

/// `?state=` of the uploads' list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UploadsQuery {
    /// `failed` (default), `pending`, `done` or `skipped`.
    #[param(pattern = "^(failed|pending|done|skipped)$")]
    state: Option<String>,
}

impl QueryRules for UploadsQuery {
    fn check(&self) -> Result<(), ApiError> {
        match self.state.as_deref() {
            None | Some("failed" | "pending" | "done" | "skipped") => Ok(()),
            Some(_) => Err(ApiError::malformed_field(
                "state",
                "must be failed, pending, done or skipped",
            )),
        }
    }
}

/// The shipping info uploads in a state (the newest 200): by default those WeChat
/// refused, for an operator to fix and retry.
#[utoipa::path(get, path = "/api/v1/admin/shipping-uploads", tag = "admin",
    params(UploadsQuery),
    responses(
        (status = 200, description = "the uploads, newest first", body = Envelope<Vec<CallView>>),
        (status = 400, description = "an unknown state (40000)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
async fn shipping_uploads(
    State(state): State<AppState>,
    _admin: AdminUser,
    ValidQuery(query): ValidQuery<UploadsQuery>,
) -> Result<Success<Vec<CallView>>, ApiError> {
    let wanted = query.state.as_deref().unwrap_or("failed");
    Ok(Success::ok(
        state.outbox.list(SHIPPING_UPLOAD, wanted, 200).await?,
    ))
}

/// A delivery company WeChat knows.
#[derive(Debug, Serialize, ToSchema)]
struct DeliveryCompany {
    /// What `express_company` names.
    delivery_id: String,
    delivery_name: String,
}

/// The delivery companies a shipment may name (WeChat's list, refreshed daily).
#[utoipa::path(get, path = "/api/v1/admin/delivery-companies", tag = "admin",
    responses((status = 200, description = "by id", body = Envelope<Vec<DeliveryCompany>>)),
    security(("bearer" = [])))]
async fn delivery_companies(
    State(state): State<AppState>,
    _admin: AdminUser,
) -> Result<Success<Vec<DeliveryCompany>>, ApiError> {
    let all = state.delivery_companies.all().await?;
    Ok(Success::ok(
        all.into_iter()
            .map(|(delivery_id, delivery_name)| DeliveryCompany {
                delivery_id,
                delivery_name,
            })
            .collect(),
    ))
}
