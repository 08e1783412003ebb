//! The mini-program platform's workflows: what ordo tells WeChat because of what
//! happened in the log. The feed's subscribers (`subscribers`) turn events into calls in
//! the outbox (`outbox`); the deliverer (`deliver`) makes them, each kind its own way
//! (`shipping`); WeChat's delivery companies are kept for `ship` to check
//! (`delivery_companies`). `wechat` is the client; `http` only adapts.

pub mod deliver;
pub mod delivery_companies;
pub mod messages;
pub mod openids;
pub mod outbox;
pub mod shipping;
pub mod subscribers;

use std::sync::Arc;

use projections::Projection;
use tokio::sync::watch;

pub use delivery_companies::DeliveryCompanies;
pub use outbox::{CallView, Outbox};
use subscribers::Subscriber;

use crate::wechat::Platform;
use crate::wechat::messages::MessageSettings;

/// The feed's subscribers that call WeChat, run by the projector beside the read models
/// (messages for the occasions `messages` sets a template for).
pub fn subscribers(messages: &MessageSettings) -> Vec<Arc<dyn Projection>> {
    vec![
        Arc::new(Subscriber(subscribers::ShippingUploads)),
        Arc::new(Subscriber(subscribers::SubscribeMessages {
            settings: messages.clone(),
        })),
    ]
}

/// Everything a server's projector runs: the read models, then the subscribers.
pub fn projector_runs(messages: &MessageSettings) -> Vec<Arc<dyn Projection>> {
    projections::all()
        .into_iter()
        .chain(subscribers(messages))
        .collect()
}

/// Fetches WeChat's delivery companies now and then every day, until `stop`.
pub async fn refresh_delivery_companies(
    companies: DeliveryCompanies,
    platform: Platform,
    mut stop: watch::Receiver<bool>,
) {
    // After the start's rush, and first in dev mode's simulation once it serves.
    let mut wait = std::time::Duration::from_secs(5);
    loop {
        tokio::select! {
            () = tokio::time::sleep(wait) => {}
            _ = stop.wait_for(|stopped| *stopped) => return,
        }
        match companies.refresh(&platform).await {
            Ok(count) => {
                tracing::info!(count, "fetched WeChat's delivery companies");
                wait = delivery_companies::REFRESH_EVERY;
            }
            Err(err) => {
                tracing::warn!(%err, "could not fetch WeChat's delivery companies; the known ones serve");
                wait = std::time::Duration::from_secs(600);
            }
        }
    }
}
