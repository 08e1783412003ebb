use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened to a product's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockEvent {
    StockAdded { quantity: i64, reason: String },
    StockWrittenOff { quantity: i64, reason: String },
    StockReserved { order_id: Uuid, quantity: i64 },
    StockReleased { order_id: Uuid, quantity: i64 },
    StockSold { order_id: Uuid, quantity: i64 },
}

impl DomainEvent for StockEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StockAdded { .. } => "StockAdded",
            Self::StockWrittenOff { .. } => "StockWrittenOff",
            Self::StockReserved { .. } => "StockReserved",
            Self::StockReleased { .. } => "StockReleased",
            Self::StockSold { .. } => "StockSold",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
