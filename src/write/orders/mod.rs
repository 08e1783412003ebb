//! Order use cases: place, cancel, pay, ship, confirm receipt. Each writes the order's
//! events and the stock moves they cause in one transaction.
//!
//! - `placing`: a new order and a reservation on every line's stock;
//! - `batches`: single-line orders for a hot product, decided and committed together;
//! - `transitions`: every later step and the stock move it causes;
//! - `stock_decisions`: the stocks' part of a unit of work, shared by all of them.

mod batches;
mod placing;
mod stock_decisions;
mod transitions;

use aggregates::order::Order;
use chrono::{DateTime, SubsecRound, Utc};

pub(super) use batches::Queues;
pub use placing::{LineRequest, PlaceOrder};

/// Who asks for a change to an order: its owner may touch only their own orders.
#[derive(Debug, Clone, Copy)]
pub enum OrderActor<'a> {
    Owner(&'a str),
    /// Operators and ordo's own workers (payment notices, timeouts).
    Operator,
}

impl OrderActor<'_> {
    fn may_touch(&self, order: &Order) -> bool {
        match self {
            Self::Owner(user_id) => order.user_id == *user_id,
            Self::Operator => true,
        }
    }
}

/// The time a command happens at, to the microsecond: what PostgreSQL stores, so that
/// events and read models show the same instant.
pub(in crate::write) fn now() -> DateTime<Utc> {
    Utc::now().trunc_subsecs(6)
}
