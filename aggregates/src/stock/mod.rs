//! Stock: how many units of one product are on hand and how many are held for orders.
//!
//! Invariant: available = on hand − reserved ≥ 0, always. Every command that could
//! break it is refused here, which is what keeps ordo from overselling: the decision is
//! taken on the stream's current state and the event store's optimistic concurrency
//! makes it stick.
//!
//! The state is two running totals, so a decision, a snapshot and the memory a hot
//! product takes cost the same for its millionth order as for its first. Which order
//! holds how many units is in the events (`StockReserved { order_id, quantity }`); the
//! Order aggregate, appended atomically with its stock moves, is what makes each
//! reservation released or sold exactly once, and the commands carry the quantity from
//! the order's line.

mod commands;
mod errors;
mod events;
#[cfg(test)]
mod tests;

use cqrs_es::Aggregate;
use cqrs_es::event_sink::EventSink;
use serde::{Deserialize, Serialize};

use crate::text::TextRule;
pub use commands::StockCommand;
pub use errors::StockError;
pub use events::StockEvent;

/// Longest reason for a restock or write-off, in characters.
pub const MAX_REASON_CHARS: usize = 200;
/// Why units arrived or left: a note on one line, may be empty.
pub const REASON: TextRule = TextRule::single_line(MAX_REASON_CHARS);

/// Most units one restock or write-off may move: a billion is past any real delivery and
/// keeps a mistyped quantity from filling the count.
pub const MAX_ADJUSTMENT: i64 = 1_000_000_000;

/// The stock of one product; its id is the product's id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stock {
    on_hand: i64,
    /// Units held for orders awaiting payment, all orders together.
    reserved: i64,
}

impl Stock {
    pub fn on_hand(&self) -> i64 {
        self.on_hand
    }

    pub fn reserved(&self) -> i64 {
        self.reserved
    }

    /// Units that can still be reserved.
    pub fn available(&self) -> i64 {
        self.on_hand - self.reserved
    }

    /// An order's units leaving the reservations (released or sold): never more than
    /// are reserved.
    fn check_held(&self, quantity: i64) -> Result<(), StockError> {
        if quantity <= 0 {
            return Err(StockError::NonPositiveQuantity);
        }
        if quantity > self.reserved {
            return Err(StockError::BeyondReserved {
                requested: quantity,
                reserved: self.reserved,
            });
        }
        Ok(())
    }
}

impl Aggregate for Stock {
    const TYPE: &'static str = "Stock";
    type Command = StockCommand;
    type Event = StockEvent;
    type Error = StockError;
    type Services = ();

    async fn handle(
        &mut self,
        command: StockCommand,
        _: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), StockError> {
        let event = match command {
            StockCommand::AddStock { quantity, reason } => {
                check_reason(&reason)?;
                check_adjustment(quantity)?;
                self.on_hand
                    .checked_add(quantity)
                    .ok_or(StockError::TooMuchStock)?;
                StockEvent::StockAdded { quantity, reason }
            }
            StockCommand::WriteOffStock { quantity, reason } => {
                check_reason(&reason)?;
                check_adjustment(quantity)?;
                if quantity > self.available() {
                    return Err(StockError::WriteOffBelowReserved {
                        requested: quantity,
                        available: self.available(),
                    });
                }
                StockEvent::StockWrittenOff { quantity, reason }
            }
            StockCommand::ReserveStock { order_id, quantity } => {
                if quantity <= 0 {
                    return Err(StockError::NonPositiveQuantity);
                }
                if quantity > self.available() {
                    return Err(StockError::InsufficientStock {
                        requested: quantity,
                        available: self.available(),
                    });
                }
                StockEvent::StockReserved { order_id, quantity }
            }
            StockCommand::ReleaseStock { order_id, quantity } => {
                self.check_held(quantity)?;
                StockEvent::StockReleased { order_id, quantity }
            }
            StockCommand::SellStock { order_id, quantity } => {
                self.check_held(quantity)?;
                StockEvent::StockSold { order_id, quantity }
            }
            StockCommand::ReturnStock { order_id, quantity } => {
                if quantity <= 0 {
                    return Err(StockError::NonPositiveQuantity);
                }
                self.on_hand
                    .checked_add(quantity)
                    .ok_or(StockError::TooMuchStock)?;
                StockEvent::StockReturned { order_id, quantity }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: StockEvent) {
        let (on_hand, reserved) = event.moves();
        self.on_hand += on_hand;
        self.reserved += reserved;
    }
}

/// The reason of a restock or write-off, refused before anything else is decided so that
/// no stock moves with text the log cannot hold.
/// A restock or write-off moves 1 to [`MAX_ADJUSTMENT`] units.
fn check_adjustment(quantity: i64) -> Result<(), StockError> {
    if quantity <= 0 {
        return Err(StockError::NonPositiveQuantity);
    }
    if quantity > MAX_ADJUSTMENT {
        return Err(StockError::AdjustmentTooLarge {
            max: MAX_ADJUSTMENT,
        });
    }
    Ok(())
}

fn check_reason(reason: &str) -> Result<(), StockError> {
    match REASON.check("reason", reason) {
        Some(error) => Err(StockError::Invalid(vec![error])),
        None => Ok(()),
    }
}
