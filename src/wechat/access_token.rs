//! The mini program's `access_token` (`cgi-bin/stable_token`), kept in the database so
//! that every ordo process uses the same one: WeChat counts fetches per day, and a fetch
//! by one process must not leave another holding a token about to be replaced.
//!
//! A process that finds the token missing or within [`REFRESH_AHEAD`] of its expiry
//! takes the lease (`refreshing_until`) and fetches; the others keep using the current
//! token while it is valid, or wait for the new one. A token WeChat calls invalid
//! (40001/40014/42001) is marked expired, only if it is still the stored one, so that
//! many calls failing on it at once cause one fetch.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::json;
use sqlx::PgPool;

use super::platform::{Endpoint, PlatformError, without_query};
use crate::secret::Secret;

/// A token is refreshed this long before it expires (WeChat's last 5 minutes overlap the
/// old and new tokens, so calls in flight keep working).
pub const REFRESH_AHEAD: Duration = Duration::from_secs(300);
/// How long a fetching process holds the lease (a crashed one frees it then).
const LEASE: Duration = Duration::from_secs(15);
/// How often a process waiting for another's fetch looks again.
const WAIT_STEP: Duration = Duration::from_millis(100);

/// The mini program's credentials, and the database the token is shared through.
#[derive(Debug, Clone)]
pub struct TokenKeeper {
    pool: PgPool,
    http: reqwest::Client,
    endpoint: Endpoint,
    app_id: String,
    secret: Secret,
    /// Who holds the lease, in the table: this process.
    me: String,
    /// The token as this process last read it, to skip the database while it is fresh.
    cached: Arc<Mutex<Option<Token>>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Token {
    value: String,
    expires_at: DateTime<Utc>,
}

impl Token {
    fn fresh(&self) -> bool {
        self.expires_at - Utc::now() > chrono::Duration::from_std(REFRESH_AHEAD).unwrap_or_default()
    }

    fn valid(&self) -> bool {
        self.expires_at > Utc::now()
    }
}

#[derive(Debug, Deserialize)]
struct StableTokenAnswer {
    access_token: Option<String>,
    expires_in: Option<i64>,
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
}

impl TokenKeeper {
    pub fn new(
        pool: PgPool,
        http: reqwest::Client,
        endpoint: Endpoint,
        app_id: String,
        secret: Secret,
    ) -> Self {
        Self {
            pool,
            http,
            endpoint,
            app_id,
            secret,
            me: format!("{}:{}", hostname(), std::process::id()),
            cached: Arc::new(Mutex::new(None)),
        }
    }

    pub fn app_id(&self) -> &str {
        &self.app_id
    }

    /// A token to call WeChat with: the shared one, refreshed first when it is about to
    /// expire.
    pub async fn token(&self) -> Result<String, PlatformError> {
        if let Some(token) = self.cached().filter(Token::fresh) {
            return Ok(token.value);
        }
        let deadline = tokio::time::Instant::now() + LEASE + LEASE;
        loop {
            let stored = self.stored().await?;
            if let Some(token) = stored.clone().filter(Token::fresh) {
                return Ok(self.remember(token));
            }
            if self.take_lease().await? {
                return self.fetch(stored.as_ref(), false).await;
            }
            // Another process is fetching: the current token serves until it expires.
            if let Some(token) = stored.filter(Token::valid) {
                return Ok(self.remember(token));
            }
            if tokio::time::Instant::now() >= deadline {
                return Err(PlatformError::Unavailable(
                    "no access token: another process's fetch did not finish".to_owned(),
                ));
            }
            tokio::time::sleep(WAIT_STEP).await;
        }
    }

    /// WeChat called `token` invalid or expired: it is dropped (if it is still the one
    /// stored) and the next [`token`](Self::token) fetches a new one. A fetch that
    /// brings back the very token WeChat refused asks WeChat to replace it.
    pub async fn rejected(&self, token: &str) -> Result<(), PlatformError> {
        self.cached.lock().map(|mut cached| *cached = None).ok();
        sqlx::query(
            "UPDATE wechat_access_tokens SET expires_at = now()
              WHERE app_id = $1 AND access_token = $2",
        )
        .bind(&self.app_id)
        .bind(token)
        .execute(&self.pool)
        .await
        .map_err(PlatformError::database)?;
        Ok(())
    }

    fn cached(&self) -> Option<Token> {
        self.cached.lock().ok().and_then(|cached| cached.clone())
    }

    fn remember(&self, token: Token) -> String {
        if let Ok(mut cached) = self.cached.lock() {
            *cached = Some(token.clone());
        }
        token.value
    }

