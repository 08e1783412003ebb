//! WeChat's shipping info management (发货信息管理) for mini-program payments:
//! `upload_shipping_info`, which releases the shop's frozen money once the shopper
//! confirms receipt, and `get_order`, which says whether an upload already went through
//! (a payment may be shipped once and corrected once: an upload whose answer was lost
//! must not be sent blindly again).

use crate::beijing::BEIJING;
use aggregates::order::LogisticsType;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};

use super::platform::{Platform, PlatformError};

/// How WeChat finds the payment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PaymentKey {
    /// WeChat Pay's transaction id (`order_number_type` 2).
    Transaction(String),
    /// The merchant and its `out_trade_no` (`order_number_type` 1).
    Merchant { mchid: String, out_trade_no: String },
}

impl PaymentKey {
    fn json(&self) -> Value {
        match self {
            Self::Transaction(id) => json!({"order_number_type": 2, "transaction_id": id}),
            Self::Merchant {
                mchid,
                out_trade_no,
            } => {
                json!({"order_number_type": 1, "mchid": mchid, "out_trade_no": out_trade_no})
            }
        }
    }
}

/// One order's shipping, as WeChat takes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShippingInfo {
    pub payment: PaymentKey,
    pub logistics_type: LogisticsType,
    /// For an express shipment: the tracking number and WeChat's delivery id.
    pub tracking_no: Option<String>,
    pub express_company: Option<String>,
    /// What is in the parcel (at most [`MAX_ITEM_DESC_CHARS`]).
    pub item_desc: String,
    /// The receiver's phone, masked but for its last 4 digits (SF Express requires one).
    pub receiver_contact: Option<String>,
    pub payer_openid: String,
    /// Orders WeChat's requests: a correction must carry a later time.
    pub upload_time: DateTime<Utc>,
}

/// WeChat's limit on `item_desc`.
pub const MAX_ITEM_DESC_CHARS: usize = 120;

/// WeChat's `logistics_type` number.
pub fn logistics_code(logistics: LogisticsType) -> u8 {
    match logistics {
        LogisticsType::Express => 1,
        LogisticsType::SameCity => 2,
        LogisticsType::Virtual => 3,
        LogisticsType::SelfPickup => 4,
    }
}

impl ShippingInfo {
    /// The request body of `upload_shipping_info`.
    pub fn body(&self) -> Value {
        let mut parcel = json!({ "item_desc": self.item_desc });
        if self.logistics_type == LogisticsType::Express {
            parcel["tracking_no"] = json!(self.tracking_no);
            parcel["express_company"] = json!(self.express_company);
        }
        if let Some(contact) = &self.receiver_contact {
            parcel["contact"] = json!({ "receiver_contact": contact });
        }
        json!({
            "order_key": self.payment.json(),
            "logistics_type": logistics_code(self.logistics_type),
            "delivery_mode": 1,
            "shipping_list": [parcel],
            "upload_time": self
                .upload_time
                .with_timezone(&BEIJING)
                .to_rfc3339_opts(chrono::SecondsFormat::Millis, false),
            "payer": { "openid": self.payer_openid },
        })
    }
}

/// What a failed upload means for the next attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadFailure {
    /// Busy, unreachable, or WeChat has not stored a payment just made: later.
    Transient,
    /// Already shipped as asked (the earlier answer was lost): done.
    AlreadyDone,
    /// WeChat will not take it as it is (refunded, wrong data, re-ship used up): recorded,
    /// not retried.
    Permanent,
}

/// How an upload's error is handled (WeChat's documented codes).
pub fn classify(err: &PlatformError) -> UploadFailure {
    match err {
        PlatformError::Refused { errcode, .. } => match errcode {
            // Busy; or the payment is not stored yet (right after its notice).
            -1 | 10060001 | 10060012 | 10060019 => UploadFailure::Transient,
            // Unchanged: the same info is there.
            10060023 => UploadFailure::AlreadyDone,
            _ => UploadFailure::Permanent,
        },
        // A credentials problem waits for an operator's fix, like an outage.
        _ => UploadFailure::Transient,
    }
}

#[derive(Debug, Deserialize)]
struct OrderAnswer {
    order: Option<WeChatOrder>,
}

#[derive(Debug, Deserialize)]
struct WeChatOrder {
    /// 1 awaiting shipment, 2 shipped, 3 receipt confirmed, 4 complete, 5 refunded,
    /// 6 awaiting settlement.
    order_state: i64,
    #[serde(default)]
    shipping: Option<Shipping>,
}

#[derive(Debug, Deserialize)]
struct Shipping {
    #[serde(default)]
    finish_shipping_count: i64,
}

