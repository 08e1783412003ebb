//! The JSAPI prepay call (`POST /v3/pay/transactions/jsapi`), signed
//! `WECHATPAY2-SHA256-RSA2048` with the merchant key, its answer's signature checked
//! against the platform key; and the `wx.requestPayment` parameters for the prepay id.

use crate::beijing::BEIJING;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::notice::check_signed;
use super::{KeyError, NoticeError, SIMULATOR_PATH, WeChatPayConfig, nonce};

const JSAPI_PATH: &str = "/v3/pay/transactions/jsapi";

#[derive(Debug, thiserror::Error)]
pub enum PayError {
    #[error("WeChat Pay is not configured on this server (ORDO_WECHATPAY_MCH_ID and the rest)")]
    NotConfigured,
    #[error("WeChat Pay refused: {code}: {message}")]
    Refused { code: String, message: String },
    #[error("WeChat Pay did not answer in time")]
    Timeout,
    #[error("WeChat Pay failed: {0}")]
    Upstream(String),
    /// An answer WeChat Pay's SDKs would not trust: unsigned, signed by another key, or
    /// with a timestamp more than 5 minutes from now (a replay?).
    #[error("WeChat Pay's answer is not signed as WeChat Pay signs: {0}")]
    Untrusted(NoticeError),
    /// A refusal (4xx) nobody vouches for: a proxy's or a firewall's as likely as WeChat
    /// Pay's. It says nothing of the request: ask WeChat Pay again later.
    #[error(
        "an answer HTTP {0} not signed by WeChat Pay's platform key (a proxy's?): not WeChat Pay's word"
    )]
    UnsignedRefusal(u16),
    #[error("could not sign the request: {0}")]
    Key(#[from] KeyError),
    /// The downloaded bill is not the one WeChat Pay's signed answer described.
    #[error("the bill's SHA-1 is {found}, WeChat Pay announced {expected}: refused")]
    BillDigest { expected: String, found: String },
}

/// What to charge for.
#[derive(Debug, Clone)]
pub struct PaymentRequest {
    pub out_trade_no: String,
    pub description: String,
    pub total_cents: i64,
    pub openid: String,
    /// WeChat Pay closes the payment at this instant (the order's expiry).
    pub expires_at: DateTime<Utc>,
}

/// What the mini program passes to `wx.requestPayment`.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RequestPaymentParams {
    /// Seconds since the epoch, as a string.
    pub time_stamp: String,
    pub nonce_str: String,
    /// `prepay_id=<id>`.
    pub package: String,
    /// Always `RSA`.
    pub sign_type: &'static str,
    /// SHA256-RSA over `appId\ntimeStamp\nnonceStr\npackage\n` with the merchant key.
    pub pay_sign: String,
}

#[derive(Debug, Deserialize)]
struct PrepayAnswer {
    prepay_id: String,
}

#[derive(Debug, Deserialize)]
struct ErrorAnswer {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// The client; `None` config means WeChat Pay is not set up on this server.
#[derive(Debug, Clone)]
pub struct WeChatPay {
    http: reqwest::Client,
    config: Option<Arc<WeChatPayConfig>>,
    /// This server's address, once it listens: in dev mode, where the simulated WeChat
    /// Pay answers ([`SIMULATOR_PATH`]).
    local_addr: Arc<OnceLock<SocketAddr>>,
}

impl WeChatPay {
    pub fn new(config: Option<WeChatPayConfig>, local_addr: Arc<OnceLock<SocketAddr>>) -> Self {
        let timeout = config
            .as_ref()
            .map_or(super::DEFAULT_TIMEOUT, |config| config.timeout);
        let http = crate::tls::http_client()
            .timeout(timeout)
            .build()
            .unwrap_or_default();
        Self {
            http,
            config: config.map(Arc::new),
            local_addr,
        }
    }

    pub fn config(&self) -> Option<&WeChatPayConfig> {
        self.config.as_deref()
    }

    /// The config, or why there is none.
    pub(super) fn configured(&self) -> Result<&WeChatPayConfig, PayError> {
        self.config.as_deref().ok_or(PayError::NotConfigured)
    }

    /// The config and WeChat Pay's address: the merchant account's, or in dev mode
    /// (ordo's own keys) the simulated WeChat Pay's on this server.
    pub(super) fn remote(&self) -> Result<(&WeChatPayConfig, String), PayError> {
        let config = self.configured()?;
        let base_url = match (&config.base_url, &config.simulator) {
            (Some(base_url), _) => base_url.clone(),
            (None, Some(_)) => {
                let addr = self.local_addr.get().ok_or_else(|| {
                    PayError::Upstream("the simulated WeChat Pay is not listening yet".to_owned())
                })?;
                format!("http://{addr}{SIMULATOR_PATH}")
            }
            (None, None) => return Err(PayError::NotConfigured),
        };
        Ok((config, base_url))
    }

    /// A prepay id for `request`, and the parameters the mini program pays with.
    pub async fn prepay(&self, request: &PaymentRequest) -> Result<RequestPaymentParams, PayError> {
        let (config, base_url) = self.remote()?;
        let prepay_id = self.jsapi(config, &base_url, request).await?;
        request_payment(config, &prepay_id)
    }

