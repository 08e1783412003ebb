//! Pass 1: every stream in sequence order. Each event's hash is recomputed from its
//! content and the previous event's hash; sequences run 1, 2, 3... without gaps; and the
//! stream is replayed through a checker of its invariants. One stream's state is held at
//! a time.

use projections::upcasting::decode;
use std::collections::HashMap;

use aggregates::order::{OrderEvent, OrderStatus, RefundKind};
use aggregates::stock::StockEvent;
use sqlx::PgPool;
use uuid::Uuid;

use super::{Failure, Findings, VerifyError};
use crate::audit::hash::{ZERO, event_hash, hex};
use crate::audit::{AuditEvent, COLUMNS};
use projections::cancellation::Cancellation;

/// Events read per query.
const BATCH: i64 = 10_000;

pub struct Counted {
    pub events: u64,
    pub streams: u64,
}

/// What the replay of one stream has seen so far.
enum Replay {
    Stock(StockLedger),
    Order(Option<OrderStatus>),
    Other,
}

#[derive(Default)]
struct StockLedger {
    on_hand: i64,
    reserved: HashMap<Uuid, i64>,
}

impl StockLedger {
    fn reserved_total(&self) -> i64 {
        self.reserved.values().sum()
    }

    /// Applies `event`, or says which invariant it breaks.
    fn apply(&mut self, event: StockEvent) -> Result<(), String> {
        match event {
            StockEvent::StockAdded { quantity, .. } => {
                if quantity <= 0 {
                    return Err(format!("adds {quantity} units"));
                }
                self.on_hand += quantity;
            }
            StockEvent::StockWrittenOff { quantity, .. } => self.on_hand -= quantity,
            StockEvent::StockReserved { order_id, quantity } => {
                if self.reserved.insert(order_id, quantity).is_some() {
                    return Err(format!("reserves twice for order {order_id}"));
                }
            }
            StockEvent::StockReleased { order_id, quantity }
            | StockEvent::StockSold { order_id, quantity } => {
                let sold = matches!(event, StockEvent::StockSold { .. });
                match self.reserved.remove(&order_id) {
                    Some(held) if held == quantity => {}
                    Some(held) => {
                        return Err(format!(
                            "moves {quantity} of order {order_id}'s reservation of {held}"
                        ));
                    }
                    None => return Err(format!("order {order_id} holds no reservation")),
                }
                if sold {
                    self.on_hand -= quantity;
                }
            }
            // That the order was sold and refunded unshipped, once, is pass 3's check.
            StockEvent::StockReturned { order_id, quantity } => {
                if quantity <= 0 {
                    return Err(format!("returns {quantity} units of order {order_id}"));
                }
                self.on_hand += quantity;
            }
        }
        let available = self.on_hand - self.reserved_total();
        if self.on_hand < 0 || available < 0 {
            return Err(format!(
                "stock goes negative: on hand {}, available {available}",
                self.on_hand
            ));
        }
        Ok(())
    }
}

/// The status an order moves to with `event` from `status`, if that move is legal.
fn order_move(
    status: Option<OrderStatus>,
    event: &OrderEvent,
) -> Result<Option<OrderStatus>, String> {
    use OrderStatus as S;
    let next = match (status, event) {
        (None, OrderEvent::OrderPlaced { .. }) => S::AwaitingPayment,
        (Some(S::AwaitingPayment), OrderEvent::OrderPaid { .. }) => S::Paid,
        (Some(S::AwaitingPayment), OrderEvent::OrderCancelled { .. }) => S::Cancelled,
        (Some(S::Paid), OrderEvent::OrderShipped { .. }) => S::Shipped,
        (Some(S::Shipped), OrderEvent::OrderCompleted { .. }) => S::Completed,
        (Some(S::Shipped), OrderEvent::ShipmentCorrected { .. }) => return Ok(status),
        (
            Some(S::Cancelled | S::Paid | S::Shipped | S::Completed | S::Refunding | S::Refunded),
            OrderEvent::PaymentReceived { .. } | OrderEvent::RefundRequired { .. },
        ) => return Ok(status),
        (
            Some(S::Paid | S::Shipped | S::Completed),
            OrderEvent::RefundRequested {
                kind: RefundKind::Order,
                ..
            },
        ) => S::Refunding,
        (
            Some(S::Refunding),
            OrderEvent::RefundSucceeded {
                kind: RefundKind::Order,
                ..
            },
        ) => S::Refunded,
        (
            Some(S::Refunding),
            OrderEvent::RefundFailed {
                kind: RefundKind::Order,
                back_to: Some(back_to @ (S::Paid | S::Shipped | S::Completed)),
                ..
            },
        ) => *back_to,
        // Reported stuck: the order's refund goes on (it stays refunding).
        (
            Some(S::Refunding),
            OrderEvent::RefundAbnormal {
                kind: RefundKind::Order,
                ..
            },
        ) => return Ok(status),
        // A part of the order's payment goes back from a paid, shipped or completed
        // order and leaves its status; its answer may come after the rest was refunded.
        (
            Some(S::Paid | S::Shipped | S::Completed),
            OrderEvent::RefundRequested {
                kind: RefundKind::Partial,
                ..
            },
        ) => return Ok(status),
        (
            Some(S::Paid | S::Shipped | S::Completed | S::Refunding | S::Refunded),
            OrderEvent::RefundSucceeded {
                kind: RefundKind::Partial,
                ..
            }
            | OrderEvent::RefundFailed {
                kind: RefundKind::Partial,
                back_to: None,
                ..
            }
            | OrderEvent::RefundAbnormal {
                kind: RefundKind::Partial,
                ..
            },
        ) => return Ok(status),
        // After-sales leave the order's status alone (their refunds move it).
        (
            Some(S::Paid | S::Shipped | S::Completed | S::Refunding | S::Refunded),
            OrderEvent::AfterSaleRequested { .. }
            | OrderEvent::AfterSaleApproved { .. }
            | OrderEvent::AfterSaleRejected { .. }
            | OrderEvent::ReturnShipped { .. }
            | OrderEvent::ReturnReceived { .. },
        ) => return Ok(status),
        // Refunds of payments the order could not take leave its status alone.
        (
            Some(_),
            OrderEvent::RefundRequested {
                kind: RefundKind::ExtraPayment,
                ..
            }
            | OrderEvent::RefundSucceeded {
                kind: RefundKind::ExtraPayment,
                ..
            }
            | OrderEvent::RefundFailed {
                kind: RefundKind::ExtraPayment,
                back_to: None,
                ..
            }
            | OrderEvent::RefundAbnormal {
                kind: RefundKind::ExtraPayment,
                ..
            },
        ) => return Ok(status),
        (status, event) => {
            let from = status.map_or("nothing", OrderStatus::as_str);
            return Err(format!("{} is not legal from {from}", event_name(event)));
        }
    };
    Ok(Some(next))
}

