use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// One line of an order as the shopper's limits see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseLine {
    pub product_id: Uuid,
    pub quantity: i64,
    /// The product's purchase limit when the order is placed; `None`: unlimited.
    pub limit_per_user: Option<i64>,
}

/// What can be asked of a shopper's holdings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ShopperCommand {
    /// A new order: counts against the open-order cap and the products' limits.
    OpenPurchase {
        order_id: Uuid,
        lines: Vec<PurchaseLine>,
        max_unpaid_orders: u32,
    },
    /// The order was paid: it no longer counts as unpaid; its units stay held.
    /// Nothing happens for an order the shopper does not hold unpaid (one placed before
    /// limits existed).
    PayPurchase { order_id: Uuid },
    /// The order was cancelled (by the shopper or the payment timeout): its units come
    /// back, and it no longer counts as unpaid. Nothing happens for an order the shopper
    /// does not hold unpaid.
    ReleasePurchase { order_id: Uuid },
    /// A paid order was refunded: its units (`lines`, from the order) no longer count
    /// against the limits. The Order aggregate makes this happen once per order, and
    /// only for an order the limits counted (`limits_counted`).
    ReturnPurchase {
        order_id: Uuid,
        lines: Vec<(Uuid, i64)>,
    },
}
