//! The server's settings, resolved once from the command line and the environment.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use sqlx::postgres::PgConnectOptions;

use crate::cli::GlobalArgs;
use crate::http::rate_limit::{Rate, RateLimits};
use crate::secret::{self, Secret};
use crate::wechat::{self, WeChatConfig};
use crate::wechat_pay::{self, ApiV3Key, DevKeys, SigningKey, VerifyingKey, WeChatPayConfig};

/// Environment variable holding the JWT secret.
pub const JWT_SECRET_ENV: &str = "ORDO_JWT_SECRET";

/// The shortest JWT secret accepted outside dev mode (HS256 wants at least 256 bits).
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// The database ordo uses inside the embedded cluster.
pub const EMBEDDED_DATABASE: &str = "ordo";

/// Where the data lives.
#[derive(Debug, Clone)]
pub enum DatabaseSource {
    /// ordo's own PostgreSQL in `<data dir>/postgres`.
    Embedded,
    /// A database given by `DATABASE_URL`.
    External(Box<PgConnectOptions>),
}

#[derive(Debug, Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub database: DatabaseSource,
    pub dev_mode: bool,
    /// Dev logins only (`ORDO_DEV_LOGIN=true`), without the rest of dev mode.
    pub dev_login: bool,
    pub jwt_secret: Secret,
    pub wechat: WeChatConfig,
    pub rate_limits: RateLimits,
    /// `ORDO_CORS_ORIGINS`: comma-separated browser origins, or `*`.
    pub cors_origins: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("DATABASE_URL is not a valid PostgreSQL URL: {0}")]
    DatabaseUrl(sqlx::Error),
    #[error(
        "{JWT_SECRET_ENV} must be set to a secret of at least {MIN_JWT_SECRET_BYTES} bytes \
         outside dev mode (for example: openssl rand -hex 32)"
    )]
    JwtSecretRequired,
    #[error("{JWT_SECRET_ENV} is too short: at least {MIN_JWT_SECRET_BYTES} bytes are required")]
    JwtSecretTooShort,
    #[error(
        "{0} must be `off` or requests per second with an optional burst, e.g. `20` or `20/40`"
    )]
    RateLimit(&'static str),
    #[error("WeChat Pay: {0}")]
    WeChatPay(String),
    #[error("could not read or create the JWT secret in {path}: {source}")]
    SecretFile {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Config {
    /// Resolves the settings. `ORDO_JWT_SECRET` wins over the data directory's secret;
    /// the latter is created on first use, but only in dev mode.
    pub fn resolve(args: &GlobalArgs) -> Result<Self, ConfigError> {
        let database = match &args.database_url {
            Some(url) => DatabaseSource::External(Box::new(
                PgConnectOptions::from_str(url).map_err(ConfigError::DatabaseUrl)?,
            )),
            None => DatabaseSource::Embedded,
        };
        let dev_mode = args
            .dev
            .unwrap_or(matches!(database, DatabaseSource::Embedded));
        let jwt_secret = jwt_secret(&args.data_dir, dev_mode)?;
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Ok(Self {
            data_dir: args.data_dir.clone(),
            database,
            dev_mode,
            dev_login: env("ORDO_DEV_LOGIN").is_some_and(|value| value == "true"),
            jwt_secret,
            wechat: WeChatConfig {
                base_url: env("ORDO_WECHAT_BASE_URL")
                    .unwrap_or_else(|| wechat::DEFAULT_BASE_URL.to_owned()),
                app_id: env("ORDO_WECHAT_APP_ID"),
                app_secret: env("ORDO_WECHAT_APP_SECRET").map(Secret::new),
                ..WeChatConfig::default()
            },
            rate_limits: RateLimits {
                per_ip: rate("ORDO_RATE_LIMIT_IP", RateLimits::default().per_ip)?,
                per_user: rate("ORDO_RATE_LIMIT_USER", RateLimits::default().per_user)?,
            },
            cors_origins: env("ORDO_CORS_ORIGINS")
                .map(|list| {
                    list.split(',')
                        .map(|origin| origin.trim().to_owned())
                        .filter(|origin| !origin.is_empty())
                        .collect()
                })
                .unwrap_or_default(),
        })
    }

    /// WeChat Pay, from `ORDO_WECHATPAY_*` when `ORDO_WECHATPAY_MCH_ID` is set (then every
    /// one is required); in dev mode otherwise, dev keys kept in `<data dir>/wechatpay`;
    /// else none (payments answer 503).
    pub fn wechat_pay(&self) -> Result<Option<WeChatPayConfig>, ConfigError> {
        let env = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        let app_id = self.wechat.app_id.clone();
        let Some(mch_id) = env("ORDO_WECHATPAY_MCH_ID") else {
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
        let required = |name: &str| {
            env(name).ok_or_else(|| {
                ConfigError::WeChatPay(format!("{name} must be set with ORDO_WECHATPAY_MCH_ID"))
            })
        };
        let read = |name: &str| -> Result<String, ConfigError> {
            let path = required(name)?;
            std::fs::read_to_string(&path)
                .map_err(|err| ConfigError::WeChatPay(format!("{name} ({path}): {err}")))
        };
        let key_error = |name: &str| {
            let name = name.to_owned();
            move |err: wechat_pay::KeyError| ConfigError::WeChatPay(format!("{name}: {err}"))
        };
        Ok(Some(WeChatPayConfig {
            base_url: Some(
                env("ORDO_WECHATPAY_BASE_URL")
                    .unwrap_or_else(|| wechat_pay::DEFAULT_BASE_URL.to_owned()),
            ),
            app_id: app_id.ok_or_else(|| {
                ConfigError::WeChatPay("ORDO_WECHAT_APP_ID must be set".to_owned())
            })?,
            mch_id,
            merchant_serial: required("ORDO_WECHATPAY_MCH_SERIAL_NO")?,
            merchant_key: std::sync::Arc::new(
                SigningKey::from_pem(&read("ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE")?)
                    .map_err(key_error("ORDO_WECHATPAY_MCH_PRIVATE_KEY_FILE"))?,
            ),
            platform_key: VerifyingKey::from_pem(&read("ORDO_WECHATPAY_PUBLIC_KEY_FILE")?)
                .map_err(key_error("ORDO_WECHATPAY_PUBLIC_KEY_FILE"))?,
            platform_serial: env("ORDO_WECHATPAY_PUBLIC_KEY_ID"),
            api_v3_key: ApiV3Key::new(required("ORDO_WECHATPAY_APIV3_KEY")?.as_bytes())
                .map_err(key_error("ORDO_WECHATPAY_APIV3_KEY"))?,
            notify_url: required("ORDO_WECHATPAY_NOTIFY_URL")?,
            timeout: wechat_pay::DEFAULT_TIMEOUT,
            simulator: None,
        }))
    }

    /// The embedded cluster's directory.
    pub fn postgres_dir(&self) -> PathBuf {
        self.data_dir.join("postgres")
    }

    /// The file holding the embedded cluster's superuser password.
    pub fn postgres_password_file(&self) -> PathBuf {
        self.data_dir.join("postgres-password")
    }
}

/// A rate from `name`: `off`, `N` (burst 2N) or `N/B`; unset keeps `default`.
fn rate(name: &'static str, default: Option<Rate>) -> Result<Option<Rate>, ConfigError> {
    let Ok(value) = std::env::var(name) else {
        return Ok(default);
    };
    if value.trim() == "off" {
        return Ok(None);
    }
    let (per_second, burst) = match value.trim().split_once('/') {
        Some((rate, burst)) => (rate.parse(), burst.parse()),
        None => (
            value.trim().parse(),
            value.trim().parse().map(|n: u32| n.saturating_mul(2)),
        ),
    };
    match (per_second, burst) {
        (Ok(per_second), Ok(burst)) if per_second > 0 && burst > 0 => {
            Ok(Some(Rate { per_second, burst }))
        }
        _ => Err(ConfigError::RateLimit(name)),
    }
}

fn jwt_secret(data_dir: &Path, dev_mode: bool) -> Result<Secret, ConfigError> {
    if let Ok(value) = std::env::var(JWT_SECRET_ENV) {
        if value.len() < MIN_JWT_SECRET_BYTES {
            return Err(ConfigError::JwtSecretTooShort);
        }
        return Ok(Secret::new(value));
    }
    if !dev_mode {
        return Err(ConfigError::JwtSecretRequired);
    }
    let path = data_dir.join("jwt-secret");
    secret::load_or_create(&path).map_err(|source| ConfigError::SecretFile { path, source })
}
