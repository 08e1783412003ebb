//! Answers more than one route gives: an order, an after-sale, a product, state as of an
//! instant, and the wait that makes a write's answer readable at once.

pub mod admin_order;
pub mod after_sale;
pub mod as_of;
pub mod current_order;
pub mod order;
pub mod product;
pub mod read_your_writes;
pub mod sent_refunds;
