//! Refunds through WeChat Pay v3: the signed `POST /v3/refund/domestic/refunds`, the
//! query by refund number (`GET /v3/refund/domestic/refunds/{out_refund_no}`), both
//! answers' signatures checked; and the refund result a refund notice carries.
//!
//! WeChat Pay keys refunds by `out_refund_no`: asking again for the same number is the
//! same refund, so a request whose answer was lost may be sent again safely.

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{PayError, WeChatPay};

const REFUNDS_PATH: &str = "/v3/refund/domestic/refunds";
/// What WeChat Pay answers for a refund number it does not know.
const NOT_FOUND: &str = "RESOURCE_NOT_EXISTS";

/// What to give back.
#[derive(Debug, Clone)]
pub struct RefundRequest {
    pub out_refund_no: String,
    /// The payment (WeChat Pay transaction) the money came with.
    pub transaction_id: String,
    /// Shown to the shopper (at most 80 characters).
    pub reason: String,
    pub refund_cents: i64,
    /// The payment's whole amount.
    pub total_cents: i64,
}

/// Where WeChat Pay says a refund is: `status` is `SUCCESS`, `PROCESSING`, `CLOSED` or
/// `ABNORMAL`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundState {
    pub refund_id: String,
    pub out_refund_no: String,
    pub status: String,
    #[serde(default)]
    pub success_time: Option<DateTime<Utc>>,
}

/// The refund a refund notice reports (its decrypted resource).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundResult {
    pub mchid: String,
    pub out_trade_no: String,
    pub transaction_id: String,
    pub out_refund_no: String,
    pub refund_id: String,
    /// `SUCCESS`, `CLOSED` or `ABNORMAL`.
    pub refund_status: String,
    #[serde(default)]
    pub success_time: Option<DateTime<Utc>>,
    #[serde(default)]
    pub user_received_account: String,
    pub amount: RefundAmount,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RefundAmount {
    pub total: i64,
    pub refund: i64,
    #[serde(default)]
    pub payer_total: i64,
    #[serde(default)]
    pub payer_refund: i64,
}

impl WeChatPay {
    /// Asks WeChat Pay for a refund; its answer says where the refund is (usually
    /// `PROCESSING`: the result comes in a refund notice).
    pub async fn refund(&self, request: &RefundRequest) -> Result<RefundState, PayError> {
        let (config, base_url) = self.remote()?;
        let body = json!({
            "transaction_id": request.transaction_id,
            "out_refund_no": request.out_refund_no,
            "reason": request.reason.chars().take(80).collect::<String>(),
            "notify_url": config.refund_notify_url(),
            "amount": {
                "refund": request.refund_cents,
                "total": request.total_cents,
                "currency": "CNY",
            },
        })
        .to_string();
        let text = self
            .call(config, &base_url, Method::POST, REFUNDS_PATH, Some(body))
            .await?;
        serde_json::from_str(&text).map_err(|err| PayError::Upstream(err.to_string()))
    }

    /// Where the refund numbered `out_refund_no` is; `None` when WeChat Pay never
    /// received it.
    pub async fn query_refund(&self, out_refund_no: &str) -> Result<Option<RefundState>, PayError> {
        let (config, base_url) = self.remote()?;
        // Refund numbers are ordo's own (hex and digits), safe in a path.
        let path = format!("{REFUNDS_PATH}/{out_refund_no}");
        match self.call(config, &base_url, Method::GET, &path, None).await {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|err| PayError::Upstream(err.to_string())),
            Err(PayError::Refused { code, .. }) if code == NOT_FOUND => Ok(None),
            Err(err) => Err(err),
        }
    }
}
