//! Subscribe messages to shoppers: on paid, shipped and refunded, when the shop set a
//! template for it and the shopper has an unused acceptance of it
//! (`message_acceptances`, from `POST /me/subscriptions`). One acceptance, one message:
//! it is used before the send and given back if the send fails for now; WeChat saying
//! the shopper refused (43101) is recorded and uses up what ordo thought was left.

use aggregates::order::Order;
use sqlx::PgPool;

use super::openids::Openids;
use super::outbox::Call;
use super::shipping::Attempt;
use crate::database::DatabaseError;
use crate::event_store::EventStore;
use crate::wechat::messages::{MessageSettings, Occasion, OrderFacts, product_line};
use crate::wechat::{Platform, PlatformError};

/// WeChat: the shopper has not accepted this message (or used the acceptance up).
const USER_REFUSED: i64 = 43101;

/// The shoppers' acceptances of subscribe messages.
#[derive(Debug, Clone)]
pub struct Acceptances {
    pool: PgPool,
}

impl Acceptances {
    pub fn new(pool: PgPool) -> Self {
        Self { pool }
    }

    /// The shopper accepted these templates once more each: how many messages of each
    /// ordo may now send them.
    pub async fn accept(
        &self,
        user_id: &str,
        template_ids: &[String],
    ) -> Result<Vec<(String, i32)>, DatabaseError> {
        Ok(sqlx::query_as(
            "INSERT INTO message_acceptances (user_id, template_id, remaining)
             SELECT $1, template_id, 1 FROM unnest($2::text[]) AS t (template_id)
             ON CONFLICT (user_id, template_id) DO UPDATE
                SET remaining = message_acceptances.remaining + 1, accepted_at = now()
             RETURNING template_id, remaining",
        )
        .bind(user_id)
        .bind(template_ids)
        .fetch_all(&self.pool)
        .await?)
    }

    /// Uses one acceptance of `template_id`; false when none is left.
    async fn take(&self, user_id: &str, template_id: &str) -> Result<bool, DatabaseError> {
        let taken = sqlx::query(
            "UPDATE message_acceptances SET remaining = remaining - 1
              WHERE user_id = $1 AND template_id = $2 AND remaining > 0",
        )
        .bind(user_id)
        .bind(template_id)
        .execute(&self.pool)
        .await?;
        Ok(taken.rows_affected() == 1)
    }

    /// Gives back an acceptance a send did not use.
    async fn give_back(&self, user_id: &str, template_id: &str) -> Result<(), DatabaseError> {
        sqlx::query(
            "UPDATE message_acceptances SET remaining = remaining + 1
              WHERE user_id = $1 AND template_id = $2",
        )
        .bind(user_id)
        .bind(template_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// WeChat says none is left.
    async fn none_left(&self, user_id: &str, template_id: &str) -> Result<(), DatabaseError> {
        sqlx::query(
            "UPDATE message_acceptances SET remaining = 0 WHERE user_id = $1 AND template_id = $2",
        )
        .bind(user_id)
        .bind(template_id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}

/// Sends subscribe messages.
#[derive(Debug, Clone)]
pub struct MessageSender {
    pub events: EventStore,
    pub platform: Option<Platform>,
    pub settings: MessageSettings,
    pub acceptances: Acceptances,
    pub openids: Openids,
}

impl MessageSender {
    pub async fn attempt(&self, call: &Call) -> Attempt {
        let Some(platform) = &self.platform else {
            return Attempt::Failed(PlatformError::NotConfigured.to_string());
        };
        let occasion = call.payload["occasion"].as_str().and_then(Occasion::parse);
        let (Some(order_id), Some(occasion)) = (call.order_id, occasion) else {
            return Attempt::Skipped("not a message ordo knows".to_owned());
        };
        let Some(template) = self.settings.template(occasion) else {
            return Attempt::Skipped(format!("no template is set for {} now", occasion.as_str()));
        };
        let order = match self.events.load::<Order>(&order_id.to_string()).await {
            Ok(loaded) => loaded.aggregate,
            Err(err) => return Attempt::Later(err.to_string()),
        };
        let openid = match self.openids.of(&order.user_id).await {
            Ok(openid) if !openid.is_empty() => openid,
            Ok(_) => return Attempt::Skipped("the shopper has no openid".to_owned()),
            Err(err) => return Attempt::Later(err),
        };
        match self.acceptances.take(&order.user_id, &template.id).await {
            Ok(true) => {}
            Ok(false) => {
                return Attempt::Skipped("the shopper has no unused acceptance of it".to_owned());
            }
            Err(err) => return Attempt::Later(err.to_string()),
        }
        let facts = OrderFacts {
            order_no: order_id.simple().to_string(),
            amount_cents: call.payload["amount_cents"]
                .as_i64()
                .unwrap_or(order.total_cents),
            product: product_line(order.lines.iter().map(|l| (l.name.as_str(), l.quantity))),
            carrier: order
                .shipment
                .as_ref()
                .map(|s| s.carrier.clone())
                .unwrap_or_default(),
            tracking_no: order
                .shipment
                .as_ref()
                .map(|s| s.tracking_no.clone())
                .unwrap_or_default(),
            at: call.event_at,
            occasion,
        };
        let page = self
            .settings
            .page
            .replace("{order_id}", &order_id.to_string());
        let sent = platform
            .send_message(
                &openid,
                template,
                &page,
                &self.settings.miniprogram_state,
                &facts,
            )
            .await;
        let user = &order.user_id;
        match sent {
            Ok(()) => Attempt::Done,
            Err(PlatformError::Refused { errcode, errmsg }) if errcode == USER_REFUSED => {
                if let Err(err) = self.acceptances.none_left(user, &template.id).await {
                    tracing::warn!(%err, "could not note a used-up acceptance");
                }
                Attempt::Skipped(format!(
                    "WeChat: the shopper refused the message ({errcode}: {errmsg})"
                ))
            }
            Err(err) => {
                if let Err(unrecorded) = self.acceptances.give_back(user, &template.id).await {
                    tracing::warn!(%unrecorded, "could not give an acceptance back");
                }
                match err {
                    PlatformError::Refused { .. } => Attempt::Failed(err.to_string()),
                    _ => Attempt::Later(err.to_string()),
                }
            }
        }
    }
}
