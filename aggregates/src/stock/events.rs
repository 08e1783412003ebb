use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened to a product's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockEvent {
    StockAdded {
        quantity: i64,
        reason: String,
    },
    StockWrittenOff {
        quantity: i64,
        reason: String,
    },
    StockReserved {
        order_id: Uuid,
        quantity: i64,
    },
    StockReleased {
        order_id: Uuid,
        quantity: i64,
    },
    StockSold {
        order_id: Uuid,
        quantity: i64,
    },
    /// A sold order was refunded before it shipped: its units are on hand again.
    StockReturned {
        order_id: Uuid,
        quantity: i64,
    },
}

/// The stored name of each event type (`event_type` in the log): spelled once, here.
impl StockEvent {
    pub const STOCK_ADDED: &'static str = "StockAdded";
    pub const STOCK_WRITTEN_OFF: &'static str = "StockWrittenOff";
    pub const STOCK_RESERVED: &'static str = "StockReserved";
    pub const STOCK_RELEASED: &'static str = "StockReleased";
    pub const STOCK_SOLD: &'static str = "StockSold";
    pub const STOCK_RETURNED: &'static str = "StockReturned";
}

impl StockEvent {
    /// What the event does to the stock: units on hand and units reserved, each a change
    /// (`StockSold` takes its units out of both). The one definition the aggregate, the
    /// catalog and the audit's stock moves use.
    pub fn moves(&self) -> (i64, i64) {
        match *self {
            Self::StockAdded { quantity, .. } | Self::StockReturned { quantity, .. } => {
                (quantity, 0)
            }
            Self::StockWrittenOff { quantity, .. } => (-quantity, 0),
            Self::StockReserved { quantity, .. } => (0, quantity),
            Self::StockReleased { quantity, .. } => (0, -quantity),
            Self::StockSold { quantity, .. } => (-quantity, -quantity),
        }
    }
}

impl DomainEvent for StockEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StockAdded { .. } => Self::STOCK_ADDED,
            Self::StockWrittenOff { .. } => Self::STOCK_WRITTEN_OFF,
            Self::StockReserved { .. } => Self::STOCK_RESERVED,
            Self::StockReleased { .. } => Self::STOCK_RELEASED,
            Self::StockSold { .. } => Self::STOCK_SOLD,
            Self::StockReturned { .. } => Self::STOCK_RETURNED,
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