    async fn jsapi(
        &self,
        config: &WeChatPayConfig,
        base_url: &str,
        request: &PaymentRequest,
    ) -> Result<String, PayError> {
        // WeChat Pay wants the expiry in Beijing time, with its offset.
        let time_expire = request
            .expires_at
            .with_timezone(&BEIJING)
            .format("%Y-%m-%dT%H:%M:%S%:z")
            .to_string();
        let body = json!({
            "appid": config.app_id,
            "mchid": config.mch_id,
            "description": request.description,
            "out_trade_no": request.out_trade_no,
            "time_expire": time_expire,
            "notify_url": config.notify_url,
            "amount": {"total": request.total_cents, "currency": "CNY"},
            "payer": {"openid": request.openid},
        })
        .to_string();
        let text = self
            .call(config, base_url, Method::POST, JSAPI_PATH, Some(body))
            .await?;
        let answer: PrepayAnswer =
            serde_json::from_str(&text).map_err(|err| PayError::Upstream(err.to_string()))?;
        Ok(answer.prepay_id)
    }

    /// Sends a signed request to WeChat Pay: the answer's text once its signature checks
    /// out, or why not (a signed 4xx is WeChat Pay's refusal, with its code; an unsigned
    /// one is nobody's word).
    pub(super) async fn call(
        &self,
        config: &WeChatPayConfig,
        base_url: &str,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> Result<String, PayError> {
        let signed_body = body.as_deref().unwrap_or_default();
        let url = format!("{}{path}", base_url.trim_end_matches('/'));
        // WeChat Pay signs the URL's absolute path and query: below a base URL with a
        // path of its own (dev mode's simulator), that path included.
        let signed_path = match reqwest::Url::parse(&url) {
            Ok(parsed) => match parsed.query() {
                Some(query) => format!("{}?{query}", parsed.path()),
                None => parsed.path().to_owned(),
            },
            Err(err) => return Err(PayError::Upstream(format!("WeChat Pay's URL: {err}"))),
        };
        let authorization = authorization(config, method.as_str(), &signed_path, signed_body)?;
        let mut request = self
            .http
            .request(method, url)
            .header("Authorization", authorization)
            .header("Accept", "application/json")
            .header("User-Agent", concat!("ordo/", env!("CARGO_PKG_VERSION")));
        if let Some(body) = body {
            request = request
                .header("Content-Type", "application/json")
                .body(body);
        }
        let response = request.send().await.map_err(|err| {
            if err.is_timeout() {
                PayError::Timeout
            } else {
                PayError::Upstream(err.to_string())
            }
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|err| PayError::Upstream(err.to_string()))?;
        // Only WeChat Pay holds the platform key's private half: a signed answer is theirs,
        // refusals included.
        let trusted = check_signed(config, &headers, text.as_bytes(), Utc::now());
        if status.is_client_error() {
            if trusted.is_err() {
                return Err(PayError::UnsignedRefusal(status.as_u16()));
            }
            let error: ErrorAnswer = serde_json::from_str(&text).unwrap_or(ErrorAnswer {
                code: status.as_str().to_owned(),
                message: text.chars().take(200).collect(),
            });
            return Err(PayError::Refused {
                code: error.code,
                message: error.message,
            });
        }
        if !status.is_success() {
            return Err(PayError::Upstream(format!("HTTP {status}")));
        }
        trusted.map_err(PayError::Untrusted)?;
        Ok(text)
    }
}

impl WeChatPay {
    /// Downloads a file WeChat Pay named in a signed answer (a bill): the request signed
    /// like any other; the answer is not (WeChat Pay does not sign files), so the caller
    /// checks it against the digest the signed answer gave.
    pub(super) async fn download(
        &self,
        config: &WeChatPayConfig,
        url: &str,
    ) -> Result<Vec<u8>, PayError> {
        let parsed = reqwest::Url::parse(url)
            .map_err(|err| PayError::Upstream(format!("a download URL: {err}")))?;
        let signed_path = match parsed.query() {
            Some(query) => format!("{}?{query}", parsed.path()),
            None => parsed.path().to_owned(),
        };
        let authorization = authorization(config, "GET", &signed_path, "")?;
        let response = self
            .http
            .get(parsed)
            .header("Authorization", authorization)
            .header("User-Agent", concat!("ordo/", env!("CARGO_PKG_VERSION")))
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    PayError::Timeout
                } else {
                    PayError::Upstream(err.to_string())
                }
            })?;
        if !response.status().is_success() {
            return Err(PayError::Upstream(format!(
                "the download answered HTTP {}",
                response.status()
            )));
        }
        let bytes = response
            .bytes()
            .await
            .map_err(|err| PayError::Upstream(err.to_string()))?;
        Ok(bytes.to_vec())
    }
}

/// The `Authorization` header of a request to WeChat Pay.
pub fn authorization(
    config: &WeChatPayConfig,
    method: &str,
    path: &str,
    body: &str,
) -> Result<String, KeyError> {
    let timestamp = Utc::now().timestamp();
    let nonce = nonce();
    let signature = config
        .merchant_key
        .sign(&format!("{method}\n{path}\n{timestamp}\n{nonce}\n{body}\n"))?;
    Ok(format!(
        "WECHATPAY2-SHA256-RSA2048 mchid=\"{}\",nonce_str=\"{nonce}\",signature=\"{signature}\",timestamp=\"{timestamp}\",serial_no=\"{}\"",
        config.mch_id, config.merchant_serial
    ))
}

/// The `wx.requestPayment` parameters for a prepay id, signed with the merchant key.
fn request_payment(
    config: &WeChatPayConfig,
    prepay_id: &str,
) -> Result<RequestPaymentParams, PayError> {
    let time_stamp = Utc::now().timestamp().to_string();
    let nonce_str = nonce();
    let package = format!("prepay_id={prepay_id}");
    let pay_sign = config.merchant_key.sign(&format!(
        "{}\n{time_stamp}\n{nonce_str}\n{package}\n",
        config.app_id
    ))?;
    Ok(RequestPaymentParams {
        time_stamp,
        nonce_str,
        package,
        sign_type: "RSA",
        pay_sign,
    })
}
