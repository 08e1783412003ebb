//! A payment as WeChat Pay knows it: the query by `out_trade_no`
//! (`GET /v3/pay/transactions/out-trade-no/{no}?mchid=…`) for a notice that is late or
//! lost, and the close (`POST …/out-trade-no/{no}/close`) of one that will never be paid.
//! Both answers are signed and checked like every other.

use reqwest::Method;
use serde_json::json;

use super::{PayError, Transaction, WeChatPay};

const BY_OUT_TRADE_NO: &str = "/v3/pay/transactions/out-trade-no";
/// What WeChat Pay answers for an `out_trade_no` it never received (no prepay was made).
const NOT_FOUND: &str = "ORDER_NOT_EXIST";

impl WeChatPay {
    /// The payment `out_trade_no` as WeChat Pay has it now (`trade_state` `SUCCESS`,
    /// `NOTPAY`, `CLOSED`, `USERPAYING`, …); `None` when WeChat Pay never heard of it.
    pub async fn query_payment(&self, out_trade_no: &str) -> Result<Option<Transaction>, PayError> {
        let (config, base_url) = self.remote()?;
        // Trade numbers are ordo's own (32 hex digits), safe in a path.
        let path = format!(
            "{BY_OUT_TRADE_NO}/{out_trade_no}?mchid={}",
            form_urlencoded::byte_serialize(config.mch_id.as_bytes()).collect::<String>()
        );
        match self.call(config, &base_url, Method::GET, &path, None).await {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|err| PayError::Upstream(format!("a payment answer: {err}"))),
            Err(PayError::Refused { code, .. }) if code == NOT_FOUND => Ok(None),
            Err(err) => Err(err),
        }
    }

    /// Closes the payment `out_trade_no`: nobody can pay it afterwards. Closing one that
    /// is closed already, or was never opened, is done.
    pub async fn close_payment(&self, out_trade_no: &str) -> Result<(), PayError> {
        let (config, base_url) = self.remote()?;
        let path = format!("{BY_OUT_TRADE_NO}/{out_trade_no}/close");
        let body = json!({ "mchid": config.mch_id }).to_string();
        match self
            .call(config, &base_url, Method::POST, &path, Some(body))
            .await
        {
            Ok(_) => Ok(()),
            Err(PayError::Refused { code, .. }) if code == NOT_FOUND => Ok(()),
            Err(err) => Err(err),
        }
    }
}
