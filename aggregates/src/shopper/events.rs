use cqrs_es::DomainEvent;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What happened to a shopper's holdings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShopperEvent {
    PurchaseOpened {
        order_id: Uuid,
        lines: Vec<(Uuid, i64)>,
    },
    PurchasePaid {
        order_id: Uuid,
    },
    PurchaseReleased {
        order_id: Uuid,
        lines: Vec<(Uuid, i64)>,
    },
    /// A paid order was refunded: its units are given back.
    PurchaseReturned {
        order_id: Uuid,
        lines: Vec<(Uuid, i64)>,
    },
}

impl ShopperEvent {
    /// The order the event is about.
    pub fn order_id(&self) -> Uuid {
        match self {
            Self::PurchaseOpened { order_id, .. }
            | Self::PurchasePaid { order_id }
            | Self::PurchaseReleased { order_id, .. }
            | Self::PurchaseReturned { order_id, .. } => *order_id,
        }
    }
}

impl DomainEvent for ShopperEvent {
    fn event_type(&self) -> String {
        match self {
            Self::PurchaseOpened { .. } => "PurchaseOpened",
            Self::PurchasePaid { .. } => "PurchasePaid",
            Self::PurchaseReleased { .. } => "PurchaseReleased",
            Self::PurchaseReturned { .. } => "PurchaseReturned",
        }
        .to_owned()
    }

    fn event_version(&self) -> String {
        "1".to_owned()
    }
}
