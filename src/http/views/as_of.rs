//! State as of an instant, as auditors see it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use crate::audit::history::StateError;
use crate::database::DatabaseError;
use crate::http::error::ApiError;
use crate::http::views::order::OrderView;

#[derive(Debug, Serialize, ToSchema)]
pub struct StockAsOf {
    pub product_id: Uuid,
    /// The SKU whose stock it is (the product's id for a product without specs).
    pub sku_id: Uuid,
    pub version: i64,
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

/// An order and its products' stock at an instant.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrderAsOf {
    pub as_of: DateTime<Utc>,
    /// The order's version then (events applied).
    pub version: i64,
    pub order: OrderView,
    pub stocks: Vec<StockAsOf>,
}

pub fn state_error(err: StateError) -> ApiError {
    match err {
        StateError::Database(db) => DatabaseError::from(db).into(),
        StateError::Unreadable(..) => ApiError::internal(&err),
    }
}
