//! Shopper: what one shopper holds, so that one account cannot take what belongs to
//! everyone (a whole flash sale, or a catalogue held unpaid for the payment timeout).
//!
//! Invariants: at most `max_unpaid_orders` orders awaiting payment at a time; of a
//! product with a purchase limit, at most that many units in orders not cancelled (paid,
//! shipped and completed orders keep counting; cancelled ones give their units back).
//! Its stream is appended in the same statement as the order and its stock moves, so
//! the event store's optimistic concurrency keeps the limits across server processes,
//! like the stock's.
//!
//! The state is the unpaid orders (at most the cap) and the units held per product: it
//! grows with the products a shopper has bought, never with their orders.

mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

pub use commands::{PurchaseLine, ShopperCommand};
pub use errors::{LimitBreach, ShopperError};
pub use events::ShopperEvent;

/// One shopper's holdings; its id is the user's id.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shopper {
    /// Orders awaiting payment and their lines, so that paying or releasing one is
    /// exact: an order placed before limits existed, or paid twice, changes nothing.
    unpaid: BTreeMap<Uuid, Vec<(Uuid, i64)>>,
    /// Units held per product in orders not cancelled (no entry: none).
    held: BTreeMap<Uuid, i64>,
}

impl Shopper {
    pub fn unpaid_orders(&self) -> usize {
        self.unpaid.len()
    }

    /// Units of `product_id` held in orders not cancelled.
    pub fn held(&self, product_id: Uuid) -> i64 {
        self.held.get(&product_id).copied().unwrap_or(0)
    }

    /// Where `lines` would take the shopper past a product's limit (lines of the same
    /// product counted together).
    fn breaches(&self, lines: &[PurchaseLine]) -> Vec<LimitBreach> {
        let mut requested: BTreeMap<Uuid, (i64, Option<i64>)> = BTreeMap::new();
        for line in lines {
            let entry = requested
                .entry(line.product_id)
                .or_insert((0, line.limit_per_user));
            entry.0 = entry.0.saturating_add(line.quantity);
        }
        requested
            .into_iter()
            .filter_map(|(product_id, (requested, limit))| {
                let limit = limit?;
                let already = self.held(product_id);
                (already.saturating_add(requested) > limit).then_some(LimitBreach {
                    product_id,
                    limit,
                    already,
                    requested,
                })
            })
            .collect()
    }
}

impl Aggregate for Shopper {
    const TYPE: &'static str = "Shopper";
    type Command = ShopperCommand;
    type Event = ShopperEvent;
    type Error = ShopperError;
    type Services = ();

    async fn handle(
        &mut self,
        command: ShopperCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), ShopperError> {
        let event = match command {
            ShopperCommand::OpenPurchase {
                order_id,
                lines,
                max_unpaid_orders,
            } => {
                let breaches = self.breaches(&lines);
                if !breaches.is_empty() {
                    return Err(ShopperError::LimitExceeded(breaches));
                }
                if self.unpaid.len() >= max_unpaid_orders as usize {
                    return Err(ShopperError::TooManyUnpaid {
                        max: max_unpaid_orders,
                    });
                }
                ShopperEvent::PurchaseOpened {
                    order_id,
                    lines: lines
                        .iter()
                        .map(|line| (line.product_id, line.quantity))
                        .collect(),
                }
            }
            ShopperCommand::PayPurchase { order_id } => {
                if !self.unpaid.contains_key(&order_id) {
                    return Ok(());
                }
                ShopperEvent::PurchasePaid { order_id }
            }
            ShopperCommand::ReleasePurchase { order_id } => {
                let Some(lines) = self.unpaid.get(&order_id) else {
                    return Ok(());
                };
                ShopperEvent::PurchaseReleased {
                    order_id,
                    lines: lines.clone(),
                }
            }
            ShopperCommand::ReturnPurchase { order_id, lines } => {
                ShopperEvent::PurchaseReturned { order_id, lines }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: ShopperEvent) {
        match event {
            ShopperEvent::PurchaseOpened { order_id, lines } => {
                for &(product_id, quantity) in &lines {
                    let held = self.held.entry(product_id).or_default();
                    *held = held.saturating_add(quantity);
                }
                self.unpaid.insert(order_id, lines);
            }
            ShopperEvent::PurchasePaid { order_id } => {
                self.unpaid.remove(&order_id);
            }
            ShopperEvent::PurchaseReleased { order_id, lines }
            | ShopperEvent::PurchaseReturned { order_id, lines } => {
                self.unpaid.remove(&order_id);
                for (product_id, quantity) in lines {
                    let held = self.held.entry(product_id).or_default();
                    *held = held.saturating_sub(quantity);
                    if *held <= 0 {
                        self.held.remove(&product_id);
                    }
                }
            }
        }
    }
}
