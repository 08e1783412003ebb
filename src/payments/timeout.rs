//! The payment timeout: orders still awaiting payment after `ORDER_PAYMENT_TIMEOUT` are
//! cancelled with reason `payment_timeout`, through the normal write path, so their stock
//! is released exactly once.
//!
//! Driven by the order views (`status = 'awaiting_payment' AND expires_at <= now()`, a
//! partial index), so nothing is lost across restarts: an order that expired while no
//! server ran is cancelled by the first sweep after start. Several servers may sweep at
//! once; the Order aggregate decides, once: a second cancel, or a cancel racing a payment
//! that won, is refused and skipped. The aggregate also refuses a timeout before
//! `expires_at`, whatever a read model says.
//!
//! The views may lag (a stopped projector, an appending transaction holding the feed's
//! horizon): the orders placed after their checkpoint are read from the events too, so
//! an order expires on time whatever the read side does.

use std::sync::Arc;
use std::time::Duration;

use aggregates::order::{CancelReason, OrderError, OrderEvent};
use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::event_store::{EventMetadata, EventStore, FeedPosition};
use crate::write::{OrderActor, WriteError, WriteModel};

/// Orders cancelled per query; the sweep repeats at once while it finds a full batch.
const BATCH: i64 = 200;

pub struct PaymentTimeout {
    pool: PgPool,
    events: EventStore,
    write: Arc<WriteModel>,
    /// How often to look for expired orders.
    every: Duration,
}

impl PaymentTimeout {
    /// Sweeps about ten times per timeout (an order waits at most a tenth longer than its
    /// timeout), between every 100 ms and every 5 s.
    pub fn new(pool: PgPool, write: Arc<WriteModel>, timeout: Duration) -> Self {
        let every = (timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
        Self {
            events: EventStore::new(pool.clone()),
            pool,
            write,
            every,
        }
    }

    /// Orders placed after the order views' checkpoint whose payment time is up. One batch
    /// a sweep: orders expire in the order they were placed, so the batch holds the
    /// expired ones first.
    async fn expired_beyond_views(&self) -> Result<Vec<Uuid>, sqlx::Error> {
        let checkpoint = projections::checkpoint::read(&self.pool, "orders")
            .await?
            .map_or(FeedPosition::START, |checkpoint| checkpoint.position());
        let placed = self
            .events
            .of_type_after(("Order", OrderEvent::ORDER_PLACED), checkpoint, BATCH)
            .await?;
        let now = Utc::now();
        Ok(placed
            .into_iter()
            .filter_map(|(_, id, payload)| {
                let expires_at = match serde_json::from_value(payload).ok()? {
                    OrderEvent::OrderPlaced { expires_at, .. } => expires_at,
                    _ => return None,
                };
                (expires_at <= now).then(|| id.parse().ok()).flatten()
            })
            .collect())
    }

    /// Sweeps until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        loop {
            match self.sweep().await {
                // A full batch with progress: more may be waiting. A full batch of refusals
                // (the order views lag behind) waits like any other round.
                Ok(Sweep { seen, cancelled }) if seen as i64 >= BATCH && cancelled > 0 => continue,
                Ok(_) => {}
                Err(err) => tracing::warn!(%err, "payment timeout sweep failed; retrying"),
            }
            tokio::select! {
                () = tokio::time::sleep(self.every) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }

    /// Cancels one batch of expired orders.
    pub async fn sweep(&self) -> Result<Sweep, sqlx::Error> {
        let mut expired = projections::orders::query::expired_unpaid(&self.pool, BATCH).await?;
        for id in self.expired_beyond_views().await? {
            if !expired.contains(&id) {
                expired.push(id);
            }
        }
        let metadata = EventMetadata {
            actor_id: Some("payment-timeout".to_owned()),
            actor_role: Some("system".to_owned()),
            ..EventMetadata::default()
        };
        let mut done = 0;
        for &order_id in &expired {
            let cancelled = self
                .write
                .cancel_order(
                    order_id,
                    OrderActor::Operator,
                    CancelReason::PaymentTimeout,
                    &metadata,
                )
                .await;
            match cancelled {
                Ok(_) => {
                    done += 1;
                    metrics::counter!("orders_expired_total").increment(1);
                    tracing::info!(%order_id, "order cancelled: payment timeout");
                }
                // Paid meanwhile, or cancelled by another server: the view had not caught up.
                Err(WriteError::Order(
                    OrderError::InvalidTransition { .. } | OrderError::NotExpired { .. },
                )) => {}
                Err(err) => tracing::warn!(%order_id, %err, "could not cancel an expired order"),
            }
        }
        Ok(Sweep {
            seen: expired.len(),
            cancelled: done,
        })
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Expired orders the order views listed.
    pub seen: usize,
    /// Of those, cancelled now (the rest were paid or cancelled meanwhile).
    pub cancelled: usize,
}
