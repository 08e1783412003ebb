//! Shipping a paid order, and correcting its shipment once (as WeChat takes one update of
//! a payment's shipping info).

use chrono::{DateTime, Utc};

use super::{Order, OrderError, OrderEvent, OrderStatus, ShipmentDetails, validation};

impl Order {
    /// The event shipping the order with `details`, or correcting its shipment; `None`
    /// when a shipped order's shipment says this already (a repeat).
    pub(super) fn ship(
        &self,
        details: ShipmentDetails,
        at: DateTime<Utc>,
    ) -> Result<Option<OrderEvent>, OrderError> {
        if self.status == Some(OrderStatus::Shipped)
            && let Some(shipment) = &self.shipment
        {
            if shipment.says(&details) {
                return Ok(None);
            }
            if shipment.corrected_at.is_some() {
                return Err(OrderError::ShipmentCorrected);
            }
            validation::validate_shipment(&details)?;
            return Ok(Some(OrderEvent::ShipmentCorrected {
                carrier: details.carrier,
                tracking_no: details.tracking_no,
                express_company: details.express_company,
                logistics_type: details.logistics_type,
                corrected_at: at,
            }));
        }
        self.require(OrderStatus::Paid, "ship")?;
        validation::validate_shipment(&details)?;
        Ok(Some(OrderEvent::OrderShipped {
            carrier: details.carrier,
            tracking_no: details.tracking_no,
            shipped_at: at,
            express_company: details.express_company,
            logistics_type: details.logistics_type,
        }))
    }
}
