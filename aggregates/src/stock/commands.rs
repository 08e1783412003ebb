use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What can be asked of a product's stock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum StockCommand {
    /// Units arrive (restock, or the initial stock of a new product).
    AddStock { quantity: i64, reason: String },
    /// Units leave without a sale (damage, loss); never below what is reserved.
    WriteOffStock { quantity: i64, reason: String },
    /// Hold units for an unpaid order.
    ReserveStock { order_id: Uuid, quantity: i64 },
    /// Give an order's held units back (the order was cancelled): its line's quantity.
    ReleaseStock { order_id: Uuid, quantity: i64 },
    /// An order's held units are sold (the order was paid): its line's quantity.
    SellStock { order_id: Uuid, quantity: i64 },
    /// A sold order's units come back (it was refunded before shipping): its line's
    /// quantity. The Order aggregate makes this happen once per order.
    ReturnStock { order_id: Uuid, quantity: i64 },
}
