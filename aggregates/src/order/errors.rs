use super::OrderStatus;
use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OrderError {
    #[error("the order has already been placed")]
    AlreadyPlaced,
    #[error("the order does not exist")]
    NotFound,
    #[error("cannot {action} an order that is {status}")]
    InvalidTransition {
        status: OrderStatus,
        action: &'static str,
    },
    #[error("the order is not due to expire before {expires_at}")]
    NotExpired {
        expires_at: chrono::DateTime<chrono::Utc>,
    },
    #[error("payment of {paid} does not match the order total of {expected}")]
    AmountMismatch { expected: i64, paid: i64 },
    #[error("invalid order: {}", crate::describe(.0))]
    Invalid(Vec<FieldError>),
}
