//! Answers more than one route gives: an order, a product, state as of an instant, and
//! the wait that makes a write's answer readable at once.

pub mod admin_order;
pub mod as_of;
pub mod current_order;
pub mod order;
pub mod product;
pub mod read_your_writes;