impl Platform {
    /// Uploads one order's shipping info.
    pub async fn upload_shipping_info(&self, info: &ShippingInfo) -> Result<(), PlatformError> {
        self.call::<Value>("/wxa/sec/order/upload_shipping_info", &info.body())
            .await
            .map(|_| ())
    }

    /// How many times WeChat recorded the payment's shipping (0 before any, 1 shipped,
    /// 2 after a correction); `None` when WeChat does not know the payment yet.
    pub async fn shipments_recorded(
        &self,
        payment: &PaymentKey,
    ) -> Result<Option<i64>, PlatformError> {
        let body = match payment {
            PaymentKey::Transaction(id) => json!({ "transaction_id": id }),
            PaymentKey::Merchant {
                mchid,
                out_trade_no,
            } => {
                json!({ "merchant_id": mchid, "merchant_trade_no": out_trade_no })
            }
        };
        let answer: OrderAnswer = match self.call("/wxa/sec/order/get_order", &body).await {
            Ok(answer) => answer,
            Err(PlatformError::Refused {
                errcode: 10060001, ..
            }) => return Ok(None),
            Err(err) => return Err(err),
        };
        Ok(answer.order.map(|order| {
            let count = order
                .shipping
                .map_or(0, |shipping| shipping.finish_shipping_count);
            // A shipped order that does not say how often counts as once.
            if order.order_state >= 2 {
                count.max(1)
            } else {
                count
            }
        }))
    }
}

/// A phone masked as WeChat asks: every digit but the last four hidden.
pub fn masked_phone(phone: &str) -> Option<String> {
    let digits = phone.chars().filter(char::is_ascii_digit).count();
    if digits < 4 {
        return None;
    }
    let mut seen = 0;
    Some(
        phone
            .chars()
            .map(|c| {
                if c.is_ascii_digit() {
                    seen += 1;
                    if seen <= digits - 4 { '*' } else { c }
                } else {
                    c
                }
            })
            .collect(),
    )
}

/// The parcel's contents for WeChat: `name*quantity` joined, cut to the limit.
pub fn item_desc<'a>(lines: impl IntoIterator<Item = (&'a str, i64)>) -> String {
    let text = lines
        .into_iter()
        .map(|(name, quantity)| format!("{name}*{quantity}"))
        .collect::<Vec<_>>()
        .join(", ");
    if text.chars().count() <= MAX_ITEM_DESC_CHARS {
        return text;
    }
    let mut cut: String = text.chars().take(MAX_ITEM_DESC_CHARS - 1).collect();
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_phone_keeps_only_its_last_four_digits() {
        assert_eq!(masked_phone("13812345678").as_deref(), Some("*******5678"));
        assert_eq!(
            masked_phone("+86-021-6688 1234").as_deref(),
            Some("+**-***-**** 1234")
        );
        assert_eq!(masked_phone("123"), None);
    }

    #[test]
    fn the_items_are_described_within_wechats_limit() {
        assert_eq!(item_desc([("Oolong", 2), ("Cup", 1)]), "Oolong*2, Cup*1");
        let long = "茶".repeat(200);
        let described = item_desc([(long.as_str(), 1)]);
        assert_eq!(described.chars().count(), MAX_ITEM_DESC_CHARS);
        assert!(described.ends_with('…'));
    }

    #[test]
    fn an_express_upload_names_the_parcel_and_a_pickup_does_not() {
        let info = ShippingInfo {
            payment: PaymentKey::Transaction("4200001".to_owned()),
            logistics_type: LogisticsType::Express,
            tracking_no: Some("SF1234".to_owned()),
            express_company: Some("SF".to_owned()),
            item_desc: "Oolong*1".to_owned(),
            receiver_contact: Some("*******5678".to_owned()),
            payer_openid: "o-mei".to_owned(),
            upload_time: DateTime::parse_from_rfc3339("2026-12-07T02:00:00.120Z")
                .expect("a time")
                .with_timezone(&Utc),
        };
        let body = info.body();
        assert_eq!(
            body["order_key"],
            json!({"order_number_type": 2, "transaction_id": "4200001"})
        );
        assert_eq!(body["logistics_type"], 1);
        assert_eq!(body["upload_time"], "2026-12-07T10:00:00.120+08:00");
        assert_eq!(
            body["shipping_list"],
            json!([{"item_desc": "Oolong*1", "tracking_no": "SF1234", "express_company": "SF",
                    "contact": {"receiver_contact": "*******5678"}}])
        );
        let pickup = ShippingInfo {
            logistics_type: LogisticsType::SelfPickup,
            receiver_contact: None,
            ..info
        };
        assert_eq!(
            pickup.body()["shipping_list"],
            json!([{"item_desc": "Oolong*1"}])
        );
        assert_eq!(pickup.body()["logistics_type"], 4);
    }
}
