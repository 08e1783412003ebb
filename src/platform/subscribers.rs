//! The feed's subscribers that cause calls to WeChat: like projections (checkpointed,
//! poison-proof, shown in `ordo projections status`), but what they write is the outbox
//! of calls, in their checkpoint's transaction. They are never rebuilt nor replayed: a
//! call made is not made again from the start of the feed.

use aggregates::order::{Order, OrderEvent};
use cqrs_es::Aggregate;
use projections::projection::{Projection, ProjectionError, Target, decode};
use projections::{Backlog, RecordedEvent};
use serde_json::json;
use sqlx::{PgConnection, PgPool};

use super::outbox::{self, NewCall};

/// The kind of call a shipment causes.
pub const SHIPPING_UPLOAD: &str = "shipping_upload";

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
