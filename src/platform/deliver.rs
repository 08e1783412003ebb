//! The deliverer: makes the outbox's due calls, a few at once, as soon as a subscriber
//! adds some (its notification arrives at their commit) and at least every second for
//! retries; every process runs one, and a call is claimed by one at a time.

use std::time::Duration;

use futures::StreamExt;
use sqlx::postgres::PgListener;
use tokio::sync::watch;

use super::messages::MessageSender;
use super::outbox::{CHANNEL, Call, Outbox, Outcome};
use super::shipping::{Attempt, ShippingUploader};
use super::subscribers::{SHIPPING_UPLOAD, SUBSCRIBE_MESSAGE};
use crate::database::DatabaseError;

/// Calls claimed at a time.
const BATCH: i64 = 64;
/// Calls made at once: each mostly waits (on the log, on WeChat's answer), so a shop's
/// burst of shipments is made side by side rather than in line.
const CONCURRENCY: usize = 32;
/// The longest wait between two looks, for calls due again after a backoff.
const POLL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone)]
pub struct Deliverer {
    pub outbox: Outbox,
    pub shipping: ShippingUploader,
    pub messages: MessageSender,
}

impl Deliverer {
    /// Delivers until `stop` turns true.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut listener = self.listen().await;
        loop {
            let delivered = match self.deliver_due().await {
                Ok(delivered) => delivered,
                Err(err) => {
                    tracing::warn!(%err, "could not deliver WeChat calls; retrying");
                    0
                }
            };
            if delivered as i64 == BATCH {
                continue;
            }
            tokio::select! {
                () = wait_for_calls(&mut listener) => {}
                _ = stop.wait_for(|stopped| *stopped) => return,
            }
        }
    }

    async fn listen(&self) -> Option<PgListener> {
        let listener = async {
            let mut listener = PgListener::connect_with(self.outbox.pool()).await?;
            listener.listen(CHANNEL).await?;
            Ok::<_, sqlx::Error>(listener)
        };
        match listener.await {
            Ok(listener) => Some(listener),
            Err(err) => {
                tracing::warn!(%err, "cannot listen for WeChat calls; looking every second");
                None
            }
        }
    }

    /// Makes the calls due now, a few at once, and records what became of them in one
    /// statement: how many it claimed.
    pub async fn deliver_due(&self) -> Result<usize, DatabaseError> {
        let calls = self.outbox.claim(BATCH).await?;
        let attempts: Vec<(Call, Attempt)> = futures::stream::iter(calls)
            .map(|call| async move {
                let attempt = self.attempt(&call).await;
                (call, attempt)
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        let outcomes: Vec<Outcome<'_>> = attempts
            .iter()
            .map(|(call, attempt)| outcome(call, attempt))
            .collect();
        if let Err(err) = self.outbox.record(&outcomes).await {
            // The claims run out and the calls are made again (harmlessly: see each kind).
            tracing::warn!(%err, "could not record what became of WeChat calls");
            return Err(err);
        }
        Ok(attempts.len())
    }

    async fn attempt(&self, call: &Call) -> Attempt {
        let attempt = match call.kind.as_str() {
            SHIPPING_UPLOAD => self.shipping.attempt(call).await,
            SUBSCRIBE_MESSAGE => self.messages.attempt(call).await,
            other => Attempt::Failed(format!("no deliverer makes calls of kind {other}")),
        };
        let kind = call.kind.clone();
        match &attempt {
            Attempt::Done => {
                let waited = (chrono::Utc::now() - call.event_at)
                    .to_std()
                    .unwrap_or_default();
                metrics::histogram!("platform_call_delay_seconds", "kind" => kind.clone())
                    .record(waited.as_secs_f64());
            }
            Attempt::Later(error) => {
                tracing::info!(kind = call.kind, key = call.key, attempts = call.attempts, %error,
                    "WeChat call failed for now; retrying later");
            }
            Attempt::Failed(error) => {
                tracing::warn!(kind = call.kind, key = call.key, %error,
                    "WeChat refused a call; recorded, not retried");
            }
            Attempt::Skipped(_) => {}
        }
        metrics::counter!("platform_calls_total", "kind" => kind, "outcome" => outcome(call, &attempt).state)
            .increment(1);
        attempt
    }
}

/// How `attempt` of `call` is recorded.
fn outcome<'a>(call: &'a Call, attempt: &'a Attempt) -> Outcome<'a> {
    let (state, note) = match attempt {
        Attempt::Done => ("done", None),
        Attempt::Skipped(why) => ("skipped", Some(why.as_str())),
        Attempt::Later(error) => ("pending", Some(error.as_str())),
        Attempt::Failed(error) => ("failed", Some(error.as_str())),
    };
    Outcome { call, state, note }
}

/// Until a subscriber adds calls, or [`POLL`] passes.
async fn wait_for_calls(listener: &mut Option<PgListener>) {
    let Some(listening) = listener else {
        tokio::time::sleep(POLL).await;
        return;
    };
    tokio::select! {
        received = listening.try_recv() => {
            if received.is_err() {
                *listener = None;
            }
        }
        () = tokio::time::sleep(POLL) => {}
    }
}
