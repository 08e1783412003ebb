//! Sending refunds to WeChat Pay and following them up.
//!
//! A refund is first decided by the Order aggregate (`RefundRequested`, appended once
//! however many servers ask), then sent. WeChat Pay's answer usually says `PROCESSING`
//! and the result comes in a refund notice; an answer that already settles it (success,
//! a refusal) is recorded at once through the same aggregate, which keeps whichever
//! answer came first.
//!
//! A refund whose request failed in transit, or whose server stopped before sending it,
//! stays `requested`: the follow-up finds it in the order views (`refund_pending`, a
//! partial index, and the events after the views' checkpoint), asks WeChat Pay where it is, and sends it again when WeChat Pay never
//! received it. The same refund number makes sending twice harmless.
//!
//! Only WeChat Pay's word settles a refund: an answer without its platform signature (a
//! proxy's or a firewall's 403 or 502) says nothing about the refund, and leaves it to the
//! follow-up. `ABNORMAL` (the shopper's account could not take the money) is not a refusal
//! either: the refund stays in progress, flagged for an operator, and WeChat Pay's later
//! `SUCCESS` (or `CLOSED`) settles it.

use std::sync::Arc;
use std::time::Duration;

use aggregates::order::{Order, OrderEvent, Refund, RefundOutcome};
use chrono::Utc;
use sqlx::PgPool;
use tokio::sync::watch;
use uuid::Uuid;

use crate::event_store::{EventMetadata, EventStore, FeedPosition};
use crate::wechat_pay::{PayError, RefundRequest, RefundState, WeChatPay};
use crate::write::{WriteError, WriteModel};

/// Orders read per query of a follow-up round.
const BATCH: i64 = 200;
/// The shortest pause between follow-up rounds.
const MIN_PAUSE: Duration = Duration::from_secs(1);

/// WeChat Pay's codes for a refusal worth asking again about later (not a decision).
const TRANSIENT_CODES: [&str; 2] = ["FREQUENCY_LIMITED", "SYSTEM_ERROR"];

/// What became of sending a refund.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Sent {
    /// WeChat Pay took it; the result comes in a notice.
    Processing,
    /// WeChat Pay's answer settled it (the first answer on it is what the order keeps),
    /// recorded at this feed position.
    Settled(FeedPosition),
    /// WeChat Pay refused it: the refund failed, for this reason.
    Refused(String, FeedPosition),
    /// No answer (a timeout, an error in transit): it stays requested and is followed up.
    Unanswered(String),
}

/// Sends refunds of orders and records what WeChat Pay answers.
#[derive(Clone)]
pub struct Refunds {
    pub write: Arc<WriteModel>,
    pub wechat_pay: WeChatPay,
}

impl Refunds {
    /// Sends `refund` of order `order_id` to WeChat Pay.
    pub async fn send(
        &self,
        order_id: Uuid,
        refund: &Refund,
        metadata: &EventMetadata,
    ) -> Result<Sent, WriteError> {
        let request = RefundRequest {
            out_refund_no: refund.refund_no.clone(),
            transaction_id: refund.payment_id.clone(),
            reason: refund.reason.clone(),
            refund_cents: refund.amount_cents,
            // What the payment took in all: WeChat Pay checks it against the payment.
            total_cents: refund.payment_cents.max(refund.amount_cents),
        };
        match self.wechat_pay.refund(&request).await {
            Ok(state) => self.record(order_id, refund, &state, metadata).await,
            // `Refused` is a signed answer: WeChat Pay's own word (see `WeChatPay::call`).
            Err(PayError::Refused { code, message })
                if !TRANSIENT_CODES.contains(&code.as_str()) =>
            {
                let reason = format!("{code}: {message}");
                let outcome = RefundOutcome::Failed {
                    reason: reason.clone(),
                    failed_at: Utc::now(),
                };
                let position = self.settle(order_id, refund, outcome, metadata).await?;
                Ok(Sent::Refused(reason, position))
            }
            Err(err) => {
                tracing::warn!(%order_id, refund_no = refund.refund_no, %err,
                    "refund not answered; the follow-up asks again");
                Ok(Sent::Unanswered(err.to_string()))
            }
        }
    }

    /// Records WeChat Pay's `state` of `refund`, if it settles it.
    async fn record(
        &self,
        order_id: Uuid,
        refund: &Refund,
        state: &RefundState,
        metadata: &EventMetadata,
    ) -> Result<Sent, WriteError> {
        let outcome = match state.status.as_str() {
            "SUCCESS" => RefundOutcome::Succeeded {
                provider_refund_id: state.refund_id.clone(),
                refunded_at: state.success_time.unwrap_or_else(Utc::now),
            },
            "CLOSED" => RefundOutcome::Failed {
                reason: format!("WeChat Pay: refund {}", state.status),
                failed_at: Utc::now(),
            },
            "ABNORMAL" => RefundOutcome::Abnormal {
                reason: format!("WeChat Pay: refund {}", state.status),
                reported_at: Utc::now(),
            },
            _ => return Ok(Sent::Processing),
        };
        let position = self.settle(order_id, refund, outcome, metadata).await?;
        Ok(Sent::Settled(position))
    }

