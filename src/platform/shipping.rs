//! Uploading a shipped order's shipping info to WeChat: made from the log as it is when
//! the call is made (a correction written meanwhile is what goes), naming the payment by
//! its WeChat Pay transaction, the payer by their openid, and, for SF Express, the
//! receiver's masked phone. A repeat is harmless: before trying again after an attempt
//! whose answer was lost, WeChat is asked whether it recorded the shipment already (a
//! payment's shipping can be updated only once).

use aggregates::order::{LogisticsType, Order};
use chrono::Utc;
use uuid::Uuid;

use super::openids::Openids;
use super::outbox::Call;
use crate::event_store::EventStore;
use crate::wechat::shipping::{self, PaymentKey, ShippingInfo, UploadFailure};
use crate::wechat::{Platform, PlatformError};
use crate::wechat_pay::WeChatPay;

/// What became of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Done,
    /// Nothing to upload (and why).
    Skipped(String),
    /// To be tried again later.
    Later(String),
    /// WeChat will not take it: recorded, not retried.
    Failed(String),
}

/// Makes shipping uploads.
#[derive(Debug, Clone)]
pub struct ShippingUploader {
    pub events: EventStore,
    pub platform: Option<Platform>,
    pub wechat_pay: WeChatPay,
    pub openids: Openids,
}

impl ShippingUploader {
    pub async fn attempt(&self, call: &Call) -> Attempt {
        let Some(platform) = &self.platform else {
            return Attempt::Failed(PlatformError::NotConfigured.to_string());
        };
        let Some(order_id) = call.order_id else {
            return Attempt::Skipped("no order".to_owned());
        };
        let info = match self.info(order_id).await {
            Ok(Ok(info)) => info,
            Ok(Err(attempt)) => return attempt,
            Err(err) => return Attempt::Later(err),
        };
        // An earlier attempt may have gone through with its answer lost: WeChat says.
        if call.attempts > 1 {
            match platform.shipments_recorded(&info.payment).await {
                Ok(Some(recorded)) if recorded >= i64::from(call.revision) => return Attempt::Done,
                Ok(_) => {}
                Err(err) => return Attempt::Later(err.to_string()),
            }
        }
        match platform.upload_shipping_info(&info).await {
            Ok(()) => Attempt::Done,
            Err(err) => match shipping::classify(&err) {
                UploadFailure::Transient => Attempt::Later(err.to_string()),
                UploadFailure::AlreadyDone => Attempt::Done,
                UploadFailure::Permanent => Attempt::Failed(err.to_string()),
            },
        }
    }

    /// The order's shipping as WeChat takes it; `Ok(Err(outcome))` when it cannot be
    /// uploaded (nothing to upload, or something WeChat would refuse).
    async fn info(&self, order_id: Uuid) -> Result<Result<ShippingInfo, Attempt>, String> {
        let order = self
            .events
            .load::<Order>(&order_id.to_string())
            .await
            .map_err(|err| err.to_string())?
            .aggregate;
        let Some(shipment) = order.shipment.clone() else {
            return Ok(Err(Attempt::Skipped("the order is not shipped".to_owned())));
        };
        let payment = match (&order.payment_id, self.wechat_pay.config()) {
            (Some(transaction), _) => PaymentKey::Transaction(transaction.clone()),
            (None, Some(config)) => PaymentKey::Merchant {
                mchid: config.mch_id.clone(),
                out_trade_no: crate::wechat_pay::out_trade_no(order_id),
            },
            (None, None) => {
                return Ok(Err(Attempt::Skipped(
                    "the order was not paid through WeChat Pay".to_owned(),
                )));
            }
        };
        let payer = self.openids.of(&order.user_id).await?;
        if payer.is_empty() {
            return Ok(Err(Attempt::Failed(
                "the shopper has no openid: enter the shipping on WeChat's merchant platform"
                    .to_owned(),
            )));
        }
        let express = shipment.logistics_type == LogisticsType::Express;
        let sf = express
            && shipment
                .express_company
                .as_deref()
                .is_some_and(|id| id.starts_with("SF") || id == "NSF");
        Ok(Ok(ShippingInfo {
            payment,
            logistics_type: shipment.logistics_type,
            tracking_no: express.then(|| shipment.tracking_no.clone()),
            express_company: if express {
                shipment.express_company.clone()
            } else {
                None
            },
            item_desc: shipping::item_desc(
                order
                    .lines
                    .iter()
                    .map(|line| (line.name.as_str(), line.quantity)),
            ),
            receiver_contact: if sf {
                shipping::masked_phone(&order.address.phone)
            } else {
                None
            },
            payer_openid: payer,
            upload_time: Utc::now(),
        }))
    }
}