    async fn stored(&self) -> Result<Option<Token>, PlatformError> {
        let row: Option<(Option<String>, Option<DateTime<Utc>>)> = sqlx::query_as(
            "SELECT access_token, expires_at FROM wechat_access_tokens WHERE app_id = $1",
        )
        .bind(&self.app_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(PlatformError::database)?;
        Ok(match row {
            Some((Some(value), Some(expires_at))) => Some(Token { value, expires_at }),
            _ => None,
        })
    }

    /// Takes the lease to fetch, unless another process holds it or has just stored a
    /// fresh token (read as missing a moment ago, then fetched and released by another
    /// process: taking the lease then would fetch twice).
    async fn take_lease(&self) -> Result<bool, PlatformError> {
        let lease = LEASE.as_secs_f64();
        let ahead = REFRESH_AHEAD.as_secs_f64();
        let taken: Option<String> = sqlx::query_scalar(
            "INSERT INTO wechat_access_tokens (app_id, refreshing_until, refreshing_by)
             VALUES ($1, now() + make_interval(secs => $2), $3)
             ON CONFLICT (app_id) DO UPDATE
                SET refreshing_until = EXCLUDED.refreshing_until,
                    refreshing_by = EXCLUDED.refreshing_by
              WHERE (wechat_access_tokens.refreshing_until IS NULL
                     OR wechat_access_tokens.refreshing_until < now())
                AND (wechat_access_tokens.expires_at IS NULL
                     OR wechat_access_tokens.expires_at <= now() + make_interval(secs => $4))
             RETURNING refreshing_by",
        )
        .bind(&self.app_id)
        .bind(lease)
        .bind(&self.me)
        .bind(ahead)
        .fetch_optional(&self.pool)
        .await
        .map_err(PlatformError::database)?;
        Ok(taken.is_some())
    }

    /// Fetches a token under the lease and stores it for everyone; `force` asks WeChat to
    /// replace the current one (counted against a smaller daily allowance).
    async fn fetch(&self, stale: Option<&Token>, force: bool) -> Result<String, PlatformError> {
        let fetched = self.stable_token(force).await;
        let token = match fetched {
            // The token WeChat just refused, handed back as still valid: replaced once.
            Ok(token) if !force && stale.is_some_and(|stale| stale.value == token.value) => {
                Box::pin(self.fetch(stale, true)).await
            }
            Ok(token) => self.store(token).await,
            Err(err) => Err(err),
        };
        if token.is_err() {
            self.release_lease().await;
        }
        token
    }

    async fn stable_token(&self, force: bool) -> Result<Token, PlatformError> {
        let url = self.endpoint.url("/cgi-bin/stable_token")?;
        let body = json!({
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.secret.expose(),
            "force_refresh": force,
        });
        let response = self
            .http
            .post(url)
            .json(&body)
            .send()
            .await
            .map_err(|err| PlatformError::Unavailable(without_query(&err)))?;
        if !response.status().is_success() {
            return Err(PlatformError::Unavailable(format!(
                "stable_token: HTTP {}",
                response.status()
            )));
        }
        let answer: StableTokenAnswer = response
            .json()
            .await
            .map_err(|err| PlatformError::Unavailable(without_query(&err)))?;
        match (answer.errcode, answer.access_token, answer.expires_in) {
            (0, Some(value), Some(expires_in)) if !value.is_empty() && expires_in > 0 => {
                Ok(Token {
                    value,
                    expires_at: Utc::now() + chrono::Duration::seconds(expires_in),
                })
            }
            // Busy, or over the daily allowance: later.
            (-1 | 45009 | 45011, ..) => Err(PlatformError::Unavailable(format!(
                "stable_token: errcode {}: {}",
                answer.errcode, answer.errmsg
            ))),
            (code, ..) => Err(PlatformError::Credentials(format!(
                "stable_token: errcode {code}: {} (check ORDO_WECHAT_APP_ID and its secret, \
                 and the server's IP in the mini program's whitelist)",
                answer.errmsg
            ))),
        }
    }

    async fn store(&self, token: Token) -> Result<String, PlatformError> {
        sqlx::query(
            "UPDATE wechat_access_tokens
                SET access_token = $2, expires_at = $3, fetched_at = now(),
                    refreshing_until = NULL, refreshing_by = NULL
              WHERE app_id = $1",
        )
        .bind(&self.app_id)
        .bind(&token.value)
        .bind(token.expires_at)
        .execute(&self.pool)
        .await
        .map_err(PlatformError::database)?;
        metrics::counter!("wechat_access_token_fetches_total").increment(1);
        tracing::info!(app_id = self.app_id, expires_at = %token.expires_at, "fetched WeChat's access token");
        Ok(self.remember(token))
    }

    async fn release_lease(&self) {
        let released = sqlx::query(
            "UPDATE wechat_access_tokens SET refreshing_until = NULL, refreshing_by = NULL
              WHERE app_id = $1 AND refreshing_by = $2",
        )
        .bind(&self.app_id)
        .bind(&self.me)
        .execute(&self.pool)
        .await;
        if let Err(err) = released {
            tracing::warn!(%err, "could not release the access token's lease");
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .unwrap_or_else(|_| "ordo".to_owned())
}
