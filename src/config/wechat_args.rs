//! The settings of ordo's accounts with WeChat: the mini program's (logins) and the
//! merchant's (WeChat Pay).

use std::path::PathBuf;

use clap::Args;

use crate::wechat::messages::{self, Occasion, TemplateFields};
use crate::{wechat, wechat_pay};

/// The mini program's WeChat account, for logins (`wx.login()` codes).
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "WeChat login")]
pub struct WeChatArgs {
    /// The mini program's AppID.
    #[arg(long, env = "ORDO_WECHAT_APP_ID")]
    pub wechat_app_id: Option<String>,

    /// The mini program's AppSecret.
    #[arg(long, env = "ORDO_WECHAT_APP_SECRET", hide_env_values = true)]
    pub wechat_app_secret: Option<String>,

    /// A file holding ORDO_WECHAT_APP_SECRET.
    #[arg(
        long,
        env = "ORDO_WECHAT_APP_SECRET_FILE",
        conflicts_with = "wechat_app_secret"
    )]
    pub wechat_app_secret_file: Option<PathBuf>,

    /// WeChat's API (a test double's in tests).
    #[arg(long, env = "ORDO_WECHAT_BASE_URL", default_value = wechat::DEFAULT_BASE_URL)]
    pub wechat_base_url: String,

    /// Most logins waiting for WeChat at once, per process; past it a login is answered
    /// 429 at once instead of queueing calls that spend the quota.
    #[arg(long, env = "ORDO_WECHAT_MAX_IN_FLIGHT", default_value_t = wechat::WeChatConfig::default().max_in_flight,
          value_parser = clap::value_parser!(u32).range(1..))]
    pub wechat_max_in_flight: u32,

    /// The subscribe message template for a paid order (unset: not sent).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_PAID")]
    pub wechat_template_paid: Option<String>,
    /// Its fields: which order fact goes in which key (`key=fact,…`; facts: order_no,
    /// amount, product, carrier, tracking_no, time, status).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_PAID_FIELDS",
          default_value_t = Occasion::Paid.default_fields())]
    pub wechat_template_paid_fields: TemplateFields,

    /// The subscribe message template for a shipped order (unset: not sent).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_SHIPPED")]
    pub wechat_template_shipped: Option<String>,
    /// Its fields (`key=fact,…`).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_SHIPPED_FIELDS",
          default_value_t = Occasion::Shipped.default_fields())]
    pub wechat_template_shipped_fields: TemplateFields,

    /// The subscribe message template for a refunded order (unset: not sent).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_REFUNDED")]
    pub wechat_template_refunded: Option<String>,
    /// Its fields (`key=fact,…`).
    #[arg(long, env = "ORDO_WECHAT_TEMPLATE_REFUNDED_FIELDS",
          default_value_t = Occasion::Refunded.default_fields())]
    pub wechat_template_refunded_fields: TemplateFields,

    /// The mini program page a message opens (`{order_id}` is the order's id).
    #[arg(long, env = "ORDO_WECHAT_MESSAGE_PAGE", default_value = messages::DEFAULT_PAGE)]
    pub wechat_message_page: String,

    /// Which version of the mini program a message opens: formal, trial or developer.
    #[arg(long, env = "ORDO_WECHAT_MINIPROGRAM_STATE", default_value = "formal",
          value_parser = ["formal", "trial", "developer"])]
    pub wechat_miniprogram_state: String,
}

/// The merchant account for WeChat Pay v3. Setting the merchant id requires the rest;
/// without it, dev mode simulates payments and production answers payments with 503.
#[derive(Debug, Clone, Args)]
#[command(next_help_heading = "WeChat Pay")]
pub struct WeChatPayArgs {
    /// The merchant id (商户号).
    #[arg(long, env = "ORDO_WECHATPAY_MCH_ID")]
    pub wechatpay_mch_id: Option<String>,

    /// The serial number of the merchant's API certificate.
    #[arg(long, env = "ORDO_WECHATPAY_MCH_SERIAL_NO")]
    pub wechatpay_mch_serial_no: Option<String>,

    /// The merchant's API private key (PEM file).
    #[arg(long, env = "ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE")]
    pub wechatpay_mch_private_key_file: Option<PathBuf>,

    /// WeChat Pay's public key (PEM file), to verify its answers and notices.
    #[arg(long, env = "ORDO_WECHATPAY_PUBLIC_KEY_FILE")]
    pub wechatpay_public_key_file: Option<PathBuf>,

    /// The id of WeChat Pay's public key (`Wechatpay-Serial` of what it signs).
    #[arg(long, env = "ORDO_WECHATPAY_PUBLIC_KEY_ID")]
    pub wechatpay_public_key_id: Option<String>,

    /// The APIv3 key (32 bytes) that decrypts notices.
    #[arg(long, env = "ORDO_WECHATPAY_APIV3_KEY", hide_env_values = true)]
    pub wechatpay_apiv3_key: Option<String>,

    /// A file holding ORDO_WECHATPAY_APIV3_KEY.
    #[arg(
        long,
        env = "ORDO_WECHATPAY_APIV3_KEY_FILE",
        conflicts_with = "wechatpay_apiv3_key"
    )]
    pub wechatpay_apiv3_key_file: Option<PathBuf>,

    /// The public HTTPS URL of `/api/v1/payments/wechat/notify` on this shop.
    #[arg(long, env = "ORDO_WECHATPAY_NOTIFY_URL")]
    pub wechatpay_notify_url: Option<String>,

    /// WeChat Pay's API (a test double's in tests).
    #[arg(long, env = "ORDO_WECHATPAY_BASE_URL", default_value = wechat_pay::DEFAULT_BASE_URL)]
    pub wechatpay_base_url: String,
}
