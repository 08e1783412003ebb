//! Calls to the mini program's server API with its `access_token`: one place that puts
//! the token in the query, reads WeChat's `errcode` answers, and on a token WeChat calls
//! invalid or expired (40001, 40014, 42001) refreshes it once and retries once.

use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::access_token::TokenKeeper;

/// Where dev mode's simulated WeChat platform is served, under ordo's own address.
pub const SIMULATOR_PATH: &str = "/dev/wechat";

/// Where WeChat's server API is: WeChat's (or a stand-in's) address, or dev mode's
/// simulation on ordo's own, known once the server is bound.
#[derive(Debug, Clone)]
pub enum Endpoint {
    At(String),
    Simulated(Arc<OnceLock<SocketAddr>>),
}

impl Endpoint {
    /// The URL of `path` there.
    pub fn url(&self, path: &str) -> Result<String, PlatformError> {
        match self {
            Self::At(base) => Ok(format!("{}{path}", base.trim_end_matches('/'))),
            Self::Simulated(local) => local
                .get()
                .map(|address| format!("http://{address}{SIMULATOR_PATH}{path}"))
                .ok_or_else(|| {
                    PlatformError::Unavailable(
                        "the simulated platform is not serving yet".to_owned(),
                    )
                }),
        }
    }

    pub fn simulated(&self) -> bool {
        matches!(self, Self::Simulated(_))
    }
}

/// WeChat's answers that say the token is not (any more) good.
const TOKEN_REJECTED: [i64; 3] = [40001, 40014, 42001];

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlatformError {
    #[error(
        "WeChat's platform API is not configured (ORDO_WECHAT_APP_ID and ORDO_WECHAT_APP_SECRET)"
    )]
    NotConfigured,
    /// Unreachable, busy, or over a quota for now: to be tried again later.
    #[error("WeChat is unavailable: {0}")]
    Unavailable(String),
    /// The app id or secret is refused (or the server's IP is not whitelisted): tried
    /// again later, as an operator may fix it, but loudly.
    #[error("WeChat refused the mini program's credentials: {0}")]
    Credentials(String),
    /// WeChat answered the call with an error of its own.
    #[error("WeChat answered errcode {errcode}: {errmsg}")]
    Refused { errcode: i64, errmsg: String },
    #[error("the database: {0}")]
    Database(String),
}

impl PlatformError {
    pub fn database(err: sqlx::Error) -> Self {
        Self::Database(err.to_string())
    }

    /// WeChat's errcode, when it answered with one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            Self::Refused { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

/// The mini program's side of WeChat's server API.
#[derive(Debug, Clone)]
pub struct Platform {
    http: reqwest::Client,
    endpoint: Endpoint,
    tokens: TokenKeeper,
}

impl Platform {
    pub fn new(http: reqwest::Client, endpoint: Endpoint, tokens: TokenKeeper) -> Self {
        Self {
            http,
            endpoint,
            tokens,
        }
    }

    /// Whether it calls dev mode's simulation.
    pub fn simulated(&self) -> bool {
        self.endpoint.simulated()
    }

    pub fn app_id(&self) -> &str {
        self.tokens.app_id()
    }

    /// POSTs `body` to `path` (e.g. `/wxa/sec/order/upload_shipping_info`) with the
    /// token, and reads the answer as `A` once its `errcode` says success.
    pub async fn call<A: DeserializeOwned>(
        &self,
        path: &str,
        body: &impl Serialize,
    ) -> Result<A, PlatformError> {
        let token = self.tokens.token().await?;
        match self.post(path, &token, body).await {
            Err(PlatformError::Refused { errcode, .. }) if TOKEN_REJECTED.contains(&errcode) => {
                tracing::info!(
                    errcode,
                    path,
                    "WeChat refused the access token; fetching a new one"
                );
                self.tokens.rejected(&token).await?;
                let token = self.tokens.token().await?;
                self.post(path, &token, body).await
            }
            answer => answer,
        }
        .and_then(|answer| {
            serde_json::from_value(answer).map_err(|err| {
                PlatformError::Unavailable(format!("{path}: unreadable answer: {err}"))
            })
        })
    }

    async fn post(
        &self,
        path: &str,
        token: &str,
        body: &impl Serialize,
    ) -> Result<Value, PlatformError> {
        let response = self
            .http
            .post(self.endpoint.url(path)?)
            .query(&[("access_token", token)])
            .json(body)
            .send()
            .await
            .map_err(|err| {
                PlatformError::Unavailable(format!("{path}: {}", without_query(&err)))
            })?;
        if !response.status().is_success() {
            return Err(PlatformError::Unavailable(format!(
                "{path}: HTTP {}",
                response.status()
            )));
        }
        let answer: Value = response.json().await.map_err(|err| {
            PlatformError::Unavailable(format!("{path}: {}", without_query(&err)))
        })?;
        // WeChat answers errors with HTTP 200 and an errcode; success has 0 or none.
        match answer.get("errcode").and_then(Value::as_i64).unwrap_or(0) {
            0 => Ok(answer),
            // Busy, or a minute's quota: later.
            code @ (-1 | 45011) => Err(PlatformError::Unavailable(format!(
                "{path}: errcode {code}: {}",
                errmsg(&answer)
            ))),
            errcode => Err(PlatformError::Refused {
                errcode,
                errmsg: errmsg(&answer),
            }),
        }
    }
}

fn errmsg(answer: &Value) -> String {
    answer
        .get("errmsg")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

/// The error's text without the request URL, which holds the token or the secret.
pub fn without_query(err: &reqwest::Error) -> String {
    let mut err = err.to_string();
    if let Some(start) = err.find(" for url (") {
        err.truncate(start);
    }
    err
}
