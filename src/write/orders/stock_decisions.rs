//! The stocks' part of a unit of work: each stock decides on its cached state (checked
//! against the database before a shortage is believed), the decisions become appends,
//! and the new states are kept once the append succeeds.

use aggregates::order::Order;
use aggregates::stock::{Stock, StockCommand, StockError, StockEvent};

use crate::event_store::{EventStore, StreamAppend, StreamId};
use crate::write::attempt::{append_for, decide};
use crate::write::stream_slots::SlotGuard;
use crate::write::{Shortage, WriteError, WriteModel};

/// What one stock decided within a unit of work.
pub(super) struct StockDecision {
    state: Stock,
    /// The stream's sequence the decision was taken on.
    sequence: i64,
    events: Vec<StockEvent>,
}

/// The appends for these stocks' decisions (none for a stock that decided nothing).
pub(super) fn stock_appends(
    stocks: &[SlotGuard<Stock>],
    decided: &[StockDecision],
) -> Result<Vec<StreamAppend>, WriteError> {
    let mut appends = Vec::new();
    for (slot, decision) in stocks.iter().zip(decided) {
        appends.extend(append_for::<Stock>(
            slot.aggregate_id(),
            decision.sequence,
            &decision.events,
        )?);
    }
    Ok(appends)
}

/// Records the stocks' new states once their events are appended.
pub(super) async fn store_stocks(
    store: &EventStore,
    stocks: &mut [SlotGuard<Stock>],
    decided: Vec<StockDecision>,
) {
    for (slot, decision) in stocks.iter_mut().zip(decided) {
        let sequence = decision.sequence + i64::try_from(decision.events.len()).unwrap_or_default();
        slot.store(store, decision.state, sequence).await;
    }
}

/// Forgets the cached state of the stocks another writer moved.
pub(super) fn invalidate_moved(stocks: &mut [SlotGuard<Stock>], moved: &[StreamId]) {
    for slot in stocks {
        slot.invalidate_if_moved(moved);
    }
}

impl WriteModel {
    /// Every stock's decision on `command`.
    /// Shortages are collected over all lines; a shortage seen on a cached state older
    /// than `cache_fresh_for` is checked against the database before it is believed.
    pub(super) async fn decide_stocks(
        &self,
        stocks: &mut [SlotGuard<Stock>],
        command: &impl Fn(&SlotGuard<Stock>) -> StockCommand,
        order: &Order,
    ) -> Result<Vec<StockDecision>, WriteError> {
        let mut decided = Vec::with_capacity(stocks.len());
        let mut shortages = Vec::new();
        for slot in stocks.iter_mut() {
            let mut rechecked = false;
            let stock_command = command(slot);
            loop {
                let cached = slot.current(&self.store).await?;
                let (sequence, is_fresh) = (
                    cached.loaded.sequence,
                    cached.confirmed_at.elapsed() <= self.settings.cache_fresh_for,
                );
                match decide(&cached.loaded.aggregate, stock_command.clone()).await {
                    Ok((state, events)) => {
                        decided.push(StockDecision {
                            state,
                            sequence,
                            events,
                        });
                        break;
                    }
                    Err(StockError::InsufficientStock { .. }) if !is_fresh && !rechecked => {
                        slot.reload(&self.store).await?;
                        rechecked = true;
                    }
                    Err(StockError::InsufficientStock {
                        requested,
                        available,
                    }) => {
                        if let Some(line) = order
                            .lines
                            .iter()
                            .find(|line| line.sku_id.to_string() == slot.aggregate_id())
                        {
                            shortages.push(Shortage::of(line, requested, available));
                        }
                        break;
                    }
                    Err(other) => return Err(other.into()),
                }
            }
        }
        if shortages.is_empty() {
            Ok(decided)
        } else {
            Err(WriteError::InsufficientStock(shortages))
        }
    }
}
