use crate::FieldError;

/// Why a stock command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StockError {
    #[error("insufficient stock: {requested} requested, {available} available")]
    InsufficientStock { requested: i64, available: i64 },
    #[error("cannot write off {requested}: only {available} are not reserved")]
    WriteOffBelowReserved { requested: i64, available: i64 },
    #[error("cannot take {requested} out of the reservations: only {reserved} are reserved")]
    BeyondReserved { requested: i64, reserved: i64 },
    #[error("quantity must be at least 1")]
    NonPositiveQuantity,
    #[error("at most {max} units may move in one restock or write-off")]
    AdjustmentTooLarge { max: i64 },
    #[error("stock would exceed the largest countable quantity")]
    TooMuchStock,
    #[error("invalid stock change: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
}
