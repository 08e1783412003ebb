//! What an order records besides its status: its lines as priced when it was placed,
//! where it is delivered, how it travels.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::product::SpecValues;

/// One SKU of an order, with the product's name and the SKU's unit price, spec and
/// picture captured when it was placed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredLine")]
pub struct OrderLine {
    pub product_id: Uuid,
    /// The SKU whose stock the line holds; the product's id for a product without specs.
    pub sku_id: Uuid,
    pub name: String,
    /// The SKU's values (`{"尺码": "M"}`); empty for a product without specs.
    #[serde(skip_serializing_if = "SpecValues::is_empty")]
    pub spec: SpecValues,
    pub unit_price_cents: i64,
    pub quantity: i64,
    /// The media key of the SKU's picture (or else the product's cover) then; absent when
    /// it had none (and in orders placed before images existed).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
}

/// A line as stored anywhere: events are upcast, but read-model rows and snapshots
/// written before SKUs existed name none — their SKU is the product.
#[derive(Deserialize)]
struct StoredLine {
    product_id: Uuid,
    #[serde(default)]
    sku_id: Option<Uuid>,
    name: String,
    #[serde(default)]
    spec: SpecValues,
    unit_price_cents: i64,
    quantity: i64,
    #[serde(default)]
    image: Option<String>,
}

impl From<StoredLine> for OrderLine {
    fn from(line: StoredLine) -> Self {
        Self {
            product_id: line.product_id,
            sku_id: line.sku_id.unwrap_or(line.product_id),
            name: line.name,
            spec: line.spec,
            unit_price_cents: line.unit_price_cents,
            quantity: line.quantity,
            image: line.image,
        }
    }
}

/// Where the order is delivered.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Address {
    pub name: String,
    pub phone: String,
    pub province: String,
    pub city: String,
    pub district: String,
    pub detail: String,
}

/// How a paid order travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shipment {
    pub carrier: String,
    /// Empty when the goods do not travel with a carrier (same city, virtual, pickup).
    pub tracking_no: String,
    pub shipped_at: DateTime<Utc>,
    /// WeChat's delivery id of the carrier (e.g. `SF`); absent before shipments named it.
    #[serde(default)]
    pub express_company: Option<String>,
    #[serde(default)]
    pub logistics_type: LogisticsType,
    /// When the shipment was corrected: WeChat takes one correction of a payment's
    /// shipping, so ordo takes one too.
    #[serde(default)]
    pub corrected_at: Option<DateTime<Utc>>,
}

impl Shipment {
    /// Whether `details` say what this shipment says already.
    pub fn says(&self, details: &ShipmentDetails) -> bool {
        self.carrier == details.carrier
            && self.tracking_no == details.tracking_no
            && self.express_company == details.express_company
            && self.logistics_type == details.logistics_type
    }
}

/// How a parcel travels, as WeChat's shipping info management names it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogisticsType {
    /// By an express company, with a tracking number.
    #[default]
    Express,
    /// Delivered within the city by the shop or a courier.
    SameCity,
    /// Nothing travels (top-ups, vouchers).
    Virtual,
    /// The shopper collects it.
    SelfPickup,
}

impl LogisticsType {
    pub const ALL: [Self; 4] = [
        Self::Express,
        Self::SameCity,
        Self::Virtual,
        Self::SelfPickup,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Express => "express",
            Self::SameCity => "same_city",
            Self::Virtual => "virtual",
            Self::SelfPickup => "self_pickup",
        }
    }
}

/// What a shipment (or its correction) says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShipmentDetails {
    pub carrier: String,
    pub tracking_no: String,
    pub express_company: Option<String>,
    pub logistics_type: LogisticsType,
}
