//! The feed's subscribers that cause calls to WeChat: like projections (checkpointed,
//! poison-proof, shown in `ordo projections status`), but what they write is the outbox
//! of calls, in their checkpoint's transaction. They are never rebuilt nor replayed: a
//! call made is not made again from the start of the feed.
//!
//! One [`Subscriber`] serves every kind of call; a [`CallRule`] says which order events
//! cause a call of its kind, and with what.

use aggregates::order::{Order, OrderEvent, RefundKind};
use cqrs_es::Aggregate;
use projections::projection::{Projection, ProjectionError, Target, decode};
use projections::{Backlog, RecordedEvent};
use serde_json::{Value, json};
use sqlx::{PgConnection, PgPool};

use super::outbox::{self, NewCall};
use crate::wechat::messages::{MessageSettings, Occasion};

/// The kind of call a shipment causes.
pub const SHIPPING_UPLOAD: &str = "shipping_upload";
/// The kind of call a paid, shipped or refunded order causes.
pub const SUBSCRIBE_MESSAGE: &str = "subscribe_message";

/// What a call of one kind is made for.
pub trait CallRule: Send + Sync {
    /// The subscriber's name (its checkpoint's).
    const NAME: &'static str;
    /// The kind of call, in `platform_calls`.
    const KIND: &'static str;
    /// The order event types that may cause a call (others are not even read).
    const EVENT_TYPES: &'static [&'static str];

    /// The call `event` causes, if any: its key suffix after the order id, its payload,
    /// and whether it makes a call made already due again (a correction).
    fn call_for(&self, event: OrderEvent) -> Option<(String, Value, bool)>;
}

/// A subscriber adding `R`'s calls to the outbox.
pub struct Subscriber<R>(pub R);

#[async_trait::async_trait]
impl<R: CallRule> Projection for Subscriber<R> {
    fn name(&self) -> &'static str {
        R::NAME
    }

    /// Its calls live in `platform_calls`, shared with the other subscribers: nothing of
    /// its own to rebuild.
    fn tables(&self) -> &'static [&'static str] {
        &[]
    }

    fn aggregate_types(&self) -> Option<&'static [&'static str]> {
        Some(&[Order::TYPE])
    }

    fn replayable(&self) -> bool {
        false
    }

    async fn backlog(&self, pool: &PgPool) -> Result<Option<Backlog>, sqlx::Error> {
        outbox::backlog(pool, R::KIND).await.map(Some)
    }

    async fn apply(
        &self,
        conn: &mut PgConnection,
        target: Target,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        if target != Target::Live {
            return Ok(());
        }
        let mut calls = Vec::new();
        for event in events.iter().filter(|e| {
            e.aggregate_type == Order::TYPE && R::EVENT_TYPES.contains(&e.event_type.as_str())
        }) {
            // An unreadable event is parked, as anywhere.
            let Some((key, payload, again)) = self.0.call_for(decode(event)?) else {
                continue;
            };
            calls.push(NewCall {
                kind: R::KIND,
                key: format!("{}{key}", event.aggregate_id),
                order_id: uuid::Uuid::parse_str(&event.aggregate_id).ok(),
                payload,
                event_at: event.recorded_at,
                again,
            });
        }
        outbox::add(conn, &calls).await?;
        Ok(())
    }
}

/// Uploads each shipped order's shipping info to WeChat (and a correction's): one call
/// per order, made again by a correction.
pub struct ShippingUploads;

impl CallRule for ShippingUploads {
    const NAME: &'static str = "shipping_uploads";
    const KIND: &'static str = SHIPPING_UPLOAD;
    const EVENT_TYPES: &'static [&'static str] =
        &[OrderEvent::ORDER_SHIPPED, OrderEvent::SHIPMENT_CORRECTED];

    fn call_for(&self, event: OrderEvent) -> Option<(String, Value, bool)> {
        let again = matches!(event, OrderEvent::ShipmentCorrected { .. });
        Some((String::new(), json!({}), again))
    }
}

/// Tells shoppers their order was paid, shipped or refunded, for each occasion the shop
/// set a template for: one call per order and occasion (and refund).
pub struct SubscribeMessages {
    pub settings: MessageSettings,
}

impl CallRule for SubscribeMessages {
    const NAME: &'static str = "subscribe_messages";
    const KIND: &'static str = SUBSCRIBE_MESSAGE;
    const EVENT_TYPES: &'static [&'static str] = &[
        OrderEvent::ORDER_PAID,
        OrderEvent::ORDER_SHIPPED,
        OrderEvent::REFUND_SUCCEEDED,
    ];

    fn call_for(&self, event: OrderEvent) -> Option<(String, Value, bool)> {
        let (occasion, refund, amount) = match event {
            OrderEvent::OrderPaid { amount_cents, .. } => {
                (Occasion::Paid, None, Some(amount_cents))
            }
            OrderEvent::OrderShipped { .. } => (Occasion::Shipped, None, None),
            // Each refund of the order's payment, a partial one too, is its own message.
            OrderEvent::RefundSucceeded {
                kind: RefundKind::Order | RefundKind::Partial,
                refund_no,
                amount_cents,
                ..
            } => (Occasion::Refunded, Some(refund_no), Some(amount_cents)),
            _ => return None,
        };
        self.settings.template(occasion)?;
        let key = match refund {
            Some(refund_no) => format!(":{}:{refund_no}", occasion.as_str()),
            None => format!(":{}", occasion.as_str()),
        };
        let payload = json!({ "occasion": occasion.as_str(), "amount_cents": amount });
        Some((key, payload, false))
    }
}