fn event_name(event: &OrderEvent) -> String {
    cqrs_es::DomainEvent::event_type(event)
}

/// Checks every stream; failures go to `findings`.
pub async fn check(
    pool: &PgPool,
    findings: &mut Findings,
    cancellation: &Cancellation,
    mut progress: impl FnMut(u64),
) -> Result<Counted, VerifyError> {
    let mut counted = Counted {
        events: 0,
        streams: 0,
    };
    let (mut after_type, mut after_id, mut after_sequence) = (String::new(), String::new(), 0i64);
    let mut prev_hash = ZERO.to_vec();
    let mut prev_sequence = 0;
    let mut replay = Replay::Other;
    loop {
        if cancellation.is_cancelled() {
            return Err(VerifyError::Cancelled);
        }
        let events: Vec<AuditEvent> = sqlx::query_as(&format!(
            "SELECT {COLUMNS} FROM events
              WHERE (aggregate_type, aggregate_id, sequence) > ($1, $2, $3)
              ORDER BY aggregate_type, aggregate_id, sequence LIMIT $4"
        ))
        .bind(&after_type)
        .bind(&after_id)
        .bind(after_sequence)
        .bind(BATCH)
        .fetch_all(pool)
        .await?;
        let Some(last) = events.last() else {
            return Ok(counted);
        };
        let (next_type, next_id, next_sequence) = (
            last.aggregate_type.clone(),
            last.aggregate_id.clone(),
            last.sequence,
        );
        for event in events {
            let new_stream = event.aggregate_type != after_type || event.aggregate_id != after_id;
            let stream = format!("{}/{}", event.aggregate_type, event.aggregate_id);
            let fail = |findings: &mut Findings, kind, message| {
                findings.add(Failure {
                    kind,
                    position: Some(event.global_position),
                    stream: Some(stream.clone()),
                    message,
                });
            };
            if new_stream {
                counted.streams += 1;
                prev_hash = ZERO.to_vec();
                prev_sequence = 0;
                replay = match event.aggregate_type.as_str() {
                    "Stock" => Replay::Stock(StockLedger::default()),
                    "Order" => Replay::Order(None),
                    _ => Replay::Other,
                };
            }
            if event.sequence != prev_sequence + 1 {
                fail(
                    findings,
                    "sequence_gap",
                    format!(
                        "sequence {} follows {prev_sequence}: events were removed or reordered",
                        event.sequence
                    ),
                );
            }
            let expected = event_hash(&prev_hash, &event);
            if expected.as_slice() != event.hash.as_slice() {
                fail(
                    findings,
                    "hash_mismatch",
                    format!(
                        "event {} of the stream was changed after it was written (hash {} recomputes as {})",
                        event.sequence,
                        hex(&event.hash),
                        hex(&expected)
                    ),
                );
            }
            let replayed = match &mut replay {
                Replay::Stock(ledger) => {
                    decode::<StockEvent>(&event.event_type, &event.event_version, &event.payload)
                        .map_err(|err| (true, err.to_string()))
                        .and_then(|e| ledger.apply(e).map_err(|message| (false, message)))
                }
                Replay::Order(status) => {
                    decode::<OrderEvent>(&event.event_type, &event.event_version, &event.payload)
                        .map_err(|err| (true, err.to_string()))
                        .and_then(|e| {
                            order_move(*status, &e)
                                .map(|next| *status = next)
                                .map_err(|message| (false, message))
                        })
                }
                Replay::Other => Ok(()),
            };
            match replayed {
                Ok(()) => {}
                Err((true, message)) => fail(findings, "unreadable", message),
                Err((false, message)) => {
                    let kind = if matches!(replay, Replay::Stock(_)) {
                        "stock_invariant"
                    } else {
                        "illegal_transition"
                    };
                    fail(findings, kind, message);
                }
            }
            prev_hash = event.hash;
            prev_sequence = event.sequence;
            after_type = event.aggregate_type;
            after_id = event.aggregate_id;
            counted.events += 1;
        }
        after_sequence = next_sequence;
        after_type = next_type;
        after_id = next_id;
        progress(counted.events);
    }
}