    async fn settle(
        &self,
        order_id: Uuid,
        refund: &Refund,
        outcome: RefundOutcome,
        metadata: &EventMetadata,
    ) -> Result<FeedPosition, WriteError> {
        self.write
            .settle_refund(
                order_id,
                refund.refund_no.clone(),
                refund.amount_cents,
                None,
                outcome,
                metadata,
            )
            .await
            .map(|written| written.position)
    }

    /// Asks WeChat Pay where `refund` is, and sends it again if WeChat Pay never got it.
    async fn follow_up(
        &self,
        order_id: Uuid,
        refund: &Refund,
        metadata: &EventMetadata,
    ) -> Result<Sent, WriteError> {
        match self.wechat_pay.query_refund(&refund.refund_no).await {
            Ok(Some(state)) => self.record(order_id, refund, &state, metadata).await,
            Ok(None) => self.send(order_id, refund, metadata).await,
            Err(err) => Ok(Sent::Unanswered(err.to_string())),
        }
    }
}

/// The background follow-up of refunds left `requested`.
pub struct RefundFollowUp {
    pub pool: PgPool,
    pub events: EventStore,
    pub refunds: Refunds,
    /// How long a refund waits for its notice before WeChat Pay is asked about it, and
    /// how often the follow-up looks.
    pub every: Duration,
}

impl RefundFollowUp {
    /// Follows up until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        if self.refunds.wechat_pay.config().is_none() {
            return;
        }
        // A zero setting would spin; once a second is as often as is useful.
        let pause = self.every.max(MIN_PAUSE);
        loop {
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
            if let Err(err) = self.round().await {
                tracing::warn!(%err, "refund follow-up failed; retrying");
            }
        }
    }

    /// One look at every refund waiting longer than `every`; how many it settled.
    pub async fn round(&self) -> Result<usize, WriteError> {
        let metadata = EventMetadata {
            actor_id: Some("refund-follow-up".to_owned()),
            actor_role: Some("system".to_owned()),
            ..EventMetadata::default()
        };
        let due_before = Utc::now() - self.every;
        let (mut moved, mut after) = (0, Uuid::nil());
        loop {
            let pending = projections::orders::query::refund_pending(&self.pool, after, BATCH)
                .await
                .map_err(|err| WriteError::Unavailable(err.to_string()))?;
            for &order_id in &pending {
                moved += self
                    .follow_up_order(order_id, due_before, &metadata)
                    .await?;
            }
            match pending.last() {
                Some(&last) if pending.len() as i64 == BATCH => after = last,
                _ => break,
            }
        }
        // Refunds asked for after the views' checkpoint: the views may lag (a stopped
        // projector, an appending transaction holding the feed's horizon), the follow-up
        // must not. (One the views list as well is looked at twice: harmless, the same
        // refund number.)
        for order_id in self.requested_beyond_views().await? {
            moved += self
                .follow_up_order(order_id, due_before, &metadata)
                .await?;
        }
        Ok(moved)
    }

    /// The orders with a refund requested after the order views' checkpoint, every one
    /// of them (read a batch at a time).
    async fn requested_beyond_views(&self) -> Result<Vec<Uuid>, WriteError> {
        let unavailable = |err: sqlx::Error| WriteError::Unavailable(err.to_string());
        let mut after = projections::checkpoint::read(&self.pool, "orders")
            .await
            .map_err(unavailable)?
            .map_or(FeedPosition::START, |checkpoint| checkpoint.position());
        let mut orders: Vec<Uuid> = Vec::new();
        loop {
            let requested = self
                .events
                .of_type_after(("Order", OrderEvent::REFUND_REQUESTED), after, BATCH)
                .await
                .map_err(unavailable)?;
            let full = requested.len() as i64 == BATCH;
            for (position, id, _) in requested {
                after = position;
                orders.extend(id.parse::<Uuid>().ok());
            }
            if !full {
                break;
            }
        }
        orders.sort_unstable();
        orders.dedup();
        Ok(orders)
    }

    /// Follows up the refunds of `order_id` asked for before `due_before`.
    async fn follow_up_order(
        &self,
        order_id: Uuid,
        due_before: chrono::DateTime<Utc>,
        metadata: &EventMetadata,
    ) -> Result<usize, WriteError> {
        let order: Order = self
            .events
            .load::<Order>(&order_id.to_string())
            .await?
            .aggregate;
        let waiting: Vec<Refund> = order
            .refunds_in_progress()
            .filter(|refund| refund.requested_at <= due_before)
            .cloned()
            .collect();
        let mut moved = 0;
        for refund in waiting {
            match self.refunds.follow_up(order_id, &refund, metadata).await {
                Ok(Sent::Settled(_) | Sent::Refused(..)) => moved += 1,
                Ok(Sent::Processing | Sent::Unanswered(_)) => {}
                Err(err) => tracing::warn!(%order_id, %err, "refund follow-up: not recorded"),
            }
        }
        Ok(moved)
    }
}
