//! WeChat Pay's merchant account, from `serve`'s settings: all of them when the merchant
//! id is set; in dev mode otherwise, dev keys kept in `<data dir>/wechatpay`; else none
//! (payments answer 503).

use std::path::Path;
use std::sync::Arc;

use super::{Config, ConfigError, ServeArgs};
use crate::wechat_pay::{
    self, ApiV3Key, DevKeys, KeyError, SigningKey, VerifyingKey, WeChatPayConfig,
};

impl Config {
    pub fn wechat_pay(&self, args: &ServeArgs) -> Result<Option<WeChatPayConfig>, ConfigError> {
        let pay = &args.wechat_pay;
        let app_id = args
            .wechat
            .wechat_app_id
            .clone()
            .filter(|id| !id.is_empty());
        let Some(mch_id) = pay.wechatpay_mch_id.clone().filter(|id| !id.is_empty()) else {
            if !self.dev_mode {
                return Ok(None);
            }
            let dir = self.data_dir.join("wechatpay");
            let keys = DevKeys::load_or_create(&dir).map_err(|err| {
                ConfigError::WeChatPay(format!("dev keys in {}: {err}", dir.display()))
            })?;
            let app_id = app_id.unwrap_or_else(|| "wx_dev_app".to_owned());
            // Dev payments come from the simulator, which posts to this server directly.
            return keys
                .config(&app_id, wechat_pay::NOTIFY_PATH.to_owned())
                .map(Some)
                .map_err(|err| ConfigError::WeChatPay(err.to_string()));
        };
        let required = |value: &Option<String>, name: &str| {
            value.clone().filter(|v| !v.is_empty()).ok_or_else(|| {
                ConfigError::WeChatPay(format!("{name} must be set with ORDO_WECHATPAY_MCH_ID"))
            })
        };
        let pem = |path: &Option<std::path::PathBuf>, name: &str| {
            let path = path.as_deref().ok_or_else(|| {
                ConfigError::WeChatPay(format!("{name} must be set with ORDO_WECHATPAY_MCH_ID"))
            })?;
            read(path, name)
        };
        let key_error = |name: &'static str| {
            move |err: KeyError| ConfigError::WeChatPay(format!("{name}: {err}"))
        };
        Ok(Some(WeChatPayConfig {
            base_url: Some(pay.wechatpay_base_url.clone()),
            app_id: app_id.ok_or_else(|| {
                ConfigError::WeChatPay("ORDO_WECHAT_APP_ID must be set".to_owned())
            })?,
            mch_id,
            merchant_serial: required(
                &pay.wechatpay_mch_serial_no,
                "ORDO_WECHATPAY_MCH_SERIAL_NO",
            )?,
            merchant_key: Arc::new(
                SigningKey::from_pem(&pem(
                    &pay.wechatpay_mch_private_key_file,
                    "ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE",
                )?)
                .map_err(key_error("ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE"))?,
            ),
            platform_key: VerifyingKey::from_pem(&pem(
                &pay.wechatpay_public_key_file,
                "ORDO_WECHATPAY_PUBLIC_KEY_FILE",
            )?)
            .map_err(key_error("ORDO_WECHATPAY_PUBLIC_KEY_FILE"))?,
            platform_serial: pay
                .wechatpay_public_key_id
                .clone()
                .filter(|id| !id.is_empty()),
            api_v3_key: ApiV3Key::new(
                required(&pay.wechatpay_apiv3_key, "ORDO_WECHATPAY_APIV3_KEY")?.as_bytes(),
            )
            .map_err(key_error("ORDO_WECHATPAY_APIV3_KEY"))?,
            notify_url: required(&pay.wechatpay_notify_url, "ORDO_WECHATPAY_NOTIFY_URL")?,
            timeout: wechat_pay::DEFAULT_TIMEOUT,
            simulator: None,
        }))
    }
}

fn read(path: &Path, name: &str) -> Result<String, ConfigError> {
    std::fs::read_to_string(path)
        .map_err(|err| ConfigError::WeChatPay(format!("{name} ({}): {err}", path.display())))
}
