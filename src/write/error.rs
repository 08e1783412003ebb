//! Why a command was not carried out.

use aggregates::FieldError;
use aggregates::order::OrderError;
use aggregates::product::ProductError;
use aggregates::shopper::LimitBreach;
use aggregates::stock::StockError;
use aggregates::user::UserError;
use serde::Serialize;
use uuid::Uuid;

use crate::event_store::{AppendError, LoadError};

/// A SKU an order wanted more of than there is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Shortage {
    pub product_id: Uuid,
    pub sku_id: Uuid,
    pub name: String,
    /// The SKU's values; empty for a product without specs.
    pub spec: aggregates::product::SpecValues,
    pub requested: i64,
    pub available: i64,
}

impl Shortage {
    pub fn of(line: &aggregates::order::OrderLine, requested: i64, available: i64) -> Self {
        Self {
            product_id: line.product_id,
            sku_id: line.sku_id,
            name: line.name.clone(),
            spec: line.spec.clone(),
            requested,
            available,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The request names things wrongly (unknown products, bad quantities, ...).
    #[error("invalid request: {}", aggregates::describe(.0))]
    Invalid(Vec<FieldError>),
    #[error("product not found")]
    ProductNotFound,
    #[error("SKU not found")]
    SkuNotFound,
    #[error("order not found")]
    OrderNotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("insufficient stock for {}", .0.iter().map(|s| s.name.as_str()).collect::<Vec<_>>().join(", "))]
    InsufficientStock(Vec<Shortage>),
    /// The order would take the shopper past products' purchase limits (each named).
    #[error("purchase limit reached for {} product(s)", .0.len())]
    LimitExceeded(Vec<LimitBreach>),
    #[error("at most {max} unpaid orders at a time: pay or cancel one first")]
    TooManyUnpaid { max: u32 },
    #[error(transparent)]
    Product(ProductError),
    #[error(transparent)]
    Stock(StockError),
    #[error(transparent)]
    Order(OrderError),
    /// The database could not take the write (its message); the client may retry.
    #[error("the write could not be completed: {0}")]
    Unavailable(String),
    /// Other writers kept changing the same streams; the client may retry.
    #[error("too many concurrent changes to the same items; retry")]
    Busy,
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Append(AppendError),
    #[error("could not serialize events: {0}")]
    Serialize(#[from] serde_json::Error),
}

impl From<AppendError> for WriteError {
    fn from(err: AppendError) -> Self {
        Self::Append(err)
    }
}

impl From<ProductError> for WriteError {
    fn from(err: ProductError) -> Self {
        match err {
            ProductError::NotFound => Self::ProductNotFound,
            ProductError::SkuNotFound => Self::SkuNotFound,
            ProductError::Invalid(fields) => Self::Invalid(fields),
            other => Self::Product(other),
        }
    }
}

impl From<UserError> for WriteError {
    fn from(err: UserError) -> Self {
        match err {
            UserError::Invalid(fields) => Self::Invalid(fields),
            UserError::NotFound => Self::UserNotFound,
            UserError::AlreadyRegistered => Self::Unavailable(err.to_string()),
        }
    }
}

impl From<StockError> for WriteError {
    fn from(err: StockError) -> Self {
        match err {
            StockError::Invalid(fields) => Self::Invalid(fields),
            other => Self::Stock(other),
        }
    }
}

impl From<OrderError> for WriteError {
    fn from(err: OrderError) -> Self {
        match err {
            OrderError::NotFound => Self::OrderNotFound,
            OrderError::Invalid(fields) => Self::Invalid(fields),
            other => Self::Order(other),
        }
    }
}
