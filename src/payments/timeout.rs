//! The payment timeout: orders still awaiting payment after `ORDO_PAYMENT_TIMEOUT` are
//! cancelled with reason `payment_timeout`, through the normal write path, so their stock
//! is released exactly once.
//!
//! An order whose payment was opened at WeChat Pay is first asked about: paid → the
//! payment is recorded (the order is paid, not cancelled); not paid → its payment is
//! closed at WeChat Pay, then the order cancelled; WeChat Pay cannot be asked → the order
//! stays reserved and is asked about again, until `ORDO_PAYMENT_CHECK_BOUND` past its
//! expiry, when it is cancelled anyway (a payment that still comes is owed back).
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

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use aggregates::order::{CancelReason, OrderError, OrderEvent};
use chrono::{DateTime, Utc};
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use super::Payments;
use super::confirm::{ConfirmError, PaymentAnswer};
use super::record::Asking;
use crate::event_store::{EventMetadata, EventStore, FeedPosition};
use crate::wechat_pay::PayError;
use crate::write::{OrderActor, WriteError, WriteModel};

/// Orders cancelled per query; the sweep repeats at once while it finds a full batch.
const BATCH: i64 = 200;

/// The least time between two questions about one expired order's payment.
const ASK_AGAIN_AFTER: Duration = Duration::from_secs(30);

pub struct PaymentTimeout {
    pool: PgPool,
    events: EventStore,
    write: Arc<WriteModel>,
    payments: Payments,
    /// How often to look for expired orders.
    every: Duration,
    /// When each expired order's payment was last asked about without an answer.
    unanswered: Mutex<HashMap<Uuid, Instant>>,
}

/// What to do with an expired order.
enum Verdict {
    Cancel,
    /// Paid after all: recorded.
    Paid,
    /// Ask again later.
    Wait,
}

impl PaymentTimeout {
    /// Sweeps about ten times per timeout (an order waits at most a tenth longer than its
    /// timeout), between every 100 ms and every 5 s.
    pub fn new(
        pool: PgPool,
        write: Arc<WriteModel>,
        payments: Payments,
        timeout: Duration,
    ) -> Self {
        let every = (timeout / 10).clamp(Duration::from_millis(100), Duration::from_secs(5));
        Self {
            events: EventStore::new(pool.clone()),
            pool,
            write,
            payments,
            every,
            unanswered: Mutex::new(HashMap::new()),
        }
    }

    /// Whether the expired order may be cancelled: asks WeChat Pay first when its payment
    /// was opened there.
    async fn verdict(&self, order_id: Uuid) -> Verdict {
        match self.payments.prepays.open(order_id).await {
            Ok(None) => return Verdict::Cancel,
            Ok(Some(_)) => {}
            Err(err) => {
                tracing::warn!(%order_id, %err, "could not read the order's payment; asking later");
                return Verdict::Wait;
            }
        }
        let asked_lately = {
            let unanswered = self.unanswered.lock().unwrap_or_else(|p| p.into_inner());
            unanswered
                .get(&order_id)
                .is_some_and(|at| at.elapsed() < ASK_AGAIN_AFTER)
        };
        let answer = if asked_lately || !self.payments.allowance.take() {
            None
        } else {
            let asked = self
                .payments
                .ask_about_payment(order_id, Asking::Expiry, None)
                .await;
            match asked {
                Ok(PaymentAnswer::Paid { .. }) => return Verdict::Paid,
                Ok(PaymentAnswer::NotPayable) => return Verdict::Cancel,
                Ok(PaymentAnswer::NotPaid) => match self.payments.close_payment(order_id).await {
                    Ok(()) => return Verdict::Cancel,
                    Err(err) => Some(err),
                },
                // WeChat Pay closes it itself at `time_expire`: ask again shortly.
                Ok(PaymentAnswer::Paying) => None,
                // Nobody to ask (dev mode without a merchant account): as before.
                Err(ConfirmError::Pay(PayError::NotConfigured)) => return Verdict::Cancel,
                Err(err) => Some(err),
            }
        };
        let expires_at = self.expiry_of(order_id).await;
        let past_bound = expires_at.is_none_or(|at| {
            Utc::now() - at
                >= chrono::Duration::from_std(self.payments.checks.expiry_bound)
                    .unwrap_or(chrono::Duration::MAX)
        });
        if past_bound {
            tracing::warn!(%order_id, err = ?answer.as_ref().map(ToString::to_string),
                "WeChat Pay could not be asked about an expired order's payment within the bound: cancelled; a payment that still comes is owed back");
            return Verdict::Cancel;
        }
        if let Some(err) = answer {
            tracing::warn!(%order_id, %err, "could not ask WeChat Pay about an expired order's payment; the order stays reserved");
            self.unanswered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(order_id, Instant::now());
        }
        Verdict::Wait
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
            match self.verdict(order_id).await {
                Verdict::Cancel => {}
                Verdict::Paid => {
                    done += 1;
                    tracing::info!(%order_id, "an expiring order was paid: its notice had not come");
                    continue;
                }
                Verdict::Wait => continue,
            }
            self.unanswered
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .remove(&order_id);
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

impl PaymentTimeout {
    /// When the order expires, from its events (what the aggregate decides on).
    async fn expiry_of(&self, order_id: Uuid) -> Option<DateTime<Utc>> {
        let loaded = self
            .events
            .load::<aggregates::order::Order>(&order_id.to_string())
            .await;
        loaded.ok().and_then(|loaded| loaded.aggregate.expires_at)
    }
}

/// What one sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sweep {
    /// Expired orders the order views listed.
    pub seen: usize,
    /// Of those, cancelled now, or found paid at WeChat Pay (the rest were paid or
    /// cancelled meanwhile, or wait for WeChat Pay's answer).
    pub cancelled: usize,
}
