use serde::Serialize;
use uuid::Uuid;

/// A product an order would take the shopper past its purchase limit on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LimitBreach {
    pub product_id: Uuid,
    pub limit: i64,
    /// Units the shopper already holds in orders not cancelled.
    pub already: i64,
    pub requested: i64,
}

/// Why a shopper's command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShopperError {
    #[error("purchase limit reached for {} product(s)", .0.len())]
    LimitExceeded(Vec<LimitBreach>),
    #[error("at most {max} unpaid orders at a time: pay or cancel one first")]
    TooManyUnpaid { max: u32 },
}
