//! WeChat's server API for the mini program: `jscode2session` (here: exchanges the code
//! a mini program got from `wx.login` for the user's openid; the session key it also
//! returns is not kept), and the platform calls made with the mini program's access
//! token (`platform`): shipping info, subscribe messages, phone numbers, delivery ids.

pub mod access_token;
pub mod messages;
pub mod phone;
pub mod platform;
pub mod shipping;

pub use platform::{Endpoint, Platform, PlatformError, SIMULATOR_PATH};

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Semaphore;

use crate::secret::Secret;

/// WeChat's API, where `jscode2session` lives.
pub const DEFAULT_BASE_URL: &str = "https://api.weixin.qq.com";
/// How long a login waits for WeChat.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// The mini program's credentials and where to reach WeChat.
#[derive(Debug, Clone)]
pub struct WeChatConfig {
    pub base_url: String,
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
    pub timeout: Duration,
    /// Most calls waiting for WeChat at once; past it a login is refused at once
    /// ([`WeChatError::TooManyInFlight`]) rather than queued against the quota.
    pub max_in_flight: u32,
    /// The subscribe messages the shop sends (templates, fields, page).
    pub messages: messages::MessageSettings,
}

impl Default for WeChatConfig {
    fn default() -> Self {
        Self {
            base_url: DEFAULT_BASE_URL.to_owned(),
            app_id: None,
            app_secret: None,
            timeout: DEFAULT_TIMEOUT,
            max_in_flight: 32,
            messages: messages::MessageSettings::default(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum WeChatError {
    #[error(
        "WeChat login is not configured on this server (ORDO_WECHAT_APP_ID, ORDO_WECHAT_APP_SECRET)"
    )]
    NotConfigured,
    #[error("the login code is invalid (WeChat's 40029): get a new one with wx.login()")]
    InvalidCode,
    #[error("the login code was already used (WeChat's 40163): get a new one with wx.login()")]
    CodeUsed,
    #[error("WeChat refused this user (high-risk account)")]
    Refused,
    #[error("WeChat is rate-limiting this mini program's logins (45011); retry later")]
    RateLimited,
    #[error("too many logins are waiting for WeChat right now")]
    TooManyInFlight,
    #[error("WeChat did not answer in time")]
    Timeout,
    #[error("WeChat answered with an error: {0}")]
    Upstream(String),
}

#[derive(Debug, Deserialize)]
struct SessionAnswer {
    openid: Option<String>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

/// The client, with its own connection pool, timeout and cap on calls in flight.
#[derive(Debug, Clone)]
pub struct WeChatClient {
    http: reqwest::Client,
    config: WeChatConfig,
    in_flight: Arc<Semaphore>,
}

impl WeChatClient {
    pub fn new(config: WeChatConfig) -> Self {
        let http = crate::tls::http_client()
            .timeout(config.timeout)
            .build()
            .unwrap_or_default();
        let in_flight = Arc::new(Semaphore::new(config.max_in_flight.max(1) as usize));
        Self {
            http,
            config,
            in_flight,
        }
    }

    /// The openid of the user who got `code` from `wx.login`.
    pub async fn openid_for(&self, code: &str) -> Result<String, WeChatError> {
        let (Some(app_id), Some(secret)) = (&self.config.app_id, &self.config.app_secret) else {
            return Err(WeChatError::NotConfigured);
        };
        // Held until WeChat answered (or the login's task is dropped).
        let Ok(_call) = self.in_flight.try_acquire() else {
            return Err(WeChatError::TooManyInFlight);
        };
        let url = format!(
            "{}/sns/jscode2session",
            self.config.base_url.trim_end_matches('/')
        );
        let response = self
            .http
            .get(url)
            .query(&[
                ("appid", app_id.as_str()),
                ("secret", secret.expose()),
                ("js_code", code),
                ("grant_type", "authorization_code"),
            ])
            .send()
            .await
            .map_err(|err| {
                if err.is_timeout() {
                    WeChatError::Timeout
                } else {
                    WeChatError::Upstream(without_url(&err))
                }
            })?;
        if !response.status().is_success() {
            return Err(WeChatError::Upstream(format!("HTTP {}", response.status())));
        }
        // WeChat answers errors with HTTP 200 and an errcode.
        let answer: SessionAnswer = response.json().await.map_err(|err| {
            if err.is_timeout() {
                WeChatError::Timeout
            } else {
                WeChatError::Upstream(format!("unreadable answer: {}", without_url(&err)))
            }
        })?;
        match (answer.errcode, answer.openid) {
            (0, Some(openid)) if !openid.is_empty() => Ok(openid),
            (40029, _) => Err(WeChatError::InvalidCode),
            (40163, _) => Err(WeChatError::CodeUsed),
            (40226, _) => Err(WeChatError::Refused),
            (45011, _) => Err(WeChatError::RateLimited),
            (code, _) => Err(WeChatError::Upstream(format!(
                "errcode {code}: {}",
                answer.errmsg
            ))),
        }
    }
}

impl WeChatConfig {
    /// The platform API for this mini program: WeChat's (at `base_url`) when its app id
    /// and secret are set, dev mode's simulation otherwise (on ordo's own address, once
    /// bound), none outside dev mode.
    pub fn platform(
        &self,
        pool: &sqlx::PgPool,
        dev_mode: bool,
        local_addr: &Arc<std::sync::OnceLock<std::net::SocketAddr>>,
    ) -> Option<Platform> {
        let (endpoint, app_id, secret) = match (&self.app_id, &self.app_secret) {
            (Some(app_id), Some(secret)) => (
                Endpoint::At(self.base_url.clone()),
                app_id.clone(),
                secret.clone(),
            ),
            _ if dev_mode => (
                Endpoint::Simulated(Arc::clone(local_addr)),
                "wx_dev".to_owned(),
                Secret::new("dev"),
            ),
            _ => return None,
        };
        let http = crate::tls::http_client()
            .timeout(self.timeout)
            .build()
            .unwrap_or_default();
        let tokens = access_token::TokenKeeper::new(
            pool.clone(),
            http.clone(),
            endpoint.clone(),
            app_id,
            secret,
        );
        Some(Platform::new(http, endpoint, tokens))
    }
}

/// The error's text without the request URL, which holds the app secret.
fn without_url(err: &reqwest::Error) -> String {
    let mut err = err.to_string();
    if let Some(start) = err.find(" for url (") {
        err.truncate(start);
    }
    err
}
