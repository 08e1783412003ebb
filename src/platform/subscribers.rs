//! The feed's subscribers that cause calls to WeChat: like projections (checkpointed,
//! poison-proof, shown in `ordo projections status`), but what they write is the outbox
//! of calls, in their checkpoint's transaction. They are never rebuilt nor replayed: a
//! call made is not made again from the start of the feed.

use aggregates::order::{Order, OrderEvent, RefundKind};
use cqrs_es::Aggregate;
use projections::projection::{Projection, ProjectionError, Target, decode};
use projections::{Backlog, RecordedEvent};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::outbox::{self, NewCall};
use crate::wechat::messages::{MessageSettings, Occasion};

/// The kind of call a shipment causes.
pub const SHIPPING_UPLOAD: &str = "shipping_upload";
/// The kind of call a paid, shipped or refunded order causes.
pub const SUBSCRIBE_MESSAGE: &str = "subscribe_message";

/// Uploads each shipped order's shipping info to WeChat (and a correction's).
pub struct ShippingUploads;

#[async_trait::async_trait]
impl Projection for ShippingUploads {
    fn name(&self) -> &'static str {
        "shipping_uploads"
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
        outbox::backlog(pool, SHIPPING_UPLOAD).await.map(Some)
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
        for event in events.iter().filter(|e| e.aggregate_type == Order::TYPE) {
            let again = match event.event_type.as_str() {
                OrderEvent::ORDER_SHIPPED => false,
                OrderEvent::SHIPMENT_CORRECTED => true,
                _ => continue,
            };
            // Read to be sure it is one (an unreadable event is parked, as anywhere).
            let _: OrderEvent = decode(event)?;
            calls.push(NewCall {
                kind: SHIPPING_UPLOAD,
                key: event.aggregate_id.clone(),
                order_id: uuid::Uuid::parse_str(&event.aggregate_id).ok(),
                payload: json!({ "position": event.position.global_position }),
                event_at: event.recorded_at,
                again,
            });
        }
        outbox::add(conn, &calls).await?;
        Ok(())
    }
}

/// Tells shoppers their order was paid, shipped or refunded, for each occasion the shop
/// set a template for.
pub struct SubscribeMessages {
    pub settings: MessageSettings,
}

#[async_trait::async_trait]
impl Projection for SubscribeMessages {
    fn name(&self) -> &'static str {
        "subscribe_messages"
    }

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
        outbox::backlog(pool, SUBSCRIBE_MESSAGE).await.map(Some)
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
        for event in events.iter().filter(|e| e.aggregate_type == Order::TYPE) {
            let relevant = matches!(
                event.event_type.as_str(),
                OrderEvent::ORDER_PAID | OrderEvent::ORDER_SHIPPED | OrderEvent::REFUND_SUCCEEDED
            );
            if !relevant {
                continue;
            }
            let (occasion, key, amount) = match decode::<OrderEvent>(event)? {
                OrderEvent::OrderPaid { amount_cents, .. } => {
                    (Occasion::Paid, String::new(), Some(amount_cents))
                }
                OrderEvent::OrderShipped { .. } => (Occasion::Shipped, String::new(), None),
                OrderEvent::RefundSucceeded {
                    kind: RefundKind::Order,
                    refund_no,
                    amount_cents,
                    ..
                } => (
                    Occasion::Refunded,
                    format!(":{refund_no}"),
                    Some(amount_cents),
                ),
                _ => continue,
            };
            if self.settings.template(occasion).is_none() {
                continue;
            }
            calls.push(NewCall {
                kind: SUBSCRIBE_MESSAGE,
                key: format!("{}:{}{key}", event.aggregate_id, occasion.as_str()),
                order_id: uuid::Uuid::parse_str(&event.aggregate_id).ok(),
                payload: json!({ "occasion": occasion.as_str(), "amount_cents": amount }),
                event_at: event.recorded_at,
                again: false,
            });
        }
        outbox::add(conn, &calls).await?;
        Ok(())
    }
}
