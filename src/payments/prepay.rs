//! The prepay: an order awaiting payment becomes a WeChat Pay order, answered with what
//! the mini program passes to `wx.requestPayment`. The order is paid when WeChat Pay's
//! notice arrives.

use aggregates::order::{Order, OrderStatus};
use chrono::Utc;
use uuid::Uuid;

use super::Payments;
use crate::event_store::LoadError;
use crate::wechat_pay::{self, PayError, PaymentRequest, RequestPaymentParams};
use crate::write::WriteError;

/// The longest `description` WeChat Pay accepts, in characters.
const MAX_DESCRIPTION_CHARS: usize = 127;

/// Why an order cannot be paid now.
#[derive(Debug, thiserror::Error)]
pub enum PrepayError {
    #[error("order not found")]
    OrderNotFound,
    #[error("user not found")]
    UserNotFound,
    #[error("the order has expired and is being cancelled")]
    Expired,
    #[error("cannot pay an order that is {0}")]
    NotPayable(OrderStatus),
    #[error(transparent)]
    Pay(#[from] PayError),
    #[error(transparent)]
    Load(#[from] LoadError),
    #[error(transparent)]
    Write(#[from] WriteError),
    #[error(transparent)]
    Database(#[from] crate::database::DatabaseError),
}

impl Payments {
    /// Starts paying for `order_id`, an order of `user_id` awaiting payment.
    pub async fn prepay(
        &self,
        order_id: Uuid,
        user_id: &str,
    ) -> Result<RequestPaymentParams, PrepayError> {
        let order = self
            .owned_order(order_id, user_id)
            .await?
            .ok_or(PrepayError::OrderNotFound)?;
        let expired = order.expires_at.is_some_and(|at| at <= Utc::now());
        match order.status {
            Some(OrderStatus::AwaitingPayment) if !expired => {}
            Some(OrderStatus::AwaitingPayment) => return Err(PrepayError::Expired),
            Some(status) => return Err(PrepayError::NotPayable(status)),
            None => return Err(PrepayError::OrderNotFound),
        }
        let user_id = Uuid::parse_str(user_id).map_err(|_| PrepayError::UserNotFound)?;
        let shopper = self
            .write
            .user(user_id)
            .await?
            .ok_or(PrepayError::UserNotFound)?;
        let request = PaymentRequest {
            out_trade_no: wechat_pay::out_trade_no(order_id),
            description: description(&order),
            total_cents: order.total_cents,
            openid: shopper.openid,
            expires_at: order.expires_at.unwrap_or_else(Utc::now),
        };
        // Noted first: whenever WeChat Pay may hold a payment for the order, ordo knows
        // to ask about it (a late notice, an expiry).
        self.prepays.opening(order_id).await?;
        Ok(self.wechat_pay.prepay(&request).await?)
    }
}

/// What the shopper sees on the payment sheet: the first product, and how many more.
fn description(order: &Order) -> String {
    let first = order
        .lines
        .first()
        .map_or("order", |line| line.name.as_str());
    let text = match order.lines.len() {
        0 | 1 => first.to_owned(),
        n => format!("{first} and {} more", n - 1),
    };
    text.chars().take(MAX_DESCRIPTION_CHARS).collect()
}
