//! WeChat Pay v3 for JSAPI (mini program) payments: the prepay call, the parameters for
//! `wx.requestPayment`, and payment notices verified and decrypted. In dev mode ordo
//! generates its own keys and can send itself a correctly signed notice.

mod bill;
mod check_settings;
mod client;
mod dev_keys;
mod keys;
mod notice;
mod refund;
mod simulator;
mod trade_bill;
mod transactions;

use std::sync::Arc;
use std::time::Duration;

pub use bill::{
    Bill, BillError, BillLine, BillRefund, BillSummary, parse_bill, write_bill, yuan_to_cents,
};
pub use check_settings::PaymentCheckSettings;
pub use client::{PayError, PaymentRequest, RequestPaymentParams, WeChatPay};
pub use dev_keys::DevKeys;
pub use keys::{ApiV3Key, KeyError, SigningKey, VerifyingKey};
pub use notice::{Amount, Notice, NoticeError, Payer, Transaction, open_notice, quoted};
pub use refund::{RefundAmount, RefundRequest, RefundResult, RefundState};
pub use simulator::{SignedNotice, signed_notice, signed_refund_notice};

/// WeChat Pay's API.
pub const DEFAULT_BASE_URL: &str = "https://api.mch.weixin.qq.com";
/// Where dev mode's simulated WeChat Pay answers, on ordo's own address.
pub const SIMULATOR_PATH: &str = "/dev/wechatpay";

/// How long a refund waits for WeChat Pay's notice before ordo asks WeChat Pay about it,
/// unless `ORDO_REFUND_FOLLOW_UP` says otherwise.
pub const DEFAULT_REFUND_FOLLOW_UP: std::time::Duration = std::time::Duration::from_secs(60);
/// How long a prepay call waits for WeChat Pay.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// A notice whose timestamp is further than this from now is refused (replays).
pub const MAX_NOTICE_AGE: Duration = Duration::from_secs(5 * 60);
/// Where WeChat Pay sends payment notices, below the server's public URL.
pub const NOTIFY_PATH: &str = "/api/v1/payments/wechat/notify";
/// Where WeChat Pay sends refund notices: beside [`NOTIFY_PATH`].
pub const REFUND_NOTIFY_PATH: &str = "/api/v1/payments/wechat/refund-notify";

/// The merchant's account and keys.
#[derive(Debug, Clone)]
pub struct WeChatPayConfig {
    /// WeChat Pay's API; `None` in dev mode without a merchant account: the simulated
    /// WeChat Pay on this server answers ([`SIMULATOR_PATH`]).
    pub base_url: Option<String>,
    /// The mini program's app id (`ORDO_WECHAT_APP_ID`).
    pub app_id: String,
    pub mch_id: String,
    /// The serial number of the merchant's API certificate.
    pub merchant_serial: String,
    pub merchant_key: Arc<SigningKey>,
    /// WeChat Pay's public key (or platform certificate key), which signs notices.
    pub platform_key: VerifyingKey,
    /// Its id; when set, a notice naming another (`Wechatpay-Serial`) is refused.
    pub platform_serial: Option<String>,
    pub api_v3_key: ApiV3Key,
    /// The public URL of [`NOTIFY_PATH`] that WeChat Pay calls.
    pub notify_url: String,
    pub timeout: Duration,
    /// Dev mode only: the platform key's private half, so ordo can sign notices to itself.
    pub simulator: Option<Arc<SigningKey>>,
}

impl WeChatPayConfig {
    /// The public URL of [`REFUND_NOTIFY_PATH`]: the notify URL with its last segment
    /// `notify` made `refund-notify` (the two paths sit side by side behind any proxy).
    pub fn refund_notify_url(&self) -> String {
        match self.notify_url.strip_suffix("/notify") {
            Some(base) => format!("{base}/refund-notify"),
            None => format!("{}/refund-notify", self.notify_url.trim_end_matches('/')),
        }
    }
}

/// 32 random characters a-zA-Z0-9: the nonces of requests, notices and payment parameters.
pub fn nonce() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..32)
        .map(|_| char::from(CHARS[rng.random_range(0..CHARS.len())]))
        .collect()
}

/// The `out_trade_no` of an order: its id without hyphens (32 characters, as WeChat allows).
pub fn out_trade_no(order_id: uuid::Uuid) -> String {
    order_id.simple().to_string()
}
